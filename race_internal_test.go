package lambda

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/testguest"
)

// newTestRuntime returns a runtime on the shared compilation cache, closed
// when the test ends.
func newTestRuntime(t *testing.T, opts Options) *Runtime {
	t.Helper()
	opts.CacheDir = testguest.CacheDir()
	rt, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close(context.Background())) })
	return rt
}

// TestDeployPublishesOnlyWhenReady looks at the runtime from inside a
// Deploy: the function is neither returned by Function nor listed by
// Functions until it is ready, its name is taken all the same, and a Close
// that starts meanwhile waits for the Deploy and closes the function.
func TestDeployPublishesOnlyWhenReady(t *testing.T) {
	code := testguest.WAT(t, "counter")
	for _, closing := range []bool{false, true} {
		name := map[bool]string{false: "runtime open", true: "runtime closing"}[closing]
		t.Run(name, func(t *testing.T) {
			rt := newTestRuntime(t, Options{})
			ctx := context.Background()
			var stages []string
			closed := make(chan error, 1)
			rt.testHookDeploy = func(stage string, f *Function) {
				stages = append(stages, stage)
				got, ok := rt.Function("half")
				require.False(t, ok, "at %s, Function returns the function being deployed", stage)
				require.Nil(t, got)
				fs := rt.Functions()
				for _, g := range fs {
					require.NotPanics(t, func() { g.Stats() })
				}
				require.Empty(t, fs, "at %s, Functions lists the function being deployed", stage)
				_, err := rt.Deploy(ctx, FunctionConfig{Name: "half", Code: code})
				if closing && stage == "ready" {
					require.ErrorIs(t, err, ErrClosed)
				} else {
					require.ErrorIs(t, err, ErrConflict, "at %s, the name is taken", stage)
				}
				if closing && stage == "registered" {
					go func() { closed <- rt.Close(ctx) }()
					require.Eventually(t, func() bool {
						rt.mu.Lock()
						defer rt.mu.Unlock()
						return rt.closed
					}, 30*time.Second, time.Millisecond)
				}
			}
			f, err := rt.Deploy(ctx, FunctionConfig{Name: "half", Code: code, MinWarm: 1})
			require.NoError(t, err)
			require.Equal(t, []string{"registered", "ready"}, stages)
			if !closing {
				got, ok := rt.Function("half")
				require.True(t, ok)
				require.Same(t, f, got)
				require.Equal(t, []*Function{f}, rt.Functions())
				require.Equal(t, 1, f.Stats().Idle)
				return
			}
			require.NoError(t, <-closed)
			_, err = f.Invoke(ctx, []byte(`1`))
			require.ErrorIs(t, err, ErrClosed, "Close closed the function that finished deploying")
			_, ok := rt.Function("half")
			require.False(t, ok)
		})
	}
}

// TestDeployFailureFreesTheName: a Deploy that fails after taking the name
// gives it back.
func TestDeployFailureFreesTheName(t *testing.T) {
	rt := newTestRuntime(t, Options{})
	ctx := context.Background()
	_, err := rt.Deploy(ctx, FunctionConfig{Name: "again", Code: []byte("not wasm")})
	require.ErrorIs(t, err, ErrInvalidCode)
	_, ok := rt.Function("again")
	require.False(t, ok)
	f, err := rt.Deploy(ctx, FunctionConfig{Name: "again", Code: testguest.WAT(t, "counter")})
	require.NoError(t, err)
	got, ok := rt.Function("again")
	require.True(t, ok)
	require.Same(t, f, got)
	require.NoError(t, f.Close(ctx))
	_, ok = rt.Function("again")
	require.False(t, ok)
}

// TestAsyncAcceptInCloseGap hands a function an event, as another
// function's sink does, while it closes with an ended context: the accept
// counts the event, and the close stops the engine, before the accept
// queues it. The event must still come out, as a dead letter.
func TestAsyncAcceptInCloseGap(t *testing.T) {
	t.Parallel()
	code := testguest.WAT(t, "counter")
	rt := newTestRuntime(t, Options{})
	for round := 0; round < 200; round++ {
		ctx := context.Background()
		sink := &MemorySink{}
		f, err := rt.Deploy(ctx, FunctionConfig{Name: "gap", Code: code, Async: AsyncConfig{DeadLetter: sink}})
		require.NoError(t, err)
		e := f.async
		inGap := make(chan struct{})
		handedOn := make(chan error, 1)
		e.testHook = func(point string) {
			switch point {
			case "close":
				// Close has drained, and not yet stopped the engine:
				// another function hands on a dead letter.
				go func() {
					handedOn <- (&FunctionSink{Function: f}).Send(ctx, &DeadLetter{RequestID: "handed-on", Payload: []byte(`{}`)})
				}()
				<-inGap
			case "accept":
				// Counted, not queued: let close stop the engine first.
				close(inGap)
				eventually(func() bool {
					e.mu.Lock()
					defer e.mu.Unlock()
					return e.stopping
				})
			}
		}
		ended, cancel := context.WithCancel(ctx)
		cancel()
		if err := f.Close(ended); err != nil {
			require.ErrorIs(t, err, context.Canceled)
		}
		require.NoError(t, <-handedOn, "the accept ran before the engine stopped")

		s := f.AsyncStats()
		require.EqualValues(t, 1, s.Accepted)
		require.EqualValues(t, 1, s.DeadLettered, "the event accepted in the gap is dead-lettered: %+v", s)
		require.Zero(t, s.Queued)
		letters := sink.Letters()
		require.Len(t, letters, 1)
		require.Equal(t, ConditionShutdown, letters[0].Condition)
	}
}

// TestAsyncCloseWhileClosing: a Close while another runs does not run the
// shutdown again; it waits for the first, or for its own context.
func TestAsyncCloseWhileClosing(t *testing.T) {
	code := testguest.WAT(t, "counter")
	for _, tc := range []struct {
		name   string
		second func(f *Function, ctx context.Context) error
	}{
		{"Function.Close", func(f *Function, ctx context.Context) error { return f.Close(ctx) }},
		{"asyncEngine.close", func(f *Function, ctx context.Context) error { return f.async.close(ctx) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newTestRuntime(t, Options{})
			ctx := context.Background()
			// The success destination holds the record until released,
			// so that the first Close waits to deliver it.
			release := make(chan struct{})
			delivering := make(chan struct{}, 1)
			var got []string
			dest := DestinationFunc(func(dctx context.Context, rec *InvocationRecord) error {
				select {
				case delivering <- struct{}{}:
				default:
				}
				select {
				case <-release:
					got = append(got, rec.RequestContext.RequestID)
					return nil
				case <-dctx.Done():
					return dctx.Err()
				}
			})
			f, err := rt.Deploy(ctx, FunctionConfig{Name: "twice", Code: code, Async: AsyncConfig{OnSuccess: dest}})
			require.NoError(t, err)
			id, err := f.InvokeAsync(ctx, []byte(`1`))
			require.NoError(t, err)
			<-delivering

			first := make(chan error, 1)
			go func() { first <- f.Close(ctx) }()
			require.Eventually(t, func() bool {
				f.async.mu.Lock()
				defer f.async.mu.Unlock()
				return f.async.closing || f.async.stopping
			}, 30*time.Second, time.Millisecond)

			ended, cancel := context.WithCancel(ctx)
			cancel()
			require.ErrorIs(t, tc.second(f, ended), context.Canceled, "a second Close returns when its context ends")
			waiting := make(chan error, 1)
			go func() { waiting <- tc.second(f, ctx) }()
			select {
			case err := <-waiting:
				t.Fatalf("a second Close returned %v before the first finished", err)
			case <-time.After(20 * time.Millisecond):
			}

			close(release)
			require.NoError(t, <-first, "the first Close delivered undisturbed")
			require.NoError(t, <-waiting, "a second Close returns nil once the first has finished")
			require.Equal(t, []string{id}, got)
			s := f.AsyncStats()
			require.Zero(t, s.DestinationErrors, "%+v", s)
			require.Zero(t, s.Undelivered)
			require.NoError(t, f.Close(ctx), "a Close after the first returns nil")
		})
	}
}
