package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// memFS is an in-memory Writable: a MapFS whose files are committed when
// their writer is closed.
type memFS struct {
	mu    sync.Mutex
	files fstest.MapFS
	// failWrite and failCommit name the files whose writes or Close fail.
	failWrite, failCommit map[string]bool
	// plain makes Create return writers without CloseWithError.
	plain bool
	// discarded lists the files discarded through CloseWithError, and
	// creates counts Create's calls.
	discarded []string
	creates   int
}

func newMemFS(files map[string]string) *memFS {
	m := &memFS{files: fstest.MapFS{}, failWrite: map[string]bool{}, failCommit: map[string]bool{}}
	for name, body := range files {
		m.files[name] = &fstest.MapFile{Data: []byte(body), Mode: 0o644}
	}
	return m
}

// Open implements fs.FS on a snapshot, as a committed file's data is never
// changed, only replaced.
func (m *memFS) Open(name string) (fs.File, error) {
	m.mu.Lock()
	snap := maps.Clone(m.files)
	m.mu.Unlock()
	return snap.Open(name)
}

func (m *memFS) Create(name string) (io.WriteCloser, error) {
	if !fs.ValidPath(name) || name == "." {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrInvalid}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creates++
	w := &memWriter{m: m, name: name}
	if m.plain {
		return plainWriter{w}, nil
	}
	return w, nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[name]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(m.files, name)
	return nil
}

// contents returns the committed files.
func (m *memFS) contents() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for name, f := range m.files {
		if !f.Mode.IsDir() {
			out[name] = string(f.Data)
		}
	}
	return out
}

func (m *memFS) discards() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.discarded...)
}

// memWriter is a file being written to a memFS.
type memWriter struct {
	m    *memFS
	name string
	buf  bytes.Buffer
	done bool
}

func (w *memWriter) Write(b []byte) (int, error) {
	w.m.mu.Lock()
	fail := w.m.failWrite[w.name]
	w.m.mu.Unlock()
	if w.done {
		return 0, errors.New("write after close")
	}
	if fail {
		n := len(b) / 2
		w.buf.Write(b[:n])
		return n, errors.New("the store failed")
	}
	return w.buf.Write(b)
}

func (w *memWriter) Close() error {
	if w.done {
		return errors.New("closed twice")
	}
	w.done = true
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.m.failCommit[w.name] {
		return errors.New("the commit failed")
	}
	w.m.files[w.name] = &fstest.MapFile{Data: bytes.Clone(w.buf.Bytes()), Mode: 0o644}
	return nil
}

func (w *memWriter) CloseWithError(err error) error {
	if err == nil {
		return w.Close()
	}
	w.done = true
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	w.m.discarded = append(w.m.discarded, w.name)
	return nil
}

// plainWriter hides memWriter's CloseWithError.
type plainWriter struct{ w *memWriter }

func (p plainWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p plainWriter) Close() error                { return p.w.Close() }

const (
	rdonly = experimentalsys.O_RDONLY
	wronly = experimentalsys.O_WRONLY
	rdwr   = experimentalsys.O_RDWR
	creat  = experimentalsys.O_CREAT
	trunc  = experimentalsys.O_TRUNC
	excl   = experimentalsys.O_EXCL
	appnd  = experimentalsys.O_APPEND
	dir    = experimentalsys.O_DIRECTORY

	// create is what os.WriteFile opens with, and os.Create is rdwr|creat|trunc.
	create = wronly | creat | trunc
)

// readAll reads the file at p through w, as a guest would.
func readAll(t *testing.T, w *WriteFS, p string) (string, experimentalsys.Errno) {
	t.Helper()
	f, errno := w.OpenFile(p, rdonly, 0)
	if errno != 0 {
		return "", errno
	}
	defer f.Close()
	var out []byte
	buf := make([]byte, 3)
	for {
		n, errno := f.Read(buf)
		if errno != 0 {
			return "", errno
		}
		if n == 0 {
			return string(out), 0
		}
		out = append(out, buf[:n]...)
	}
}

// writeFileTo writes data to p through w, opened with flag, and closes it.
func writeFileTo(w *WriteFS, p string, flag experimentalsys.Oflag, data string) experimentalsys.Errno {
	f, errno := w.OpenFile(p, flag, 0o644)
	if errno != 0 {
		return errno
	}
	if _, errno := f.Write([]byte(data)); errno != 0 {
		f.Close()
		return errno
	}
	return f.Close()
}

func TestWriteFSOpen(t *testing.T) {
	start := map[string]string{"a.txt": "A", "d/b.txt": "B", "empty.txt": ""}
	for _, tc := range []struct {
		name string
		path string
		flag experimentalsys.Oflag
		want experimentalsys.Errno
		// after is the file's content after a write of "new" and Close
		// when the open succeeds for writing, or what a read reads.
		after string
	}{
		{"read", "a.txt", rdonly, 0, "A"},
		{"read in a directory", "d/b.txt", rdonly, 0, "B"},
		{"read with a leading slash", "/d/b.txt", rdonly, 0, "B"},
		{"read missing", "nope.txt", rdonly, experimentalsys.ENOENT, ""},
		{"read a file as a directory", "a.txt/", rdonly, experimentalsys.ENOTDIR, ""},
		{"read escaping", "../a.txt", rdonly, experimentalsys.EACCES, ""},
		{"read escaping through a directory", "d/../../a.txt", rdonly, experimentalsys.EACCES, ""},
		{"read dot-dot inside", "d/../a.txt", rdonly, 0, "A"},
		{"create new", "new.txt", create, 0, "new"},
		{"create new in a new directory", "x/y/new.txt", create, 0, "new"},
		{"create new without truncate", "new.txt", wronly | creat, 0, "new"},
		{"create new for append", "new.txt", wronly | creat | appnd, 0, "new"},
		{"create new read-write (os.Create)", "new.txt", rdwr | creat | trunc, 0, "new"},
		{"create new exclusive", "new.txt", create | excl, 0, "new"},
		{"replace with truncate", "a.txt", create, 0, "new"},
		{"replace read-write with truncate", "a.txt", rdwr | creat | trunc, 0, "new"},
		{"replace without O_CREAT", "a.txt", wronly | trunc, 0, "new"},
		{"write without truncate", "a.txt", wronly, experimentalsys.EPERM, ""},
		{"write an empty file without truncate", "empty.txt", wronly | creat, experimentalsys.EPERM, ""},
		{"append to an existing file", "a.txt", wronly | creat | appnd, experimentalsys.EPERM, ""},
		{"read-write an existing file", "a.txt", rdwr, experimentalsys.EPERM, ""},
		{"exclusive on an existing file", "a.txt", create | excl, experimentalsys.EEXIST, ""},
		{"write missing without O_CREAT", "nope.txt", wronly | trunc, experimentalsys.ENOENT, ""},
		{"write a directory", "d", create, experimentalsys.EISDIR, ""},
		{"write the root", ".", wronly, experimentalsys.EISDIR, ""},
		{"create the root", "", create, experimentalsys.EISDIR, ""},
		{"create with a trailing slash", "new/", create, experimentalsys.EISDIR, ""},
		{"create under a file", "a.txt/new.txt", create, experimentalsys.ENOTDIR, ""},
		{"write with O_DIRECTORY", "d", wronly | dir, experimentalsys.EISDIR, ""},
		{"create escaping", "../new.txt", create, experimentalsys.EACCES, ""},
		{"O_CREAT on an existing file, to read", "a.txt", rdonly | creat, 0, "A"},
		{"O_CREAT on a missing file, to read", "new.txt", rdonly | creat, 0, ""},
		{"O_TRUNC to read", "a.txt", rdonly | trunc, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemFS(start)
			w := NewWriteFS(m)
			f, errno := w.OpenFile(tc.path, tc.flag, 0o644)
			require.Equal(t, tc.want, errno, errno.Error())
			if errno != 0 {
				require.Nil(t, f)
				require.Equal(t, start, m.contents(), "nothing changed")
				return
			}
			if tc.flag&(wronly|rdwr) == 0 {
				f.Close()
				got, errno := readAll(t, w, tc.path)
				require.Zero(t, errno)
				require.Equal(t, tc.after, got)
				return
			}
			_, errno = f.Write([]byte("new"))
			require.Zero(t, errno)
			require.Zero(t, f.Close())
			name, _, _ := clean(tc.path)
			require.Equal(t, tc.after, m.contents()[name])
			require.Zero(t, w.Writing())
		})
	}
}

func TestWriteFSCommitsAtClose(t *testing.T) {
	m := newMemFS(map[string]string{"old.txt": "old"})
	w := NewWriteFS(m)
	f, errno := w.OpenFile("out/new.txt", create, 0o644)
	require.Zero(t, errno)
	n, errno := f.Write([]byte("hello "))
	require.Zero(t, errno)
	require.Equal(t, 6, n)
	n, errno = f.Pwrite([]byte("world"), 6)
	require.Zero(t, errno)
	require.Equal(t, 5, n)
	st, errno := f.Stat()
	require.Zero(t, errno)
	require.Equal(t, int64(11), st.Size)
	require.True(t, st.Mode.IsRegular())
	require.Equal(t, 1, w.Writing())

	_, errno = w.Stat("out/new.txt")
	require.Equal(t, experimentalsys.ENOENT, errno, "not visible until closed")
	_, errno = w.Stat("out")
	require.Equal(t, experimentalsys.ENOENT, errno)

	require.Zero(t, f.Close())
	require.Zero(t, w.Writing())
	got, errno := readAll(t, w, "out/new.txt")
	require.Zero(t, errno)
	require.Equal(t, "hello world", got)
	st, errno = w.Stat("out")
	require.Zero(t, errno)
	require.True(t, st.Mode.IsDir(), "a directory is implied by a file in it")

	// Replacing a file: the old content stays visible until the close.
	f, errno = w.OpenFile("old.txt", create, 0o644)
	require.Zero(t, errno)
	_, errno = f.Write([]byte("replaced"))
	require.Zero(t, errno)
	got, errno = readAll(t, w, "old.txt")
	require.Zero(t, errno)
	require.Equal(t, "old", got)
	require.Zero(t, f.Close())
	got, errno = readAll(t, w, "old.txt")
	require.Zero(t, errno)
	require.Equal(t, "replaced", got)
	require.Equal(t, experimentalsys.EBADF, f.Close(), "closed already")
}

func TestWriteFSWritesInOrderOnly(t *testing.T) {
	open := func(t *testing.T, flag experimentalsys.Oflag) (*memFS, experimentalsys.File) {
		m := newMemFS(nil)
		f, errno := NewWriteFS(m).OpenFile("f", flag, 0o644)
		require.Zero(t, errno)
		_, errno = f.Write([]byte("abc"))
		require.Zero(t, errno)
		return m, f
	}
	buf := make([]byte, 4)
	for _, tc := range []struct {
		name string
		flag experimentalsys.Oflag
		op   func(f experimentalsys.File) experimentalsys.Errno
		want experimentalsys.Errno
		// content is what is committed at Close.
		content string
	}{
		{"write after seeking back", create, func(f experimentalsys.File) experimentalsys.Errno {
			if _, errno := f.Seek(1, io.SeekStart); errno != 0 {
				return errno
			}
			_, errno := f.Write([]byte("x"))
			return errno
		}, experimentalsys.EINVAL, "abc"},
		{"write after seeking past the end", create, func(f experimentalsys.File) experimentalsys.Errno {
			if _, errno := f.Seek(1, io.SeekEnd); errno != 0 {
				return errno
			}
			_, errno := f.Write([]byte("x"))
			return errno
		}, experimentalsys.EINVAL, "abc"},
		{"write after seeking back to the end", create, func(f experimentalsys.File) experimentalsys.Errno {
			f.Seek(0, io.SeekStart)
			if off, errno := f.Seek(0, io.SeekEnd); errno != 0 || off != 3 {
				return experimentalsys.EIO
			}
			_, errno := f.Write([]byte("d"))
			return errno
		}, 0, "abcd"},
		{"pwrite before the end", create, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Pwrite([]byte("x"), 0)
			return errno
		}, experimentalsys.EINVAL, "abc"},
		{"pwrite at the end", create, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Pwrite([]byte("d"), 3)
			return errno
		}, 0, "abcd"},
		{"pwrite anywhere in append mode", create | appnd, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Pwrite([]byte("d"), 0)
			return errno
		}, 0, "abcd"},
		{"write after seeking in append mode", create | appnd, func(f experimentalsys.File) experimentalsys.Errno {
			f.Seek(0, io.SeekStart)
			_, errno := f.Write([]byte("d"))
			return errno
		}, 0, "abcd"},
		{"write after SetAppend", create, func(f experimentalsys.File) experimentalsys.Errno {
			f.Seek(0, io.SeekStart)
			if errno := f.SetAppend(true); errno != 0 || !f.IsAppend() {
				return experimentalsys.EIO
			}
			_, errno := f.Write([]byte("d"))
			return errno
		}, 0, "abcd"},
		{"negative pwrite", create, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Pwrite([]byte("d"), -1)
			return errno
		}, experimentalsys.EINVAL, "abc"},
		{"seek before the start", create, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Seek(-4, io.SeekEnd)
			return errno
		}, experimentalsys.EINVAL, "abc"},
		{"seek whence", create, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Seek(0, 7)
			return errno
		}, experimentalsys.EINVAL, "abc"},
		{"truncate shorter", create, func(f experimentalsys.File) experimentalsys.Errno { return f.Truncate(1) }, experimentalsys.EINVAL, "abc"},
		{"truncate longer", create, func(f experimentalsys.File) experimentalsys.Errno { return f.Truncate(5) }, experimentalsys.EINVAL, "abc"},
		{"truncate to the size", create, func(f experimentalsys.File) experimentalsys.Errno { return f.Truncate(3) }, 0, "abc"},
		{"read write-only", create, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Read(buf)
			return errno
		}, experimentalsys.EBADF, "abc"},
		{"read at the end", rdwr | creat | trunc, func(f experimentalsys.File) experimentalsys.Errno {
			n, errno := f.Read(buf)
			if n != 0 {
				return experimentalsys.EIO
			}
			return errno
		}, 0, "abc"},
		{"read back", rdwr | creat | trunc, func(f experimentalsys.File) experimentalsys.Errno {
			f.Seek(0, io.SeekStart)
			_, errno := f.Read(buf)
			return errno
		}, experimentalsys.EINVAL, "abc"},
		{"pread back", rdwr | creat | trunc, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Pread(buf, 2)
			return errno
		}, experimentalsys.EINVAL, "abc"},
		{"pread at the end", rdwr | creat | trunc, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Pread(buf, 3)
			return errno
		}, 0, "abc"},
		{"pread write-only", create, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Pread(buf, 3)
			return errno
		}, experimentalsys.EBADF, "abc"},
		{"readdir", create, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Readdir(-1)
			return errno
		}, experimentalsys.ENOTDIR, "abc"},
		{"utimens", create, func(f experimentalsys.File) experimentalsys.Errno {
			if errno := f.Utimens(experimentalsys.UTIME_OMIT, 42); errno != 0 {
				return errno
			}
			if st, _ := f.Stat(); st.Mtim != 42 {
				return experimentalsys.EIO
			}
			return 0
		}, 0, "abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, f := open(t, tc.flag)
			require.Equal(t, tc.want, tc.op(f))
			require.Zero(t, f.Close())
			require.Equal(t, map[string]string{"f": tc.content}, m.contents())
		})
	}
}

func TestWriteFSFailures(t *testing.T) {
	t.Run("commit", func(t *testing.T) {
		m := newMemFS(nil)
		m.failCommit["f"] = true
		w := NewWriteFS(m)
		require.Equal(t, experimentalsys.EIO, writeFileTo(w, "f", create, "data"))
		require.Empty(t, m.contents())
		require.Zero(t, w.Writing())
	})
	t.Run("write", func(t *testing.T) {
		m := newMemFS(map[string]string{"f": "old"})
		m.failWrite["f"] = true
		w := NewWriteFS(m)
		f, errno := w.OpenFile("f", create, 0o644)
		require.Zero(t, errno)
		_, errno = f.Write([]byte("data"))
		require.Equal(t, experimentalsys.EIO, errno)
		_, errno = f.Write([]byte("more"))
		require.Equal(t, experimentalsys.EIO, errno, "still broken")
		require.Equal(t, experimentalsys.EIO, f.Close(), "a failed file is not committed")
		require.Equal(t, map[string]string{"f": "old"}, m.contents())
		require.Equal(t, []string{"f"}, m.discards())
		require.Zero(t, w.Writing())
	})
	t.Run("sync", func(t *testing.T) {
		m := newMemFS(nil)
		m.failCommit["f"] = true
		w := NewWriteFS(m)
		f, errno := w.OpenFile("f", create, 0o644)
		require.Zero(t, errno)
		_, errno = f.Write([]byte("data"))
		require.Zero(t, errno)
		require.Equal(t, experimentalsys.EIO, f.Sync())
		require.Zero(t, f.Close(), "the failure was reported by Sync")
		require.Empty(t, m.contents())
	})
	t.Run("create", func(t *testing.T) {
		m := newMemFS(nil)
		w := NewWriteFS(&refusingFS{m, fmt.Errorf("create: %w", fs.ErrPermission)})
		_, errno := w.OpenFile("f", create, 0o644)
		require.Equal(t, experimentalsys.EACCES, errno)
		require.Equal(t, experimentalsys.EACCES, w.Unlink("a"))
	})
}

// refusingFS is a Writable whose Create and Remove fail with err.
type refusingFS struct {
	*memFS
	err error
}

func (r *refusingFS) Create(string) (io.WriteCloser, error) { return nil, r.err }
func (r *refusingFS) Remove(string) error                   { return r.err }
func (r *refusingFS) Open(name string) (fs.File, error) {
	if name == "a" {
		return fstest.MapFS{"a": {}}.Open(name)
	}
	return r.memFS.Open(name)
}

func TestWriteFSSyncCommits(t *testing.T) {
	m := newMemFS(nil)
	w := NewWriteFS(m)
	f, errno := w.OpenFile("f", create, 0o644)
	require.Zero(t, errno)
	_, errno = f.Write([]byte("data"))
	require.Zero(t, errno)
	require.Zero(t, f.Datasync())
	require.Equal(t, map[string]string{"f": "data"}, m.contents(), "committed by fsync")
	require.Zero(t, w.Writing())
	_, errno = f.Write([]byte("more"))
	require.Equal(t, experimentalsys.EBADF, errno, "no writes after fsync")
	require.Zero(t, f.Sync())
	w.Abort()
	require.Zero(t, f.Close())
	require.Equal(t, map[string]string{"f": "data"}, m.contents())
	require.Equal(t, 1, m.creates)
}

func TestWriteFSAbort(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plain=%v", plain), func(t *testing.T) {
			m := newMemFS(map[string]string{"keep.txt": "kept"})
			m.plain = plain
			w := NewWriteFS(m)
			var files []experimentalsys.File
			for _, name := range []string{"a", "b", "keep.txt"} {
				f, errno := w.OpenFile(name, create, 0o644)
				require.Zero(t, errno)
				_, errno = f.Write([]byte("partial"))
				require.Zero(t, errno)
				files = append(files, f)
			}
			require.Zero(t, writeFileTo(w, "done", create, "whole"))
			require.Equal(t, 3, w.Writing())
			w.Abort()
			require.Zero(t, w.Writing())
			for _, f := range files {
				_, errno := f.Write([]byte("more"))
				require.Equal(t, experimentalsys.EBADF, errno)
				require.Zero(t, f.Close(), "wazero closes what the guest left open")
			}
			require.Equal(t, map[string]string{"keep.txt": "kept", "done": "whole"}, m.contents())
			if plain {
				require.Empty(t, m.discards())
			} else {
				got := m.discards()
				sort.Strings(got)
				require.Equal(t, []string{"a", "b", "keep.txt"}, got)
			}
			// The file system is still usable: a command's sandbox runs
			// the next command with it.
			require.Zero(t, writeFileTo(w, "next", create, "next"))
			require.Equal(t, "next", m.contents()["next"])
		})
	}
}

func TestWriteFSDirectories(t *testing.T) {
	start := map[string]string{"a.txt": "A", "d/b.txt": "B", "d/e/c.txt": "C"}
	for _, tc := range []struct {
		name string
		op   func(w *WriteFS) experimentalsys.Errno
		want experimentalsys.Errno
		// gone is the file removed, if any.
		gone string
	}{
		{"mkdir new", func(w *WriteFS) experimentalsys.Errno { return w.Mkdir("new", 0o755) }, 0, ""},
		{"mkdir new nested", func(w *WriteFS) experimentalsys.Errno { return w.Mkdir("x/y/z", 0o755) }, 0, ""},
		{"mkdir in a directory", func(w *WriteFS) experimentalsys.Errno { return w.Mkdir("d/new/", 0o755) }, 0, ""},
		{"mkdir a directory", func(w *WriteFS) experimentalsys.Errno { return w.Mkdir("d", 0o755) }, experimentalsys.EEXIST, ""},
		{"mkdir the root", func(w *WriteFS) experimentalsys.Errno { return w.Mkdir(".", 0o755) }, experimentalsys.EEXIST, ""},
		{"mkdir a file", func(w *WriteFS) experimentalsys.Errno { return w.Mkdir("a.txt", 0o755) }, experimentalsys.EEXIST, ""},
		{"mkdir under a file", func(w *WriteFS) experimentalsys.Errno { return w.Mkdir("a.txt/x", 0o755) }, experimentalsys.ENOTDIR, ""},
		{"mkdir escaping", func(w *WriteFS) experimentalsys.Errno { return w.Mkdir("../x", 0o755) }, experimentalsys.EACCES, ""},
		{"rmdir a directory with files", func(w *WriteFS) experimentalsys.Errno { return w.Rmdir("d") }, experimentalsys.ENOTEMPTY, ""},
		{"rmdir a file", func(w *WriteFS) experimentalsys.Errno { return w.Rmdir("a.txt") }, experimentalsys.ENOTDIR, ""},
		{"rmdir missing", func(w *WriteFS) experimentalsys.Errno { return w.Rmdir("nope") }, experimentalsys.ENOENT, ""},
		{"rmdir the root", func(w *WriteFS) experimentalsys.Errno { return w.Rmdir(".") }, experimentalsys.EINVAL, ""},
		{"unlink a file", func(w *WriteFS) experimentalsys.Errno { return w.Unlink("d/b.txt") }, 0, "d/b.txt"},
		{"unlink a directory", func(w *WriteFS) experimentalsys.Errno { return w.Unlink("d/e") }, experimentalsys.EISDIR, ""},
		{"unlink missing", func(w *WriteFS) experimentalsys.Errno { return w.Unlink("nope") }, experimentalsys.ENOENT, ""},
		{"unlink a file as a directory", func(w *WriteFS) experimentalsys.Errno { return w.Unlink("a.txt/") }, experimentalsys.ENOTDIR, ""},
		{"unlink escaping", func(w *WriteFS) experimentalsys.Errno { return w.Unlink("d/../../a.txt") }, experimentalsys.EACCES, ""},
		{"rename", func(w *WriteFS) experimentalsys.Errno { return w.Rename("a.txt", "z.txt") }, experimentalsys.ENOSYS, ""},
		{"rename escaping", func(w *WriteFS) experimentalsys.Errno { return w.Rename("a.txt", "../z.txt") }, experimentalsys.EACCES, ""},
		{"link", func(w *WriteFS) experimentalsys.Errno { return w.Link("a.txt", "z.txt") }, experimentalsys.EPERM, ""},
		{"symlink", func(w *WriteFS) experimentalsys.Errno { return w.Symlink("a.txt", "z.txt") }, experimentalsys.EPERM, ""},
		{"symlink escaping", func(w *WriteFS) experimentalsys.Errno { return w.Symlink("a.txt", "../z.txt") }, experimentalsys.EACCES, ""},
		{"chmod", func(w *WriteFS) experimentalsys.Errno { return w.Chmod("a.txt", 0o600) }, experimentalsys.EPERM, ""},
		{"chmod missing", func(w *WriteFS) experimentalsys.Errno { return w.Chmod("nope", 0o600) }, experimentalsys.ENOENT, ""},
		{"utimens", func(w *WriteFS) experimentalsys.Errno { return w.Utimens("d", 1, 1) }, experimentalsys.EPERM, ""},
		{"utimens escaping", func(w *WriteFS) experimentalsys.Errno { return w.Utimens("../d", 1, 1) }, experimentalsys.EACCES, ""},
		{"readlink", func(w *WriteFS) experimentalsys.Errno {
			_, errno := w.Readlink("a.txt")
			return errno
		}, experimentalsys.EINVAL, ""},
		{"readlink missing", func(w *WriteFS) experimentalsys.Errno {
			_, errno := w.Readlink("nope")
			return errno
		}, experimentalsys.ENOENT, ""},
		{"lstat escaping", func(w *WriteFS) experimentalsys.Errno {
			_, errno := w.Lstat("..")
			return errno
		}, experimentalsys.EACCES, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemFS(start)
			w := NewWriteFS(m)
			require.Equal(t, tc.want, tc.op(w))
			want := maps.Clone(start)
			delete(want, tc.gone)
			require.Equal(t, want, m.contents())
		})
	}

	t.Run("implicit", func(t *testing.T) {
		m := newMemFS(nil)
		w := NewWriteFS(m)
		require.Zero(t, w.Mkdir("out", 0o755))
		_, errno := w.Stat("out")
		require.Equal(t, experimentalsys.ENOENT, errno, "nothing is made until a file is")
		require.Zero(t, writeFileTo(w, "out/f", create, "x"))
		st, errno := w.Stat("out")
		require.Zero(t, errno)
		require.True(t, st.Mode.IsDir())
		require.Equal(t, experimentalsys.ENOTEMPTY, w.Rmdir("out"))
		require.Zero(t, w.Unlink("out/f"))
		_, errno = w.Stat("out")
		require.Equal(t, experimentalsys.ENOENT, errno, "gone with its last file")

		// An explicit empty directory, as a directory-backed store may have.
		m.files["empty"] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
		require.Zero(t, w.Rmdir("empty"))
		_, errno = w.Stat("empty")
		require.Equal(t, experimentalsys.ENOENT, errno)
	})

	t.Run("readdir", func(t *testing.T) {
		w := NewWriteFS(newMemFS(start))
		f, errno := w.OpenFile(".", rdonly|dir, 0)
		require.Zero(t, errno)
		defer f.Close()
		dirents, errno := f.Readdir(-1)
		require.Zero(t, errno)
		var names []string
		for _, d := range dirents {
			names = append(names, d.Name)
		}
		require.Equal(t, []string{"a.txt", "d"}, names)
		_, errno = f.Write([]byte("x"))
		require.Equal(t, experimentalsys.EISDIR, errno)
	})
}

// TestWriteFSConcurrent writes from many goroutines at once, some sharing a
// WriteFS and some with their own over the same Writable, as the sandboxes
// of a function are, some to the same names, while another goroutine aborts
// one WriteFS's files as they are written: each committed file is one
// writer's whole content.
func TestWriteFSConcurrent(t *testing.T) {
	m := newMemFS(nil)
	const writers, files = 8, 20
	shared, aborted := NewWriteFS(m), NewWriteFS(m)
	write := func(w *WriteFS, i int) {
		for j := range files {
			name := fmt.Sprintf("shared/%d", j)
			if j%2 == 0 {
				name = fmt.Sprintf("own/%d/%d", i, j)
			}
			f, errno := w.OpenFile(name, create, 0o644)
			if errno != 0 {
				t.Errorf("open %s: %v", name, errno)
				return
			}
			data := bytes.Repeat([]byte{byte('a' + i)}, 100+j)
			for k := 0; k < len(data); k += 7 {
				if _, errno := f.Write(data[k:min(k+7, len(data))]); errno != 0 && w != aborted {
					t.Errorf("write %s: %v", name, errno)
				}
			}
			if errno := f.Close(); errno != 0 {
				t.Errorf("close %s: %v", name, errno)
			}
		}
	}
	var wg, abortWG sync.WaitGroup
	for i := range writers {
		w := shared
		switch {
		case i == 0:
			w = aborted
		case i%2 == 0:
			w = NewWriteFS(m)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			write(w, i)
		}()
	}
	done := make(chan struct{})
	abortWG.Add(1)
	go func() {
		defer abortWG.Done()
		for {
			select {
			case <-done:
				return
			default:
				aborted.Abort()
			}
		}
	}()
	wg.Wait()
	close(done)
	abortWG.Wait()
	got := m.contents()
	require.GreaterOrEqual(t, len(got), (writers-1)*files/2+files/2)
	for name, data := range got {
		require.NotEmpty(t, data, name)
		require.Equal(t, strings.Repeat(data[:1], len(data)), data, "%s has one writer's bytes", name)
		j, err := strconv.Atoi(path.Base(name))
		require.NoError(t, err)
		require.Len(t, data, 100+j, "%s is whole", name)
	}
	require.Zero(t, shared.Writing())
	require.Zero(t, aborted.Writing())
}
