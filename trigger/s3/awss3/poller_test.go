package awss3_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/trigger/s3"
	"github.com/wasmlambda/lambda/trigger/s3/awss3"
)

// changeLog is a deliver function that keeps the changes.
type changeLog struct {
	mu      sync.Mutex
	changes []s3.Change
}

func (l *changeLog) deliver(_ context.Context, c s3.Change) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, c)
	return nil
}

func (l *changeLog) all() []s3.Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]s3.Change(nil), l.changes...)
}

func (l *changeLog) events() []string {
	var out []string
	for _, c := range l.all() {
		out = append(out, c.Event+" "+c.Key)
	}
	return out
}

// runPoller runs p.Watch until the returned stop, which checks that Watch
// ended with the context.
func runPoller(t *testing.T, p *s3.Poller, log *changeLog) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Watch(ctx, log.deliver) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			require.ErrorIs(t, err, context.Canceled)
		case <-time.After(30 * time.Second):
			t.Fatal("Watch did not return")
		}
	}
	t.Cleanup(stop)
	return stop
}

// listed waits until p has made n more complete listings than it had.
func listed(t *testing.T, p *s3.Poller, n int64) {
	t.Helper()
	target := p.Stats().Listings + n
	require.Eventually(t, func() bool { return p.Stats().Listings >= target }, 60*time.Second, 5*time.Millisecond)
}

// TestPollerOverGofakes3 runs the Poller with the awss3 Lister against
// gofakes3: creates, overwrites and deletes give their changes, and a new
// poller on the same cursor repeats none of them.
func TestPollerOverGofakes3(t *testing.T) {
	t.Parallel()
	c := fakeS3(t, "photos")
	put(t, c, "photos", "in/before.jpg", "there before the watch")
	put(t, c, "photos", "elsewhere/x", "outside the prefix")
	cursor := filepath.Join(t.TempDir(), "photos.cursor")
	newPoller := func() *s3.Poller {
		return &s3.Poller{
			BucketName: "photos",
			Prefix:     "in/",
			Lister:     &awss3.Lister{API: c, Bucket: "photos", PageSize: 2},
			Interval:   10 * time.Millisecond,
			Cursor:     cursor,
		}
	}

	log := &changeLog{}
	p := newPoller()
	stop := runPoller(t, p, log)
	listed(t, p, 1)
	put(t, c, "photos", "in/a b.jpg", "first")
	put(t, c, "photos", "in/c.jpg", "c")
	put(t, c, "photos", "elsewhere/y", "outside the prefix")
	listed(t, p, 2)
	put(t, c, "photos", "in/a b.jpg", "second") // an overwrite
	del(t, c, "photos", "in/c.jpg")
	del(t, c, "photos", "in/before.jpg")
	listed(t, p, 2)
	stop()
	events := log.events()
	require.Len(t, events, 5)
	require.Equal(t, []string{
		"ObjectCreated:Put in/a b.jpg",
		"ObjectCreated:Put in/c.jpg",
		"ObjectCreated:Put in/a b.jpg",
	}, events[:3])
	// A listing may fall between the two deletions.
	require.ElementsMatch(t, []string{"ObjectRemoved:Delete in/before.jpg", "ObjectRemoved:Delete in/c.jpg"}, events[3:])
	got := log.all()
	require.Equal(t, md5hex("first"), got[0].ETag)
	require.Equal(t, int64(len("first")), got[0].Size)
	require.Equal(t, md5hex("second"), got[2].ETag)
	require.Equal(t, "photos", got[0].Bucket)
	for i := 1; i < len(got); i++ {
		require.Less(t, got[i-1].Sequencer, got[i].Sequencer)
	}

	// While no poller runs.
	put(t, c, "photos", "in/d.jpg", "d")
	del(t, c, "photos", "in/a b.jpg")

	log2 := &changeLog{}
	p2 := newPoller()
	runPoller(t, p2, log2)
	listed(t, p2, 3)
	require.Equal(t, []string{"ObjectCreated:Put in/d.jpg", "ObjectRemoved:Delete in/a b.jpg"}, log2.events(),
		"the changes made while stopped, and none delivered before")
	require.Greater(t, log2.all()[0].Sequencer, got[len(got)-1].Sequencer)
}
