package cond_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/cond"
)

func TestWaitUntilWakesOnBroadcast(t *testing.T) {
	t.Parallel()
	var (
		mu sync.Mutex
		c  cond.Cond
		n  int
	)
	const waiters = 8
	type result struct {
		err error
		n   int // n on return
	}
	results := make(chan result, waiters)
	for i := 0; i < waiters; i++ {
		go func() {
			mu.Lock()
			defer mu.Unlock()
			err := c.WaitUntil(context.Background(), &mu, func() bool { return n >= 3 })
			results <- result{err, n}
		}()
	}
	for i := 0; i < 3; i++ {
		mu.Lock()
		n++
		c.Broadcast()
		mu.Unlock()
	}
	for i := 0; i < waiters; i++ {
		r := <-results
		require.NoError(t, r.err)
		require.Equal(t, 3, r.n, "the condition holds on return")
	}
}

func TestWaitUntilEndsWithItsContext(t *testing.T) {
	t.Parallel()
	var (
		mu sync.Mutex
		c  cond.Cond
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		mu.Lock()
		err := c.WaitUntil(ctx, &mu, func() bool { return false })
		// Held on return: Unlock would panic otherwise.
		mu.Unlock()
		done <- err
	}()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	mu.Lock()
	require.NoError(t, c.WaitUntil(ctx, &mu, func() bool { return true }), "a condition that holds needs no wait, even past its context")
	mu.Unlock()
	c.Broadcast() // with no waiter, a no-op
}
