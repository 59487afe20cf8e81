package lambdatest

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/gobuild"
)

// DefaultCompileCacheDir is the compilation cache NewRuntime uses by
// default: wasmlambda/compile in the user's cache directory, where wazero
// keeps the machine code of every module compiled, so that a later test
// deploys the same module in milliseconds.
func DefaultCompileCacheDir() string { return filepath.Join(gobuild.UserCacheDir(), "compile") }

// closeTimeout bounds the Close of a test's runtime.
const closeTimeout = time.Minute

// NewRuntime returns a runtime for the test, closed when the test ends; a
// failed Close fails the test. It takes at most one lambda.Options, whose
// zero fields get the kit's defaults rather than the runtime's:
//
//   - CacheDir: DefaultCompileCacheDir(), shared by every test and test
//     run, instead of none.
//   - Logger: the test's log (t.Log), with the guests' output and the
//     START, END and REPORT records, shown for a failed test or with
//     go test -v, instead of none.
//   - ScratchDir, for the sandboxes' /tmp: a directory of the test's
//     (t.TempDir), instead of os.TempDir().
//   - UndeliveredFile: undelivered.jsonl in a directory of the test's,
//     instead of one file shared by every process.
func NewRuntime(t testing.TB, opts ...lambda.Options) *lambda.Runtime {
	t.Helper()
	if len(opts) > 1 {
		t.Fatalf("lambdatest: NewRuntime takes at most one lambda.Options, got %d", len(opts))
	}
	var o lambda.Options
	if len(opts) == 1 {
		o = opts[0]
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCompileCacheDir()
	}
	if o.ScratchDir == "" {
		o.ScratchDir = t.TempDir()
	}
	if o.UndeliveredFile == "" {
		o.UndeliveredFile = filepath.Join(t.TempDir(), "undelivered.jsonl")
	}
	if o.Logger == nil {
		w := &testLog{t: t}
		// Registered first, so it runs last: the runtime has closed, and
		// nothing logs after the test.
		t.Cleanup(w.stop)
		o.Logger = slog.New(slog.NewTextHandler(w, nil))
	}
	rt, err := lambda.New(o)
	if err != nil {
		t.Fatalf("lambdatest: new runtime: %v", err)
	}
	cacheDirs.Store(rt, o.CacheDir)
	t.Cleanup(func() {
		defer cacheDirs.Delete(rt)
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := rt.Close(ctx); err != nil {
			t.Errorf("lambdatest: close the runtime: %v", err)
		}
	})
	return rt
}

// testLog writes a runtime's log lines to a test's log until stopped.
type testLog struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

// Write logs one line, as slog's handlers write one record per call.
func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLog) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

// Deploy deploys cfg on rt, and fails the test if it cannot. The function
// closes with its runtime.
//
// Under the race detector, on a runtime of NewRuntime's, Deploy first
// compiles the module into the runtime's compilation cache with a program
// built without -race, about 12 times faster than the race-instrumented
// runtime would.
func Deploy(t testing.TB, rt *lambda.Runtime, cfg lambda.FunctionConfig) *lambda.Function {
	t.Helper()
	precompileDeploy(t, rt, cfg)
	fn, err := rt.Deploy(t.Context(), cfg)
	if err != nil {
		t.Fatalf("lambdatest: deploy %s: %v", cfg.Name, err)
	}
	return fn
}
