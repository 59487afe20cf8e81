package lambdatest

import (
	"context"
	"fmt"
	"sync"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/cond"
)

// ManualClock is a lambda.Clock that moves only when told, for tests:
// timers fire when Advance or Set moves the time to them. It is safe for
// concurrent use.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*manualTimer
	changed cond.Cond
}

var _ lambda.Clock = (*ManualClock)(nil)

// NewManualClock returns a ManualClock set to now.
func NewManualClock(now time.Time) *ManualClock { return &ManualClock{now: now} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when the clock reaches Now()+d.
func (c *ManualClock) NewTimer(d time.Duration) lambda.ClockTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return t
}

// Advance moves the clock forward by d, firing the timers due by then.
func (c *ManualClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t, firing the timers at or before t. Moving it
// back fires none.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(t)
}

func (c *ManualClock) setLocked(t time.Time) {
	c.now = t
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if !tm.at.After(t) {
			tm.ch <- tm.at
		} else {
			kept = append(kept, tm)
		}
	}
	clear(c.timers[len(kept):])
	c.timers = kept
	c.notifyLocked()
}

// Timers returns the number of timers waiting to fire.
func (c *ManualClock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// NextTimer returns when the earliest waiting timer fires.
func (c *ManualClock) NextTimer() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first time.Time
	for _, t := range c.timers {
		if first.IsZero() || t.at.Before(first) {
			first = t.at
		}
	}
	return first, !first.IsZero()
}

// WaitTimers waits until at least n timers wait to fire, or ctx ends: a
// test's way to know a trigger has armed its next timer.
func (c *ManualClock) WaitTimers(ctx context.Context, n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.changed.WaitUntil(ctx, &c.mu, func() bool { return len(c.timers) >= n }); err != nil {
		return fmt.Errorf("wait for %d timers, have %d: %w", n, len(c.timers), err)
	}
	return nil
}

// AdvanceToNextTimer waits until a timer waits to fire, or ctx ends, then
// moves the clock to the earliest timer, which fires it, and returns the
// time it moved to: a test's way to fire a trigger's next timer, such as a
// schedule's next firing, once the trigger has armed it. A clock already at
// or past that time does not move back.
func (c *ManualClock) AdvanceToNextTimer(ctx context.Context) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.changed.WaitUntil(ctx, &c.mu, func() bool { return len(c.timers) > 0 }); err != nil {
		return time.Time{}, fmt.Errorf("wait for a timer: %w", err)
	}
	next := c.timers[0].at
	for _, t := range c.timers[1:] {
		if t.at.Before(next) {
			next = t.at
		}
	}
	if next.Before(c.now) {
		next = c.now
	}
	c.setLocked(next)
	return next, nil
}

func (c *ManualClock) notifyLocked() { c.changed.Broadcast() }

type manualTimer struct {
	c  *ManualClock
	at time.Time
	ch chan time.Time
}

func (t *manualTimer) C() <-chan time.Time { return t.ch }

func (t *manualTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.timers {
		if o == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			c.notifyLocked()
			return true
		}
	}
	return false
}
