package lambdatest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/lambdatest"
)

// fakeT is a testing.TB whose Fatalf records the failure and ends the
// goroutine, as t.Fatalf does, and whose logs are kept, so that a test can
// check how a helper fails and what it logs. The rest is the real test's.
type fakeT struct {
	testing.TB
	ctx context.Context // when set, what Context returns

	mu    sync.Mutex
	fatal string
	logs  []string
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeT) Log(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprint(args...))
}

func (f *fakeT) Logf(format string, args ...any) { f.Log(fmt.Sprintf(format, args...)) }

func (f *fakeT) Context() context.Context {
	if f.ctx != nil {
		return f.ctx
	}
	return f.TB.Context()
}

func (f *fakeT) Logs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.logs...)
}

// fatal runs fn with a fakeT in a goroutine of its own, as t.Fatalf needs,
// and returns what it failed with: "" when it did not.
func fatal(t *testing.T, ft *fakeT, fn func(t testing.TB)) string {
	t.Helper()
	if ft == nil {
		ft = &fakeT{}
	}
	ft.TB = t
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ft)
	}()
	<-done
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.fatal
}

// cancelled is a context that has ended.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// guestDir is the test guest's package: it echoes its event, and fails
// {"fail": MESSAGE} with a *ValidationError.
const guestDir = "testdata/guest"

// deployGuest builds the test guest and deploys it on a new runtime of the
// test's, with cfg's settings.
func deployGuest(t *testing.T, cfg lambda.FunctionConfig) *lambda.Function {
	t.Helper()
	code := lambdatest.Build(t, guestDir)
	if cfg.Name == "" {
		cfg.Name = "guest"
	}
	cfg.Code = code.Wasm
	return lambdatest.Deploy(t, lambdatest.NewRuntime(t), cfg)
}

// stdlibModule writes a module of the standard library only, with a main
// package, for builds that need sources a test can change. It returns the
// package's directory.
func stdlibModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":  "module example.com/fixture\n\ngo 1.25\n",
		"main.go": "package main\n\n//go:wasmexport answer\nfunc answer() int32 { return 42 }\n\nfunc main() {}\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	return dir
}
