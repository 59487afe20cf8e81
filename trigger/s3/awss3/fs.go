package awss3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// FS is a bucket, or a prefix of it, as a read-only file system, to mount
// for a guest (lambda.Mount{Path: "/mnt/in", FS: fsys}). It reads lazily:
// Open asks HeadObject for the object's size and ETag; Read streams the
// object with a GetObject from the offset on, ReadAt asks for the range it
// reads, and nothing is downloaded whole. Each GetObject carries If-Match
// with the ETag Open saw, so an object overwritten while it is open fails
// to read (PreconditionFailed) rather than mixing two versions. A
// directory is a key prefix ending in "/", listed with ListObjectsV2 and
// the delimiter "/". Modification times are to the second, as HeadObject
// gives them.
//
// Names are slash-separated paths below the prefix, as fs.ValidPath
// wants them: a path that escapes (such as "../x") fails with
// fs.ErrInvalid. Keys that are not such paths below the prefix (with an
// empty, "." or ".." element, as "a//b") cannot be opened and are not
// listed. When both the object "a" and objects under "a/" exist, "a" is
// the file, and "a/..." can be opened but not listed.
//
// FS is safe for concurrent use; a File it opens is not.
type FS struct {
	api    API
	bucket string
	prefix string
	ctx    context.Context
}

var (
	_ fs.StatFS    = (*FS)(nil)
	_ fs.ReadDirFS = (*FS)(nil)
)

// NewFS returns the objects of bucket under prefix as a file system;
// prefix is a folder, so "in" and "in/" are the same. The requests use
// context.Background until WithContext gives another.
func NewFS(api API, bucket, prefix string) *FS {
	return &FS{api: api, bucket: bucket, prefix: cleanPrefix(prefix), ctx: context.Background()}
}

// WithContext returns a copy of f whose requests, and those of the files
// it opens, use ctx: when ctx ends, they fail.
func (f *FS) WithContext(ctx context.Context) *FS {
	g := *f
	g.ctx = ctx
	return &g
}

// Bucket is the bucket's name.
func (f *FS) Bucket() string { return f.bucket }

// Prefix is the prefix the file system's root is, "" or ending in "/".
func (f *FS) Prefix() string { return f.prefix }

// key is the key of the valid path name.
func (f *FS) key(name string) string {
	if name == "." {
		return strings.TrimSuffix(f.prefix, "/")
	}
	return f.prefix + name
}

// dirPrefix is the listing prefix of the directory name.
func (f *FS) dirPrefix(name string) string {
	if name == "." {
		return f.prefix
	}
	return f.prefix + name + "/"
}

// Open opens the object or the directory name.
func (f *FS) Open(name string) (fs.File, error) {
	info, etag, err := f.stat("open", name)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return &dir{fs: f, name: name, info: info, prefix: f.dirPrefix(name), seen: map[string]bool{}}, nil
	}
	return &file{fs: f, name: name, key: f.key(name), info: info, etag: etag}, nil
}

// Stat returns the object's or the directory's information.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	info, _, err := f.stat("stat", name)
	if err != nil {
		return nil, err
	}
	return info, nil
}

// stat finds name: an object, with its ETag, or else a prefix.
func (f *FS) stat(op, name string) (*fileInfo, string, error) {
	if !fs.ValidPath(name) {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return &fileInfo{name: ".", dir: true}, "", nil
	}
	out, err := f.api.HeadObject(f.ctx, &awss3.HeadObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(f.key(name))})
	if err == nil {
		return &fileInfo{name: path.Base(name), size: aws.ToInt64(out.ContentLength), mod: modTime(out.LastModified)}, aws.ToString(out.ETag), nil
	}
	if err = fsError(err); !errors.Is(err, fs.ErrNotExist) {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	// Not an object: a directory if some key begins with name + "/".
	list, lerr := f.api.ListObjectsV2(f.ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(f.bucket), Prefix: aws.String(f.dirPrefix(name)), MaxKeys: aws.Int32(1)})
	if lerr != nil {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fsError(lerr)}
	}
	if len(list.Contents) == 0 && len(list.CommonPrefixes) == 0 {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	return &fileInfo{name: path.Base(name), dir: true}, "", nil
}

// ReadDir lists the directory name, sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	d := &dir{fs: f, name: name, prefix: f.dirPrefix(name), seen: map[string]bool{}}
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 && name != "." {
		// An empty listing: an empty folder (its marker object alone), no
		// such directory, or a file.
		info, err := f.Stat(name)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.Unwrap(err)}
		}
		if !info.IsDir() {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
		}
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// modTime is a LastModified to the second: HeadObject gives it so (in
// an HTTP date), and a listing to the millisecond.
func modTime(t *time.Time) time.Time {
	return aws.ToTime(t).Truncate(time.Second)
}

// fileInfo describes an object or a directory.
type fileInfo struct {
	name string
	size int64
	mod  time.Time
	dir  bool
}

func (i *fileInfo) Name() string       { return i.name }
func (i *fileInfo) Size() int64        { return i.size }
func (i *fileInfo) ModTime() time.Time { return i.mod }
func (i *fileInfo) IsDir() bool        { return i.dir }
func (i *fileInfo) Sys() any           { return nil }
func (i *fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

// Type, Info and String make fileInfo a fs.DirEntry too.
func (i *fileInfo) Type() fs.FileMode          { return i.Mode().Type() }
func (i *fileInfo) Info() (fs.FileInfo, error) { return i, nil }
func (i *fileInfo) String() string             { return fs.FormatDirEntry(i) }

// file is an open object.
type file struct {
	fs   *FS
	name string
	key  string
	info *fileInfo
	etag string

	mu      sync.Mutex
	off     int64         // the offset of the next Read
	body    io.ReadCloser // a GetObject's body, streaming from bodyOff
	bodyOff int64
	closed  bool
}

var (
	_ io.ReaderAt = (*file)(nil)
	_ io.Seeker   = (*file)(nil)
)

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }

// get asks for the bytes from off to end, inclusive; end < 0 means to the
// end of the object.
func (f *file) get(off, end int64) (io.ReadCloser, error) {
	rng := fmt.Sprintf("bytes=%d-", off)
	if end >= 0 {
		rng += fmt.Sprint(end)
	}
	in := &awss3.GetObjectInput{Bucket: aws.String(f.fs.bucket), Key: aws.String(f.key), Range: aws.String(rng)}
	if f.etag != "" {
		in.IfMatch = aws.String(f.etag)
	}
	out, err := f.fs.api.GetObject(f.fs.ctx, in)
	if err != nil {
		return nil, fsError(err)
	}
	return out.Body, nil
}

// Read reads from the offset on, streaming one GetObject until a Seek or
// a ReadAt moves elsewhere.
func (f *file) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrClosed}
	}
	if f.off >= f.info.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.body == nil || f.bodyOff != f.off {
		f.closeBody()
		body, err := f.get(f.off, -1)
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		f.body, f.bodyOff = body, f.off
	}
	n, err := f.body.Read(p)
	f.off += int64(n)
	f.bodyOff += int64(n)
	if err == io.EOF {
		f.closeBody()
		if f.off < f.info.size {
			return n, &fs.PathError{Op: "read", Path: f.name, Err: io.ErrUnexpectedEOF}
		}
		err = nil
	}
	if err != nil {
		f.closeBody()
		return n, &fs.PathError{Op: "read", Path: f.name, Err: err}
	}
	return n, nil
}

// ReadAt reads len(p) bytes at off with one ranged GetObject.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrClosed}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrInvalid}
	}
	if off >= f.info.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := min(off+int64(len(p)), f.info.size)
	body, err := f.get(off, end-1)
	if err != nil {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
	}
	defer body.Close()
	n, err := io.ReadFull(body, p[:end-off])
	if err != nil {
		return n, &fs.PathError{Op: "read", Path: f.name, Err: err}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Seek sets the offset of the next Read.
func (f *file) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrClosed}
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.info.size
	default:
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	if offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	f.off = offset
	return offset, nil
}

func (f *file) closeBody() {
	if f.body != nil {
		_ = f.body.Close()
		f.body = nil
	}
}

func (f *file) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	f.closeBody()
	return nil
}

// dir is an open directory: a listing, read page by page.
type dir struct {
	fs     *FS
	name   string
	info   *fileInfo
	prefix string

	mu      sync.Mutex
	pending []fs.DirEntry
	seen    map[string]bool
	token   *string
	done    bool
	closed  bool
}

var _ fs.ReadDirFile = (*dir)(nil)

func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }

func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

func (d *dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return &fs.PathError{Op: "close", Path: d.name, Err: fs.ErrClosed}
	}
	d.closed = true
	return nil
}

// ReadDir returns the next n entries, or all the rest when n <= 0.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, &fs.PathError{Op: "readdir", Path: d.name, Err: fs.ErrClosed}
	}
	for !d.done && (n <= 0 || len(d.pending) < n) {
		if err := d.page(); err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: d.name, Err: err}
		}
	}
	if n <= 0 {
		out := d.pending
		d.pending = nil
		return out, nil
	}
	if len(d.pending) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(d.pending))
	out := d.pending[:k:k]
	d.pending = d.pending[k:]
	return out, nil
}

// page lists one more page of the directory.
func (d *dir) page() error {
	out, err := d.fs.api.ListObjectsV2(d.fs.ctx, &awss3.ListObjectsV2Input{
		Bucket:            aws.String(d.fs.bucket),
		Prefix:            aws.String(d.prefix),
		Delimiter:         aws.String("/"),
		ContinuationToken: d.token,
	})
	if err != nil {
		return fsError(err)
	}
	var entries []fs.DirEntry
	for _, o := range out.Contents {
		name := strings.TrimPrefix(aws.ToString(o.Key), d.prefix)
		if dirName, ok := strings.CutSuffix(name, "/"); ok {
			// A folder's marker object, which some servers list as an
			// object rather than as a common prefix.
			if d.valid(dirName) {
				entries = append(entries, &fileInfo{name: dirName, dir: true})
			}
			continue
		}
		if d.valid(name) {
			entries = append(entries, &fileInfo{name: name, size: aws.ToInt64(o.Size), mod: modTime(o.LastModified)})
		}
	}
	for _, p := range out.CommonPrefixes {
		name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), d.prefix), "/")
		if d.valid(name) {
			entries = append(entries, &fileInfo{name: name, dir: true})
		}
	}
	// Keys sort before their prefixes ("a" < "a/"): a file is seen first
	// and hides a prefix of the same name, as Open does.
	slices.SortStableFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range entries {
		if !d.seen[e.Name()] {
			d.seen[e.Name()] = true
			d.pending = append(d.pending, e)
		}
	}
	d.token = out.NextContinuationToken
	d.done = !aws.ToBool(out.IsTruncated) || d.token == nil
	return nil
}

// valid reports whether a listed name is one element of a valid path.
func (d *dir) valid(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/") && fs.ValidPath(name)
}
