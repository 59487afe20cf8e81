package lambda

import (
	"context"
	"sync"
)

// changes lets goroutines wait, within a context, for the state a mutex
// guards to change: a sync.Cond that honours contexts. The zero value is
// ready to use.
type changes struct {
	ch chan struct{}
}

// waitUntil waits until ok holds or ctx ends. mu is held on entry and on
// return, and ok is called with it held.
func (c *changes) waitUntil(ctx context.Context, mu sync.Locker, ok func() bool) error {
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

// broadcast wakes every waiter. Call it with the mutex held, after a
// change.
func (c *changes) broadcast() {
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}
