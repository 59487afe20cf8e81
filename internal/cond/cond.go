// Package cond is a condition variable that honours contexts.
package cond

import (
	"context"
	"sync"
)

// Cond lets goroutines wait, within a context, for the state a mutex
// guards to change: a sync.Cond whose wait ends when its context does. The
// zero value is ready to use. A Cond must not be copied after first use.
type Cond struct {
	ch chan struct{}
}

// WaitUntil waits until ok holds or ctx ends, and returns ctx's error if
// it ended first. mu is held on entry and on return, and ok is called with
// it held; it is released while WaitUntil waits.
func (c *Cond) WaitUntil(ctx context.Context, mu sync.Locker, ok func() bool) error {
	for !ok() {
		if c.ch == nil {
			c.ch = make(chan struct{})
		}
		ch := c.ch
		mu.Unlock()
		select {
		case <-ch:
			mu.Lock()
		case <-ctx.Done():
			mu.Lock()
			return ctx.Err()
		}
	}
	return nil
}

// Broadcast wakes every waiter, which then checks its condition again.
// Call it with the mutex held, after a change.
func (c *Cond) Broadcast() {
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}
