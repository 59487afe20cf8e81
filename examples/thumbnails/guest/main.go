// The thumbnails guest: an AWS Lambda handler in Go for S3 event
// notifications, compiled to WebAssembly. For each JPEG or PNG object
// created, it reads the object through the bucket's read-only mount, and
// writes a PNG thumbnail, at most 128 pixels on its longer side, through the
// writable mount of the bucket's thumbnails/ prefix. It skips objects under
// thumbnails/, its own output, so that it does not trigger itself forever.
//
// Build it from the repository root with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o thumbnails.wasm ./examples/thumbnails/guest
package main

import (
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // decode JPEG
	"image/png"
	"os"
	"path"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/image/draw"

	"github.com/wasmlambda/lambda/guest"
)

// The guest paths the host grants: the bucket, read-only, and the bucket's
// thumbnails/ prefix, writable.
const (
	bucketPath = "/mnt/bucket"
	outPath    = "/mnt/thumbnails"
	outPrefix  = "thumbnails/"
	maxSide    = 128
)

// Result says what the handler did with each record.
type Result struct {
	Thumbnails []string `json:"thumbnails"`
	Skipped    []string `json:"skipped,omitempty"`
}

func handler(ctx context.Context, ev events.S3Event) (Result, error) {
	var res Result
	for _, r := range ev.Records {
		key := r.S3.Object.URLDecodedKey // aws-lambda-go decodes S3's form encoding
		if strings.HasPrefix(key, outPrefix) || !isImage(key) {
			res.Skipped = append(res.Skipped, key)
			continue
		}
		name, err := thumbnail(key)
		if err != nil {
			return res, fmt.Errorf("thumbnail of %s: %w", key, err)
		}
		fmt.Printf("%s -> %s%s\n", key, outPrefix, name)
		res.Thumbnails = append(res.Thumbnails, outPrefix+name)
	}
	return res, nil
}

func isImage(key string) bool {
	switch strings.ToLower(path.Ext(key)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// thumbnail writes the thumbnail of the object key, and returns its name
// under the output prefix.
func thumbnail(key string) (string, error) {
	f, err := os.Open(path.Join(bucketPath, key))
	if err != nil {
		return "", err
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		return "", err
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > h && w > maxSide {
		w, h = maxSide, max(1, h*maxSide/w)
	} else if h >= w && h > maxSide {
		w, h = max(1, w*maxSide/h), maxSide
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)

	name := strings.TrimSuffix(key, path.Ext(key)) + ".png"
	if err := os.MkdirAll(path.Dir(path.Join(outPath, name)), 0o755); err != nil {
		return "", err
	}
	out, err := os.Create(path.Join(outPath, name))
	if err != nil {
		return "", err
	}
	if err := png.Encode(out, dst); err != nil {
		out.Close()
		return "", err
	}
	// The object is written when the file is closed: its error matters.
	return name, out.Close()
}

// A reactor never runs main: register the handler in init.
func init() { guest.Start(handler) }

func main() {}
