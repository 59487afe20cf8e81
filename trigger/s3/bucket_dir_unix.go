//go:build unix

package s3

import (
	"io/fs"
	"syscall"
)

// fileID is the file's device and inode numbers.
func fileID(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino //nolint:unconvert // Dev's type varies by system
	}
	return 0, 0
}
