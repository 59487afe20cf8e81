//go:build unix

package vfs

import (
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFromDirSpecialFiles(t *testing.T) {
	t.Run("fifo", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"ok": "x"})
		require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644))
		_, err := FromDir(dir, Limits{})
		require.ErrorContains(t, err, "pipe: unsupported file type")
	})
	t.Run("socket", func(t *testing.T) {
		dir := t.TempDir()
		l, err := net.Listen("unix", filepath.Join(dir, "sock"))
		require.NoError(t, err)
		defer l.Close()
		_, err = FromDir(dir, Limits{})
		require.ErrorContains(t, err, "sock: unsupported file type")
	})
	t.Run("symlink to a fifo", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"d/l": "->../pipe"})
		require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644))
		_, err := FromDir(dir, Limits{})
		require.ErrorContains(t, err, "unsupported file type")
	})
}
