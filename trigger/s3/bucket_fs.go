package s3

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	lambda "github.com/wasmlambda/lambda"
)

var (
	_ fs.FS          = (*bucketFS)(nil)
	_ lambda.WriteFS = (*bucketWriteFS)(nil)
	_ fs.ReadDirFile = (*bucketDirFile)(nil)
	_ io.ReaderAt    = (*bucketFile)(nil)
	_ io.Seeker      = (*bucketFile)(nil)
)

// FS returns a read-only view of the bucket's objects whose keys begin
// with prefix, as a file system, for a function's mount: the file "a/b"
// is the object prefix+"a/b". A prefix that is not empty is a directory
// of the bucket: "in" is taken as "in/".
//
// The view is lazy: Open reads the object's latest version as the file is
// read, not the bucket, and a directory lists the keys under it when it is
// read. Directories are the keys' prefixes up to a "/"; a key ending in
// "/" (a console's folder) makes its directory exist, empty. A key that
// is not a valid path below prefix ("a//b", "a/../b") is not in the view,
// and when a key is also a directory ("a" beside "a/b") the directory is.
// A name that is not valid for fs.ValidPath fails with fs.ErrInvalid, so
// a path cannot escape the view.
func (b *Bucket) FS(prefix string) fs.FS {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &bucketFS{b: b, prefix: prefix}
}

// WriteFS returns a writable view of the bucket's objects under prefix,
// as FS's, for a function's ReadWrite mount. A file created through it
// becomes the object prefix+name when it is closed, and emits
// ObjectCreated:Put then; a file never closed, or whose Close fails, is
// no object. Remove deletes the object, as Delete does.
func (b *Bucket) WriteFS(prefix string) lambda.WriteFS {
	return &bucketWriteFS{bucketFS: *b.FS(prefix).(*bucketFS)}
}

type bucketFS struct {
	b      *Bucket
	prefix string
}

func (f *bucketFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	key := f.prefix + name
	if name == "." {
		key = f.prefix
	}
	b := f.b
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, &fs.PathError{Op: "open", Path: name, Err: ErrBucketClosed}
	}
	dirKey := key
	if name != "." {
		dirKey += "/"
	}
	isDir := name == "." || len(b.keysWithPrefix(dirKey)) > 0
	b.mu.Unlock()
	if isDir {
		return &bucketDirFile{fs: f, name: name, prefix: dirKey}, nil
	}
	r, err := b.Get(context.Background(), key)
	if err != nil {
		if errors.Is(err, ErrNoSuchKey) {
			err = fs.ErrNotExist
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &bucketFile{r: r, name: name}, nil
}

// fileInfo describes an object or a directory of a bucket's view.
type fileInfo struct {
	name    string
	size    int64
	modTime time.Time
	dir     bool
}

func (i *fileInfo) Name() string       { return i.name }
func (i *fileInfo) Size() int64        { return i.size }
func (i *fileInfo) ModTime() time.Time { return i.modTime }
func (i *fileInfo) IsDir() bool        { return i.dir }
func (i *fileInfo) Sys() any           { return nil }
func (i *fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

// bucketFile is an object opened through a view.
type bucketFile struct {
	r    *ObjectReader
	name string
}

func (f *bucketFile) Stat() (fs.FileInfo, error) {
	return &fileInfo{name: path.Base(f.name), size: f.r.Size, modTime: f.r.LastModified}, nil
}
func (f *bucketFile) Read(p []byte) (int, error)              { return f.r.Read(p) }
func (f *bucketFile) ReadAt(p []byte, off int64) (int, error) { return f.r.ReadAt(p, off) }
func (f *bucketFile) Seek(off int64, whence int) (int64, error) {
	return f.r.Seek(off, whence)
}
func (f *bucketFile) Close() error { return f.r.Close() }

// bucketDirFile is a directory of a view: the keys under prefix.
type bucketDirFile struct {
	fs      *bucketFS
	name    string
	prefix  string
	entries []fs.DirEntry // read at the first ReadDir
	read    bool
	off     int
}

func (d *bucketDirFile) Stat() (fs.FileInfo, error) {
	return &fileInfo{name: path.Base(d.name), dir: true}, nil
}

func (d *bucketDirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

func (d *bucketDirFile) Close() error { return nil }

func (d *bucketDirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		d.entries = d.fs.list(d.prefix)
		d.read = true
	}
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(n, len(rest))]
	d.off += len(rest)
	return rest, nil
}

// list returns the entries of the directory of keys under prefix, sorted
// by name: a key's segment after prefix is a file, or a directory when
// more of the key follows.
func (f *bucketFS) list(prefix string) []fs.DirEntry {
	b := f.b
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []fs.DirEntry
	last := ""
	for _, k := range b.keysWithPrefix(prefix) {
		rest := k[len(prefix):]
		seg, _, sub := strings.Cut(rest, "/")
		if seg == "" || seg == "." || seg == ".." {
			continue
		}
		if seg == last {
			continue // the directory, listed already
		}
		// The keys "a", "a!" and "a/b" sort so: "a" is both a file and a
		// directory, and the directory wins.
		if !sub && len(b.keysWithPrefix(prefix+seg+"/")) > 0 {
			continue
		}
		last = seg
		info := &fileInfo{name: seg, dir: sub}
		if !sub {
			v := b.objects[k].live()
			info.size, info.modTime = v.size, v.modified
		}
		out = append(out, fs.FileInfoToDirEntry(info))
	}
	sortEntries(out)
	return out
}

// sortEntries sorts by name: keys sort by bytes, but a directory "a" comes
// after the key "a!" while its name sorts before it.
func sortEntries(es []fs.DirEntry) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].Name() < es[j-1].Name(); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

type bucketWriteFS struct {
	bucketFS
}

func (f *bucketWriteFS) Create(name string) (io.WriteCloser, error) {
	if !fs.ValidPath(name) || name == "." {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrInvalid}
	}
	key := f.prefix + name
	if err := f.b.checkKey(key); err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	s, err := f.b.newStager()
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	return &bucketWriter{b: f.b, key: key, name: name, s: s}, nil
}

func (f *bucketWriteFS) Remove(name string) error {
	if !fs.ValidPath(name) || name == "." {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrInvalid}
	}
	key := f.prefix + name
	ctx := context.Background()
	if _, err := f.b.Head(ctx, key); err != nil {
		if errors.Is(err, ErrNoSuchKey) {
			err = fs.ErrNotExist
		}
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	if _, err := f.b.Delete(ctx, key); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

// bucketWriter is a file being written through a WriteFS.
type bucketWriter struct {
	b         *Bucket
	key, name string
	mu        sync.Mutex
	s         *stager // nil once closed
}

func (w *bucketWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.s == nil {
		return 0, &fs.PathError{Op: "write", Path: w.name, Err: fs.ErrClosed}
	}
	n, err := w.s.Write(p)
	if err != nil {
		err = &fs.PathError{Op: "write", Path: w.name, Err: err}
	}
	return n, err
}

// CloseWithError drops the file without committing it, freeing what was
// written: the runtime calls it for a file the guest never closed, because
// it crashed or timed out.
func (w *bucketWriter) CloseWithError(error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.s != nil {
		w.s.abort()
		w.s = nil
	}
	return nil
}

// Close commits the file as an object.
func (w *bucketWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.s == nil {
		return &fs.PathError{Op: "close", Path: w.name, Err: fs.ErrClosed}
	}
	s := w.s
	w.s = nil
	st, err := s.finish()
	if err == nil {
		_, err = w.b.commit(w.key, st, ObjectCreatedPut, hex.EncodeToString(st.sum))
	}
	if err != nil {
		return &fs.PathError{Op: "close", Path: w.name, Err: err}
	}
	return nil
}
