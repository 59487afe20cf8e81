package guest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/abi"
)

// waitLong bounds every wait for something that must happen: generous, so
// that a loaded machine never fails a test that is right.
const waitLong = 10 * time.Second

type ctxKey string

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitDone waits for ch to close.
func waitDone(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLong):
		t.Fatalf("%s: not done after %v", what, waitLong)
	}
}

// observe describes what a context shows: its error, its cause, whether it
// is done, its lambdacontext request ID and a value of ctxKey.
func observe(name string, ctx context.Context) string {
	id := "none"
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		id = lc.AwsRequestID
	}
	return fmt.Sprintf("%s: err=%v cause=%v done=%v request=%s value=%v",
		name, ctx.Err(), context.Cause(ctx), closed(ctx.Done()), id, ctx.Value(ctxKey("k")))
}

// stdInvocation is what the invocation context stands for: the standard
// contexts, as the SDK built them before.
func stdInvocation(deadline time.Time, lc *lambdacontext.LambdaContext) (context.Context, func()) {
	var (
		ctx    context.Context
		cancel context.CancelFunc
	)
	if deadline.IsZero() {
		ctx, cancel = context.WithCancel(context.Background())
	} else {
		ctx, cancel = context.WithDeadline(context.Background(), deadline)
	}
	return lambdacontext.NewContext(ctx, lc), cancel
}

// newTestInvocation is the SDK's invocation context for a deadline (none
// if zero) and a request ID.
func newTestInvocation(t *testing.T, deadline time.Time, requestID string) *invocation {
	t.Helper()
	req := &abi.RequestView{RequestID: []byte(requestID), InvokedFunctionARN: []byte("arn:fn")}
	if !deadline.IsZero() {
		req.DeadlineMs = deadline.UnixMilli()
	}
	c, err := newInvocation(req)
	require.NoError(t, err)
	return c
}

// TestInvocationContextBehavesLikeTheStandardOne runs each scenario on the
// SDK's invocation context and on context.WithDeadline (or WithCancel)
// wrapped by lambdacontext.NewContext, and requires the same observations.
func TestInvocationContextBehavesLikeTheStandardOne(t *testing.T) {
	type scenario func(t *testing.T, ctx context.Context, cancel func()) []string
	tests := []struct {
		name     string
		deadline time.Duration // from now; 0 is none
		run      scenario
	}{
		{
			name: "live, then cancelled", deadline: time.Hour,
			run: func(t *testing.T, ctx context.Context, cancel func()) []string {
				obs := []string{observe("live", ctx)}
				cancel()
				obs = append(obs, observe("cancelled", ctx))
				cancel()
				return append(obs, observe("cancelled twice", ctx))
			},
		},
		{
			name: "no deadline", deadline: 0,
			run: func(t *testing.T, ctx context.Context, cancel func()) []string {
				_, ok := ctx.Deadline()
				obs := []string{fmt.Sprint("has deadline: ", ok), observe("live", ctx)}
				child, cancelChild := context.WithTimeout(ctx, time.Hour)
				defer cancelChild()
				d, ok := child.Deadline()
				obs = append(obs, fmt.Sprint("child deadline in the future: ", ok && d.After(time.Now())))
				cancel()
				return append(obs, observe("cancelled", ctx), observe("child", child))
			},
		},
		{
			name: "derived contexts are cancelled with it", deadline: time.Hour,
			run: func(t *testing.T, ctx context.Context, cancel func()) []string {
				c1, cancel1 := context.WithCancel(ctx)
				defer cancel1()
				c2, cancel2 := context.WithTimeout(ctx, 2*time.Hour) // later than the parent's
				defer cancel2()
				c3 := context.WithValue(ctx, ctxKey("k"), "v")
				c4 := context.WithoutCancel(c3)
				c5, cancel5 := context.WithCancelCause(c3)
				defer cancel5(nil)
				c6, cancel6 := context.WithDeadlineCause(ctx, time.Now().Add(30*time.Minute), errors.New("child's own cause"))
				defer cancel6()
				d2, _ := c2.Deadline()
				pd, _ := ctx.Deadline()
				obs := []string{
					fmt.Sprint("a later child deadline is the parent's: ", d2.Equal(pd)),
					observe("c1", c1), observe("c2", c2), observe("c3", c3), observe("c4", c4), observe("c5", c5), observe("c6", c6),
				}
				cancel()
				// A standard context cancels its children before cancel
				// returns: so must this one.
				return append(obs, observe("parent", ctx),
					observe("c1", c1), observe("c2", c2), observe("c3", c3), observe("c4", c4), observe("c5", c5), observe("c6", c6))
			},
		},
		{
			name: "a child cancelled first leaves the parent live", deadline: time.Hour,
			run: func(t *testing.T, ctx context.Context, cancel func()) []string {
				c1, cancel1 := context.WithCancelCause(ctx)
				cancel1(errors.New("the child's cause"))
				c2, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
				defer cancel2()
				waitDone(t, "c2", c2.Done())
				obs := []string{observe("c1", c1), observe("c2", c2), observe("parent", ctx)}
				cancel()
				return append(obs, observe("c1", c1), observe("c2", c2), observe("parent", ctx))
			},
		},
		{
			name: "context.AfterFunc runs at cancellation", deadline: time.Hour,
			run: func(t *testing.T, ctx context.Context, cancel func()) []string {
				ran := make(chan struct{})
				stop := context.AfterFunc(ctx, func() { close(ran) })
				obs := []string{fmt.Sprint("ran before cancel: ", closed(ran))}
				cancel()
				waitDone(t, "the AfterFunc", ran)
				return append(obs, fmt.Sprint("stop after it ran: ", stop()))
			},
		},
		{
			name: "context.AfterFunc stopped", deadline: time.Hour,
			run: func(t *testing.T, ctx context.Context, cancel func()) []string {
				ran := make(chan struct{})
				stop := context.AfterFunc(ctx, func() { close(ran) })
				obs := []string{fmt.Sprint("stop: ", stop()), fmt.Sprint("stop again: ", stop())}
				cancel()
				time.Sleep(10 * time.Millisecond) // a stopped function must not run at all
				return append(obs, fmt.Sprint("ran: ", closed(ran)))
			},
		},
		{
			name: "context.AfterFunc on a cancelled context runs at once", deadline: time.Hour,
			run: func(t *testing.T, ctx context.Context, cancel func()) []string {
				cancel()
				ran := make(chan struct{})
				stop := context.AfterFunc(ctx, func() { close(ran) })
				waitDone(t, "the AfterFunc", ran)
				return []string{fmt.Sprint("stop: ", stop())}
			},
		},
		{
			name: "the deadline passes", deadline: 30 * time.Millisecond,
			run: func(t *testing.T, ctx context.Context, cancel func()) []string {
				child, cancelChild := context.WithCancel(ctx)
				defer cancelChild()
				valued := context.WithValue(ctx, ctxKey("k"), "v")
				ran := make(chan struct{})
				context.AfterFunc(ctx, func() { close(ran) })
				waitDone(t, "the context", ctx.Done())
				waitDone(t, "the AfterFunc", ran)
				obs := []string{observe("expired", ctx), observe("child", child), observe("valued", valued)}
				cancel()
				return append(obs, observe("expired, then cancelled", ctx), observe("child", child))
			},
		},
		{
			name: "the deadline passed before the invocation", deadline: -time.Second,
			run: func(t *testing.T, ctx context.Context, cancel func()) []string {
				obs := []string{observe("expired", ctx)}
				child, cancelChild := context.WithCancel(ctx)
				defer cancelChild()
				ran := make(chan struct{})
				context.AfterFunc(ctx, func() { close(ran) })
				waitDone(t, "the AfterFunc", ran)
				cancel()
				return append(obs, observe("child", child), observe("expired, then cancelled", ctx))
			},
		},
		{
			name: "a shorter child deadline", deadline: time.Hour,
			run: func(t *testing.T, ctx context.Context, cancel func()) []string {
				child, cancelChild := context.WithTimeout(ctx, 20*time.Millisecond)
				defer cancelChild()
				waitDone(t, "the child", child.Done())
				obs := []string{observe("child", child), observe("parent", ctx)}
				cancel()
				return append(obs, observe("child", child), observe("parent", ctx))
			},
		},
		{
			name: "a waiter on Done is released by cancel", deadline: time.Hour,
			run: func(t *testing.T, ctx context.Context, cancel func()) []string {
				released := make(chan string)
				go func() {
					<-ctx.Done()
					released <- observe("waiter", ctx)
				}()
				cancel()
				select {
				case s := <-released:
					return []string{s}
				case <-time.After(waitLong):
					t.Fatal("the waiter was not released")
					return nil
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var deadline time.Time
			if tt.deadline != 0 {
				deadline = time.Now().Add(tt.deadline).Truncate(time.Millisecond)
			}
			stdCtx, stdCancel := stdInvocation(deadline, &lambdacontext.LambdaContext{AwsRequestID: "req"})
			defer stdCancel()
			want := tt.run(t, stdCtx, stdCancel)

			ours := newTestInvocation(t, deadline, "req")
			defer ours.cancel(canceled)
			got := tt.run(t, ours, func() { ours.cancel(canceled) })
			require.Equal(t, want, got)

			d, ok := ours.Deadline()
			require.Equal(t, !deadline.IsZero(), ok)
			require.True(t, d.Equal(deadline), "deadline %v, want %v", d, deadline)
		})
	}
}

func TestInvocationContextIsLazy(t *testing.T) {
	c := newTestInvocation(t, time.Now().Add(time.Hour), "req")
	_, _ = c.Deadline()
	require.NoError(t, c.Err())
	lc, ok := lambdacontext.FromContext(c)
	require.True(t, ok)
	require.Equal(t, "req", lc.AwsRequestID)
	require.Nil(t, c.std.Load(), "no channel before Done")
	require.Nil(t, c.timer, "no timer before Done")

	done := c.Done()
	require.NotNil(t, done)
	require.NotNil(t, c.timer, "Done starts the deadline's timer")
	require.Equal(t, done, c.Done(), "Done returns the same channel every time")
	require.False(t, closed(done))

	c.cancel(canceled)
	require.True(t, closed(done))
	require.Nil(t, c.timer, "cancel stops the timer")
	require.ErrorIs(t, c.Err(), context.Canceled)

	t.Run("cancelled before Done", func(t *testing.T) {
		c := newTestInvocation(t, time.Now().Add(time.Hour), "req")
		c.cancel(canceled)
		require.True(t, closed(c.Done()))
		require.Nil(t, c.timer)
	})
}

func TestInvocationContextErrAfterDeadlineWithoutDone(t *testing.T) {
	deadline := time.Now().Add(20 * time.Millisecond)
	c := newTestInvocation(t, deadline, "req")
	require.NoError(t, c.Err())
	for time.Now().Before(deadline.Add(time.Millisecond)) {
		time.Sleep(5 * time.Millisecond)
	}
	// Nothing has called Done, so no timer has fired: Err still reports the
	// deadline, from the clock.
	require.Nil(t, c.timer)
	require.ErrorIs(t, c.Err(), context.DeadlineExceeded)
	require.True(t, closed(c.Done()))
	require.ErrorIs(t, context.Cause(c), context.DeadlineExceeded)
	c.cancel(canceled)
	require.ErrorIs(t, c.Err(), context.DeadlineExceeded, "the first error sticks")
}

// opaque is a context the context package knows nothing of: it hides the
// std its invocation hands out under the package's key.
type opaque struct{ context.Context }

func (opaque) Value(any) any { return nil }

func TestInvocationContextDerivedContextsStartNoGoroutine(t *testing.T) {
	const n = 20
	derive := func(parent context.Context) (goroutines int, cancels []context.CancelFunc) {
		before := runtime.NumGoroutine()
		for range n {
			_, cancel := context.WithCancel(parent)
			cancels = append(cancels, cancel)
			_, cancel = context.WithTimeout(parent, time.Minute)
			cancels = append(cancels, cancel)
			_, cancel = context.WithCancel(context.WithValue(parent, ctxKey("k"), "v"))
			cancels = append(cancels, cancel)
			stop := context.AfterFunc(parent, func() {})
			cancels = append(cancels, func() { stop() })
		}
		return runtime.NumGoroutine() - before, cancels
	}

	c := newTestInvocation(t, time.Now().Add(time.Hour), "req")
	started, cancels := derive(c)
	require.Zero(t, started, "derived contexts started goroutines")
	for _, cancel := range cancels {
		cancel()
	}
	c.cancel(canceled)

	// Of a context it knows nothing of, the context package watches the
	// parent with a goroutine per derived context: the test would see it.
	c = newTestInvocation(t, time.Now().Add(time.Hour), "req")
	started, cancels = derive(opaque{c})
	require.Positive(t, started)
	for _, cancel := range cancels {
		cancel()
	}
	c.cancel(canceled)
}

func TestInvocationContextValues(t *testing.T) {
	require.NotNil(t, lambdaContextKey, "lambdacontext's key was caught")
	c := newTestInvocation(t, time.Time{}, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef-and-then-some-more-to-overflow")
	lc, ok := lambdacontext.FromContext(c)
	require.True(t, ok)
	require.Equal(t, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef-and-then-some-more-to-overflow", lc.AwsRequestID)
	require.Equal(t, "arn:fn", lc.InvokedFunctionArn)
	require.Same(t, lc, c.Value(lambdaContextKey))
	require.Nil(t, c.Value(ctxKey("k")))
	require.Nil(t, c.Value(nil))

	// The request ID is the invocation's own, not the envelope's bytes.
	id := []byte("req-1")
	c, err := newInvocation(&abi.RequestView{RequestID: id})
	require.NoError(t, err)
	copy(id, "XXXXX")
	require.Equal(t, "req-1", c.lc.AwsRequestID)

	require.True(t, strings.HasPrefix(c.String(), "context.Background.WithCancel.WithValue(*lambdacontext.key, *lambdacontext.LambdaContext)"), c.String())
	c = newTestInvocation(t, time.Now().Add(time.Hour), "req")
	require.True(t, strings.HasPrefix(c.String(), "context.Background.WithDeadline("), c.String())
}
