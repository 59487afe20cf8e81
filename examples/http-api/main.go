// Command http-api builds a JSON API guest to WebAssembly, deploys it, and
// mounts it on a Go service's mux under /api/, behind a function URL's
// front door (trigger/httpfn), beside a route of the service's own.
//
//	go run ./examples/http-api
//	curl -s localhost:8080/api/items -d '{"name":"tea"}'
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/httpfn"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, slog.New(slog.NewTextHandler(os.Stderr, nil)), func(h http.Handler) error {
		srv := &http.Server{Addr: "127.0.0.1:8080", Handler: h}
		go func() { <-ctx.Done(); srv.Close() }()
		log.Printf("listening on http://%s", srv.Addr)
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}

// run builds and deploys the guest, and hands serve the service's mux.
func run(ctx context.Context, logger *slog.Logger, serve func(http.Handler) error) error {
	code, err := buildGuest(ctx)
	if err != nil {
		return err
	}
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	rt, err := lambda.New(lambda.Options{Logger: logger, CacheDir: filepath.Join(cacheDir, "wasmlambda")})
	if err != nil {
		return err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	fn, err := rt.Deploy(ctx, lambda.FunctionConfig{Name: "items", Code: code})
	if err != nil {
		return err
	}
	api := httpfn.New(httpfn.Options{})
	if _, err := fn.Attach(ctx, "url", api); err != nil {
		return err
	}

	mux := http.NewServeMux()
	// The function sees /items, as behind its own function URL.
	mux.Handle("/api/", http.StripPrefix("/api", api))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	return serve(mux)
}

// buildGuest compiles ./guest to WebAssembly with the Go toolchain.
func buildGuest(ctx context.Context) ([]byte, error) {
	_, file, _, _ := runtime.Caller(0)
	dir, err := os.MkdirTemp("", "http-api-guest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	wasm := filepath.Join(dir, "api.wasm")
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", wasm, ".")
	cmd.Dir = filepath.Join(filepath.Dir(file), "guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the guest: %v\n%s", err, out)
	}
	return os.ReadFile(wasm)
}
