// Command layers builds a Go guest to WebAssembly and deploys it with the
// files AWS gives a function: a layer under /opt, a zip package under
// /var/task, and a private, writable /tmp.
//
//	go run ./examples/layers
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	lambda "github.com/wasmlambda/lambda"
)

// layerFiles is the layer's content: layer/config/settings.json is
// /opt/config/settings.json to the guest.
//
//go:embed layer
var layerFiles embed.FS

// taskFiles go into the function's package beside the module:
// task/templates/greeting.txt is /var/task/templates/greeting.txt.
//
//go:embed task
var taskFiles embed.FS

func main() {
	if err := run(context.Background(), os.Stdout, slog.New(slog.NewTextHandler(os.Stderr, nil))); err != nil {
		log.Fatal(err)
	}
}

// run builds the guest, publishes the layer, deploys the function as
// "greeter" with its zip package and the layer, and invokes it.
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

	// A layer from an embedded directory. Its files are copied now: the
	// version never changes after.
	sub, err := fs.Sub(layerFiles, "layer")
	if err != nil {
		return err
	}
	layer, err := rt.PublishLayerVersion(ctx, "config", lambda.LayerContent{FS: sub})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "published %s (%d bytes)\n", layer.ARN(), layer.Size())

	// The function's package, as AWS's deployment zip: the module as
	// "bootstrap", and the files it reads under /var/task.
	pkg, names, err := packageZip(code)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "package: %v\n", names)

	fn, err := rt.Deploy(ctx, lambda.FunctionConfig{
		Name:           "greeter",
		Code:           pkg,
		Layers:         []*lambda.LayerVersion{layer},
		MaxConcurrency: 1, // one sandbox, so that both calls share its /tmp
	})
	if err != nil {
		return err
	}

	type response struct {
		Greeting string `json:"greeting"`
		Visits   int    `json:"visits"`
	}
	for _, name := range []string{"world", "gopher"} {
		resp, err := lambda.InvokeJSON[response](ctx, fn, map[string]string{"name": name})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s (visit %d, counted in /tmp/visits.log)\n", resp.Greeting, resp.Visits)
	}

	// /opt is read-only: the guest's write fails with EROFS.
	_, err = fn.Invoke(ctx, []byte(`{"op":"write-opt"}`))
	fmt.Fprintf(out, "write to /opt: %v\n", err)
	return nil
}

// packageZip makes the function's zip in memory: the module as
// "bootstrap" and the files under task/. It returns the zip and its names.
func packageZip(module []byte) ([]byte, []string, error) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	add := func(name string, data []byte) error {
		fw, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			return err
		}
		_, err = fw.Write(data)
		return err
	}
	names := []string{"bootstrap"}
	if err := add("bootstrap", module); err != nil {
		return nil, nil, err
	}
	sub, err := fs.Sub(taskFiles, "task")
	if err != nil {
		return nil, nil, err
	}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		names = append(names, name)
		return add(name, data)
	})
	if err != nil {
		return nil, nil, err
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), names, nil
}

// buildGuest compiles ./guest to WebAssembly with the Go toolchain.
func buildGuest(ctx context.Context) ([]byte, error) {
	_, file, _, _ := runtime.Caller(0)
	dir, err := os.MkdirTemp("", "layers-guest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	wasm := filepath.Join(dir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", wasm, ".")
	cmd.Dir = filepath.Join(filepath.Dir(file), "guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the guest: %v\n%s", err, out)
	}
	return os.ReadFile(wasm)
}
