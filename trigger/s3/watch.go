package s3

import (
	"context"
	"fmt"
	"strings"
	"time"
)

var _ Source = (*Bucket)(nil)

// bucketWatcher is one Watch's pending changes.
type bucketWatcher struct {
	pending []*pendingChange // in the order of the changes
	wake    chan struct{}
}

type pendingChange struct {
	c        Change
	failures int
	due      time.Time // when it may be offered again
}

// add queues c. b.mu is held.
func (w *bucketWatcher) add(c Change) {
	w.pending = append(w.pending, &pendingChange{c: c})
	w.signal()
}

func (w *bucketWatcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Watch calls deliver with each change made to the bucket from the call
// on, at least once, one call at a time, until ctx ends; then it returns
// ctx's error. A change whose deliver fails is offered again after a
// delay, while later changes go on. Several Watch calls may run at once:
// each gets every change. See Bucket for what is kept where.
//
// # Errors
//
// ctx's error when ctx ends, wrapped with ErrUndelivered when changes
// were still undelivered (they are dropped with the watch, and named);
// ErrBucketClosed when the bucket is closed.
func (b *Bucket) Watch(ctx context.Context, deliver func(ctx context.Context, c Change) error) error {
	return b.WatchReady(ctx, func() {}, deliver)
}

// WatchReady is Watch, calling ready once the watch sees every change made
// from then on; see ReadySource.
func (b *Bucket) WatchReady(ctx context.Context, ready func(), deliver func(ctx context.Context, c Change) error) error {
	w := &bucketWatcher{wake: make(chan struct{}, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrBucketClosed
	}
	b.watchers[w] = struct{}{}
	b.mu.Unlock()
	ready()
	defer func() {
		b.mu.Lock()
		delete(b.watchers, w)
		b.mu.Unlock()
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return b.undelivered(w, err)
		}
		p, wait, err := b.nextPending(w)
		if err != nil {
			return err
		}
		if p == nil {
			var tc <-chan time.Time
			if wait > 0 {
				timer.Reset(wait)
				tc = timer.C
			}
			select {
			case <-ctx.Done():
				return b.undelivered(w, ctx.Err())
			case <-w.wake:
			case <-tc:
			}
			timer.Stop()
			continue
		}
		derr := deliver(ctx, p.c)
		b.mu.Lock()
		if derr == nil {
			for i, q := range w.pending {
				if q == p {
					w.pending = append(w.pending[:i], w.pending[i+1:]...)
					break
				}
			}
		} else {
			p.failures++
			p.due = time.Now().Add(b.retryDelay(p.failures))
		}
		b.mu.Unlock()
	}
}

// undelivered returns err, the watch's end, naming the changes w still
// holds, which are dropped with it.
func (b *Bucket) undelivered(w *bucketWatcher, err error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(w.pending) == 0 {
		return err
	}
	const shown = 10
	var keys []string
	for _, p := range w.pending[:min(shown, len(w.pending))] {
		keys = append(keys, p.c.Event+" "+p.c.Key)
	}
	more := ""
	if len(w.pending) > shown {
		more = fmt.Sprintf(" and %d more", len(w.pending)-shown)
	}
	return fmt.Errorf("%w: %d changes of bucket %s when the watch ended: %s%s: %w", ErrUndelivered, len(w.pending), b.name, strings.Join(keys, ", "), more, err)
}

// Watchers returns the number of Watch calls running: a change made once
// it has grown reaches the watch that grew it. A caller that starts Watch
// in a goroutine waits for it before changing the bucket.
func (b *Bucket) Watchers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.watchers)
}

// nextPending returns the first change of w that is due, or else how long
// until one is (zero when none is pending).
func (b *Bucket) nextPending(w *bucketWatcher) (*pendingChange, time.Duration, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, 0, ErrBucketClosed
	}
	now := time.Now()
	var wait time.Duration
	for _, p := range w.pending {
		d := p.due.Sub(now)
		if d <= 0 {
			return p, 0, nil
		}
		if wait == 0 || d < wait {
			wait = d
		}
	}
	return nil, wait, nil
}

// retryDelay is the delay after a change's n-th failure.
func (b *Bucket) retryDelay(n int) time.Duration {
	d := b.retryMin
	for i := 1; i < n && d < b.retryMax; i++ {
		d *= 2
	}
	return min(d, b.retryMax)
}
