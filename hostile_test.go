package lambda_test

import (
	"context"
	"errors"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

func TestDeployRefusesBadCode(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	tests := []struct {
		name string
		code func(t *testing.T) []byte
		want []string
	}{
		{"malformed", func(*testing.T) []byte { return []byte("\x00asm\x01\x00\x00\x00garbage") }, []string{"malformed wasm module"}},
		{"not wasm", func(*testing.T) []byte { return []byte("#!/bin/sh\necho hi\n") }, []string{"malformed wasm module"}},
		{"foreign import", func(t *testing.T) []byte { return testguest.WAT(t, "badimport") }, []string{"unsupported import env.evil"}},
		{"unknown WASI import", func(t *testing.T) []byte { return testguest.WAT(t, "badwasi") }, []string{"wasi_snapshot_preview1.no_such_function", "no such WASI preview 1 function"}},
		{"imported global", func(t *testing.T) []byte { return testguest.WAT(t, "badglobal") }, []string{"unsupported import env.counter", "not a global"}},
		{"no handler export", func(t *testing.T) []byte { return testguest.WAT(t, "noexport") }, []string{"missing handler export", "wasmlambda_v1_invoke", "[hello]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "bad", Code: tt.code(t)})
			require.ErrorIs(t, err, lambda.ErrInvalidCode)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			_, ok := rt.Function("bad")
			require.False(t, ok, "a refused function must not stay registered")
		})
	}
}

func TestConfigValidation(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	code := []byte("\x00asm\x01\x00\x00\x00")
	long := strings.Repeat("v", 4100)
	tests := []struct {
		name string
		cfg  lambda.FunctionConfig
		want string
	}{
		{"no name", lambda.FunctionConfig{Code: code}, `Name ""`},
		{"bad name", lambda.FunctionConfig{Name: "a b", Code: code}, `Name "a b"`},
		{"no code", lambda.FunctionConfig{Name: "f"}, "Code or CodePath is required"},
		{"both codes", lambda.FunctionConfig{Name: "f", Code: code, CodePath: "x.wasm"}, "not both"},
		{"missing file", lambda.FunctionConfig{Name: "f", CodePath: "/nonexistent/x.wasm"}, "CodePath"},
		{"timeout too long", lambda.FunctionConfig{Name: "f", Code: code, Timeout: 901 * time.Second}, "Timeout 15m1s"},
		{"negative timeout", lambda.FunctionConfig{Name: "f", Code: code, Timeout: -time.Second}, "Timeout -1s"},
		{"memory too small", lambda.FunctionConfig{Name: "f", Code: code, MemorySize: 64}, "MemorySize 64 MB"},
		{"memory too large", lambda.FunctionConfig{Name: "f", Code: code, MemorySize: 10241}, "MemorySize 10241 MB"},
		{"env key", lambda.FunctionConfig{Name: "f", Code: code, Environment: map[string]string{"1X": "v"}}, `"1X"`},
		{"env key one char", lambda.FunctionConfig{Name: "f", Code: code, Environment: map[string]string{"X": "v"}}, `"X"`},
		{"env reserved", lambda.FunctionConfig{Name: "f", Code: code, Environment: map[string]string{"AWS_REGION": "x"}}, "AWS_REGION is reserved"},
		{"env size", lambda.FunctionConfig{Name: "f", Code: code, Environment: map[string]string{"BIG": long}}, "4103 bytes, over the 4096-byte limit"},
		{"min warm over max", lambda.FunctionConfig{Name: "f", Code: code, MaxConcurrency: 2, MinWarm: 3}, "MinWarm 3"},
		{"negative concurrency", lambda.FunctionConfig{Name: "f", Code: code, MaxConcurrency: -1}, "MaxConcurrency -1"},
		{"negative storage", lambda.FunctionConfig{Name: "f", Code: code, EphemeralStorageMB: -1}, "EphemeralStorageMB -1"},
		{"negative min warm", lambda.FunctionConfig{Name: "f", Code: code, MinWarm: -1}, "MinWarm -1"},
		{"negative payload", lambda.FunctionConfig{Name: "f", Code: code, MaxResponseBytes: -1}, "MaxResponseBytes -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rt.Deploy(context.Background(), tt.cfg)
			require.ErrorIs(t, err, lambda.ErrInvalidConfig)
			require.ErrorContains(t, err, tt.want)
			var se *lambda.ServiceError
			require.ErrorAs(t, err, &se)
			require.Equal(t, 400, se.StatusCode)
		})
	}
}

// TestHostileGuests drives each hostile WAT guest and checks the error the
// caller gets, that the sandbox was discarded or kept as documented, and
// that the function still serves a good request afterwards.
func TestHostileGuests(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	tests := []struct {
		guest     string
		timeout   time.Duration
		errType   string
		errText   string
		discarded bool
		is        error
	}{
		{"loop", 100 * time.Millisecond, lambda.ErrorTypeTimeout, "Task timed out after 0.10 seconds", true, lambda.ErrTimeout},
		{"sleep", 100 * time.Millisecond, lambda.ErrorTypeTimeout, "Task timed out after 0.10 seconds", true, lambda.ErrTimeout},
		{"grow", 0, lambda.ErrorTypeOutOfMemory, "128 MB limit", true, nil},
		{"trap", 0, lambda.ErrorTypeExit, "out of bounds memory access", true, nil},
		{"bigout", 0, lambda.ErrorTypeResponseTooLarge, "Response payload size (7340032 bytes) exceeded maximum allowed payload size (6291556 bytes)", false, lambda.ErrPayloadTooLarge},
		{"badrecord", 0, lambda.ErrorTypeInvalidResult, "result record at 0x7ffffff0 lies outside memory", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.guest, func(t *testing.T) {
			f := deploy(t, rt, lambda.FunctionConfig{Name: tt.guest, Code: testguest.WAT(t, tt.guest), Timeout: tt.timeout})
			for i := 0; i < 2; i++ {
				_, err := f.Invoke(context.Background(), []byte(`{}`))
				var fe *lambda.FunctionError
				require.ErrorAs(t, err, &fe)
				require.Equal(t, tt.errType, fe.Type)
				require.Contains(t, fe.Message, tt.errText)
				if tt.is != nil {
					require.ErrorIs(t, err, tt.is)
				}
			}
			s := f.Stats()
			if tt.discarded {
				require.EqualValues(t, 2, s.Discarded, "a broken sandbox is never reused")
				require.EqualValues(t, 2, s.ColdStarts)
				require.Equal(t, 0, s.Open)
			} else {
				require.EqualValues(t, 0, s.Discarded)
				require.EqualValues(t, 1, s.ColdStarts)
				require.Equal(t, 1, s.Idle)
			}
		})
	}
}

// TestEndlessLoopStopsAtDeadline proves that an endless loop is stopped at
// its deadline, every time, and discarded. How far past the deadline it runs
// is a figure for BenchmarkTimeoutOvershoot; here a generous bound only
// tells a stopped loop from one that ran on, even on a loaded machine.
func TestEndlessLoopStopsAtDeadline(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	const timeout = 50 * time.Millisecond
	loop := deploy(t, rt, lambda.FunctionConfig{Name: "loop", Code: testguest.WAT(t, "loop"), Timeout: timeout, MinWarm: 1, MaxConcurrency: 1})
	var overshoot []time.Duration
	for i := 0; i < 7; i++ {
		start := time.Now()
		_, err := loop.Invoke(context.Background(), []byte(`{}`))
		overshoot = append(overshoot, time.Since(start)-timeout)
		require.ErrorIs(t, err, lambda.ErrTimeout)
	}
	sort.Slice(overshoot, func(i, j int) bool { return overshoot[i] < overshoot[j] })
	t.Logf("overshoot past the deadline: min %v, median %v, max %v", overshoot[0], overshoot[3], overshoot[6])
	require.GreaterOrEqual(t, overshoot[0], time.Duration(0), "stopped before its deadline")
	require.Less(t, overshoot[3], 5*time.Second, "the loop ran on past its deadline")
	require.EqualValues(t, 7, loop.Stats().Discarded)
}

func TestCallerContextEndsInvocation(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "loop", Code: testguest.WAT(t, "loop"), Timeout: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := f.Invoke(ctx, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, errors.Is(err, lambda.ErrTimeout), "the caller's deadline is not the function's timeout")
	require.EqualValues(t, 1, f.Stats().Discarded)
}

func TestRequestTooLarge(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "counter", Code: testguest.WAT(t, "counter"), MaxRequestBytes: 1000})
	_, err := f.Invoke(context.Background(), make([]byte, 1001))
	require.ErrorIs(t, err, lambda.ErrPayloadTooLarge)
	var se *lambda.ServiceError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 413, se.StatusCode)
	require.Equal(t, "RequestTooLargeException", se.Code)
	out, err := f.Invoke(context.Background(), []byte(`"ok"`))
	require.NoError(t, err)
	require.Equal(t, `"ok"`, string(out))
}

// TestSpinningGuestDoesNotStallGC: compiled wasm cannot be preempted, so a
// guest that never left it would hold up every stop-the-world phase of the
// garbage collector, and the whole process with it. The instrumented check
// leaves it regularly; a collection finishes while the guest spins.
func TestSpinningGuestDoesNotStallGC(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "loop", Code: testguest.WAT(t, "loop"), Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := f.Invoke(ctx, nil)
		done <- err
	}()
	require.Eventually(t, func() bool { return f.Stats().InUse == 1 }, 5*time.Second, time.Millisecond)
	gc := make(chan struct{})
	go func() {
		for i := 0; i < 3; i++ {
			runtime.GC()
		}
		close(gc)
	}()
	select {
	case <-gc:
	case <-time.After(20 * time.Second):
		t.Fatal("garbage collection stalled behind a spinning guest")
	}
	select {
	case err := <-done:
		t.Fatalf("the guest should still be spinning, got %v", err)
	default:
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}
