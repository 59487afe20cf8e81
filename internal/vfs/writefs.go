package vfs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero/experimental"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// Writable is a file system a guest may write to: an fs.FS that can also
// create and remove files, such as an object store's bucket. It has the
// method set of the root package's WriteFS, which this package cannot
// import: what Create returns is committed when its Close returns nil, and
// not if Close fails or is never called. It must be safe for concurrent use.
type Writable interface {
	fs.FS
	// Create creates or truncates the file name, for writing.
	Create(name string) (io.WriteCloser, error)
	// Remove removes the file name.
	Remove(name string) error
}

// errAborted is what a discarded file's writer is closed with (see
// discard).
var errAborted = errors.New("vfs: the file was not closed: discarded")

// WriteFS is a Writable as a wazero file system, for one sandbox: it is the
// file system of an object store, written a whole file at a time. Reads go to
// the Writable's fs.FS, and writes to what its Create returns:
//
//   - Directories are implicit, as an object store's prefixes: a directory
//     exists while a file exists under it. Mkdir succeeds and makes nothing
//     (EEXIST if the path exists, ENOTDIR if its parent is a file); Rmdir
//     removes an empty directory (ENOTEMPTY if it has entries).
//   - A file is written whole, from its start, in order: open it with
//     O_CREAT for a new file, or O_TRUNC to replace one. Opening an existing
//     file for writing without O_TRUNC, to change it in place or append to
//     it, fails with EPERM. O_APPEND is accepted on a new or truncated file,
//     where it changes nothing. A write or pwrite anywhere but at the end,
//     and a truncate to another size, fail with EINVAL.
//   - A file opened O_RDWR (as Go's os.Create does) reads nothing back: a
//     read at its end returns 0 bytes, one before it fails with EINVAL.
//     O_CREAT or O_TRUNC without write access commits an empty file (when
//     it makes or truncates one), then opens it for reading.
//   - What is written is committed (Create's writer is closed) at the
//     file's Close, or at its first Sync or Datasync, after which writes fail
//     with EBADF. A commit that fails is EIO, and so is a write that fails,
//     after which the file is discarded at Close rather than committed. A
//     file is not visible (Stat, Open) until it is committed.
//   - Abort discards the files open for writing, which are then never
//     committed: for the end of the sandbox's module, whose open files
//     wazero closes after.
//   - Unlink removes a file (EISDIR for a directory). Rename fails with
//     ENOSYS, as renames across mounts do in wazero; Link and Symlink with
//     EPERM, as Linux says for a file system without links; Chmod and
//     Utimens with EPERM, as metadata cannot be changed (Utimens on a file
//     being written is accepted and sets the time its Stat reports).
//   - A path that leads out of the mount (wazero refuses ".." above the
//     preopen before it gets here) fails with EACCES, as HostDir's do.
//
// Several guests may write at once: each open file is independent, and the
// Writable, shared by every sandbox of a function, sees each Create
// separately.
type WriteFS struct {
	w    Writable
	read experimentalsys.FS // w, read-only

	mu   sync.Mutex
	open map[*writeFile]struct{} // files being written, not yet committed
}

var _ experimentalsys.FS = (*WriteFS)(nil)

// NewWriteFS returns w as a wazero file system for one sandbox.
func NewWriteFS(w Writable) *WriteFS {
	return &WriteFS{
		w:    w,
		read: &sysfs.ReadFS{FS: &sysfs.AdaptFS{FS: w}},
		open: map[*writeFile]struct{}{},
	}
}

// Abort discards every file open for writing, which is then never
// committed: its writer is not closed, but closed with an error through
// CloseWithError(error) error if it has one (as io.PipeWriter does). A later
// Close of such a file succeeds and commits nothing. It is for when the
// sandbox's module ends (it crashed, timed out, was closed, or a command
// exited) before wazero closes the files the guest left open.
func (f *WriteFS) Abort() {
	f.mu.Lock()
	files := make([]*writeFile, 0, len(f.open))
	for wf := range f.open {
		files = append(files, wf)
	}
	clear(f.open)
	f.mu.Unlock()
	for _, wf := range files {
		wf.abort()
	}
}

// AbortOnClose returns ctx for instantiating a module that mounts fss:
// when the module is closed, before wazero closes the files its guest left
// open, each of fss aborts the files being written (see Abort), so that
// they are not committed. It must be the context given to
// InstantiateModule, which reads it then.
func AbortOnClose(ctx context.Context, fss ...*WriteFS) context.Context {
	return experimental.WithCloseNotifier(ctx, experimental.CloseNotifyFunc(func(context.Context, uint32) {
		for _, f := range fss {
			f.Abort()
		}
	}))
}

// Writing is how many files are open for writing, not yet committed.
func (f *WriteFS) Writing() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.open)
}

func (f *WriteFS) forget(wf *writeFile) {
	f.mu.Lock()
	delete(f.open, wf)
	f.mu.Unlock()
}

// clean turns a path of the mount, as wazero passes it (relative, maybe
// with a leading or trailing "/"), into an fs.FS name. dirOnly is whether
// it ended with "/", which names a directory.
func clean(p string) (name string, dirOnly bool, errno experimentalsys.Errno) {
	dirOnly = strings.HasSuffix(p, "/")
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return ".", dirOnly, 0
	}
	name = path.Clean(p)
	if name == ".." || strings.HasPrefix(name, "../") {
		return "", false, experimentalsys.EACCES
	}
	if !fs.ValidPath(name) {
		return "", false, experimentalsys.EINVAL
	}
	return name, dirOnly, 0
}

// errnoOf is the errno of an error from the Writable.
func errnoOf(err error) experimentalsys.Errno {
	var errno experimentalsys.Errno
	var sysErrno syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.As(err, &errno):
		return errno
	case errors.As(err, &sysErrno):
		return experimentalsys.UnwrapOSError(sysErrno)
	case errors.Is(err, fs.ErrNotExist):
		return experimentalsys.ENOENT
	case errors.Is(err, fs.ErrExist):
		return experimentalsys.EEXIST
	case errors.Is(err, fs.ErrPermission):
		return experimentalsys.EACCES
	case errors.Is(err, fs.ErrInvalid):
		return experimentalsys.EINVAL
	}
	return experimentalsys.EIO
}

// stat stats the cleaned name: ENOTDIR if dirOnly and it is not a
// directory.
func (f *WriteFS) stat(name string, dirOnly bool) (sys.Stat_t, experimentalsys.Errno) {
	st, errno := f.read.Stat(name)
	if errno == 0 && dirOnly && !st.Mode.IsDir() {
		return sys.Stat_t{}, experimentalsys.ENOTDIR
	}
	return st, errno
}

// parentIsDir checks that the parent of the cleaned name, which does not
// exist, can hold it: ENOTDIR if the parent is a file. A missing parent is
// fine: directories are implicit.
func (f *WriteFS) parentIsDir(name string) experimentalsys.Errno {
	parent := path.Dir(name)
	if parent == "." {
		return 0
	}
	st, errno := f.read.Stat(parent)
	switch {
	case errno == experimentalsys.ENOENT:
		return 0
	case errno != 0:
		return errno
	case !st.Mode.IsDir():
		return experimentalsys.ENOTDIR
	}
	return 0
}

// OpenFile implements experimentalsys.FS.
func (f *WriteFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	name, dirOnly, errno := clean(p)
	if errno != 0 {
		return nil, errno
	}
	write := flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR) != 0
	if !write && flag&(experimentalsys.O_CREAT|experimentalsys.O_TRUNC) == 0 {
		return f.openRead(name, dirOnly, flag)
	}
	if flag&experimentalsys.O_DIRECTORY != 0 {
		return nil, experimentalsys.EISDIR
	}
	st, errno := f.stat(name, dirOnly)
	switch {
	case errno == experimentalsys.ENOENT:
		if flag&experimentalsys.O_CREAT == 0 {
			return nil, experimentalsys.ENOENT
		}
		if dirOnly || name == "." {
			return nil, experimentalsys.EISDIR
		}
		if errno := f.parentIsDir(name); errno != 0 {
			return nil, errno
		}
	case errno != 0:
		return nil, errno
	case flag&(experimentalsys.O_CREAT|experimentalsys.O_EXCL) == experimentalsys.O_CREAT|experimentalsys.O_EXCL:
		return nil, experimentalsys.EEXIST
	case st.Mode.IsDir():
		return nil, experimentalsys.EISDIR
	case flag&experimentalsys.O_TRUNC == 0 && write:
		return nil, experimentalsys.EPERM // to change a file in place
	case flag&experimentalsys.O_TRUNC == 0:
		// O_CREAT of an existing file, to read: just open it.
		return f.openRead(name, false, flag)
	}
	if !write {
		// O_RDONLY with O_CREAT or O_TRUNC: an empty file, then read it.
		w, err := f.w.Create(name)
		if err != nil {
			return nil, errnoOf(err)
		}
		if err := w.Close(); err != nil {
			return nil, experimentalsys.EIO
		}
		return f.openRead(name, false, flag)
	}
	w, err := f.w.Create(name)
	if err != nil {
		return nil, errnoOf(err)
	}
	wf := &writeFile{
		fs:     f,
		w:      w,
		rdwr:   flag&experimentalsys.O_RDWR != 0,
		append: flag&experimentalsys.O_APPEND != 0,
		mtim:   time.Now().UnixNano(),
	}
	wf.seeker.f = wf
	f.mu.Lock()
	f.open[wf] = struct{}{}
	f.mu.Unlock()
	return wf, 0
}

// openRead opens the cleaned name for reading.
func (f *WriteFS) openRead(name string, dirOnly bool, flag experimentalsys.Oflag) (experimentalsys.File, experimentalsys.Errno) {
	flag &^= experimentalsys.O_CREAT | experimentalsys.O_EXCL | experimentalsys.O_TRUNC
	file, errno := f.read.OpenFile(name, flag, 0)
	if errno != 0 {
		return nil, errno
	}
	if dirOnly {
		if isDir, errno := file.IsDir(); errno != 0 || !isDir {
			file.Close()
			if errno == 0 {
				errno = experimentalsys.ENOTDIR
			}
			return nil, errno
		}
	}
	return file, 0
}

// Stat implements experimentalsys.FS.
func (f *WriteFS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	name, dirOnly, errno := clean(p)
	if errno != 0 {
		return sys.Stat_t{}, errno
	}
	return f.stat(name, dirOnly)
}

// Lstat implements experimentalsys.FS: there are no symlinks.
func (f *WriteFS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	return f.Stat(p)
}

// Readlink implements experimentalsys.FS: EINVAL, as there are no
// symlinks, or why the path cannot be read.
func (f *WriteFS) Readlink(p string) (string, experimentalsys.Errno) {
	if _, errno := f.Stat(p); errno != 0 {
		return "", errno
	}
	return "", experimentalsys.EINVAL
}

// Mkdir implements experimentalsys.FS. Directories are implicit: it makes
// nothing, and the directory appears when a file is written in it.
func (f *WriteFS) Mkdir(p string, _ fs.FileMode) experimentalsys.Errno {
	name, dirOnly, errno := clean(p)
	if errno != 0 {
		return errno
	}
	switch _, errno := f.stat(name, dirOnly); errno {
	case 0:
		return experimentalsys.EEXIST
	case experimentalsys.ENOENT:
		return f.parentIsDir(name)
	default:
		return errno
	}
}

// Rmdir implements experimentalsys.FS: it removes an empty directory.
func (f *WriteFS) Rmdir(p string) experimentalsys.Errno {
	name, _, errno := clean(p)
	if errno != 0 {
		return errno
	}
	if name == "." {
		return experimentalsys.EINVAL // as Linux's rmdir(".")
	}
	st, errno := f.read.Stat(name)
	switch {
	case errno != 0:
		return errno
	case !st.Mode.IsDir():
		return experimentalsys.ENOTDIR
	}
	entries, err := fs.ReadDir(f.w, name)
	switch {
	case err != nil:
		return errnoOf(err)
	case len(entries) > 0:
		return experimentalsys.ENOTEMPTY
	}
	if err := f.w.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errnoOf(err)
	}
	return 0
}

// Unlink implements experimentalsys.FS: it removes a file.
func (f *WriteFS) Unlink(p string) experimentalsys.Errno {
	name, dirOnly, errno := clean(p)
	if errno != 0 {
		return errno
	}
	st, errno := f.stat(name, dirOnly)
	switch {
	case errno != 0:
		return errno
	case st.Mode.IsDir():
		return experimentalsys.EISDIR
	}
	return errnoOf(f.w.Remove(name))
}

// Rename implements experimentalsys.FS: ENOSYS, as an object store cannot
// rename, and as wazero fails a rename across mounts.
func (f *WriteFS) Rename(from, to string) experimentalsys.Errno {
	if _, _, errno := clean(from); errno != 0 {
		return errno
	}
	if _, _, errno := clean(to); errno != 0 {
		return errno
	}
	return experimentalsys.ENOSYS
}

// Link implements experimentalsys.FS: EPERM, no links.
func (f *WriteFS) Link(_, newPath string) experimentalsys.Errno {
	if _, _, errno := clean(newPath); errno != 0 {
		return errno
	}
	return experimentalsys.EPERM
}

// Symlink implements experimentalsys.FS: EPERM, no links.
func (f *WriteFS) Symlink(_, linkName string) experimentalsys.Errno {
	if _, _, errno := clean(linkName); errno != 0 {
		return errno
	}
	return experimentalsys.EPERM
}

// Chmod implements experimentalsys.FS: EPERM for a path that exists.
func (f *WriteFS) Chmod(p string, _ fs.FileMode) experimentalsys.Errno {
	if _, errno := f.Stat(p); errno != 0 {
		return errno
	}
	return experimentalsys.EPERM
}

// Utimens implements experimentalsys.FS: EPERM for a path that exists.
func (f *WriteFS) Utimens(p string, _, _ int64) experimentalsys.Errno {
	if _, errno := f.Stat(p); errno != 0 {
		return errno
	}
	return experimentalsys.EPERM
}

// writeState is where a writeFile is in its life.
type writeState int

const (
	writing   writeState = iota
	failed               // a write failed: discarded at Close
	committed            // by Sync: Close has nothing left to do
	aborted              // by Abort: never committed
	closed
)

// writeFile is a file open for writing: what is written goes to the
// Writable's writer, in order.
type writeFile struct {
	seeker[int64]

	fs   *WriteFS
	rdwr bool // opened O_RDWR

	mu     sync.Mutex
	w      io.WriteCloser // nil once committed, discarded or closed
	state  writeState
	size   int64 // bytes written
	off    int64 // the file offset
	append bool
	mtim   int64
}

var _ experimentalsys.File = (*writeFile)(nil)

// discard drops the writer without committing it; f.mu is held.
func (f *writeFile) discard() {
	if c, ok := f.w.(interface{ CloseWithError(error) error }); ok {
		_ = c.CloseWithError(errAborted)
	}
	f.w = nil
}

// abort discards the file for WriteFS.Abort.
func (f *writeFile) abort() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == writing || f.state == failed {
		f.discard()
		f.state = aborted
	}
}

// writable reports why the file cannot be written now, if it cannot.
func (f *writeFile) writable() experimentalsys.Errno {
	switch f.state {
	case writing:
		return 0
	case failed:
		return experimentalsys.EIO
	default:
		return experimentalsys.EBADF
	}
}

// writeEnd writes buf at the end; f.mu is held and the file is writable.
func (f *writeFile) writeEnd(buf []byte) (int, experimentalsys.Errno) {
	n, err := f.w.Write(buf)
	f.size += int64(n)
	if err != nil {
		f.state = failed
		return n, experimentalsys.EIO
	}
	return n, 0
}

// Write implements experimentalsys.File: only at the end of the file.
func (f *writeFile) Write(buf []byte) (int, experimentalsys.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errno := f.writable(); errno != 0 {
		return 0, errno
	}
	if !f.append && f.off != f.size {
		return 0, experimentalsys.EINVAL // out of order
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, errno := f.writeEnd(buf)
	f.off = f.size
	return n, errno
}

// Pwrite implements experimentalsys.File: only at the end of the file (in
// append mode anywhere, as Linux then writes at the end).
func (f *writeFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errno := f.writable(); errno != 0 {
		return 0, errno
	}
	if off < 0 || !f.append && off != f.size {
		return 0, experimentalsys.EINVAL
	}
	if len(buf) == 0 {
		return 0, 0
	}
	return f.writeEnd(buf)
}

// Truncate implements experimentalsys.File: only to the present size.
func (f *writeFile) Truncate(size int64) experimentalsys.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errno := f.writable(); errno != 0 {
		return errno
	}
	if size != f.size {
		return experimentalsys.EINVAL
	}
	return 0
}

// seeker gives writeFile its Seek method. It is generic only so that go
// vet's stdmethods check, which wants any Seek(int64, int) to return an
// error as io.Seeker's does, does not take it for a broken io.Seeker: with
// T = int64 it is wazero's Seek.
type seeker[T ~int64] struct{ f *writeFile }

// Seek implements experimentalsys.File. Any offset may be sought, but
// writing is only at the end.
func (s seeker[T]) Seek(offset T, whence int) (T, experimentalsys.Errno) {
	n, errno := s.f.seek(int64(offset), whence)
	return T(n), errno
}

func (f *writeFile) seek(offset int64, whence int) (int64, experimentalsys.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == closed {
		return 0, experimentalsys.EBADF
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.off
	case io.SeekEnd:
		base = f.size
	default:
		return 0, experimentalsys.EINVAL
	}
	n := base + offset
	if n < 0 || offset > 0 && n < base {
		return 0, experimentalsys.EINVAL // before the start, or overflowing
	}
	f.off = n
	return n, 0
}

// readAt is what a read at off gets: EBADF unless opened O_RDWR, nothing at
// or past the end, and EINVAL before it, as what was written cannot be
// read back.
func (f *writeFile) readAt(buf []byte, off int64) (int, experimentalsys.Errno) {
	switch {
	case f.state == closed || !f.rdwr:
		return 0, experimentalsys.EBADF
	case off < 0:
		return 0, experimentalsys.EINVAL
	case len(buf) == 0 || off >= f.size:
		return 0, 0
	}
	return 0, experimentalsys.EINVAL
}

// Read implements experimentalsys.File; see readAt.
func (f *writeFile) Read(buf []byte) (int, experimentalsys.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readAt(buf, f.off)
}

// Pread implements experimentalsys.File; see readAt.
func (f *writeFile) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readAt(buf, off)
}

// Readdir implements experimentalsys.File: not a directory.
func (f *writeFile) Readdir(int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	return nil, experimentalsys.ENOTDIR
}

// Dev implements experimentalsys.File.
func (f *writeFile) Dev() (uint64, experimentalsys.Errno) { return 0, 0 }

// Ino implements experimentalsys.File.
func (f *writeFile) Ino() (sys.Inode, experimentalsys.Errno) { return 0, 0 }

// IsDir implements experimentalsys.File.
func (f *writeFile) IsDir() (bool, experimentalsys.Errno) { return false, 0 }

// IsAppend implements experimentalsys.File.
func (f *writeFile) IsAppend() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.append
}

// SetAppend implements experimentalsys.File.
func (f *writeFile) SetAppend(enable bool) experimentalsys.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.append = enable
	return 0
}

// Stat implements experimentalsys.File: a regular file of the bytes
// written so far.
func (f *writeFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	return sys.Stat_t{Mode: 0o644, Nlink: 1, Size: f.size, Atim: f.mtim, Mtim: f.mtim, Ctim: f.mtim}, 0
}

// Utimens implements experimentalsys.File: it sets the modification time
// Stat reports (as touch does to a file it creates), which is not stored.
func (f *writeFile) Utimens(_, mtim int64) experimentalsys.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == closed {
		return experimentalsys.EBADF
	}
	if mtim != experimentalsys.UTIME_OMIT {
		f.mtim = mtim
	}
	return 0
}

// commit closes the writer, committing the file; f.mu is held and the file
// is writing or failed. A failed file is discarded instead, and is EIO.
func (f *writeFile) commit() experimentalsys.Errno {
	defer f.fs.forget(f)
	if f.state == failed {
		f.discard()
		return experimentalsys.EIO
	}
	err := f.w.Close()
	f.w = nil
	if err != nil {
		return experimentalsys.EIO
	}
	return 0
}

// Sync implements experimentalsys.File: it commits the file, after which it
// can no longer be written.
func (f *writeFile) Sync() experimentalsys.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch f.state {
	case writing, failed:
		errno := f.commit()
		f.state = committed
		return errno
	case committed:
		return 0
	}
	return experimentalsys.EBADF
}

// Datasync implements experimentalsys.File, as Sync.
func (f *writeFile) Datasync() experimentalsys.Errno { return f.Sync() }

// Close implements experimentalsys.File: it commits the file, unless it was
// committed or discarded already. Closing it again is EBADF.
func (f *writeFile) Close() experimentalsys.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch f.state {
	case writing, failed:
		errno := f.commit()
		f.state = closed
		return errno
	case closed:
		return experimentalsys.EBADF
	}
	f.state = closed
	return 0
}
