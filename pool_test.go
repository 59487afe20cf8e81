package lambda_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

type whoami struct {
	RequestID string `json:"requestId"`
	Calls     int    `json:"calls"`
}

func TestPoolPrewarmAndStats(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "warm", Code: testguest.C(t, "echo", true), MinWarm: 3, MaxConcurrency: 5})
	s := f.Stats()
	require.Equal(t, lambda.PoolStats{MaxConcurrency: 5, MinWarm: 3, Open: 3, Idle: 3, ColdStarts: 3}, s)

	_, err := f.Invoke(context.Background(), []byte(`1`))
	require.NoError(t, err)
	s = f.Stats()
	require.EqualValues(t, 3, s.ColdStarts, "a provisioned sandbox serves the first call warm")
	require.EqualValues(t, 1, s.Invocations)
	require.Equal(t, 3, s.Idle)
}

// busy holds every sandbox of f with sleeping invocations until release is
// closed; it waits until they are all in use.
func busy(t *testing.T, f *lambda.Function, n int) (release func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = f.Invoke(ctx, nil)
		}()
	}
	require.Eventually(t, func() bool { return f.Stats().InUse == n }, 5*time.Second, time.Millisecond)
	return func() {
		cancel()
		wg.Wait()
	}
}

func TestPoolThrottleOrWait(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	sleep := testguest.WAT(t, "sleep")

	t.Run("throttle", func(t *testing.T) {
		f := deploy(t, rt, lambda.FunctionConfig{Name: "throttle", Code: sleep, MaxConcurrency: 2, ThrottleWhenBusy: true, Timeout: time.Minute})
		release := busy(t, f, 2)
		defer release()
		_, err := f.Invoke(context.Background(), nil)
		require.ErrorIs(t, err, lambda.ErrThrottled)
		var se *lambda.ServiceError
		require.ErrorAs(t, err, &se)
		require.Equal(t, 429, se.StatusCode)
		require.Equal(t, "TooManyRequestsException", se.Code)
		require.EqualValues(t, 1, f.Stats().Throttles)
		require.EqualValues(t, 0, f.Stats().WaitCount)
	})
	t.Run("wait bounded by context", func(t *testing.T) {
		f := deploy(t, rt, lambda.FunctionConfig{Name: "wait", Code: sleep, MaxConcurrency: 1, Timeout: time.Minute})
		release := busy(t, f, 1)
		defer release()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		_, err := f.Invoke(ctx, nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		s := f.Stats()
		require.EqualValues(t, 1, s.WaitCount)
		require.GreaterOrEqual(t, s.WaitDuration, 30*time.Millisecond)
		require.EqualValues(t, 0, s.Throttles)
		require.Equal(t, 1, s.Open, "the waiter gave up without opening a sandbox")
	})
	t.Run("waiter gets the freed sandbox", func(t *testing.T) {
		f := deploy(t, rt, lambda.FunctionConfig{Name: "handoff", Code: sleep, MaxConcurrency: 1, Timeout: 200 * time.Millisecond})
		release := busy(t, f, 1)
		defer release()
		// The busy call times out after 200 ms; its broken sandbox frees the
		// slot and the waiter creates a new one.
		_, err := f.Invoke(context.Background(), nil)
		require.ErrorIs(t, err, lambda.ErrTimeout)
		s := f.Stats()
		require.EqualValues(t, 1, s.WaitCount)
		require.LessOrEqual(t, s.Open, 1)
	})
}

func TestPoolRecycleAfterMaxUses(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "recycle", Code: testguest.C(t, "echo", true), MaxUses: 3})
	var calls []int
	for i := 0; i < 7; i++ {
		w, err := lambda.InvokeJSON[whoami](context.Background(), f, "whoami")
		require.NoError(t, err)
		calls = append(calls, w.Calls)
	}
	require.Equal(t, []int{1, 2, 3, 1, 2, 3, 1}, calls, "a fresh instance after every 3 uses")
	s := f.Stats()
	require.EqualValues(t, 2, s.Recycled)
	require.EqualValues(t, 3, s.ColdStarts)
}

func TestPoolIdleTimeoutKeepsMinWarm(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "idle", Code: testguest.WAT(t, "sleep"), MinWarm: 1, MaxConcurrency: 3, IdleTimeout: 20 * time.Millisecond, Timeout: 30 * time.Millisecond})
	// Three concurrent calls open three sandboxes; each times out and is
	// discarded, so open falls back to MinWarm through replenishment.
	var g errgroup.Group
	for i := 0; i < 3; i++ {
		g.Go(func() error {
			_, err := f.Invoke(context.Background(), nil)
			if err == nil {
				return fmt.Errorf("want a timeout")
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	require.Eventually(t, func() bool { s := f.Stats(); return s.Open == 1 && s.Idle == 1 }, 5*time.Second, 5*time.Millisecond)

	g2 := deploy(t, rt, lambda.FunctionConfig{Name: "idle2", Code: testguest.C(t, "echo", true), MinWarm: 1, MaxConcurrency: 3, IdleTimeout: 20 * time.Millisecond})
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			_, _ = g2.Invoke(context.Background(), []byte(`1`))
		}()
	}
	close(release)
	wg.Wait()
	require.Eventually(t, func() bool { s := g2.Stats(); return s.Open == 1 }, 5*time.Second, 5*time.Millisecond)
	s := g2.Stats()
	require.EqualValues(t, s.ColdStarts-1, s.IdleClosed, "idle sandboxes beyond MinWarm are closed")
}

func TestPoolReplenishesMinWarm(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "trap", Code: testguest.WAT(t, "trap"), MinWarm: 2, MaxConcurrency: 2})
	for i := 0; i < 3; i++ {
		_, err := f.Invoke(context.Background(), nil)
		require.ErrorContains(t, err, "out of bounds memory access")
	}
	require.Eventually(t, func() bool { s := f.Stats(); return s.Idle == 2 && s.ColdStarts == 5 }, 5*time.Second, time.Millisecond)
	require.EqualValues(t, 3, f.Stats().Discarded)
}

// TestCloseDrainsInFlight closes a function while invocations run: they
// finish, and new ones are refused.
func TestCloseDrainsInFlight(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "drain", Code: testguest.WAT(t, "sleep"), Timeout: 100 * time.Millisecond, MaxConcurrency: 2})
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			_, err := f.Invoke(context.Background(), nil)
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { s := f.Stats(); return s.InUse == 2 && s.WaitCount == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, f.Close(context.Background()))
	var timeouts, closed int
	for i := 0; i < 3; i++ {
		err := <-errs
		switch {
		case err != nil && errorsIs(err, lambda.ErrTimeout):
			timeouts++
		case err != nil && errorsIs(err, lambda.ErrClosed):
			closed++
		default:
			t.Fatalf("unexpected result %v", err)
		}
	}
	require.Equal(t, 2, timeouts, "in-flight invocations ran to their end")
	require.Equal(t, 1, closed, "the waiter was refused")
	require.Equal(t, 0, f.Stats().Open)
}

func TestCloseContextAbortsInFlight(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "abort", Code: testguest.WAT(t, "loop"), Timeout: time.Minute})
	done := make(chan error, 1)
	go func() {
		_, err := f.Invoke(context.Background(), nil)
		done <- err
	}()
	require.Eventually(t, func() bool { return f.Stats().InUse == 1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, f.Close(ctx), context.DeadlineExceeded)
	require.ErrorIs(t, <-done, lambda.ErrClosed, "a forced close aborts the running loop")
}

// TestHammer: 64 goroutines each invoke one function 500 times with a
// concurrency cap of 4; every call gets its own answer.
func TestHammer(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "hammer", Code: hammerGuest(t), MaxConcurrency: 4})
	const goroutines, calls = 64, 500
	var g errgroup.Group
	for i := 0; i < goroutines; i++ {
		g.Go(func() error {
			for j := 0; j < calls; j++ {
				want := fmt.Sprintf(`{"g":%d,"i":%d}`, i, j)
				out, err := f.Invoke(context.Background(), []byte(want))
				if err != nil {
					return err
				}
				if string(out) != want {
					return fmt.Errorf("goroutine %d call %d: got %s, want %s", i, j, out, want)
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	s := f.Stats()
	require.EqualValues(t, goroutines*calls, s.Invocations)
	require.LessOrEqual(t, s.ColdStarts, int64(4))
	require.Equal(t, 0, s.InUse)
	require.LessOrEqual(t, s.Open, 4)
	require.EqualValues(t, 0, s.Discarded)
}
