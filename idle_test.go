package lambda_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// TestIdleFunctionsCostNoGoroutines deploys 100 functions, invokes each
// once, synchronously and asynchronously, and lets them go idle: the
// goroutine count returns to what it was before they were deployed, whether
// their sandboxes expired or are kept warm. After Close nothing is left.
//
// It is not parallel, so that other tests' goroutines do not come and go
// while it counts.
func TestIdleFunctionsCostNoGoroutines(t *testing.T) {
	code := testguest.WAT(t, "counter")
	const n = 100
	// The tolerance is for goroutines of the Go runtime and of tests that
	// ended before this one, not for the functions: 100 of them would each
	// need one to go past it.
	const tolerance = 20
	for _, tc := range []struct {
		name        string
		idleTimeout time.Duration
		open        int // sandboxes each function keeps once idle
	}{
		{"sandboxes expired", 20 * time.Millisecond, 0},
		{"sandboxes kept warm", 0, 1}, // the default: 10 minutes
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			ctx := context.Background()
			rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
			require.NoError(t, err)
			closed := false
			t.Cleanup(func() {
				if !closed {
					_ = rt.Close(ctx)
				}
			})
			baseline := runtime.NumGoroutine()

			fs := make([]*lambda.Function, n)
			sink := &lambda.MemorySink{}
			for i := range fs {
				fs[i], err = rt.Deploy(ctx, lambda.FunctionConfig{
					Name:        fmt.Sprintf("idle-%03d", i),
					Code:        code,
					IdleTimeout: tc.idleTimeout,
					Async:       lambda.AsyncConfig{DeadLetter: sink},
				})
				require.NoError(t, err)
				_, err = fs[i].Invoke(ctx, []byte(`1`))
				require.NoError(t, err)
				_, err = fs[i].InvokeAsync(ctx, []byte(`1`))
				require.NoError(t, err)
			}
			require.Eventually(t, func() bool {
				for _, f := range fs {
					s, a := f.Stats(), f.AsyncStats()
					if s.InUse != 0 || s.Open != tc.open || a.Succeeded != 1 {
						return false
					}
				}
				return true
			}, time.Minute, 10*time.Millisecond, "every function goes idle")
			for deadline := time.Now().Add(time.Minute); runtime.NumGoroutine() > baseline+tolerance && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			idle := runtime.NumGoroutine()
			require.LessOrEqual(t, idle, baseline+tolerance, "idle functions hold goroutines: %d before they were deployed", baseline)
			t.Logf("goroutines: %d before %d functions were deployed, %d once they are idle", baseline, n, idle)
			require.Zero(t, sink.Len())

			closed = true
			require.NoError(t, rt.Close(ctx))
			goleak.VerifyNone(t, leaks)
		})
	}
}
