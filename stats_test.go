package lambda_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// TestRuntimeStats runs a known workload on two functions, one with a
// trigger, while other goroutines take snapshots, and checks every counter
// of the last one. Run it with -race.
func TestRuntimeStats(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	code := testguest.WAT(t, "counter")
	// Deployed in the reverse of the order Stats lists them.
	beta := deploy(t, rt, lambda.FunctionConfig{Name: "beta", Code: code, Version: "3"})
	alpha := deploy(t, rt, lambda.FunctionConfig{Name: "alpha", Code: code})
	ctx := context.Background()

	stop := make(chan struct{})
	var watchers sync.WaitGroup
	for range 2 {
		watchers.Add(1)
		go func() {
			defer watchers.Done()
			var last int64
			for {
				s := rt.Stats()
				if !assert.Len(t, s.Functions, 2) {
					return
				}
				n := s.Functions[0].Pool.Invocations
				assert.GreaterOrEqual(t, n, last, "counters only grow")
				last = n
				select {
				case <-stop:
					return
				default:
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}

	trig := &countingTrigger{n: 4}
	_, err := alpha.Attach(ctx, "count", trig)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				_, err := alpha.Invoke(ctx, []byte(`{}`))
				assert.NoError(t, err)
			}
		}()
	}
	for range 3 {
		_, err := beta.InvokeAsync(ctx, []byte(`{"n":2}`))
		require.NoError(t, err)
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		s := rt.Stats()
		return s.Functions[0].Async.Succeeded == 4 && s.Functions[1].Async.Succeeded == 3 && s.Functions[0].Triggers[0].Errors == 1
	}, time.Minute, 5*time.Millisecond)
	close(stop)
	watchers.Wait()

	s := rt.Stats()
	require.Len(t, s.Functions, 2)
	a, b := s.Functions[0], s.Functions[1]
	require.Equal(t, "alpha", a.Name)
	require.Equal(t, "$LATEST", a.Version)
	require.Equal(t, "beta", b.Name)
	require.Equal(t, "3", b.Version)

	require.Equal(t, alpha.Stats(), a.Pool)
	require.EqualValues(t, 10+4, a.Pool.Invocations, "10 synchronous and 4 asynchronous")
	require.EqualValues(t, 4, a.Async.Accepted)
	require.EqualValues(t, 4, a.Async.Attempts)
	require.EqualValues(t, 4, a.Async.Succeeded)
	require.Zero(t, a.Async.DeadLettered)
	require.Len(t, a.Triggers, 1)
	tr := a.Triggers[0]
	require.Equal(t, "count", tr.Name)
	require.EqualValues(t, 4, tr.Events)
	require.EqualValues(t, 1, tr.Errors)
	require.Equal(t, "ran out of events", tr.LastError)
	require.False(t, tr.LastErrorAt.IsZero())

	require.EqualValues(t, 3, b.Pool.Invocations)
	require.EqualValues(t, 3, b.Async.Accepted)
	require.EqualValues(t, 3, b.Async.Succeeded)
	require.Empty(t, b.Triggers)
	for _, f := range s.Functions {
		require.GreaterOrEqual(t, f.Pool.ColdStarts, int64(1), f.Name)
		require.Zero(t, f.Pool.Throttles, f.Name)
		require.Zero(t, f.Pool.InUse, f.Name)
	}
}
