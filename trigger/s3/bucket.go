package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits of a bucket, S3's.
const (
	// MaxKeyLength is the longest key, in bytes of UTF-8.
	MaxKeyLength = 1024
	// MinPartSize is the smallest part of a multipart upload, but for its
	// last part.
	MinPartSize = 5 << 20
	// MaxPartNumber is the largest part number of a multipart upload.
	MaxPartNumber = 10000
)

// Errors of a bucket's operations, named for S3's error codes.
var (
	// ErrNoSuchKey is the error for a key with no object, or whose latest
	// version is a delete marker.
	ErrNoSuchKey = errors.New("s3: NoSuchKey: the specified key does not exist")
	// ErrNoSuchVersion is the error for a version ID the key does not have.
	ErrNoSuchVersion = errors.New("s3: NoSuchVersion: the specified version does not exist")
	// ErrMethodNotAllowed is the error for reading a version that is a
	// delete marker.
	ErrMethodNotAllowed = errors.New("s3: MethodNotAllowed: the specified version is a delete marker")
	// ErrNoSuchUpload is the error for an unknown, completed or aborted
	// multipart upload.
	ErrNoSuchUpload = errors.New("s3: NoSuchUpload: the specified multipart upload does not exist")
	// ErrInvalidKey is the error for a key S3 refuses (empty, longer than
	// MaxKeyLength, or not UTF-8), or one a directory-backed bucket cannot
	// hold.
	ErrInvalidKey = errors.New("s3: invalid key")
	// ErrInvalidPart is the error for a part number out of 1–MaxPartNumber,
	// or a completed part that was not uploaded or whose ETag differs.
	ErrInvalidPart = errors.New("s3: InvalidPart: a part was not found or its ETag did not match")
	// ErrInvalidPartOrder is the error for completed parts not in
	// ascending order of part number.
	ErrInvalidPartOrder = errors.New("s3: InvalidPartOrder: the parts are not in ascending order")
	// ErrEntityTooSmall is the error for a part, but for the last one,
	// smaller than MinPartSize.
	ErrEntityTooSmall = errors.New("s3: EntityTooSmall: a part is smaller than the minimum allowed size")
	// ErrBucketClosed is the error of every operation on a closed bucket.
	ErrBucketClosed = errors.New("s3: the bucket is closed")
)

// BucketOptions configure a Bucket. The zero value is a memory-backed,
// unversioned bucket.
type BucketOptions struct {
	// Dir, when set, keeps the bucket in this directory, created if
	// needed, so that it outlives the process; otherwise the bucket is in
	// memory. See Bucket for the directory's layout.
	Dir string
	// Versioning turns S3's versioning on: every put keeps the object's
	// earlier versions, changes carry a VersionID, and a delete creates a
	// delete marker. A directory-backed bucket remembers the setting:
	// opening it with another fails.
	Versioning bool
	// WatchDir watches Dir, so that files other programs create, change
	// or remove in it are seen as objects put (ObjectCreated:Put) and
	// deleted (ObjectRemoved:Delete). It needs Dir. Close stops it.
	WatchDir bool
	// Quiet is how long a file in a watched Dir must go unchanged before
	// it counts as written, so that a file still being written gives one
	// change once it is complete. Zero means one second.
	Quiet time.Duration
	// RetryDelay is how long Watch waits before offering a change again
	// after deliver failed with it; the delay doubles with each failure
	// of the same change, up to MaxRetryDelay. Zero means 200ms.
	RetryDelay time.Duration
	// MaxRetryDelay bounds RetryDelay's doubling. Zero means one minute.
	MaxRetryDelay time.Duration
	// Principal and SourceIP are the requester in the bucket's changes.
	// Empty means "wasmlambda" and "127.0.0.1".
	Principal, SourceIP string
	// Logger receives what a watched directory's watcher cannot report
	// otherwise. Nil means silence.
	Logger *slog.Logger
}

// Object describes one version of an object.
type Object struct {
	// Key is the object's key.
	Key string
	// Size is the object's size in bytes.
	Size int64
	// ETag is the object's entity tag, without quotes: the MD5 of its
	// bytes in hexadecimal, or, for an object put by a multipart upload,
	// the MD5 of its parts' MD5s followed by "-" and the number of parts.
	ETag string
	// LastModified is when this version was created.
	LastModified time.Time
	// VersionID is the version's ID, empty when the bucket is unversioned.
	VersionID string
	// IsLatest is whether this is the key's current version.
	IsLatest bool
	// DeleteMarker is whether this version is a delete marker.
	DeleteMarker bool
}

// Bucket is the embedded bucket, the default Source: a local bucket in
// memory or in a directory, with S3's object operations, each emitting the
// Change S3 would notify. It is safe for concurrent use.
//
// # Notifications
//
// Watch delivers each change made while it runs, at least once: every
// Watch has its own list of pending changes, and a change whose deliver
// fails stays on it and is offered again after a delay that doubles with
// each failure (RetryDelay up to MaxRetryDelay). Changes made before Watch
// started are not delivered, as S3 notifies the configuration present when
// the change happens. The pending lists are in memory, for a
// directory-backed bucket too: changes not yet delivered when the process
// ends, or when Watch returns, are lost; the objects themselves are not.
// A Watch started again, after a restart, sees the changes made from then
// on. Delivery is in the order of the changes, but for changes being
// retried, which later changes overtake: order is not guaranteed, as on S3.
//
// # Directory layout
//
// A directory-backed bucket keeps each object's current version in a file
// at the path of its key, so that Dir can be browsed, and files dropped in
// it by other programs are objects (with WatchDir, they raise changes).
// Keys S3 allows but a file system cannot hold as they are get an escape:
//
//   - A key is split at each "/" into segments, each a path element. A
//     segment that is empty (as in "a//b", "/a" or "a/"), "." or "..",
//     that holds a NUL byte or that begins with "%" is stored as "%"
//     followed by its bytes in lowercase hexadecimal: "a/../b" is the file
//     a/%2e2e/b. So a key never escapes Dir.
//   - When a key is also a prefix of other keys ("a" beside "a/b"), the
//     object "a" is kept in the directory a as the file named "%%".
//   - Dir's top-level entry "%s3" holds the bucket's metadata (ETags,
//     version IDs, earlier versions, multipart parts in progress).
//   - A segment whose stored name is longer than 255 bytes (a file
//     system's limit) is refused with ErrInvalidKey.
//
// A file whose name begins with "%" but is no such escape is not an
// object. On a case-insensitive file system, keys that differ only in case
// share a file: use a memory-backed bucket there, or keys of one case.
//
// Other programs may change Dir while the bucket is closed (the changes
// are seen, without notifications, when it is opened again) or while it
// is open with WatchDir. A file another program changes replaces the
// current version in place: a versioned bucket cannot keep its old bytes.
// Multipart uploads in progress do not survive a restart.
type Bucket struct {
	name      string
	versioned bool
	principal string
	sourceIP  string
	retryMin  time.Duration
	retryMax  time.Duration
	logger    *slog.Logger
	dir       *bucketDir // nil for a memory-backed bucket
	dirWatch  *dirWatcher

	mu       sync.Mutex
	closed   bool
	objects  map[string]*objEntry
	keys     []string // the keys whose latest version is an object, sorted
	seq      uint64   // the last sequencer
	watchers map[*bucketWatcher]struct{}
	uploads  map[string]*upload
}

// objEntry is a key's versions, oldest first.
type objEntry struct {
	versions []*objVersion
}

func (e *objEntry) latest() *objVersion {
	if len(e.versions) == 0 {
		return nil
	}
	return e.versions[len(e.versions)-1]
}

// live is the key's current object, nil when it has none.
func (e *objEntry) live() *objVersion {
	if v := e.latest(); v != nil && !v.deleteMarker {
		return v
	}
	return nil
}

// objVersion is one version of an object.
type objVersion struct {
	id           string
	etag         string
	size         int64
	modified     time.Time
	deleteMarker bool
	data         []byte    // a memory-backed bucket's bytes
	path         string    // a directory-backed bucket's file
	stamp        fileStamp // the file as it was when recorded
}

func (v *objVersion) object(key string, latest bool) Object {
	return Object{
		Key: key, Size: v.size, ETag: v.etag, LastModified: v.modified,
		VersionID: v.id, IsLatest: latest, DeleteMarker: v.deleteMarker,
	}
}

// NewBucket opens the bucket name: in memory, or kept in opts.Dir.
//
// # Errors
//
// A directory that cannot be created or read, or whose versioning setting
// differs from opts.Versioning; WatchDir without Dir.
func NewBucket(name string, opts BucketOptions) (*Bucket, error) {
	if name == "" {
		return nil, errors.New("s3: a bucket needs a name")
	}
	if opts.WatchDir && opts.Dir == "" {
		return nil, errors.New("s3: WatchDir needs Dir")
	}
	b := &Bucket{
		name: name, versioned: opts.Versioning,
		principal: cmpOr(opts.Principal, "wasmlambda"),
		sourceIP:  cmpOr(opts.SourceIP, "127.0.0.1"),
		retryMin:  cmpOr(opts.RetryDelay, 200*time.Millisecond),
		retryMax:  cmpOr(opts.MaxRetryDelay, time.Minute),
		logger:    opts.Logger,
		objects:   map[string]*objEntry{},
		watchers:  map[*bucketWatcher]struct{}{},
		uploads:   map[string]*upload{},
	}
	if opts.Dir == "" {
		return b, nil
	}
	d, err := openBucketDir(opts.Dir, opts.Versioning)
	if err != nil {
		return nil, err
	}
	b.dir = d
	if err := b.loadDir(); err != nil {
		return nil, err
	}
	if opts.WatchDir {
		w, err := startDirWatcher(b, cmpOr(opts.Quiet, time.Second))
		if err != nil {
			return nil, err
		}
		b.dirWatch = w
	}
	return b, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Bucket is the bucket's name.
func (b *Bucket) Bucket() string { return b.name }

// Versioned is whether the bucket keeps versions.
func (b *Bucket) Versioned() bool { return b.versioned }

// Close stops the watch of a watched directory and ends every Watch with
// ErrBucketClosed; later operations fail with ErrBucketClosed. A
// directory-backed bucket's objects stay in its directory. Multipart
// uploads in progress are dropped.
func (b *Bucket) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for w := range b.watchers {
		w.signal()
	}
	for id, u := range b.uploads {
		u.discard()
		delete(b.uploads, id)
	}
	b.mu.Unlock()
	if b.dirWatch != nil {
		return b.dirWatch.stop()
	}
	return nil
}

// checkKey validates key as S3 does, and as a directory can hold it.
func (b *Bucket) checkKey(key string) error {
	if key == "" || len(key) > MaxKeyLength || !utf8.ValidString(key) {
		return fmt.Errorf("%w: %q: a key is 1 to %d bytes of UTF-8", ErrInvalidKey, key, MaxKeyLength)
	}
	if b.dir != nil {
		if _, err := dirKeyPath(key); err != nil {
			return err
		}
	}
	return nil
}

// nextSeq returns the next sequencer: 16 hexadecimal digits, greater than
// every earlier one of the bucket, so greater than the key's earlier ones,
// and the time in nanoseconds when that is greater, so that it keeps
// increasing across a restart of a directory-backed bucket (unless the
// clock went back). b.mu is held.
func (b *Bucket) nextSeq(now time.Time) string {
	b.seq = max(b.seq+1, uint64(now.UnixNano()))
	return fmt.Sprintf("%016X", b.seq)
}

func newVersionID() string {
	var r [24]byte
	_, _ = rand.Read(r[:])
	return base64.RawURLEncoding.EncodeToString(r[:])
}

// change builds and emits the change of an operation. b.mu is held.
func (b *Bucket) change(event, key string, v *objVersion, now time.Time) {
	c := Change{
		Event: event, Time: now, Bucket: b.name, Key: key,
		Sequencer: b.nextSeq(now), Principal: b.principal, SourceIP: b.sourceIP,
	}
	if v != nil {
		c.VersionID = v.id
		if !v.deleteMarker && strings.HasPrefix(event, "ObjectCreated:") {
			c.Size, c.ETag = v.size, v.etag
		}
	}
	for w := range b.watchers {
		w.add(c)
	}
}

// entry returns key's entry, creating it. b.mu is held.
func (b *Bucket) entry(key string) *objEntry {
	e := b.objects[key]
	if e == nil {
		e = &objEntry{}
		b.objects[key] = e
	}
	return e
}

// setLive keeps b.keys, the sorted live keys, up to date with key's entry.
// b.mu is held.
func (b *Bucket) setLive(key string) {
	e := b.objects[key]
	live := e != nil && e.live() != nil
	i, found := slices.BinarySearch(b.keys, key)
	switch {
	case live && !found:
		b.keys = slices.Insert(b.keys, i, key)
	case !live && found:
		b.keys = slices.Delete(b.keys, i, i+1)
	}
	if e != nil && len(e.versions) == 0 {
		delete(b.objects, key)
	}
}

// Put stores r's bytes as the object key, and emits ObjectCreated:Put. In
// an unversioned bucket it replaces the object; in a versioned one it adds
// a version.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader) (Object, error) {
	if err := b.checkKey(key); err != nil {
		return Object{}, err
	}
	st, err := b.stage(ctx, r)
	if err != nil {
		return Object{}, err
	}
	return b.commit(key, st, ObjectCreatedPut, hex.EncodeToString(st.sum))
}

// Copy copies the object srcKey to dstKey, and emits ObjectCreated:Copy
// for dstKey.
func (b *Bucket) Copy(ctx context.Context, dstKey, srcKey string) (Object, error) {
	if err := b.checkKey(dstKey); err != nil {
		return Object{}, err
	}
	src, err := b.Get(ctx, srcKey)
	if err != nil {
		return Object{}, err
	}
	st, err := b.stage(ctx, src)
	_ = src.Close()
	if err != nil {
		return Object{}, err
	}
	return b.commit(dstKey, st, ObjectCreatedCopy, hex.EncodeToString(st.sum))
}

// commit makes st the latest version of key and emits event. It takes
// st: st is discarded if commit fails.
func (b *Bucket) commit(key string, st *staged, event, etag string) (Object, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		st.discard()
		return Object{}, ErrBucketClosed
	}
	now := time.Now().UTC()
	v := &objVersion{etag: etag, size: st.size, modified: now, data: st.data}
	if b.versioned {
		v.id = newVersionID()
	}
	e := b.entry(key)
	if b.dir != nil {
		if err := b.dirCommit(key, e, v, st); err != nil {
			st.discard()
			b.setLive(key)
			return Object{}, err
		}
	} else if !b.versioned {
		e.versions = e.versions[:0]
	}
	e.versions = append(e.versions, v)
	b.setLive(key)
	b.change(event, key, v, now)
	b.saveMeta(key, e)
	return v.object(key, true), nil
}

// Delete deletes the object key, as S3's DeleteObject without a version:
// in an unversioned bucket it removes the object and emits
// ObjectRemoved:Delete, whether the key had an object or not, as S3 does;
// in a versioned one it adds a delete marker, returned, and emits
// ObjectRemoved:DeleteMarkerCreated.
func (b *Bucket) Delete(ctx context.Context, key string) (Object, error) {
	if err := b.checkKey(key); err != nil {
		return Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Object{}, ErrBucketClosed
	}
	now := time.Now().UTC()
	e := b.entry(key)
	if !b.versioned {
		if cur := e.live(); cur != nil && b.dir != nil {
			if err := b.dirRemove(cur); err != nil {
				return Object{}, err
			}
		}
		e.versions = nil
		b.change(ObjectRemovedDelete, key, nil, now)
		b.setLive(key)
		b.saveMeta(key, e)
		return Object{Key: key}, nil
	}
	m := &objVersion{id: newVersionID(), modified: now, deleteMarker: true}
	if cur := e.live(); cur != nil && b.dir != nil {
		if err := b.dirRetire(key, cur); err != nil {
			return Object{}, err
		}
	}
	e.versions = append(e.versions, m)
	b.setLive(key)
	b.change(ObjectRemovedDeleteMarkerCreated, key, m, now)
	b.saveMeta(key, e)
	return m.object(key, true), nil
}

// DeleteVersion deletes one version of key for good, a delete marker or
// not, and emits ObjectRemoved:Delete with its version ID, as S3's
// DeleteObject with a version ID. When it was the latest version, the one
// before it becomes the latest.
func (b *Bucket) DeleteVersion(ctx context.Context, key, versionID string) error {
	if err := b.checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrBucketClosed
	}
	e := b.objects[key]
	if e == nil || versionID == "" {
		return fmt.Errorf("%w: %q version %q", ErrNoSuchVersion, key, versionID)
	}
	i := slices.IndexFunc(e.versions, func(v *objVersion) bool { return v.id == versionID })
	if i < 0 {
		return fmt.Errorf("%w: %q version %q", ErrNoSuchVersion, key, versionID)
	}
	v := e.versions[i]
	if b.dir != nil {
		if err := b.dirDeleteVersion(key, e, i); err != nil {
			return err
		}
	}
	e.versions = slices.Delete(e.versions, i, i+1)
	b.setLive(key)
	b.change(ObjectRemovedDelete, key, v, time.Now().UTC())
	b.saveMeta(key, e)
	return nil
}

// Head returns the latest version of key, as S3's HeadObject.
//
// # Errors
//
// ErrNoSuchKey when the key has no object, or its latest version is a
// delete marker.
func (b *Bucket) Head(ctx context.Context, key string) (Object, error) {
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Object{}, ErrBucketClosed
	}
	e := b.objects[key]
	if e == nil || e.live() == nil {
		return Object{}, fmt.Errorf("%w: %q", ErrNoSuchKey, key)
	}
	return e.live().object(key, true), nil
}

// ObjectReader reads one version of an object. Its Object is the version
// read. Close it when done.
type ObjectReader struct {
	Object
	r interface {
		io.ReadSeeker
		io.ReaderAt
	}
	c io.Closer
}

// Read reads the object's bytes.
func (o *ObjectReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// ReadAt reads the object's bytes from off.
func (o *ObjectReader) ReadAt(p []byte, off int64) (int, error) { return o.r.ReadAt(p, off) }

// Seek sets where Read reads next.
func (o *ObjectReader) Seek(off int64, whence int) (int64, error) { return o.r.Seek(off, whence) }

// Close releases the reader.
func (o *ObjectReader) Close() error {
	if o.c != nil {
		return o.c.Close()
	}
	return nil
}

// Get opens the latest version of key for reading, as S3's GetObject: the
// bytes are read as the reader is read, not before. A later put or delete
// of the key does not change what an open reader reads.
//
// # Errors
//
// ErrNoSuchKey when the key has no object, or its latest version is a
// delete marker.
func (b *Bucket) Get(ctx context.Context, key string) (*ObjectReader, error) {
	return b.get(ctx, key, "")
}

// GetVersion opens one version of key for reading.
//
// # Errors
//
// ErrNoSuchVersion when the key has no such version, ErrMethodNotAllowed
// when the version is a delete marker.
func (b *Bucket) GetVersion(ctx context.Context, key, versionID string) (*ObjectReader, error) {
	if versionID == "" {
		return nil, fmt.Errorf("%w: %q version %q", ErrNoSuchVersion, key, versionID)
	}
	return b.get(ctx, key, versionID)
}

func (b *Bucket) get(ctx context.Context, key, versionID string) (*ObjectReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrBucketClosed
	}
	e := b.objects[key]
	var v *objVersion
	if versionID == "" {
		if e == nil || e.live() == nil {
			return nil, fmt.Errorf("%w: %q", ErrNoSuchKey, key)
		}
		v = e.live()
	} else {
		if e != nil {
			if i := slices.IndexFunc(e.versions, func(v *objVersion) bool { return v.id == versionID }); i >= 0 {
				v = e.versions[i]
			}
		}
		if v == nil {
			return nil, fmt.Errorf("%w: %q version %q", ErrNoSuchVersion, key, versionID)
		}
		if v.deleteMarker {
			return nil, fmt.Errorf("%w: %q version %q", ErrMethodNotAllowed, key, versionID)
		}
	}
	o := &ObjectReader{Object: v.object(key, v == e.latest())}
	if b.dir == nil {
		o.r = bytes.NewReader(v.data)
		return o, nil
	}
	f, err := b.dir.open(v)
	if err != nil {
		return nil, err
	}
	o.r, o.c = f, f
	return o, nil
}

// List calls fn with the latest version of each object whose key begins
// with prefix, in the order of their keys' bytes, as S3's ListObjectsV2;
// keys whose latest version is a delete marker are left out. The listing
// is taken when List is called, and fn may call the bucket's methods. It
// stops at fn's first error, or when ctx ends, and returns the error.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(Object) error) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrBucketClosed
	}
	var objs []Object
	for _, k := range b.keysWithPrefix(prefix) {
		objs = append(objs, b.objects[k].live().object(k, true))
	}
	b.mu.Unlock()
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// Versions returns every version of key, the latest first, as S3's
// ListObjectVersions for one key; none when the key has none.
func (b *Bucket) Versions(ctx context.Context, key string) ([]Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrBucketClosed
	}
	e := b.objects[key]
	if e == nil {
		return nil, nil
	}
	out := make([]Object, 0, len(e.versions))
	for i := len(e.versions) - 1; i >= 0; i-- {
		out = append(out, e.versions[i].object(key, i == len(e.versions)-1))
	}
	return out, nil
}

// keysWithPrefix returns the live keys beginning with prefix. b.mu is
// held; the result aliases b.keys.
func (b *Bucket) keysWithPrefix(prefix string) []string {
	lo := sort.SearchStrings(b.keys, prefix)
	hi := lo
	for hi < len(b.keys) && strings.HasPrefix(b.keys[hi], prefix) {
		hi++
	}
	return b.keys[lo:hi]
}

// staged is bytes written aside, before they become a version.
type staged struct {
	size int64
	sum  []byte // MD5
	data []byte // memory-backed
	tmp  string // directory-backed: a file in the metadata's tmp
}

func (st *staged) discard() {
	if st != nil && st.tmp != "" {
		_ = removeFile(st.tmp)
		st.tmp = ""
	}
}

// stager writes bytes aside: in memory, or to a temporary file.
type stager struct {
	b    *Bucket
	buf  bytes.Buffer
	f    tmpFile
	hash hashWriter
	size int64
}

func (b *Bucket) newStager() (*stager, error) {
	s := &stager{b: b, hash: newHashWriter()}
	if b.dir != nil {
		f, err := b.dir.createTemp()
		if err != nil {
			return nil, err
		}
		s.f = f
	}
	return s, nil
}

func (s *stager) Write(p []byte) (int, error) {
	var n int
	var err error
	if s.f != nil {
		n, err = s.f.Write(p)
	} else {
		n, err = s.buf.Write(p)
	}
	s.hash.Write(p[:n])
	s.size += int64(n)
	return n, err
}

// finish ends the writing: the stager is done with.
func (s *stager) finish() (*staged, error) {
	st := &staged{size: s.size, sum: s.hash.Sum(nil)}
	if s.f == nil {
		st.data = bytes.Clone(s.buf.Bytes())
		return st, nil
	}
	name := s.f.Name()
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err != nil {
		_ = removeFile(name)
		return nil, err
	}
	st.tmp = name
	return st, nil
}

// abort drops what was written.
func (s *stager) abort() {
	if s.f != nil {
		name := s.f.Name()
		_ = s.f.Close()
		_ = removeFile(name)
		s.f = nil
	}
}

// stage writes r's bytes aside, reading until EOF or ctx's end.
func (b *Bucket) stage(ctx context.Context, r io.Reader) (*staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := b.newStager()
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(s, ctxReader{ctx, r}); err != nil {
		s.abort()
		return nil, err
	}
	return s.finish()
}

// ctxReader reads r until ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func newHashWriter() hashWriter { return md5.New() }
