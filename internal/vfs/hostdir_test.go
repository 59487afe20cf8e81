package vfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

const (
	oRDONLY    = experimentalsys.O_RDONLY
	oWRONLY    = experimentalsys.O_WRONLY
	oRDWR      = experimentalsys.O_RDWR
	oCREAT     = experimentalsys.O_CREAT
	oEXCL      = experimentalsys.O_EXCL
	oTRUNC     = experimentalsys.O_TRUNC
	oAPPEND    = experimentalsys.O_APPEND
	oNOFOLLOW  = experimentalsys.O_NOFOLLOW
	oDIRECTORY = experimentalsys.O_DIRECTORY
)

// newHostDir makes a directory of files (see writeTree) and opens it.
func newHostDir(t *testing.T, files map[string]string, readOnly bool, quota int64) (*HostDir, string) {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	h, err := NewHostDir(dir, readOnly, quota)
	require.NoError(t, err)
	return h, dir
}

// open opens name in h or fails the test.
func open(t *testing.T, h experimentalsys.FS, name string, flag experimentalsys.Oflag) experimentalsys.File {
	t.Helper()
	f, errno := h.OpenFile(name, flag, 0o644)
	require.Zero(t, errno, "open %s: %v", name, errno)
	t.Cleanup(func() { f.Close() })
	return f
}

// fileSize is the size of a host file.
func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	require.NoError(t, err)
	return fi.Size()
}

func TestNewHostDirErrors(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	_, err := NewHostDir(f, false, 0)
	require.ErrorContains(t, err, "not a directory")
	_, err = NewHostDir(filepath.Join(dir, "missing"), false, 0)
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, err = NewHostDir(dir, false, -1)
	require.ErrorContains(t, err, "negative quota")
	h, err := NewHostDir(dir, false, 0)
	require.NoError(t, err)
	require.Equal(t, dir, h.String())
}

func TestHostDirQuotaWrite(t *testing.T) {
	h, dir := newHostDir(t, map[string]string{"pre": strings.Repeat("p", 30), "d/pre2": "0123456789"}, false, 100)
	require.Equal(t, int64(40), h.Used(), "usage starts from a walk")

	f := open(t, h, "a", oCREAT|oRDWR)
	n, errno := f.Write(make([]byte, 50))
	require.Zero(t, errno)
	require.Equal(t, 50, n)
	require.Equal(t, int64(90), h.Used())

	n, errno = f.Write(make([]byte, 11))
	require.Equal(t, errnoNoSpace, errno)
	require.Zero(t, n)
	require.Equal(t, int64(50), fileSize(t, filepath.Join(dir, "a")), "nothing written")
	require.Equal(t, int64(90), h.Used())

	n, errno = f.Write(make([]byte, 10)) // exactly full
	require.Zero(t, errno)
	require.Equal(t, 10, n)
	require.Equal(t, int64(100), h.Used())

	// Overwriting takes no more room, even when full.
	_, errno = f.Seek(5, io.SeekStart)
	require.Zero(t, errno)
	n, errno = f.Write([]byte("hello"))
	require.Zero(t, errno)
	require.Equal(t, 5, n)
	require.Equal(t, int64(100), h.Used())
	n, errno = f.Pwrite([]byte("world"), 55)
	require.Zero(t, errno)
	require.Equal(t, 5, n)

	// A write straddling the end counts only its growth.
	_, errno = f.Seek(58, io.SeekStart)
	require.Zero(t, errno)
	n, errno = f.Write([]byte("xyz"))
	require.Equal(t, errnoNoSpace, errno, "one byte past the end")
	require.Zero(t, n)
	n, errno = f.Write([]byte("xy"))
	require.Zero(t, errno)
	require.Equal(t, 2, n)

	b, err := os.ReadFile(filepath.Join(dir, "a"))
	require.NoError(t, err)
	require.Equal(t, "hello", string(b[5:10]))
	require.Equal(t, "worxy", string(b[55:60]))

	// Empty writes always succeed.
	n, errno = f.Write(nil)
	require.Zero(t, errno)
	require.Zero(t, n)
}

func TestHostDirQuotaPwriteTruncate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		op    func(f experimentalsys.File) experimentalsys.Errno
		errno experimentalsys.Errno
		size  int64 // of the file after
		used  int64
	}{
		{"pwrite inside", func(f experimentalsys.File) experimentalsys.Errno { _, e := f.Pwrite(make([]byte, 10), 10); return e }, 0, 40, 90},
		{"pwrite to the quota", func(f experimentalsys.File) experimentalsys.Errno { _, e := f.Pwrite(make([]byte, 20), 40); return e }, 0, 60, 110},
		{"pwrite past the quota", func(f experimentalsys.File) experimentalsys.Errno { _, e := f.Pwrite(make([]byte, 21), 40); return e }, errnoNoSpace, 40, 90},
		{"pwrite far away", func(f experimentalsys.File) experimentalsys.Errno { _, e := f.Pwrite([]byte{1}, 1<<40); return e }, errnoNoSpace, 40, 90},
		{"pwrite at the largest offset", func(f experimentalsys.File) experimentalsys.Errno { _, e := f.Pwrite([]byte{1, 2}, 1<<63-1); return e }, errnoNoSpace, 40, 90},
		{"pwrite negative offset", func(f experimentalsys.File) experimentalsys.Errno { _, e := f.Pwrite([]byte{1}, -1); return e }, experimentalsys.EINVAL, 40, 90},
		{"truncate to grow", func(f experimentalsys.File) experimentalsys.Errno { return f.Truncate(60) }, 0, 60, 110},
		{"truncate past the quota", func(f experimentalsys.File) experimentalsys.Errno { return f.Truncate(61) }, errnoNoSpace, 40, 90},
		{"truncate to shrink", func(f experimentalsys.File) experimentalsys.Errno { return f.Truncate(15) }, 0, 15, 65},
		{"truncate to zero", func(f experimentalsys.File) experimentalsys.Errno { return f.Truncate(0) }, 0, 0, 50},
		{"truncate negative", func(f experimentalsys.File) experimentalsys.Errno { return f.Truncate(-1) }, experimentalsys.EINVAL, 40, 90},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, dir := newHostDir(t, map[string]string{"other": strings.Repeat("o", 50), "f": strings.Repeat("f", 40)}, false, 110)
			require.Equal(t, int64(90), h.Used())
			f := open(t, h, "f", oRDWR)
			require.Equal(t, tc.errno, tc.op(f))
			require.Equal(t, tc.size, fileSize(t, filepath.Join(dir, "f")))
			require.Equal(t, tc.used, h.Used())
		})
	}
}

func TestHostDirQuotaFreed(t *testing.T) {
	files := map[string]string{"a": strings.Repeat("a", 40), "b": strings.Repeat("b", 30), "d/": ""}
	for _, tc := range []struct {
		name  string
		op    func(t *testing.T, h *HostDir) experimentalsys.Errno
		errno experimentalsys.Errno
		used  int64
	}{
		{"unlink", func(t *testing.T, h *HostDir) experimentalsys.Errno { return h.Unlink("a") }, 0, 30},
		{"unlink missing", func(t *testing.T, h *HostDir) experimentalsys.Errno { return h.Unlink("zz") }, experimentalsys.ENOENT, 70},
		{"unlink a directory", func(t *testing.T, h *HostDir) experimentalsys.Errno { return h.Unlink("d") }, experimentalsys.EISDIR, 70},
		{"rmdir", func(t *testing.T, h *HostDir) experimentalsys.Errno { return h.Rmdir("d") }, 0, 70},
		{"O_TRUNC", func(t *testing.T, h *HostDir) experimentalsys.Errno {
			_, errno := h.OpenFile("a", oWRONLY|oTRUNC, 0)
			return errno
		}, 0, 30},
		{"O_TRUNC|O_CREAT of a new file", func(t *testing.T, h *HostDir) experimentalsys.Errno {
			_, errno := h.OpenFile("new", oWRONLY|oTRUNC|oCREAT, 0o644)
			return errno
		}, 0, 70},
		{"rename over an existing file", func(t *testing.T, h *HostDir) experimentalsys.Errno { return h.Rename("b", "a") }, 0, 30},
		{"rename to a new name", func(t *testing.T, h *HostDir) experimentalsys.Errno { return h.Rename("b", "c") }, 0, 70},
		{"rename onto itself", func(t *testing.T, h *HostDir) experimentalsys.Errno { return h.Rename("a", "a") }, 0, 70},
		{"rename onto a hard link of itself", func(t *testing.T, h *HostDir) experimentalsys.Errno {
			require.Zero(t, h.Link("a", "a2"))
			return h.Rename("a", "a2")
		}, 0, 70},
		{"rename a file over a directory", func(t *testing.T, h *HostDir) experimentalsys.Errno { return h.Rename("a", "d") }, experimentalsys.EISDIR, 70},
		{"hard link then unlink one", func(t *testing.T, h *HostDir) experimentalsys.Errno {
			require.Zero(t, h.Link("a", "a2"))
			require.Equal(t, int64(70), h.Used(), "a link takes no room")
			return h.Unlink("a")
		}, 0, 70},
		{"hard link then unlink both", func(t *testing.T, h *HostDir) experimentalsys.Errno {
			require.Zero(t, h.Link("a", "a2"))
			require.Zero(t, h.Unlink("a2"))
			return h.Unlink("a")
		}, 0, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newHostDir(t, files, false, 100)
			require.Equal(t, int64(70), h.Used())
			require.Equal(t, tc.errno, tc.op(t, h))
			require.Equal(t, tc.used, h.Used())
		})
	}
}

func TestHostDirQuotaFreedAllowsWrites(t *testing.T) {
	h, _ := newHostDir(t, map[string]string{"big": strings.Repeat("x", 90)}, false, 100)
	f := open(t, h, "new", oCREAT|oWRONLY)
	_, errno := f.Write(make([]byte, 20))
	require.Equal(t, errnoNoSpace, errno)
	require.Zero(t, h.Unlink("big"))
	n, errno := f.Write(make([]byte, 20))
	require.Zero(t, errno)
	require.Equal(t, 20, n)
	g := open(t, h, "new", oWRONLY|oTRUNC)
	require.Zero(t, h.Used())
	_, errno = g.Write(make([]byte, 100))
	require.Zero(t, errno)
	require.Equal(t, int64(100), h.Used())
}

func TestHostDirQuotaAppend(t *testing.T) {
	h, dir := newHostDir(t, map[string]string{"log": strings.Repeat("l", 90)}, false, 100)
	f := open(t, h, "log", oWRONLY|oAPPEND)
	require.True(t, f.IsAppend())
	// The offset of an append write is the end, whatever Seek says.
	_, errno := f.Seek(0, io.SeekStart)
	require.Zero(t, errno)
	n, errno := f.Write(make([]byte, 11))
	require.Equal(t, errnoNoSpace, errno)
	require.Zero(t, n)
	require.Equal(t, int64(90), fileSize(t, filepath.Join(dir, "log")))
	n, errno = f.Write([]byte("0123456789"))
	require.Zero(t, errno)
	require.Equal(t, 10, n)
	require.Equal(t, int64(100), h.Used())
	b, err := os.ReadFile(filepath.Join(dir, "log"))
	require.NoError(t, err)
	require.Equal(t, "0123456789", string(b[90:]))

	// Append mode set later counts the same way.
	require.Zero(t, h.Unlink("log"))
	g := open(t, h, "g", oCREAT|oWRONLY)
	_, errno = g.Write(make([]byte, 95))
	require.Zero(t, errno)
	_, errno = g.Seek(0, io.SeekStart)
	require.Zero(t, errno)
	require.Zero(t, g.SetAppend(true))
	_, errno = g.Write(make([]byte, 6))
	require.Equal(t, errnoNoSpace, errno)
	_, errno = g.Write(make([]byte, 5))
	require.Zero(t, errno)
	require.Equal(t, int64(100), h.Used())
}

func TestHostDirQuotaUnlinkedWhileOpen(t *testing.T) {
	h, _ := newHostDir(t, nil, false, 100)
	f, errno := h.OpenFile("tmp", oCREAT|oRDWR, 0o644)
	require.Zero(t, errno)
	_, errno = f.Write(make([]byte, 30))
	require.Zero(t, errno)
	require.Zero(t, h.Unlink("tmp"))
	require.Zero(t, h.Used())
	// The open file still takes room on the disk until closed.
	_, errno = f.Write(make([]byte, 60))
	require.Zero(t, errno)
	require.Equal(t, int64(60), h.Used())
	_, errno = f.Write(make([]byte, 41))
	require.Equal(t, errnoNoSpace, errno)
	require.Zero(t, f.Truncate(50)) // frees 40 of the 60 written since
	require.Equal(t, int64(20), h.Used())
	require.Zero(t, f.Truncate(0)) // frees the rest; the 30 from before were freed at unlink
	require.Zero(t, h.Used())
	_, errno = f.Write(make([]byte, 25)) // at offset 90: sparse, but counted by size
	require.Equal(t, errnoNoSpace, errno)
	_, errno = f.Seek(0, io.SeekStart)
	require.Zero(t, errno)
	_, errno = f.Write(make([]byte, 25))
	require.Zero(t, errno)
	require.Equal(t, int64(25), h.Used())
	require.Zero(t, f.Close())
	require.Zero(t, h.Used())
}

func TestHostDirQuotaInitialOverQuota(t *testing.T) {
	h, _ := newHostDir(t, map[string]string{"big": strings.Repeat("x", 150)}, false, 100)
	require.Equal(t, int64(150), h.Used())
	f := open(t, h, "big", oRDWR)
	require.Equal(t, errnoNoSpace, f.Truncate(151))
	_, errno := f.Pwrite([]byte("y"), 0) // no growth
	require.Zero(t, errno)
	require.Zero(t, f.Truncate(120))
	require.Equal(t, int64(120), h.Used())
}

func TestHostDirHardLinksCountedOnce(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a": strings.Repeat("a", 40), "b": "bb"})
	require.NoError(t, os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "a2")))
	h, err := NewHostDir(dir, false, 0)
	require.NoError(t, err)
	require.Equal(t, int64(42), h.Used())
}

func TestHostDirNoQuotaStillCounts(t *testing.T) {
	h, _ := newHostDir(t, map[string]string{"a": "12345"}, false, 0)
	f := open(t, h, "b", oCREAT|oWRONLY)
	_, errno := f.Write(make([]byte, 1<<20))
	require.Zero(t, errno)
	require.Equal(t, int64(5+1<<20), h.Used())
	require.Zero(t, h.Unlink("b"))
	require.Equal(t, int64(5), h.Used())
}

func TestHostDirQuotaConcurrentWriters(t *testing.T) {
	const quota = 10_000
	h, dir := newHostDir(t, nil, false, quota)
	var wg sync.WaitGroup
	for i := range 4 {
		name := fmt.Sprintf("f%d", i)
		f := open(t, h, name, oCREAT|oWRONLY)
		wg.Go(func() {
			for {
				if _, errno := f.Write(make([]byte, 7)); errno != 0 {
					if errno != errnoNoSpace {
						t.Errorf("%s: %v", name, errno)
					}
					return
				}
			}
		})
	}
	wg.Wait()
	var total int64
	for i := range 4 {
		total += fileSize(t, filepath.Join(dir, fmt.Sprintf("f%d", i)))
	}
	require.Equal(t, total, h.Used())
	require.LessOrEqual(t, total, int64(quota))
	require.Greater(t, total, int64(quota-4*7))
}

// mutations are the operations that change a file system, with the errno a
// read-only one answers. Files "f" and "d/" and symlink "l" exist.
var mutations = []struct {
	name  string
	op    func(fsys experimentalsys.FS) experimentalsys.Errno
	errno experimentalsys.Errno
}{
	{"open O_WRONLY", openOp("f", oWRONLY), experimentalsys.EROFS},
	{"open O_RDWR", openOp("f", oRDWR), experimentalsys.EROFS},
	{"open O_APPEND", openOp("f", oWRONLY|oAPPEND), experimentalsys.EROFS},
	{"open O_TRUNC", openOp("f", oRDONLY|oTRUNC), experimentalsys.EROFS},
	{"open O_CREAT new", openOp("new", oRDONLY|oCREAT), experimentalsys.EROFS},
	{"open O_CREAT|O_WRONLY new", openOp("new", oWRONLY|oCREAT), experimentalsys.EROFS},
	{"open O_CREAT|O_EXCL existing", openOp("f", oWRONLY|oCREAT|oEXCL), experimentalsys.EEXIST},
	{"open O_CREAT in a missing dir", openOp("nope/new", oWRONLY|oCREAT), experimentalsys.ENOENT},
	{"open O_CREAT under a file", openOp("f/new", oWRONLY|oCREAT), experimentalsys.ENOTDIR},
	{"open a directory O_WRONLY", openOp("d", oWRONLY), experimentalsys.EISDIR},
	{"open a directory O_DIRECTORY|O_RDWR", openOp("d", oRDWR|oDIRECTORY), experimentalsys.EISDIR},
	{"mkdir", func(fsys experimentalsys.FS) experimentalsys.Errno { return fsys.Mkdir("nd", 0o755) }, experimentalsys.EROFS},
	{"chmod", func(fsys experimentalsys.FS) experimentalsys.Errno { return fsys.Chmod("f", 0o777) }, experimentalsys.EROFS},
	{"rename", func(fsys experimentalsys.FS) experimentalsys.Errno { return fsys.Rename("f", "g") }, experimentalsys.EROFS},
	{"rmdir", func(fsys experimentalsys.FS) experimentalsys.Errno { return fsys.Rmdir("d") }, experimentalsys.EROFS},
	{"unlink", func(fsys experimentalsys.FS) experimentalsys.Errno { return fsys.Unlink("f") }, experimentalsys.EROFS},
	{"link", func(fsys experimentalsys.FS) experimentalsys.Errno { return fsys.Link("f", "g") }, experimentalsys.EROFS},
	{"symlink", func(fsys experimentalsys.FS) experimentalsys.Errno { return fsys.Symlink("f", "g") }, experimentalsys.EROFS},
	{"utimens", func(fsys experimentalsys.FS) experimentalsys.Errno { return fsys.Utimens("f", 1, 1) }, experimentalsys.EROFS},
}

func openOp(name string, flag experimentalsys.Oflag) func(experimentalsys.FS) experimentalsys.Errno {
	return func(fsys experimentalsys.FS) experimentalsys.Errno {
		f, errno := fsys.OpenFile(name, flag, 0o644)
		if errno == 0 {
			f.Close()
		}
		return errno
	}
}

// checkReadOnly runs every mutation against fsys and checks that reading
// still works.
func checkReadOnly(t *testing.T, fsys experimentalsys.FS) {
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			require.Equal(t, m.errno, m.op(fsys))
		})
	}
	t.Run("reads", func(t *testing.T) {
		f := open(t, fsys, "f", oRDONLY)
		buf := make([]byte, 10)
		n, errno := f.Read(buf)
		require.Zero(t, errno)
		require.Equal(t, "content", string(buf[:n]))
		n, errno = f.Pread(buf, 3)
		require.Zero(t, errno)
		require.Equal(t, "tent", string(buf[:n]))
		st, errno := fsys.Stat("f")
		require.Zero(t, errno)
		require.Equal(t, int64(7), st.Size)
		_, errno = f.Write([]byte("x"))
		require.Equal(t, experimentalsys.EBADF, errno)
		_, errno = f.Pwrite([]byte("x"), 0)
		require.Equal(t, experimentalsys.EBADF, errno)
		require.Equal(t, experimentalsys.EBADF, f.Truncate(0))
		// O_CREAT of an existing file without O_EXCL just opens it.
		g := open(t, fsys, "f", oRDONLY|oCREAT)
		n, errno = g.Read(buf)
		require.Zero(t, errno)
		require.Equal(t, "content", string(buf[:n]))
		d := open(t, fsys, "d", oRDONLY|oDIRECTORY)
		dirents, errno := d.Readdir(-1)
		require.Zero(t, errno)
		require.Len(t, dirents, 1)
		require.Equal(t, "x", dirents[0].Name)
		require.Equal(t, experimentalsys.EISDIR, d.Truncate(0))
	})
}

func TestHostDirReadOnly(t *testing.T) {
	h, dir := newHostDir(t, map[string]string{"f": "content", "d/x": "x", "l": "->f"}, true, 0)
	checkReadOnly(t, h)
	target, errno := h.Readlink("l")
	require.Zero(t, errno)
	require.Equal(t, "f", target)
	// Nothing changed.
	tr, err := FromDir(dir, Limits{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"f": "content", "d/x": "x", "l": "content"}, readTree(t, tr))
	_, err = os.Lstat(filepath.Join(dir, "new"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestTreeSysFSReadOnly(t *testing.T) {
	tr, err := fromZip(t, Limits{}, zentry{name: "f", body: "content"}, zentry{name: "d/x", body: "x"})
	require.NoError(t, err)
	checkReadOnly(t, tr.SysFS())
	_, errno := tr.SysFS().Readlink("f")
	require.NotZero(t, errno)
	_, errno = tr.SysFS().OpenFile("missing", oRDONLY, 0)
	require.Equal(t, experimentalsys.ENOENT, errno)
	require.Equal(t, []string{"d/x", "f"}, tr.Files(), "unchanged")
}

// confined sets up a HostDir and a directory outside it:
//
//	outside/secret, outside/sub/s2
//	dir/in.txt, dir/sub/f, dir/sub/up -> ../in.txt
//	dir/out-abs -> outside/secret (absolute)
//	dir/out-rel -> ../outside/secret (relative)
//	dir/outdir -> outside (absolute)
//	dir/dangling-out -> outside/new (absolute, missing)
//	dir/in-link -> in.txt, dir/in-chain -> in-link, dir/in-dir -> sub
//	dir/loop1 -> loop2 -> loop1
func confined(t *testing.T) (h *HostDir, dir, outside string) {
	t.Helper()
	base := t.TempDir()
	dir, outside = filepath.Join(base, "dir"), filepath.Join(base, "outside")
	writeTree(t, outside, map[string]string{"secret": "S", "sub/s2": "S2"})
	writeTree(t, dir, map[string]string{
		"in.txt":       "I",
		"sub/f":        "F",
		"sub/up":       "->../in.txt",
		"out-abs":      "->" + filepath.Join(outside, "secret"),
		"out-rel":      "->../outside/secret",
		"outdir":       "->" + outside,
		"dangling-out": "->" + filepath.Join(outside, "new"),
		"in-link":      "->in.txt",
		"in-chain":     "->in-link",
		"in-dir":       "->sub",
		"loop1":        "->loop2",
		"loop2":        "->loop1",
	})
	h, err := NewHostDir(dir, false, 0)
	require.NoError(t, err)
	t.Cleanup(func() {
		// Whatever the test did, outside is as it was.
		tr, err := FromDir(outside, Limits{})
		require.NoError(t, err)
		require.Equal(t, map[string]string{"secret": "S", "sub/s2": "S2"}, readTree(t, tr))
	})
	return h, dir, outside
}

func TestHostDirConfinementRefused(t *testing.T) {
	EACCES := experimentalsys.EACCES
	for _, tc := range []struct {
		name string
		op   func(h *HostDir) experimentalsys.Errno
	}{
		{"open absolute link", func(h *HostDir) experimentalsys.Errno { return openOp("out-abs", oRDONLY)(h) }},
		{"open relative link", func(h *HostDir) experimentalsys.Errno { return openOp("out-rel", oRDONLY)(h) }},
		{"open through a dir link", func(h *HostDir) experimentalsys.Errno { return openOp("outdir/secret", oRDONLY)(h) }},
		{"open a dir link", func(h *HostDir) experimentalsys.Errno { return openOp("outdir", oRDONLY|oDIRECTORY)(h) }},
		{"open a dir link with a slash", func(h *HostDir) experimentalsys.Errno { return openOp("outdir/", oRDONLY)(h) }},
		{"open for writing", func(h *HostDir) experimentalsys.Errno { return openOp("out-abs", oWRONLY|oTRUNC)(h) }},
		{"create through a dangling link", func(h *HostDir) experimentalsys.Errno { return openOp("dangling-out", oWRONLY|oCREAT)(h) }},
		{"create through a dir link", func(h *HostDir) experimentalsys.Errno { return openOp("outdir/new", oWRONLY|oCREAT)(h) }},
		{"open ..", func(h *HostDir) experimentalsys.Errno { return openOp("..", oRDONLY)(h) }},
		{"open ../x", func(h *HostDir) experimentalsys.Errno { return openOp("../outside/secret", oRDONLY)(h) }},
		{"open a/../../x", func(h *HostDir) experimentalsys.Errno { return openOp("sub/../../outside/secret", oRDONLY)(h) }},
		{"open link/../..", func(h *HostDir) experimentalsys.Errno { return openOp("in-dir/../../outside/secret", oRDONLY)(h) }},
		{"stat absolute link", func(h *HostDir) experimentalsys.Errno { _, e := h.Stat("out-abs"); return e }},
		{"stat relative link", func(h *HostDir) experimentalsys.Errno { _, e := h.Stat("out-rel"); return e }},
		{"stat dir link", func(h *HostDir) experimentalsys.Errno { _, e := h.Stat("outdir"); return e }},
		{"stat through a dir link", func(h *HostDir) experimentalsys.Errno { _, e := h.Stat("outdir/secret"); return e }},
		{"stat ..", func(h *HostDir) experimentalsys.Errno { _, e := h.Stat(".."); return e }},
		{"lstat through a dir link", func(h *HostDir) experimentalsys.Errno { _, e := h.Lstat("outdir/secret"); return e }},
		{"lstat ..", func(h *HostDir) experimentalsys.Errno { _, e := h.Lstat("../outside"); return e }},
		{"lstat a link with a slash", func(h *HostDir) experimentalsys.Errno { _, e := h.Lstat("outdir/"); return e }},
		{"readlink through a dir link", func(h *HostDir) experimentalsys.Errno { _, e := h.Readlink("outdir/sub"); return e }},
		{"mkdir through a dir link", func(h *HostDir) experimentalsys.Errno { return h.Mkdir("outdir/new", 0o755) }},
		{"mkdir ..", func(h *HostDir) experimentalsys.Errno { return h.Mkdir("../new", 0o755) }},
		{"chmod a link", func(h *HostDir) experimentalsys.Errno { return h.Chmod("out-abs", 0o777) }},
		{"chmod a dir link", func(h *HostDir) experimentalsys.Errno { return h.Chmod("outdir", 0o777) }},
		{"utimens a link", func(h *HostDir) experimentalsys.Errno { return h.Utimens("out-rel", 1, 1) }},
		{"rename to outside", func(h *HostDir) experimentalsys.Errno { return h.Rename("in.txt", "outdir/stolen") }},
		{"rename over outside", func(h *HostDir) experimentalsys.Errno { return h.Rename("in.txt", "outdir/secret") }},
		{"rename from outside", func(h *HostDir) experimentalsys.Errno { return h.Rename("outdir/secret", "mine") }},
		{"rename ..", func(h *HostDir) experimentalsys.Errno { return h.Rename("in.txt", "../x") }},
		{"rmdir through a dir link", func(h *HostDir) experimentalsys.Errno { return h.Rmdir("outdir/sub") }},
		{"unlink through a dir link", func(h *HostDir) experimentalsys.Errno { return h.Unlink("outdir/secret") }},
		{"unlink ..", func(h *HostDir) experimentalsys.Errno { return h.Unlink("../outside/secret") }},
		{"link an outside file", func(h *HostDir) experimentalsys.Errno { return h.Link("out-abs", "hard") }},
		{"link through a dir link", func(h *HostDir) experimentalsys.Errno { return h.Link("outdir/secret", "hard") }},
		{"link to outside", func(h *HostDir) experimentalsys.Errno { return h.Link("in.txt", "outdir/hard") }},
		{"symlink in outside", func(h *HostDir) experimentalsys.Errno { return h.Symlink("x", "outdir/newlink") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _, _ := confined(t)
			require.Equal(t, EACCES, tc.op(h))
		})
	}
}

func TestHostDirConfinementAllowed(t *testing.T) {
	h, dir, outside := confined(t)
	for name, want := range map[string]string{
		"in.txt":           "I",
		"/in.txt":          "I", // wazero may pass a leading slash
		"in-link":          "I",
		"in-chain":         "I",
		"in-dir/f":         "F",
		"in-dir/up":        "I",
		"sub/up":           "I",
		"sub/../in.txt":    "I",
		"sub//f":           "F",
		"./sub/./f":        "F",
		"in-dir/../in.txt": "I",
	} {
		f := open(t, h, name, oRDONLY)
		buf := make([]byte, 10)
		n, errno := f.Read(buf)
		require.Zero(t, errno, name)
		require.Equal(t, want, string(buf[:n]), name)
		_, errno = h.Stat(name)
		require.Zero(t, errno, name)
	}
	for _, name := range []string{"", ".", "/", "sub/", "in-dir/", "in-dir"} {
		d := open(t, h, name, oRDONLY|oDIRECTORY)
		_, errno := d.Readdir(-1)
		require.Zero(t, errno, name)
	}

	// A final symlink is not followed by Lstat, Readlink, nor Unlink.
	st, errno := h.Lstat("out-abs")
	require.Zero(t, errno)
	require.NotZero(t, st.Mode&fs.ModeSymlink)
	target, errno := h.Readlink("out-abs")
	require.Zero(t, errno)
	require.Equal(t, filepath.Join(outside, "secret"), target)
	_, errno = h.Lstat("outdir")
	require.Zero(t, errno)
	require.Zero(t, h.Unlink("out-abs"))
	require.Zero(t, h.Rename("out-rel", "renamed-link"))
	_, errno = h.Stat("renamed-link")
	require.Equal(t, experimentalsys.EACCES, errno, "still outside")

	// O_NOFOLLOW opens no link: the system refuses, not the confinement.
	_, errno = h.OpenFile("outdir", oRDONLY|oNOFOLLOW, 0)
	require.Equal(t, experimentalsys.ELOOP, errno)

	// Loops and missing parents are reported as the system would.
	_, errno = h.Stat("loop1")
	require.Equal(t, experimentalsys.ELOOP, errno)
	_, errno = h.Stat("nope/x")
	require.Equal(t, experimentalsys.ENOENT, errno)
	_, errno = h.Stat("in.txt/x")
	require.Equal(t, experimentalsys.ENOTDIR, errno)
	_, errno = h.OpenFile("nope/x", oCREAT|oWRONLY, 0o644)
	require.Equal(t, experimentalsys.ENOENT, errno)

	// Writes inside work, through inside links too.
	f := open(t, h, "in-dir/new", oCREAT|oWRONLY)
	_, errno = f.Write([]byte("N"))
	require.Zero(t, errno)
	b, err := os.ReadFile(filepath.Join(dir, "sub", "new"))
	require.NoError(t, err)
	require.Equal(t, "N", string(b))
	require.Zero(t, h.Mkdir("in-dir/nd", 0o755))
	require.Zero(t, h.Symlink("../../in.txt", "sub/nd/l"))
	g := open(t, h, "in-dir/nd/l", oRDONLY)
	n, errno := g.Read(make([]byte, 4))
	require.Zero(t, errno)
	require.Equal(t, 1, n)
	require.Zero(t, h.Link("in-link", "hard"))
	require.Zero(t, h.Chmod("in-link", 0o600))
	require.Zero(t, h.Utimens("in-chain", 1e9, 1e9))
}

func TestHostDirGuestSymlinks(t *testing.T) {
	EACCES := experimentalsys.EACCES
	t.Run("link to the host root", func(t *testing.T) {
		h, _, _ := confined(t)
		up := strings.Repeat("../", 64) + "etc"
		require.Zero(t, h.Symlink(up, "esc"), "making any link is allowed")
		_, errno := h.OpenFile("esc/passwd", oRDONLY, 0)
		require.Equal(t, EACCES, errno)
		_, errno = h.Stat("esc")
		require.Equal(t, EACCES, errno)
		_, errno = h.Stat("esc/passwd")
		require.Equal(t, EACCES, errno)
		_, errno = h.OpenFile("esc/new", oCREAT|oWRONLY, 0o644)
		require.Equal(t, EACCES, errno)
		st, errno := h.Lstat("esc")
		require.Zero(t, errno)
		require.NotZero(t, st.Mode&fs.ModeSymlink)
		target, errno := h.Readlink("esc")
		require.Zero(t, errno)
		require.Equal(t, up, target)
		require.Zero(t, h.Unlink("esc"))
	})
	t.Run("absolute link", func(t *testing.T) {
		h, _, _ := confined(t)
		require.Equal(t, experimentalsys.EPERM, h.Symlink("/etc/passwd", "abs"), "wazero's DirFS refuses absolute targets")
	})
	t.Run("create through a new dangling link", func(t *testing.T) {
		h, _, outside := confined(t)
		require.Zero(t, h.Symlink("../outside/created", "dl"))
		_, errno := h.OpenFile("dl", oCREAT|oWRONLY, 0o644)
		require.Equal(t, EACCES, errno)
		_, err := os.Lstat(filepath.Join(outside, "created"))
		require.ErrorIs(t, err, fs.ErrNotExist)
	})
	t.Run("swap a directory for a link", func(t *testing.T) {
		h, _, _ := confined(t)
		require.Zero(t, h.Mkdir("x", 0o755))
		f := open(t, h, "x/f", oCREAT|oWRONLY)
		require.Zero(t, f.Close())
		require.Zero(t, h.Unlink("x/f"))
		require.Zero(t, h.Rmdir("x"))
		require.Zero(t, h.Symlink("../outside", "x"))
		_, errno := h.OpenFile("x/secret", oRDWR, 0)
		require.Equal(t, EACCES, errno)
		require.Equal(t, EACCES, h.Unlink("x/secret"))
		require.Equal(t, EACCES, h.Rename("in.txt", "x/secret"))
	})
	t.Run("rename a link to a deeper place", func(t *testing.T) {
		// A relative link that pointed inside can point outside once moved.
		h, _, _ := confined(t)
		require.Zero(t, h.Symlink("../in.txt", "sub/rel"))
		f := open(t, h, "sub/rel", oRDONLY)
		require.Zero(t, f.Close())
		require.Zero(t, h.Rename("sub/rel", "rel"))
		_, errno := h.OpenFile("rel", oRDONLY, 0)
		require.Equal(t, EACCES, errno)
	})
	t.Run("inside links work", func(t *testing.T) {
		h, _, _ := confined(t)
		require.Zero(t, h.Symlink("sub", "mysub"))
		require.Zero(t, h.Symlink("mysub/f", "myf"))
		f := open(t, h, "myf", oRDONLY)
		buf := make([]byte, 4)
		n, errno := f.Read(buf)
		require.Zero(t, errno)
		require.Equal(t, "F", string(buf[:n]))
		g := open(t, h, "mysub/created", oCREAT|oWRONLY)
		require.Zero(t, g.Close())
	})
}

func TestHostDirSymlinkedRoot(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	writeTree(t, real, map[string]string{"f": "F"})
	link := filepath.Join(base, "link")
	require.NoError(t, os.Symlink(real, link))
	// An absolute link naming the directory through the unresolved path.
	require.NoError(t, os.Symlink(filepath.Join(link, "f"), filepath.Join(real, "abs")))
	h, err := NewHostDir(link, false, 0)
	require.NoError(t, err)
	f := open(t, h, "abs", oRDONLY)
	require.Zero(t, f.Close())
	_, errno := h.Stat("..")
	require.Equal(t, experimentalsys.EACCES, errno)
}

func TestCheckHostDir(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret": "S"})
	for _, tc := range []struct {
		name  string
		files map[string]string
		bad   string // the link named in the error, "" if none
	}{
		{"plain", map[string]string{"a": "A", "d/b": "B", "e/": ""}, ""},
		{"inside links", map[string]string{"a": "A", "d/l": "->../a", "m": "->d", "n": "->m/l"}, ""},
		{"dangling inside", map[string]string{"l": "->nope", "d/l": "->../nope/x"}, ""},
		{"loop", map[string]string{"a": "->b", "b": "->a"}, ""},
		{"absolute outside", map[string]string{"a": "A", "d/e/l": "->" + filepath.Join(outside, "secret")}, "d/e/l"},
		{"relative outside", map[string]string{"l": "->@rel"}, "l"},
		{"relative dangling outside", map[string]string{"d/l": "->../@rel/nope"}, "d/l"},
		{"etc", map[string]string{"l": "->/etc/passwd"}, "l"},
		{"dangling outside", map[string]string{"l": "->" + filepath.Join(outside, "nope")}, "l"},
		{"chain outside", map[string]string{"a": "->b/x", "b": "->/etc"}, "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rel, err := filepath.Rel(dir, outside)
			require.NoError(t, err)
			files := map[string]string{}
			for name, body := range tc.files {
				files[name] = strings.ReplaceAll(body, "@rel", rel)
			}
			writeTree(t, dir, files)
			err = CheckHostDir(dir)
			if tc.bad == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrUnsafePath)
			require.ErrorContains(t, err, "symlink "+strconv.Quote(tc.bad)+" ->")
		})
	}
	t.Run("not a directory", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "f")
		require.NoError(t, os.WriteFile(f, nil, 0o644))
		require.ErrorContains(t, CheckHostDir(f), "not a directory")
		require.ErrorIs(t, CheckHostDir(filepath.Join(outside, "missing")), fs.ErrNotExist)
	})
}

func TestHostDirPollableFile(t *testing.T) {
	h, _ := newHostDir(t, nil, false, 0)
	f := open(t, h, "f", oCREAT|oRDWR)
	pf, ok := f.(experimentalsys.PollableFile)
	require.True(t, ok, "wazero uses PollableFile for fd_fdstat_set_flags and poll_oneoff")
	require.False(t, pf.IsNonblock())
	require.Zero(t, pf.SetNonblock(true))
	require.True(t, pf.IsNonblock())
	require.Zero(t, pf.SetNonblock(false))
	ready, errno := pf.Poll(experimentalsys.POLLIN, 0)
	require.Zero(t, errno)
	require.True(t, ready, "a regular file is always ready")

	// A file that is not pollable.
	q := &quotaFile{File: experimentalsys.UnimplementedFile{}, h: h}
	require.False(t, q.IsNonblock())
	require.Equal(t, experimentalsys.ENOSYS, q.SetNonblock(true))
	_, errno = q.Poll(experimentalsys.POLLIN, 0)
	require.Equal(t, experimentalsys.ENOSYS, errno)
}
