package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ObjectInfo is an object as a listing shows it.
type ObjectInfo struct {
	// Key is the object's key.
	Key string
	// Size is its size in bytes.
	Size int64
	// ETag is its entity tag, without quotes.
	ETag string
	// LastModified is when it was last written.
	LastModified time.Time
	// VersionID is its version, when the store gives it; ListObjectsV2
	// does not.
	VersionID string
}

// Lister lists a bucket: awss3.Lister over ListObjectsV2, for one.
type Lister interface {
	// List calls fn with each object whose key begins with prefix, and
	// stops at fn's first error, which it returns. It returns an error if
	// it could not list them all.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
}

// DefaultPollInterval is a Poller's Interval when it is zero.
const DefaultPollInterval = time.Minute

// Poller is a Source for an S3-compatible store that sends no
// notifications: every Interval it lists the bucket (or Prefix of it)
// through Lister and compares the listing with a cursor, the objects it
// saw last, persisted to the file Cursor. An object that is new, or whose
// ETag, size, last-modified time or version changed, is an
// ObjectCreated:Put change; an object that is gone is an
// ObjectRemoved:Delete change. Use it as the Source of the Notifications
// trigger.
//
// The cursor advances for a change only once deliver has accepted it, so
// a change whose deliver fails is offered again at the next listing, and
// a restarted Poller on the same cursor file neither repeats a change
// already delivered nor misses one made while it was stopped. A process
// that dies between a deliver and the cursor's write repeats that one
// change: delivery is at least once.
//
// # Notes
//
//   - When the cursor file does not exist, the first listing sets the
//     cursor and is not delivered: as with S3's notifications, objects
//     written before the watch began raise no event.
//   - A listing sees the state at one moment: an object written and
//     deleted between two listings raises no event, and several writes in
//     between raise one. Change.Time is the object's LastModified for a
//     creation, and the time the deletion was seen for a deletion.
//   - Changes carry a Sequencer that increases with every change the
//     Poller delivers (16 hexadecimal digits, from the clock and the
//     cursor), and no Principal or SourceIP.
//   - One Watch runs at a time on a Poller, and one Poller on a cursor
//     file.
//
// The cursor is a snapshot file, written whole to a temporary file and
// renamed over Cursor, and a journal, Cursor+".log", to which each
// delivered change is appended and synced; the journal is folded into the
// snapshot at the end of each listing that changed something.
type Poller struct {
	// BucketName is the bucket's name, the Bucket of the changes.
	// Required.
	BucketName string
	// Lister lists the bucket. Required.
	Lister Lister
	// Prefix restricts the Poller to the keys that begin with it.
	Prefix string
	// Interval is the time between listings. Default 1 minute. After a
	// listing fails, or a deliver does, the next comes sooner: after 1 s,
	// doubling up to Interval.
	Interval time.Duration
	// Cursor is the path of the cursor file. Empty means a cursor in
	// memory only: the next Watch of this Poller goes on from it, but a
	// new Poller starts afresh.
	Cursor string
	// Logger receives the errors the Poller recovers from: failed
	// listings and refused changes. Nil means none.
	Logger *slog.Logger

	mu       sync.Mutex
	watching bool
	mem      *pollCursor // the cursor in memory, when Cursor is empty

	stats struct {
		listings, listErrors, created, removed, delivered, refused atomic.Int64
	}
}

var _ Source = (*Poller)(nil)

// Bucket is the bucket's name.
func (p *Poller) Bucket() string { return p.BucketName }

// PollerStats counts what a Poller did.
type PollerStats struct {
	// Listings counts complete listings.
	Listings int64
	// ListErrors counts listings that failed.
	ListErrors int64
	// Created and Removed count the changes found, ObjectCreated:Put and
	// ObjectRemoved:Delete, each time one was offered.
	Created, Removed int64
	// Delivered counts changes deliver accepted.
	Delivered int64
	// Refused counts changes deliver refused (offered again later).
	Refused int64
}

// Stats returns the counters.
func (p *Poller) Stats() PollerStats {
	st := &p.stats
	return PollerStats{
		Listings: st.listings.Load(), ListErrors: st.listErrors.Load(), Created: st.created.Load(),
		Removed: st.removed.Load(), Delivered: st.delivered.Load(), Refused: st.refused.Load(),
	}
}

// Watch lists the bucket every Interval and calls deliver with each
// change, until ctx ends; it then returns ctx's error. It returns another
// error, at once, when the settings are invalid, the cursor cannot be read
// or belongs to another bucket or prefix, or the cursor cannot be written.
// A failed listing is logged and tried again.
func (p *Poller) Watch(ctx context.Context, deliver func(ctx context.Context, c Change) error) error {
	switch {
	case p.BucketName == "":
		return errors.New("s3 poller: BucketName is required")
	case p.Lister == nil:
		return errors.New("s3 poller: Lister is required")
	case p.Interval < 0:
		return fmt.Errorf("s3 poller: Interval %v is negative", p.Interval)
	}
	p.mu.Lock()
	if p.watching {
		p.mu.Unlock()
		return fmt.Errorf("s3 poller for %s: Watch is running already", p.BucketName)
	}
	p.watching = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.watching = false
		p.mu.Unlock()
	}()

	cur := p.mem
	if cur == nil || p.Cursor != "" {
		c, err := openCursor(p.Cursor, p.BucketName, p.Prefix)
		if err != nil {
			return err
		}
		cur = c
	}
	if p.Cursor == "" {
		p.mem = cur // the next Watch goes on from here
	}
	defer cur.close()
	interval := p.Interval
	if interval == 0 {
		interval = DefaultPollInterval
	}
	const minRetry = time.Second
	retry := minRetry
	for {
		ok, err := p.scan(ctx, cur, deliver)
		if err != nil {
			return err
		}
		wait := interval
		if ok {
			retry = minRetry
		} else {
			wait = min(retry, interval)
			retry = min(2*retry, interval)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// scan lists the bucket once and delivers the changes. It reports whether
// everything went through; its error is one that ends Watch.
func (p *Poller) scan(ctx context.Context, cur *pollCursor, deliver func(context.Context, Change) error) (bool, error) {
	var listed []ObjectInfo
	err := p.Lister.List(ctx, p.Prefix, func(o ObjectInfo) error {
		if strings.HasPrefix(o.Key, p.Prefix) {
			listed = append(listed, o)
		}
		return nil
	})
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		p.stats.listErrors.Add(1)
		p.log("s3 poller: listing failed", err)
		return false, nil
	}
	p.stats.listings.Add(1)
	slices.SortStableFunc(listed, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	listed = slices.CompactFunc(listed, func(a, b ObjectInfo) bool { return a.Key == b.Key })

	if !cur.started {
		// The first listing: the state the watch begins from.
		cur.objects = make(map[string]cursorObject, len(listed))
		for _, o := range listed {
			cur.objects[o.Key] = toCursorObject(o)
		}
		cur.started = true
		return true, cur.snapshot()
	}

	var changes []Change
	present := make(map[string]bool, len(listed))
	for _, o := range listed {
		present[o.Key] = true
		if old, ok := cur.objects[o.Key]; ok && old.same(o) {
			continue
		}
		changes = append(changes, Change{Event: ObjectCreatedPut, Time: o.LastModified, Bucket: p.BucketName, Key: o.Key, Size: o.Size, ETag: o.ETag, VersionID: o.VersionID})
	}
	var gone []string
	for k := range cur.objects {
		if !present[k] {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	now := time.Now().UTC()
	for _, k := range gone {
		changes = append(changes, Change{Event: ObjectRemovedDelete, Time: now, Bucket: p.BucketName, Key: k})
	}

	ok := true
	delivered := false
	for _, c := range changes {
		if c.Event == ObjectCreatedPut {
			p.stats.created.Add(1)
		} else {
			p.stats.removed.Add(1)
		}
		seq := cur.nextSequence()
		c.Sequencer = fmt.Sprintf("%016X", seq)
		if err := deliver(ctx, c); err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			ok = false
			p.stats.refused.Add(1)
			p.log("s3 poller: a change was refused, and is offered again at the next listing", err, slog.String("key", c.Key), slog.String("event", c.Event))
			continue
		}
		p.stats.delivered.Add(1)
		delivered = true
		if err := cur.record(c, seq); err != nil {
			return false, err
		}
	}
	if delivered {
		if err := cur.snapshot(); err != nil {
			return false, err
		}
	}
	return ok, nil
}

func (p *Poller) log(msg string, err error, attrs ...any) {
	if p.Logger != nil {
		p.Logger.Error(msg, append([]any{slog.String("bucket", p.BucketName), slog.String("error", err.Error())}, attrs...)...)
	}
}

// cursorObject is what the cursor keeps of an object.
type cursorObject struct {
	Size         int64     `json:"size"`
	ETag         string    `json:"etag,omitempty"`
	LastModified time.Time `json:"modified"`
	VersionID    string    `json:"version,omitempty"`
}

func toCursorObject(o ObjectInfo) cursorObject {
	return cursorObject{Size: o.Size, ETag: o.ETag, LastModified: o.LastModified.UTC(), VersionID: o.VersionID}
}

func (c cursorObject) same(o ObjectInfo) bool {
	return c.Size == o.Size && c.ETag == o.ETag && c.LastModified.Equal(o.LastModified) && c.VersionID == o.VersionID
}

// cursorFormat is the version of the cursor files' format.
const cursorFormat = 1

// cursorSnapshot is the snapshot file's content.
type cursorSnapshot struct {
	Format   int                     `json:"format"`
	Bucket   string                  `json:"bucket"`
	Prefix   string                  `json:"prefix"`
	Sequence uint64                  `json:"sequence"`
	Objects  map[string]cursorObject `json:"objects"`
}

// cursorEntry is one line of the journal: a delivered change.
type cursorEntry struct {
	Key      string        `json:"key"`
	Sequence uint64        `json:"sequence"`
	Deleted  bool          `json:"deleted,omitempty"`
	Object   *cursorObject `json:"object,omitempty"`
}

// pollCursor is a Poller's cursor: the objects seen, in memory, and the
// files that keep them.
type pollCursor struct {
	path           string // "" for a cursor in memory
	bucket, prefix string
	started        bool // a first listing has set objects
	sequence       uint64
	objects        map[string]cursorObject
	journal        *os.File // open for appending, once a change is recorded
}

// openCursor reads the cursor at path: its snapshot, and then its journal.
func openCursor(path, bucket, prefix string) (*pollCursor, error) {
	c := &pollCursor{path: path, bucket: bucket, prefix: prefix, objects: map[string]cursorObject{}}
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(c.journalPath()); err == nil {
			return nil, fmt.Errorf("s3 poller: cursor %s has a journal but no snapshot", path)
		}
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("s3 poller: read the cursor: %w", err)
	}
	var snap cursorSnapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return nil, fmt.Errorf("s3 poller: cursor %s: %w", path, err)
	}
	switch {
	case snap.Format != cursorFormat:
		return nil, fmt.Errorf("s3 poller: cursor %s has format %d, not %d", path, snap.Format, cursorFormat)
	case snap.Bucket != bucket || snap.Prefix != prefix:
		return nil, fmt.Errorf("s3 poller: cursor %s is for bucket %q, prefix %q, not bucket %q, prefix %q", path, snap.Bucket, snap.Prefix, bucket, prefix)
	}
	c.started, c.sequence = true, snap.Sequence
	if snap.Objects != nil {
		c.objects = snap.Objects
	}
	j, err := os.ReadFile(c.journalPath())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("s3 poller: read the cursor's journal: %w", err)
	}
	if n := bytes.LastIndexByte(j, '\n') + 1; n < len(j) {
		// The last write was cut short by a crash: that change was not
		// recorded. Cut it off, so that the next line starts clean.
		if err := os.Truncate(c.journalPath(), int64(n)); err != nil {
			return nil, fmt.Errorf("s3 poller: repair the cursor's journal: %w", err)
		}
		j = j[:n]
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(j, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e cursorEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("s3 poller: cursor journal %s, line %d: %w", c.journalPath(), i+1, err)
		}
		c.apply(e)
	}
	return c, nil
}

func (c *pollCursor) journalPath() string { return c.path + ".log" }

// nextSequence returns the sequence number of the next change: more than
// any before it, and at least the clock's nanoseconds.
func (c *pollCursor) nextSequence() uint64 {
	return max(c.sequence+1, uint64(time.Now().UnixNano()))
}

func (c *pollCursor) apply(e cursorEntry) {
	if e.Deleted || e.Object == nil {
		delete(c.objects, e.Key)
	} else {
		c.objects[e.Key] = *e.Object
	}
	c.sequence = max(c.sequence, e.Sequence)
}

// record applies a delivered change and appends it to the journal.
func (c *pollCursor) record(ch Change, seq uint64) error {
	e := cursorEntry{Key: ch.Key, Sequence: seq}
	if ch.Event == ObjectRemovedDelete {
		e.Deleted = true
	} else {
		o := toCursorObject(ObjectInfo{Key: ch.Key, Size: ch.Size, ETag: ch.ETag, LastModified: ch.Time, VersionID: ch.VersionID})
		e.Object = &o
	}
	c.apply(e)
	if c.path == "" {
		return nil
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("s3 poller: %w", err)
	}
	if c.journal == nil {
		f, err := os.OpenFile(c.journalPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("s3 poller: open the cursor's journal: %w", err)
		}
		c.journal = f
	}
	if _, err := c.journal.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("s3 poller: write the cursor's journal: %w", err)
	}
	if err := c.journal.Sync(); err != nil {
		return fmt.Errorf("s3 poller: sync the cursor's journal: %w", err)
	}
	return nil
}

// snapshot writes the whole cursor to a temporary file, renames it over
// the snapshot, and then removes the journal.
func (c *pollCursor) snapshot() error {
	if c.path == "" {
		return nil
	}
	b, err := json.Marshal(cursorSnapshot{Format: cursorFormat, Bucket: c.bucket, Prefix: c.prefix, Sequence: c.sequence, Objects: c.objects})
	if err != nil {
		return fmt.Errorf("s3 poller: %w", err)
	}
	dir, base := filepath.Split(c.path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, base+".tmp*")
	if err != nil {
		return fmt.Errorf("s3 poller: write the cursor: %w", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("s3 poller: write the cursor: %w", err)
	}
	cursorSyncDir(dir)
	if c.journal != nil {
		_ = c.journal.Close()
		c.journal = nil
	}
	if err := os.Remove(c.journalPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("s3 poller: remove the cursor's journal: %w", err)
	}
	cursorSyncDir(dir)
	return nil
}

func (c *pollCursor) close() {
	if c.journal != nil {
		_ = c.journal.Close()
		c.journal = nil
	}
}

// cursorSyncDir syncs a directory, so that a rename or removal in it lasts; a
// failure (some systems cannot sync a directory) is ignored.
func cursorSyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
