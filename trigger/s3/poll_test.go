package s3_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/trigger/s3"
)

// stepLister is a Lister that the test steps: each List waits for the
// test's go-ahead, so a test changes the bucket between two listings, and
// knows that the previous listing's changes were all offered when the
// next List begins.
type stepLister struct {
	mu      sync.Mutex
	objects map[string]s3.ObjectInfo
	failAt  int // when > 0, the next listing fails after this many objects
	entered chan struct{}
	gate    chan struct{}
	clock   time.Time
}

func newStepLister() *stepLister {
	return &stepLister{objects: map[string]s3.ObjectInfo{}, entered: make(chan struct{}), gate: make(chan struct{}), clock: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

func (l *stepLister) List(ctx context.Context, prefix string, fn func(s3.ObjectInfo) error) error {
	select {
	case l.entered <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-l.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	l.mu.Lock()
	var objs []s3.ObjectInfo
	for _, o := range l.objects {
		objs = append(objs, o)
	}
	failAt := l.failAt
	l.failAt = 0
	l.mu.Unlock()
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	for i, o := range objs {
		if failAt > 0 && i == failAt {
			return errors.New("connection reset")
		}
		if len(o.Key) >= len(prefix) && o.Key[:len(prefix)] == prefix {
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// put writes key with content's ETag, a second after the last write.
func (l *stepLister) put(key, etag string, size int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clock = l.clock.Add(time.Second)
	l.objects[key] = s3.ObjectInfo{Key: key, Size: size, ETag: etag, LastModified: l.clock}
}

// touch changes key's LastModified only.
func (l *stepLister) touch(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clock = l.clock.Add(time.Second)
	o := l.objects[key]
	o.LastModified = l.clock
	l.objects[key] = o
}

func (l *stepLister) remove(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.objects, key)
}

// waitEntered waits for the poller to begin a listing.
func (l *stepLister) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-l.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the poller did not list the bucket")
	}
}

// step lets one listing run, and waits until the poller has offered its
// changes and begun the next.
func (l *stepLister) step(t *testing.T) {
	t.Helper()
	select {
	case l.gate <- struct{}{}:
	case <-time.After(30 * time.Second):
		t.Fatal("the poller did not take the listing")
	}
	l.waitEntered(t)
}

// recorder is a deliver function that keeps the changes it accepts, and
// refuses those its refuse function names.
type recorder struct {
	mu      sync.Mutex
	changes []s3.Change
	refuse  func(s3.Change) bool
	hook    func(s3.Change)
}

func (r *recorder) deliver(ctx context.Context, c s3.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.hook != nil {
		r.hook(c)
	}
	if r.refuse != nil && r.refuse(c) {
		return errors.New("throttled")
	}
	r.changes = append(r.changes, c)
	return nil
}

// take returns the changes accepted since the last take, as "event key".
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for _, c := range r.changes {
		out = append(out, c.Event+" "+c.Key)
	}
	r.changes = nil
	return out
}

func (r *recorder) all() []s3.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]s3.Change(nil), r.changes...)
}

// watch runs p.Watch until the returned stop is called, which returns
// Watch's error.
func watch(t *testing.T, p *s3.Poller, deliver func(context.Context, s3.Change) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Watch(ctx, deliver) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Watch did not return")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestPollerDiffsListings(t *testing.T) {
	t.Parallel()
	l := newStepLister()
	l.put("a.jpg", "e1", 10)
	l.put("old/x", "e0", 1)
	rec := &recorder{}
	p := &s3.Poller{BucketName: "photos", Lister: l, Interval: time.Millisecond, Cursor: filepath.Join(t.TempDir(), "cursor")}
	stop := watch(t, p, rec.deliver)
	l.waitEntered(t)

	steps := []struct {
		name   string
		change func()
		want   []string
	}{
		{"objects there before the watch raise nothing", func() {}, []string{}},
		{"a new object", func() { l.put("b c.png", "e2", 20) }, []string{"ObjectCreated:Put b c.png"}},
		{"an overwrite with new content", func() { l.put("a.jpg", "e3", 11) }, []string{"ObjectCreated:Put a.jpg"}},
		{"an overwrite with the same content", func() { l.touch("a.jpg") }, []string{"ObjectCreated:Put a.jpg"}},
		{"a deletion", func() { l.remove("old/x") }, []string{"ObjectRemoved:Delete old/x"}},
		{"nothing changed", func() {}, []string{}},
		{"several at once, creations first, each in key order", func() {
			l.remove("a.jpg")
			l.put("z", "e4", 1)
			l.put("m", "e5", 2)
		}, []string{"ObjectCreated:Put m", "ObjectCreated:Put z", "ObjectRemoved:Delete a.jpg"}},
	}
	for _, s := range steps {
		s.change()
		l.step(t)
		require.Equal(t, s.want, rec.take(), s.name)
	}
	require.ErrorIs(t, stop(), context.Canceled)

	st := p.Stats()
	require.Equal(t, int64(len(steps)), st.Listings)
	require.Equal(t, int64(5), st.Created)
	require.Equal(t, int64(2), st.Removed)
	require.Equal(t, int64(7), st.Delivered)
}

func TestPollerChangeFields(t *testing.T) {
	t.Parallel()
	l := newStepLister()
	rec := &recorder{}
	p := &s3.Poller{BucketName: "photos", Lister: l, Interval: time.Millisecond}
	watch(t, p, rec.deliver)
	l.waitEntered(t)
	l.step(t) // the first listing: an empty bucket
	l.mu.Lock()
	l.objects["k"] = s3.ObjectInfo{Key: "k", Size: 5, ETag: "abc", LastModified: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), VersionID: "v1"}
	l.mu.Unlock()
	l.step(t)
	l.remove("k")
	before := time.Now()
	l.step(t)
	got := rec.all()
	require.Len(t, got, 2)
	put, del := got[0], got[1]
	require.Equal(t, s3.Change{Event: s3.ObjectCreatedPut, Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Bucket: "photos", Key: "k", Size: 5, ETag: "abc", VersionID: "v1", Sequencer: put.Sequencer}, put)
	require.Equal(t, s3.ObjectRemovedDelete, del.Event)
	require.Equal(t, "photos", del.Bucket)
	require.Equal(t, "k", del.Key)
	require.Zero(t, del.Size)
	require.Empty(t, del.ETag)
	require.False(t, del.Time.Before(before.Truncate(time.Second)), "a deletion's time is when it was seen")
	require.Len(t, put.Sequencer, 16)
	require.Len(t, del.Sequencer, 16)
	require.Less(t, put.Sequencer, del.Sequencer, "the sequencer increases")
}

// TestPollerRestartRepeatsNothing runs a poller, stops it, changes the
// bucket, and runs a new poller on the same cursor file: it delivers the
// changes made while no poller ran, and none delivered before.
func TestPollerRestartRepeatsNothing(t *testing.T) {
	t.Parallel()
	cursor := filepath.Join(t.TempDir(), "cursor")
	l := newStepLister()
	l.put("a", "e1", 1)
	l.put("b", "e2", 2)

	rec1 := &recorder{}
	p1 := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond, Cursor: cursor}
	stop := watch(t, p1, rec1.deliver)
	l.waitEntered(t)
	l.step(t)
	l.put("c", "e3", 3)
	l.put("a", "e4", 4)
	l.step(t)
	require.Equal(t, []string{"ObjectCreated:Put a", "ObjectCreated:Put c"}, rec1.take())
	require.ErrorIs(t, stop(), context.Canceled)

	// Changes while no poller runs.
	l.put("d", "e5", 5)
	l.remove("b")

	rec2 := &recorder{}
	p2 := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond, Cursor: cursor}
	stop = watch(t, p2, rec2.deliver)
	l.waitEntered(t)
	l.step(t)
	l.step(t)
	require.Equal(t, []string{"ObjectCreated:Put d", "ObjectRemoved:Delete b"}, rec2.take())
	require.ErrorIs(t, stop(), context.Canceled)
}

// TestPollerSequencerIncreasesAcrossRestarts checks that a new poller's
// sequencers follow the old one's, even with a clock that went back.
func TestPollerSequencerIncreasesAcrossRestarts(t *testing.T) {
	t.Parallel()
	cursor := filepath.Join(t.TempDir(), "cursor")
	// A cursor whose last sequence is far ahead of the clock.
	ahead := uint64(time.Now().Add(24 * time.Hour).UnixNano())
	require.NoError(t, os.WriteFile(cursor, []byte(`{"format":1,"bucket":"in","prefix":"","sequence":`+strconv.FormatUint(ahead, 10)+`,"objects":{}}`), 0o600))
	l := newStepLister()
	rec := &recorder{}
	p := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond, Cursor: cursor}
	watch(t, p, rec.deliver)
	l.waitEntered(t)
	l.put("a", "e", 1)
	l.step(t)
	got := rec.all()
	require.Len(t, got, 1)
	seq, err := strconv.ParseUint(got[0].Sequencer, 16, 64)
	require.NoError(t, err)
	require.Equal(t, ahead+1, seq)
}

// TestPollerRefusedChangeIsOfferedAgain refuses a change: the cursor does
// not advance for it, so the next listing offers it again, and so does a
// new poller after a restart.
func TestPollerRefusedChangeIsOfferedAgain(t *testing.T) {
	t.Parallel()
	cursor := filepath.Join(t.TempDir(), "cursor")
	l := newStepLister()
	refusing := true
	rec := &recorder{refuse: func(c s3.Change) bool { return refusing && c.Key == "x" }}
	p := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond, Cursor: cursor}
	stop := watch(t, p, rec.deliver)
	l.waitEntered(t)
	l.step(t)
	l.put("x", "e1", 1)
	l.put("y", "e2", 1)
	l.step(t)
	require.Equal(t, []string{"ObjectCreated:Put y"}, rec.take())
	l.step(t)
	require.Equal(t, []string{}, rec.take(), "still refused")
	require.Equal(t, int64(2), p.Stats().Refused)
	require.ErrorIs(t, stop(), context.Canceled)

	rec.mu.Lock()
	refusing = false
	rec.mu.Unlock()
	p2 := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond, Cursor: cursor}
	stop = watch(t, p2, rec.deliver)
	l.waitEntered(t)
	l.step(t)
	require.Equal(t, []string{"ObjectCreated:Put x"}, rec.take(), "the refused change, after a restart")
	l.step(t)
	require.Equal(t, []string{}, rec.take())
	require.ErrorIs(t, stop(), context.Canceled)
}

// TestPollerJournal stops a poller in the middle of a listing's changes,
// before the snapshot is written: the journal keeps the changes
// delivered, and a new poller delivers only the others. A torn last line
// of the journal is a change not recorded: it is delivered again.
func TestPollerJournal(t *testing.T) {
	t.Parallel()
	cursor := filepath.Join(t.TempDir(), "cursor")
	l := newStepLister()
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	rec.hook = func(c s3.Change) {
		if n++; n == 3 {
			cancel() // "the process dies" during the third deliver
		}
	}
	p := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond, Cursor: cursor}
	done := make(chan error, 1)
	go func() { done <- p.Watch(ctx, rec.deliver) }()
	l.waitEntered(t)
	l.step(t)
	for _, k := range []string{"a", "b", "c", "d"} {
		l.put(k, "e-"+k, 1)
	}
	require.NoError(t, func() error {
		select {
		case l.gate <- struct{}{}:
		case <-time.After(30 * time.Second):
			return errors.New("the poller did not list")
		}
		select {
		case err := <-done:
			require.ErrorIs(t, err, context.Canceled)
			return nil
		case <-time.After(30 * time.Second):
			return errors.New("Watch did not return")
		}
	}())
	require.Equal(t, []string{"ObjectCreated:Put a", "ObjectCreated:Put b", "ObjectCreated:Put c"}, rec.take(),
		"the third deliver accepted its change as ctx ended")
	j, err := os.ReadFile(cursor + ".log")
	require.NoError(t, err)
	require.Equal(t, 3, countLines(j), "a journal line for each change delivered")

	// A fourth line, cut short.
	f, err := os.OpenFile(cursor+".log", os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"key":"d","sequ`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	rec.hook = nil
	p2 := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond, Cursor: cursor}
	stop := watch(t, p2, rec.deliver)
	l.waitEntered(t)
	l.step(t)
	require.Equal(t, []string{"ObjectCreated:Put d"}, rec.take())
	require.ErrorIs(t, stop(), context.Canceled)
	_, err = os.Stat(cursor + ".log")
	require.ErrorIs(t, err, os.ErrNotExist, "the journal is folded into the snapshot")

	p3 := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond, Cursor: cursor}
	stop = watch(t, p3, rec.deliver)
	l.waitEntered(t)
	l.step(t)
	require.Equal(t, []string{}, rec.take())
	require.ErrorIs(t, stop(), context.Canceled)
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

// TestPollerTornJournalIsRepaired checks that a torn last line is cut
// off, so that the lines appended after it read back.
func TestPollerTornJournalIsRepaired(t *testing.T) {
	t.Parallel()
	cursor := filepath.Join(t.TempDir(), "cursor")
	require.NoError(t, os.WriteFile(cursor, []byte(`{"format":1,"bucket":"in","prefix":"","sequence":1,"objects":{}}`), 0o600))
	require.NoError(t, os.WriteFile(cursor+".log", []byte(`{"key":"a","sequence":2,"object":{"size":1,"etag":"e-a","modified":"2024-05-01T12:00:01Z"}}`+"\n"+`{"key":"b","seq`), 0o600))
	l := newStepLister()
	l.put("a", "e-a", 1) // 12:00:01, as in the journal
	l.put("b", "e-b", 1)
	l.put("c", "e-c", 1)
	l.put("d", "e-d", 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{}
	n := 0
	rec.hook = func(s3.Change) {
		if n++; n == 2 {
			cancel() // stop before the snapshot: the journal is read again
		}
	}
	p := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond, Cursor: cursor}
	done := make(chan error, 1)
	go func() { done <- p.Watch(ctx, rec.deliver) }()
	l.waitEntered(t)
	l.gate <- struct{}{}
	require.ErrorIs(t, <-done, context.Canceled)
	require.Equal(t, []string{"ObjectCreated:Put b", "ObjectCreated:Put c"}, rec.take())

	rec.hook = nil
	p2 := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond, Cursor: cursor}
	stop := watch(t, p2, rec.deliver)
	l.waitEntered(t)
	l.step(t)
	require.Equal(t, []string{"ObjectCreated:Put d"}, rec.take(), "the journal, repaired, holds b and c")
	require.ErrorIs(t, stop(), context.Canceled)
}

// TestPollerFailedListingDeletesNothing fails a listing half way: the
// objects it did not reach are not taken for deleted.
func TestPollerFailedListingDeletesNothing(t *testing.T) {
	t.Parallel()
	l := newStepLister()
	for _, k := range []string{"a", "b", "c", "d"} {
		l.put(k, "e", 1)
	}
	rec := &recorder{}
	p := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond}
	watch(t, p, rec.deliver)
	l.waitEntered(t)
	l.step(t)
	l.mu.Lock()
	l.failAt = 2
	l.mu.Unlock()
	l.put("a", "e2", 1)
	l.step(t)
	require.Equal(t, []string{}, rec.take(), "nothing from a failed listing")
	require.Equal(t, int64(1), p.Stats().ListErrors)
	l.step(t)
	require.Equal(t, []string{"ObjectCreated:Put a"}, rec.take(), "the next listing")
}

func TestPollerRefusesAForeignCursor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cursor := filepath.Join(dir, "cursor")
	l := newStepLister()
	p := &s3.Poller{BucketName: "in", Prefix: "p/", Lister: l, Interval: time.Millisecond, Cursor: cursor}
	stop := watch(t, p, (&recorder{}).deliver)
	l.waitEntered(t)
	l.step(t)
	require.ErrorIs(t, stop(), context.Canceled)

	for _, tc := range []struct {
		name string
		p    *s3.Poller
		want string
	}{
		{"another bucket", &s3.Poller{BucketName: "out", Prefix: "p/", Lister: l, Cursor: cursor}, `is for bucket "in", prefix "p/"`},
		{"another prefix", &s3.Poller{BucketName: "in", Lister: l, Cursor: cursor}, `is for bucket "in", prefix "p/"`},
		{"no bucket", &s3.Poller{Lister: l}, "BucketName is required"},
		{"no lister", &s3.Poller{BucketName: "in"}, "Lister is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A Watch that does not fail at once ends with the context.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err := tc.p.Watch(ctx, (&recorder{}).deliver)
			require.ErrorContains(t, err, tc.want)
		})
	}

	bad := filepath.Join(dir, "bad")
	require.NoError(t, os.WriteFile(bad, []byte(`{"format":1,"bucket":"in","prefix":"","objects":{}}`), 0o600))
	require.NoError(t, os.WriteFile(bad+".log", []byte("not json\n{}\n"), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := (&s3.Poller{BucketName: "in", Lister: l, Cursor: bad}).Watch(ctx, (&recorder{}).deliver)
	require.ErrorContains(t, err, "line 1")
}

func TestPollerOneWatchAtATime(t *testing.T) {
	t.Parallel()
	l := newStepLister()
	p := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond}
	stop := watch(t, p, (&recorder{}).deliver)
	l.waitEntered(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := p.Watch(ctx, (&recorder{}).deliver)
	require.ErrorContains(t, err, "Watch is running already")
	require.ErrorIs(t, stop(), context.Canceled)
}

// TestPollerMemoryCursorSurvivesWatch checks that, without a cursor file,
// a second Watch of the same Poller goes on from the first's cursor: a
// change made between them is delivered.
func TestPollerMemoryCursorSurvivesWatch(t *testing.T) {
	t.Parallel()
	l := newStepLister()
	l.put("a", "e1", 1)
	rec := &recorder{}
	p := &s3.Poller{BucketName: "in", Lister: l, Interval: time.Millisecond}
	stop := watch(t, p, rec.deliver)
	l.waitEntered(t)
	l.step(t)
	require.ErrorIs(t, stop(), context.Canceled)
	l.put("b", "e2", 1)
	stop = watch(t, p, rec.deliver)
	l.waitEntered(t)
	l.step(t)
	require.Equal(t, []string{"ObjectCreated:Put b"}, rec.take())
	require.ErrorIs(t, stop(), context.Canceled)
}
