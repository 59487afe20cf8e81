package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
)

// FS returns a read-only view of the tree implementing fs.FS, fs.ReadDirFS,
// fs.StatFS and fs.ReadFileFS. Its files implement io.ReaderAt and io.Seeker
// (wazero's AdaptFS uses them for pread); directories list their entries
// sorted by name. Files have mode 0o444 (0o555 if the source was
// executable), directories 0o555|fs.ModeDir; modification times are the
// source's for FromDir and FromZip, else the Unix epoch.
func (t *Tree) FS() fs.FS {
	return treeFS{t.rootNode()}
}

// SysFS returns the tree as a read-only wazero file system: a sysfs.ReadFS
// over a sysfs.AdaptFS of FS(). Every mutation fails with EROFS: opening for
// writing, creating or truncating, Mkdir, Chmod, Rename, Rmdir, Unlink, Link,
// Symlink and Utimens; writes to an opened file fail with EBADF as POSIX
// says.
func (t *Tree) SysFS() experimentalsys.FS {
	return ReadOnly(t.FS())
}

// ReadOnly returns fsys as a read-only wazero file system, refusing every
// mutation as SysFS does. fsys is read in place, not copied.
func ReadOnly(fsys fs.FS) experimentalsys.FS {
	return &readOnlyFS{&sysfs.ReadFS{FS: &sysfs.AdaptFS{FS: fsys}}}
}

// readOnlyFS is a sysfs.ReadFS whose OpenFile fails with EROFS (instead of
// ReadFS's ENOSYS) for any open that would write, create or truncate.
type readOnlyFS struct {
	*sysfs.ReadFS
}

// OpenFile implements experimentalsys.FS.
func (r *readOnlyFS) OpenFile(name string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	return openReadOnly(r.ReadFS, name, flag, perm)
}

// openReadOnly opens name in the read-only fsys, refusing as Linux does on a
// read-only mount: EISDIR to write a directory, EROFS to write or truncate a
// file or to create one that does not exist, EEXIST for O_CREAT|O_EXCL on one
// that does. O_CREAT of an existing file without O_EXCL just opens it.
func openReadOnly(fsys experimentalsys.FS, name string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	write := flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR) != 0
	if write || flag&(experimentalsys.O_TRUNC|experimentalsys.O_CREAT) != 0 {
		st, errno := fsys.Stat(name)
		switch {
		case errno == experimentalsys.ENOENT && flag&experimentalsys.O_CREAT != 0:
			// EROFS if it could be made, else why not (as Linux checks).
			parent := path.Dir(strings.TrimRight(name, "/"))
			if pst, errno := fsys.Stat(parent); errno != 0 {
				return nil, errno
			} else if !pst.Mode.IsDir() {
				return nil, experimentalsys.ENOTDIR
			}
			return nil, experimentalsys.EROFS
		case errno != 0:
			return nil, errno
		case flag&(experimentalsys.O_CREAT|experimentalsys.O_EXCL) == experimentalsys.O_CREAT|experimentalsys.O_EXCL:
			return nil, experimentalsys.EEXIST
		case st.Mode.IsDir() && (write || flag&experimentalsys.O_TRUNC != 0):
			return nil, experimentalsys.EISDIR
		case write || flag&experimentalsys.O_TRUNC != 0:
			return nil, experimentalsys.EROFS
		}
		flag &^= experimentalsys.O_CREAT | experimentalsys.O_EXCL
	}
	return fsys.OpenFile(name, flag, perm)
}

// treeFS is the fs.FS of a tree.
type treeFS struct {
	root *node
}

var (
	_ fs.ReadDirFS  = treeFS{}
	_ fs.StatFS     = treeFS{}
	_ fs.ReadFileFS = treeFS{}
)

// find looks name up for the operation op.
func (f treeFS) find(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n := lookup(f.root, name)
	if n == nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// Open implements fs.FS.
func (f treeFS) Open(name string) (fs.File, error) {
	n, err := f.find("open", name)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return &openDir{path: name, n: n}, nil
	}
	return &openFile{path: name, n: n, r: bytes.NewReader(n.data)}, nil
}

// ReadDir implements fs.ReadDirFS.
func (f treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.find("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	return dirEntries(n, n.names), nil
}

// Stat implements fs.StatFS.
func (f treeFS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.find("stat", name)
	if err != nil {
		return nil, err
	}
	return fileInfo{name: path.Base(name), n: n}, nil
}

// ReadFile implements fs.ReadFileFS. It returns a copy, which the caller may
// modify.
func (f treeFS) ReadFile(name string) ([]byte, error) {
	n, err := f.find("read", name)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errIsDir}
	}
	return bytes.Clone(n.data), nil
}

var (
	errIsDir  = errors.New("is a directory")
	errNotDir = errors.New("not a directory")
)

// dirEntries describes the children names of the directory n.
func dirEntries(n *node, names []string) []fs.DirEntry {
	entries := make([]fs.DirEntry, len(names))
	for i, name := range names {
		entries[i] = fs.FileInfoToDirEntry(fileInfo{name: name, n: n.children[name]})
	}
	return entries
}

// fileInfo describes a node.
type fileInfo struct {
	name string
	n    *node
}

func (i fileInfo) Name() string { return i.name }

func (i fileInfo) Size() int64 {
	if i.n.dir {
		return 0
	}
	return int64(len(i.n.data))
}

func (i fileInfo) Mode() fs.FileMode  { return i.n.mode }
func (i fileInfo) ModTime() time.Time { return i.n.modTime }
func (i fileInfo) IsDir() bool        { return i.n.dir }
func (i fileInfo) Sys() any           { return nil }

// openFile is an open regular file of a tree.
type openFile struct {
	path   string
	n      *node
	r      *bytes.Reader
	closed bool
}

var (
	_ io.ReaderAt = (*openFile)(nil)
	_ io.Seeker   = (*openFile)(nil)
)

func (f *openFile) Stat() (fs.FileInfo, error) {
	if f.closed {
		return nil, &fs.PathError{Op: "stat", Path: f.path, Err: fs.ErrClosed}
	}
	return fileInfo{name: path.Base(f.path), n: f.n}, nil
}

func (f *openFile) Read(b []byte) (int, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: fs.ErrClosed}
	}
	return f.r.Read(b)
}

func (f *openFile) ReadAt(b []byte, off int64) (int, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: fs.ErrClosed}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: fs.ErrInvalid}
	}
	return f.r.ReadAt(b, off)
}

func (f *openFile) Seek(offset int64, whence int) (int64, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "seek", Path: f.path, Err: fs.ErrClosed}
	}
	n, err := f.r.Seek(offset, whence)
	if err != nil {
		return n, &fs.PathError{Op: "seek", Path: f.path, Err: fs.ErrInvalid}
	}
	return n, nil
}

func (f *openFile) Close() error {
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.path, Err: fs.ErrClosed}
	}
	f.closed = true
	return nil
}

// openDir is an open directory of a tree.
type openDir struct {
	path   string
	n      *node
	pos    int // next entry for ReadDir
	closed bool
}

var _ fs.ReadDirFile = (*openDir)(nil)

func (d *openDir) Stat() (fs.FileInfo, error) {
	if d.closed {
		return nil, &fs.PathError{Op: "stat", Path: d.path, Err: fs.ErrClosed}
	}
	return fileInfo{name: path.Base(d.path), n: d.n}, nil
}

func (d *openDir) Read([]byte) (int, error) {
	if d.closed {
		return 0, &fs.PathError{Op: "read", Path: d.path, Err: fs.ErrClosed}
	}
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: errIsDir}
}

// ReadDir implements fs.ReadDirFile, listing entries sorted by name.
func (d *openDir) ReadDir(count int) ([]fs.DirEntry, error) {
	if d.closed {
		return nil, &fs.PathError{Op: "readdir", Path: d.path, Err: fs.ErrClosed}
	}
	rest := d.n.names[d.pos:]
	if count > 0 {
		if len(rest) == 0 {
			return nil, io.EOF
		}
		rest = rest[:min(count, len(rest))]
	}
	d.pos += len(rest)
	return dirEntries(d.n, rest), nil
}

func (d *openDir) Close() error {
	if d.closed {
		return &fs.PathError{Op: "close", Path: d.path, Err: fs.ErrClosed}
	}
	d.closed = true
	return nil
}
