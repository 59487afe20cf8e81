// Command thumbnails builds a Go guest to WebAssembly and runs the classic
// Lambda job on an embedded S3 bucket: every image uploaded gets a PNG
// thumbnail. The bucket notifies the function of each object created; the
// function reads the object through a read-only mount of the bucket, and
// writes the thumbnail through a writable mount of the bucket's thumbnails/
// prefix, which creates an object, and so another notification, which the
// guest skips as its own output.
//
//	go run ./examples/thumbnails
//
// With -dir DIR the bucket is kept in a directory instead of in memory, and
// the thumbnails stay there afterwards.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/s3"
)

func main() {
	dir := flag.String("dir", "", "keep the bucket in this directory (default: in memory)")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, slog.New(slog.NewTextHandler(os.Stderr, nil)), *dir); err != nil {
		log.Fatal(err)
	}
}

// samples are the images the example uploads: name, size, and encoding.
var samples = []struct {
	key  string
	w, h int
}{
	{"uploads/sunset.png", 640, 480},
	{"uploads/portrait.jpg", 300, 900},
	{"uploads/holiday photos/beach (1).jpg", 1024, 768},
	{"uploads/tiny.png", 64, 48},
}

// run uploads the samples and waits until each has its thumbnail.
func run(ctx context.Context, out io.Writer, logger *slog.Logger, dir string) error {
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
	defer rt.Close(ctx)

	bucket, err := s3.NewBucket("photos", s3.BucketOptions{Dir: dir})
	if err != nil {
		return err
	}
	defer bucket.Close()

	// The function sees the bucket read-only at /mnt/bucket, and may write
	// only under thumbnails/, at /mnt/thumbnails. It sees no other bucket.
	fn, err := rt.Deploy(ctx, lambda.FunctionConfig{
		Name:       "thumbnails",
		Code:       code,
		MemorySize: 256,
		Timeout:    30 * time.Second,
		Mounts: []lambda.Mount{
			{Path: "/mnt/bucket", FS: bucket.FS("")},
			{Path: "/mnt/thumbnails", FS: bucket.WriteFS("thumbnails/"), ReadWrite: true},
		},
	})
	if err != nil {
		return err
	}
	att, err := fn.Attach(ctx, "photos", &s3.Notifications{
		Source: bucket,
		Rules:  []s3.Rule{{ID: "thumbnail-every-image", Events: []string{"s3:ObjectCreated:*"}}},
	})
	if err != nil {
		return err
	}

	for _, s := range samples {
		data, err := sampleImage(s.key, s.w, s.h)
		if err != nil {
			return err
		}
		if _, err := bucket.Put(ctx, s.key, bytes.NewReader(data)); err != nil {
			return err
		}
	}

	// Each upload makes one invocation, and each thumbnail one more, which
	// the guest skips.
	want := int64(2 * len(samples))
	deadline := time.Now().Add(2 * time.Minute)
	for st := fn.AsyncStats(); st.Succeeded+st.DeadLettered < want; st = fn.AsyncStats() {
		if time.Now().After(deadline) {
			return fmt.Errorf("after two minutes, %d of %d invocations are done: %+v", st.Succeeded+st.DeadLettered, want, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := att.Detach(ctx); err != nil {
		return err
	}
	if st := fn.AsyncStats(); st.DeadLettered > 0 {
		return fmt.Errorf("%d invocations failed", st.DeadLettered)
	}

	return bucket.List(ctx, "thumbnails/", func(o s3.Object) error {
		r, err := bucket.Get(ctx, o.Key)
		if err != nil {
			return err
		}
		defer r.Close()
		cfg, err := png.DecodeConfig(r)
		if err != nil {
			return fmt.Errorf("%s: %w", o.Key, err)
		}
		fmt.Fprintf(out, "%s %dx%d\n", o.Key, cfg.Width, cfg.Height)
		return nil
	})
}

// sampleImage draws a w×h gradient, encoded as the key's extension says.
func sampleImage(key string, w, h int) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(255 * x / w), uint8(255 * y / h), 128, 255})
		}
	}
	var buf bytes.Buffer
	var err error
	if filepath.Ext(key) == ".png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, nil)
	}
	return buf.Bytes(), err
}

// buildGuest compiles ./guest to WebAssembly with the Go toolchain.
func buildGuest(ctx context.Context) ([]byte, error) {
	_, file, _, _ := runtime.Caller(0)
	dir, err := os.MkdirTemp("", "thumbnails-guest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	wasm := filepath.Join(dir, "thumbnails.wasm")
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", wasm, ".")
	cmd.Dir = filepath.Join(filepath.Dir(file), "guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the guest: %v\n%s", err, out)
	}
	return os.ReadFile(wasm)
}
