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
