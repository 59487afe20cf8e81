package lambda_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// TestManyFunctionsShareCode deploys 1,000 functions of one Go module with
// memory limits of 128 and 256 MB and invokes each once. They share one
// compiled module, each sandbox keeps its own function's limit, idle
// functions hold no goroutine, and closing them all frees the module.
func TestManyFunctionsShareCode(t *testing.T) {
	const n = 1000
	rt := newRuntime(t, lambda.Options{})
	ctx := context.Background()
	code := testguest.Go(t, "behave")
	before := runtime.NumGoroutine()

	fs := make([]*lambda.Function, n)
	for i := range fs {
		fs[i] = deploy(t, rt, lambda.FunctionConfig{
			Name:       fmt.Sprintf("many-%04d", i),
			Code:       code,
			MemorySize: 128 << (i % 2), // 128 MB, 256 MB, 128 MB, ...
			Timeout:    time.Minute,
			MaxUses:    1, // each sandbox is gone after its invocation
		})
	}
	require.Equal(t, 1, lambda.SharedModules(rt), "one compiled module for one code")

	// Each function's sandbox has its function's limit: growing to 160 MB
	// fails at 128 MB and succeeds at 256 MB, whichever deployed first.
	grow := []byte(`{"op":"alloc","mb":160,"chunk_mb":16}`)
	for _, i := range []int{0, 1, 2, 3, n - 2, n - 1} {
		out, err := fs[i].Invoke(ctx, grow)
		if i%2 == 0 {
			var fe *lambda.FunctionError
			require.ErrorAs(t, err, &fe, "function %d, 128 MB", i)
			require.Equal(t, lambda.ErrorTypeOutOfMemory, fe.Type, fe.Message)
			require.Contains(t, fe.Message, "Runtime exited with memory at its 128 MB limit")
		} else {
			require.NoError(t, err, "function %d, 256 MB", i)
			require.Equal(t, "10", string(out))
		}
	}

	// Every function invoked once, two at a time.
	next := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out, err := fs[i].Invoke(ctx, []byte(fmt.Sprintf(`{"op":"echo","data":%d}`, i)))
				if err == nil && string(out) != fmt.Sprint(i) {
					err = fmt.Errorf("function %d answered %s", i, out)
				}
				errs <- err
			}
		}()
	}
	for i := range fs {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	// Idle: no sandbox open, and no goroutine per function.
	for i, f := range fs {
		require.Zero(t, f.Stats().Open, "function %d keeps no sandbox", i)
	}
	var now int
	require.Eventually(t, func() bool {
		now = runtime.NumGoroutine()
		return now <= before+20
	}, time.Minute, 50*time.Millisecond, "1,000 idle functions: %d goroutines, %d before they were deployed", now, before)
	require.Equal(t, 1, lambda.SharedModules(rt))

	for i, f := range fs {
		require.NoError(t, f.Close(ctx))
		if i < n-1 {
			require.Equal(t, 1, lambda.SharedModules(rt), "function %d closed, others use the module", i)
		}
	}
	require.Zero(t, lambda.SharedModules(rt), "closing the last function frees the module")
}

// TestSharedCodeKeepsHostStatePerFunction: functions of one code share its
// compiled module, and each one's host functions are still its own: each
// reads its own settings, even invoked at once.
func TestSharedCodeKeepsHostStatePerFunction(t *testing.T) {
	_, m := newTestHost()
	rt := newRuntime(t, lambda.Options{HostModules: []*lambda.HostModule{m}})
	code := testguest.Go(t, "hostcall")
	fs := make([]*lambda.Function, 4)
	for i := range fs {
		fs[i] = deploy(t, rt, lambda.FunctionConfig{
			Name:         fmt.Sprintf("tenant-%d", i),
			Code:         code,
			Capabilities: allGrants,
			Settings:     map[string]string{"greeting": fmt.Sprintf("hello %d", i)},
			Timeout:      time.Minute,
		})
	}
	require.Equal(t, 1, lambda.SharedModules(rt))
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(fs))
	for round := range 4 {
		for i, f := range fs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := lambda.InvokeJSON[hostResp](ctx, f, map[string]any{"op": "setting", "key": "greeting"})
				if err == nil && got.Value != fmt.Sprintf("hello %d", i) {
					err = fmt.Errorf("round %d: function %d read %q", round, i, got.Value)
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
