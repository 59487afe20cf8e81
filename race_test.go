package lambda_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// TestAsyncAcceptRacingClose accepts events, from callers and as handed on
// by other functions, while the function closes with an ended context,
// round after round. Every event accepted comes out: it succeeds or is
// dead-lettered, and its record or dead letter is delivered.
func TestAsyncAcceptRacingClose(t *testing.T) {
	t.Parallel()
	code := testguest.WAT(t, "counter")
	rt := newRuntime(t, lambda.Options{})
	ctx := context.Background()
	ended, cancel := context.WithCancel(ctx)
	cancel()
	// A handed-on dead letter big enough that accepting it takes a while.
	handed := &lambda.DeadLetter{RequestID: "handed-on", Payload: []byte(fmt.Sprintf(`{"pad":"%0*d"}`, 64<<10, 0))}

	for round := 0; round < 200; round++ {
		sink := &lambda.MemorySink{}
		var mu sync.Mutex
		succeeded := map[string]bool{}
		onSuccess := lambda.DestinationFunc(func(_ context.Context, rec *lambda.InvocationRecord) error {
			mu.Lock()
			succeeded[rec.RequestContext.RequestID] = true
			mu.Unlock()
			return nil
		})
		f := deploy(t, rt, lambda.FunctionConfig{Name: fmt.Sprint("racing-", round), Code: code,
			Async: lambda.AsyncConfig{DeadLetter: sink, OnSuccess: onSuccess}})

		var accepted atomic.Int64
		var idsMu sync.Mutex
		var ids []string
		first := make(chan struct{}) // closed once an event is accepted, or every caller has stopped
		var once sync.Once
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer once.Do(func() { close(first) })
				for {
					runtime.Gosched() // let Close start soon
					var err error
					if g%2 == 0 {
						var id string
						if id, err = f.InvokeAsync(ctx, []byte(`1`)); err == nil {
							idsMu.Lock()
							ids = append(ids, id)
							idsMu.Unlock()
						}
					} else {
						err = (&lambda.FunctionSink{Function: f}).Send(ctx, handed)
					}
					switch {
					case err == nil:
						accepted.Add(1)
						once.Do(func() { close(first) })
					case errors.Is(err, lambda.ErrClosed):
						return
					default:
						errs <- err
						return
					}
				}
			}()
		}
		<-first
		if err := f.Close(ended); err != nil {
			require.ErrorIs(t, err, context.Canceled)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}

		s := f.AsyncStats()
		require.Equal(t, accepted.Load(), s.Accepted, "round %d", round)
		require.Equal(t, s.Accepted, s.Succeeded+s.DeadLettered, "round %d: every event accepted comes out: %+v", round, s)
		require.Zero(t, s.Undelivered, "round %d", round)
		require.Equal(t, int(s.DeadLettered), sink.Len(), "round %d: every dead letter is delivered", round)
		dead := map[string]bool{}
		for _, dl := range sink.Letters() {
			dead[dl.RequestID] = true
		}
		mu.Lock()
		require.Len(t, succeeded, int(s.Succeeded), "round %d: every success record is delivered", round)
		for _, id := range ids {
			require.True(t, succeeded[id] || dead[id], "round %d: event %s is lost", round, id)
		}
		mu.Unlock()
	}
}

// TestRuntimeCloseWhileClosing proves that a second Runtime.Close waits for
// the first: it must not report the runtime closed while the first is still
// draining an invocation.
func TestRuntimeCloseWhileClosing(t *testing.T) {
	rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
	require.NoError(t, err)
	f, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "sleeper", Code: testguest.WAT(t, "sleep"), Timeout: 5 * time.Minute})
	require.NoError(t, err)
	invoked := make(chan error, 1)
	go func() {
		_, err := f.Invoke(context.Background(), []byte(`{}`))
		invoked <- err
	}()
	require.Eventually(t, func() bool { return f.Stats().InUse == 1 }, time.Minute, time.Millisecond)

	// The first Close drains the sleeping invocation until its context
	// ends; the second must wait for it.
	firstCtx, endFirst := context.WithCancel(context.Background())
	var order []string
	var mu sync.Mutex
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	first := make(chan error, 1)
	go func() {
		err := rt.Close(firstCtx)
		note("first")
		first <- err
	}()
	require.Eventually(t, func() bool {
		_, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "probe", Code: testguest.WAT(t, "counter")})
		return errors.Is(err, lambda.ErrClosed)
	}, time.Minute, time.Millisecond, "the first Close has begun")
	second := make(chan error, 1)
	go func() {
		err := rt.Close(context.Background())
		note("second")
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("the second Close returned %v while the first was still draining", err)
	case <-time.After(200 * time.Millisecond):
	}
	endFirst()
	require.ErrorIs(t, <-first, context.Canceled)
	require.NoError(t, <-second)
	require.Equal(t, []string{"first", "second"}, order)
	require.ErrorIs(t, <-invoked, lambda.ErrClosed, "the sleeping invocation was aborted")

	// A Close whose own context ends first gives up with its error.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, rt.Close(ended), "the runtime is closed already")
}
