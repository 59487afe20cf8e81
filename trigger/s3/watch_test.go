package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestWatchAtLeastOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	b, err := NewBucket("b", BucketOptions{RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond})
	require.NoError(t, err)
	defer b.Close()

	bktPut(t, b, "before", "not delivered: no watch yet")

	// deliver fails each change's first three offers, and every offer of
	// "k3" until all the others are delivered: a change being retried
	// must not hold the others back.
	var mu sync.Mutex
	offers := map[string]int{}
	delivered := map[string]int{}
	var order []string
	const n = 20
	deliver := func(_ context.Context, c Change) error {
		mu.Lock()
		defer mu.Unlock()
		offers[c.Key]++
		if offers[c.Key] <= 3 || (c.Key == "k3" && len(delivered) < n-1) {
			return errors.New("throttled")
		}
		delivered[c.Key]++
		order = append(order, c.Key)
		return nil
	}
	bktWatch(t, b, deliver)
	for i := range n {
		bktPut(t, b, fmt.Sprintf("k%d", i), "v")
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == n
	}, 30*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		k := fmt.Sprintf("k%d", i)
		require.Equal(t, 1, delivered[k], k)
	}
	require.Zero(t, offers["before"])
	require.Greater(t, offers["k3"], 3)
	require.Equal(t, "k3", order[len(order)-1])
}

func TestWatchBackoff(t *testing.T) {
	b := &Bucket{retryMin: 100 * time.Millisecond, retryMax: time.Second}
	for n, want := range map[int]time.Duration{
		1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond,
		5: time.Second, 1000: time.Second,
	} {
		require.Equal(t, want, b.retryDelay(n), "failure %d", n)
	}
}

func TestWatchEveryWatcherGetsEveryChange(t *testing.T) {
	defer goleak.VerifyNone(t)
	b, err := NewBucket("b", BucketOptions{RetryDelay: time.Millisecond})
	require.NoError(t, err)
	defer b.Close()
	r1, r2 := &bktRecorder{}, &bktRecorder{}
	stop1 := bktWatch(t, b, r1.deliver)
	bktWatch(t, b, r2.deliver)
	bktPut(t, b, "a", "1")
	bktPut(t, b, "b", "2")
	require.Len(t, r1.waitFor(t, 2), 2)
	require.Len(t, r2.waitFor(t, 2), 2)
	require.ErrorIs(t, stop1(), context.Canceled)
	bktPut(t, b, "c", "3")
	require.Len(t, r2.waitFor(t, 3), 3)
	require.Len(t, r1.changes(), 2, "a watch that ended gets nothing more")
}

func TestWatchEnds(t *testing.T) {
	defer goleak.VerifyNone(t)
	b, err := NewBucket("b", BucketOptions{RetryDelay: time.Hour, MaxRetryDelay: time.Hour})
	require.NoError(t, err)

	// A watch waiting to retry ends with its context.
	failing := func(context.Context, Change) error { return errors.New("no") }
	stop := bktWatch(t, b, failing)
	bktPut(t, b, "k", "v")
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for w := range b.watchers {
			if len(w.pending) == 1 && w.pending[0].failures == 1 {
				return true
			}
		}
		return false
	}, 30*time.Second, time.Millisecond)
	require.ErrorIs(t, stop(), context.Canceled)

	// A deliver blocked in its context ends with it too.
	entered := make(chan struct{})
	blocking := func(ctx context.Context, _ Change) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	}
	stop = bktWatch(t, b, blocking)
	bktPut(t, b, "k", "v")
	<-entered
	require.ErrorIs(t, stop(), context.Canceled)

	// Closing the bucket ends a watch.
	done := make(chan error, 1)
	go func() { done <- b.Watch(context.Background(), failing) }()
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.watchers) == 1
	}, 30*time.Second, time.Millisecond)
	require.NoError(t, b.Close())
	require.ErrorIs(t, <-done, ErrBucketClosed)
}

// TestWatchHammer changes one bucket from many goroutines at once, reading
// it meanwhile, and checks that the watch gets every change, in increasing
// sequencer order for each key.
func TestWatchHammer(t *testing.T) {
	bktBackends(t, BucketOptions{Versioning: true}, func(t *testing.T, b *Bucket) {
		ctx := context.Background()
		rec := &bktRecorder{}
		bktWatch(t, b, rec.deliver)
		const workers, ops = 8, 25
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range ops {
					key := fmt.Sprintf("k%d/%d", w%3, i%5)
					var err error
					if i%4 == 3 {
						_, err = b.Delete(ctx, key)
					} else {
						_, err = b.Put(ctx, key, strings.NewReader(fmt.Sprint(w, i)))
					}
					assert.NoError(t, err)
					if r, err := b.Get(ctx, key); err == nil {
						_ = r.Close()
					}
					assert.NoError(t, b.List(ctx, "k", func(Object) error { return nil }))
				}
			}()
		}
		wg.Wait()
		got := rec.waitFor(t, workers*ops)
		require.Len(t, got, workers*ops)
		last := map[string]string{}
		for _, c := range got {
			require.Greater(t, c.Sequencer, last[c.Key], c.Key)
			last[c.Key] = c.Sequencer
		}
	})
}
