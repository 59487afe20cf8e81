// Command hello builds a Go guest to WebAssembly, deploys it on an
// in-process runtime with the default settings, and invokes it.
//
//	go run ./examples/hello
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	lambda "github.com/wasmlambda/lambda"
)

func main() {
	if err := run(context.Background(), os.Stdout, slog.New(slog.NewTextHandler(os.Stderr, nil))); err != nil {
		log.Fatal(err)
	}
}

// run builds the guest, deploys it as "hello" and invokes it twice.
func run(ctx context.Context, out io.Writer, logger *slog.Logger) error {
	code, err := buildGuest(ctx)
	if err != nil {
		return err
	}
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	rt, err := lambda.New(lambda.Options{
		Logger:   logger,
		CacheDir: filepath.Join(cacheDir, "wasmlambda"),
	})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)

	fn, err := rt.Deploy(ctx, lambda.FunctionConfig{Name: "hello", Code: code})
	if err != nil {
		return err
	}

	type response struct {
		Greeting string `json:"greeting"`
		Function string `json:"function"`
		Calls    int    `json:"calls"`
	}
	for _, name := range []string{"world", "gopher"} {
		resp, err := lambda.InvokeJSON[response](ctx, fn, map[string]string{"name": name})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s (function %s, call %d)\n", resp.Greeting, resp.Function, resp.Calls)
	}

	// A function error comes back in AWS's shape.
	_, err = fn.Invoke(ctx, []byte(`{}`))
	fmt.Fprintf(out, "error: %v\n", err)
	return nil
}

// buildGuest compiles ./guest to WebAssembly with the Go toolchain.
func buildGuest(ctx context.Context) ([]byte, error) {
	_, file, _, _ := runtime.Caller(0)
	dir, err := os.MkdirTemp("", "hello-guest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	wasm := filepath.Join(dir, "hello.wasm")
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", wasm, ".")
	cmd.Dir = filepath.Join(filepath.Dir(file), "guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the guest: %v\n%s", err, out)
	}
	return os.ReadFile(wasm)
}
