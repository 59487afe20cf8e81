package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// HostDir is a host directory as a wazero sys.FS, confined to it.
//
// Every path-taking operation refuses with EACCES a path that resolves
// outside the directory, whether through a ".." (any that goes above the
// root, even to come back) or through a symlink that was there before or
// that the guest made (Symlink may make any relative link, and the check
// happens when a link is followed; wazero refuses an absolute target with
// EPERM before it gets here). Symlinks are followed as POSIX
// says: a symlink as the final component of Lstat, Readlink, Unlink, Rename,
// Rmdir, Mkdir and Symlink is not followed, nor of OpenFile with O_NOFOLLOW.
//
// The check runs before the operation, which then resolves the path again:
// something else that swaps a directory for a symlink in between (another
// thread of the guest, or a host process) could still escape. Guests that do
// not run threads cannot race themselves.
type HostDir struct {
	experimentalsys.UnimplementedFS

	dir      string             // as given
	root     string             // absolute, symlinks resolved
	fs       experimentalsys.FS // DirFS of root, behind ReadFS if read-only
	readOnly bool
	quota    int64

	mu   sync.Mutex
	used int64 // bytes of regular files, each inode once
}

var _ experimentalsys.FS = (*HostDir)(nil)

// NewHostDir opens dir (which must exist and be a directory) for a mount.
//
// If readOnly, every mutation fails with EROFS.
//
// If quota > 0, the regular files under dir may take at most quota bytes
// together: a write, pwrite or truncate (through a File, or OpenFile with
// O_TRUNC) that would go past it fails with ENOSPC and writes nothing. As
// wazero's Errno set has no ENOSPC, that Errno is EIO, which is also what
// wazero reports for a full host disk. The growth checked is
// max(0, offset+len-size), the offset of a file opened with O_APPEND being
// its size. The usage starts from a walk of dir (a file with several hard
// links counted once) and is kept current on write, truncate, unlink, rename
// over an existing file, and close of a file unlinked while open; directories
// and block rounding are not counted, nor changes made by others than the
// guest. The usage is tracked whatever the quota; quota 0 means no limit, and
// a negative one is an error.
func NewHostDir(dir string, readOnly bool, quota int64) (*HostDir, error) {
	if quota < 0 {
		return nil, fmt.Errorf("vfs: negative quota %d", quota)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("vfs: %w", err)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("vfs: %w", err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("vfs: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("vfs: %s is not a directory", dir)
	}
	used, err := diskUsage(root)
	if err != nil {
		return nil, err
	}
	h := &HostDir{dir: dir, root: root, fs: sysfs.DirFS(root), readOnly: readOnly, quota: quota, used: used}
	if readOnly {
		h.fs = &sysfs.ReadFS{FS: h.fs}
	}
	return h, nil
}

// diskUsage sums the sizes of the regular files under root, each inode once.
func diskUsage(root string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var used int64
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if st := sys.NewStat_t(fi); st.Nlink > 1 && st.Ino != 0 {
			k := inode{st.Dev, st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		used = addSat(used, fi.Size())
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("vfs: %w", err)
	}
	return used, nil
}

// String returns the directory, as given to NewHostDir.
func (h *HostDir) String() string { return h.dir }

// Used returns the bytes counted against the quota.
func (h *HostDir) Used() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.used
}

// charge adds delta (which may be negative) to the usage; h.mu is held.
func (h *HostDir) charge(delta int64) {
	h.used = max(0, h.used+delta)
}

// fits reports whether growth more bytes fit in the quota; h.mu is held.
func (h *HostDir) fits(growth int64) bool {
	return h.quota == 0 || growth <= 0 || growth <= h.quota-h.used
}

// mutable resolves path for an operation that changes the directory:
// EROFS when it is read-only.
func (h *HostDir) mutable(path string, follow bool) (string, experimentalsys.Errno) {
	if h.readOnly {
		return "", experimentalsys.EROFS
	}
	return h.resolve(path, follow)
}

// resolve returns the host path of the mount path p once its symlinks are
// followed (the final one only if followFinal or p ends with "/"), or EACCES
// if it is outside the directory, or the errno that resolving met (ENOENT or
// ENOTDIR for a missing or non-directory parent, ELOOP).
func (h *HostDir) resolve(p string, followFinal bool) (string, experimentalsys.Errno) {
	return resolveIn(h.root, p, followFinal)
}

// resolveIn resolves the slash path p, relative to the real directory root,
// within it; see HostDir.resolve.
func resolveIn(root, p string, followFinal bool) (string, experimentalsys.Errno) {
	if strings.HasSuffix(p, "/") {
		followFinal = true
	}
	pending := splitPath(p)
	depth := 0
	for _, elem := range pending {
		if elem == ".." {
			if depth--; depth < 0 {
				return "", experimentalsys.EACCES // lexically above the root
			}
		} else {
			depth++
		}
	}
	cur := root
	for hops := 0; len(pending) > 0; {
		elem := pending[0]
		pending = pending[1:]
		if elem == ".." {
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, elem)
		last := len(pending) == 0
		fi, err := os.Lstat(next)
		if err != nil {
			if last && errors.Is(err, fs.ErrNotExist) {
				cur = next // to be made
				break
			}
			return "", experimentalsys.UnwrapOSError(err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 && (!last || followFinal) {
			if hops++; hops > maxLinkHops {
				return "", experimentalsys.ELOOP
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", experimentalsys.UnwrapOSError(err)
			}
			if filepath.IsAbs(target) {
				cur = filepath.VolumeName(target) + string(filepath.Separator)
			}
			pending = append(splitPath(filepath.ToSlash(target)), pending...)
			continue
		}
		if !last && !fi.IsDir() {
			return "", experimentalsys.ENOTDIR
		}
		cur = next
	}
	if _, ok := inside(root, cur); !ok {
		return "", experimentalsys.EACCES
	}
	return cur, 0
}

// splitPath splits a slash path into its elements, dropping empty and "."
// ones (a leading "/" means the mount's root, as wazero may pass it).
func splitPath(p string) []string {
	var elems []string
	for _, e := range strings.Split(p, "/") {
		if e != "" && e != "." {
			elems = append(elems, e)
		}
	}
	return elems
}

// OpenFile implements experimentalsys.FS.
func (h *HostDir) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	host, errno := h.resolve(path, flag&experimentalsys.O_NOFOLLOW == 0)
	if errno != 0 {
		return nil, errno
	}
	if h.readOnly {
		return openReadOnly(h.fs, path, flag, perm)
	}
	old := int64(-1)
	if flag&experimentalsys.O_TRUNC != 0 {
		if fi, err := os.Stat(host); err == nil && fi.Mode().IsRegular() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if fi, err = os.Stat(host); err == nil {
				old = fi.Size()
			}
		}
	}
	f, errno := h.fs.OpenFile(path, flag, perm)
	if errno != 0 {
		return nil, errno
	}
	if old > 0 {
		if st, errno := f.Stat(); errno == 0 && st.Mode.IsRegular() {
			h.charge(st.Size - old)
		}
	}
	return &quotaFile{File: f, h: h}, 0
}

// Lstat implements experimentalsys.FS.
func (h *HostDir) Lstat(path string) (sys.Stat_t, experimentalsys.Errno) {
	if _, errno := h.resolve(path, false); errno != 0 {
		return sys.Stat_t{}, errno
	}
	return h.fs.Lstat(path)
}

// Stat implements experimentalsys.FS.
func (h *HostDir) Stat(path string) (sys.Stat_t, experimentalsys.Errno) {
	if _, errno := h.resolve(path, true); errno != 0 {
		return sys.Stat_t{}, errno
	}
	return h.fs.Stat(path)
}

// Mkdir implements experimentalsys.FS.
func (h *HostDir) Mkdir(path string, perm fs.FileMode) experimentalsys.Errno {
	if _, errno := h.mutable(path, false); errno != 0 {
		return errno
	}
	return h.fs.Mkdir(path, perm)
}

// Chmod implements experimentalsys.FS.
func (h *HostDir) Chmod(path string, perm fs.FileMode) experimentalsys.Errno {
	if _, errno := h.mutable(path, true); errno != 0 {
		return errno
	}
	return h.fs.Chmod(path, perm)
}

// Rename implements experimentalsys.FS. Replacing a regular file frees its
// bytes.
func (h *HostDir) Rename(from, to string) experimentalsys.Errno {
	hostFrom, errno := h.mutable(from, false)
	if errno != 0 {
		return errno
	}
	hostTo, errno := h.resolve(to, false)
	if errno != 0 {
		return errno
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var freed int64
	if toInfo, err := os.Lstat(hostTo); err == nil && toInfo.Mode().IsRegular() && sys.NewStat_t(toInfo).Nlink <= 1 {
		if fromInfo, err := os.Lstat(hostFrom); err == nil && !os.SameFile(fromInfo, toInfo) {
			freed = toInfo.Size()
		}
	}
	if errno := h.fs.Rename(from, to); errno != 0 {
		return errno
	}
	h.charge(-freed)
	return 0
}

// Rmdir implements experimentalsys.FS.
func (h *HostDir) Rmdir(path string) experimentalsys.Errno {
	if _, errno := h.mutable(path, false); errno != 0 {
		return errno
	}
	return h.fs.Rmdir(path)
}

// Unlink implements experimentalsys.FS. Removing the last link to a regular
// file frees its bytes.
func (h *HostDir) Unlink(path string) experimentalsys.Errno {
	host, errno := h.mutable(path, false)
	if errno != 0 {
		return errno
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var freed int64
	if fi, err := os.Lstat(host); err == nil && fi.Mode().IsRegular() && sys.NewStat_t(fi).Nlink <= 1 {
		freed = fi.Size()
	}
	if errno := h.fs.Unlink(path); errno != 0 {
		return errno
	}
	h.charge(-freed)
	return 0
}

// Link implements experimentalsys.FS. Both paths must resolve inside, the
// old one with its final symlink followed (as some systems' link does).
func (h *HostDir) Link(oldPath, newPath string) experimentalsys.Errno {
	if _, errno := h.mutable(oldPath, true); errno != 0 {
		return errno
	}
	if _, errno := h.resolve(newPath, false); errno != 0 {
		return errno
	}
	return h.fs.Link(oldPath, newPath)
}

// Symlink implements experimentalsys.FS. The target is not checked: a link
// is checked when followed.
func (h *HostDir) Symlink(oldPath, linkName string) experimentalsys.Errno {
	if _, errno := h.mutable(linkName, false); errno != 0 {
		return errno
	}
	return h.fs.Symlink(oldPath, linkName)
}

// Readlink implements experimentalsys.FS.
func (h *HostDir) Readlink(path string) (string, experimentalsys.Errno) {
	if _, errno := h.resolve(path, false); errno != 0 {
		return "", errno
	}
	return h.fs.Readlink(path)
}

// Utimens implements experimentalsys.FS.
func (h *HostDir) Utimens(path string, atim, mtim int64) experimentalsys.Errno {
	if _, errno := h.mutable(path, true); errno != 0 {
		return errno
	}
	return h.fs.Utimens(path, atim, mtim)
}

// errnoNoSpace is what a write past the quota fails with. It should be
// ENOSPC, but wazero's Errno set has none: wazero itself turns a real ENOSPC
// from the host into EIO, and so does this, so that a guest sees the same
// for a full disk and a full quota.
const errnoNoSpace = experimentalsys.EIO

// quotaFile is a file of a writable HostDir: it checks writes against the
// quota and keeps the usage current.
type quotaFile struct {
	experimentalsys.File
	h *HostDir

	// orphan is what this handle wrote to its file while the file had no
	// link left (unlinked while open): charged as it is written, freed at
	// Close, as the system frees it then.
	orphan int64
}

var _ experimentalsys.PollableFile = (*quotaFile)(nil)

// grow runs op, which may make the regular file at most endOf(size) bytes
// long, if the growth fits in the quota, and charges what op changed.
func (f *quotaFile) grow(endOf func(size int64) int64, op func() experimentalsys.Errno) experimentalsys.Errno {
	h := f.h
	h.mu.Lock()
	defer h.mu.Unlock()
	st, errno := f.File.Stat()
	if errno != 0 || !st.Mode.IsRegular() {
		return op() // let the file report why it cannot
	}
	if !h.fits(endOf(st.Size) - st.Size) {
		return errnoNoSpace
	}
	errno = op()
	if after, e := f.File.Stat(); e == 0 {
		delta := after.Size - st.Size
		if after.Nlink == 0 { // unlinked: its earlier bytes were freed then
			if delta < 0 {
				delta = -min(-delta, f.orphan)
			}
			f.orphan += delta
		}
		h.charge(delta)
	}
	return errno
}

// end is off+n, saturating.
func end(off int64, n int) int64 {
	if off > math.MaxInt64-int64(n) {
		return math.MaxInt64
	}
	return off + int64(n)
}

// Write implements experimentalsys.File, failing with ENOSPC (having written
// nothing) past the quota (see errnoNoSpace). The write is at the current offset, or at the end
// if the file is in append mode.
func (f *quotaFile) Write(buf []byte) (n int, errno experimentalsys.Errno) {
	if len(buf) == 0 {
		return f.File.Write(buf)
	}
	errno = f.grow(func(size int64) int64 {
		off := size
		if !f.File.IsAppend() {
			if cur, errno := f.File.Seek(0, io.SeekCurrent); errno == 0 {
				off = cur
			}
		}
		return end(off, len(buf))
	}, func() (errno experimentalsys.Errno) {
		n, errno = f.File.Write(buf)
		return errno
	})
	return n, errno
}

// Pwrite implements experimentalsys.File, failing with ENOSPC (having
// written nothing; see errnoNoSpace) past the quota. In append mode the growth is counted from
// the end of the file, where Linux writes whatever the offset.
func (f *quotaFile) Pwrite(buf []byte, off int64) (n int, errno experimentalsys.Errno) {
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	if len(buf) == 0 {
		return f.File.Pwrite(buf, off)
	}
	errno = f.grow(func(size int64) int64 {
		if f.File.IsAppend() {
			return end(size, len(buf))
		}
		return end(off, len(buf))
	}, func() (errno experimentalsys.Errno) {
		n, errno = f.File.Pwrite(buf, off)
		return errno
	})
	return n, errno
}

// Truncate implements experimentalsys.File, failing with ENOSPC (see
// errnoNoSpace) past the quota.
func (f *quotaFile) Truncate(size int64) experimentalsys.Errno {
	if size < 0 {
		return f.File.Truncate(size)
	}
	return f.grow(func(int64) int64 { return size }, func() experimentalsys.Errno { return f.File.Truncate(size) })
}

// Close implements experimentalsys.File, freeing what was written to the
// file after it was unlinked.
func (f *quotaFile) Close() experimentalsys.Errno {
	if f.orphan > 0 {
		f.h.mu.Lock()
		f.h.charge(-f.orphan)
		f.h.mu.Unlock()
		f.orphan = 0
	}
	return f.File.Close()
}

// IsNonblock implements experimentalsys.PollableFile.
func (f *quotaFile) IsNonblock() bool {
	if pf, ok := f.File.(experimentalsys.PollableFile); ok {
		return pf.IsNonblock()
	}
	return false
}

// SetNonblock implements experimentalsys.PollableFile.
func (f *quotaFile) SetNonblock(enable bool) experimentalsys.Errno {
	if pf, ok := f.File.(experimentalsys.PollableFile); ok {
		return pf.SetNonblock(enable)
	}
	return experimentalsys.ENOSYS
}

// Poll implements experimentalsys.Pollable.
func (f *quotaFile) Poll(flag experimentalsys.Pflag, timeoutMillis int32) (bool, experimentalsys.Errno) {
	if p, ok := f.File.(experimentalsys.Pollable); ok {
		return p.Poll(flag, timeoutMillis)
	}
	return false, experimentalsys.ENOSYS
}

// CheckHostDir walks dir and refuses, with an error wrapping ErrUnsafePath
// and naming it, a symlink that resolves outside dir (a dangling one is
// resolved as far as it goes). It is for validating explicit mounts at
// deploy time; HostDir confines the guest at run time whatever this says.
func CheckHostDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("vfs: %w", err)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return fmt.Errorf("vfs: %w", err)
	}
	if fi, err := os.Stat(root); err != nil {
		return fmt.Errorf("vfs: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("vfs: %s is not a directory", dir)
	}
	return filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("vfs: %w", err)
		}
		if e.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("vfs: %w", err)
		}
		if _, errno := resolveIn(root, filepath.ToSlash(rel), true); errno == experimentalsys.EACCES {
			target, _ := os.Readlink(p)
			return fmt.Errorf("%w: symlink %q -> %q in %s points outside it", ErrUnsafePath, filepath.ToSlash(rel), target, dir)
		}
		return nil
	})
}
