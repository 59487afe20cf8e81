package lambda_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// The file-system benchmarks: what a function's layers, package and /tmp
// add to a cold start and to a warm invocation. docs/PERFORMANCE.md holds
// the figures and the command.

// benchLayers publishes 5 layers (AWS's most) of 200 small files each, in
// 10 folders that every layer shares, so that the folders merge.
func benchLayers(b *testing.B, rt *lambda.Runtime) []*lambda.LayerVersion {
	b.Helper()
	var ls []*lambda.LayerVersion
	for i := 0; i < 5; i++ {
		files := fstest.MapFS{}
		for j := 0; j < 200; j++ {
			files[fmt.Sprintf("lib/d%d/l%d-f%d.txt", j%10, i, j)] = &fstest.MapFile{Data: []byte(strings.Repeat("x", 256))}
		}
		files["config/settings.json"] = &fstest.MapFile{Data: []byte(fmt.Sprintf(`{"layer":%d}`, i))}
		l, err := rt.PublishLayerVersion(context.Background(), fmt.Sprint("bench", i), lambda.LayerContent{FS: files})
		if err != nil {
			b.Fatal(err)
		}
		ls = append(ls, l)
	}
	return ls
}

// benchPackage zips module as "bootstrap" with 50 small files beside it.
func benchPackage(b *testing.B, module []byte) []byte {
	b.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		fw, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err == nil {
			_, err = fw.Write(data)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	add("bootstrap", module)
	for i := 0; i < 50; i++ {
		add(fmt.Sprintf("templates/t%d.txt", i), []byte(strings.Repeat("y", 512)))
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// withFiles deploys cfg as it is ("none"), or ("layers") with its module
// zipped in a package of 50 files and the 5 layers of benchLayers.
func withFiles(b *testing.B, rt *lambda.Runtime, variant string, cfg lambda.FunctionConfig) *lambda.Function {
	b.Helper()
	if variant == "layers" {
		cfg.Code = benchPackage(b, cfg.Code)
		cfg.Layers = benchLayers(b, rt)
	}
	return benchDeploy(b, rt, cfg)
}

// BenchmarkFilesystem:
//
//   - cold/{none,layers}: BenchmarkColdStart (a new sandbox per invocation,
//     MaxUses 1, the bytes echo guest), without and with 5 layers of 200
//     files and a zip package of 50 files;
//   - warm/{none,layers}/{json,bytes}: BenchmarkInvokeWarm, the same two
//     ways;
//   - warm/read-opt, warm/read-tmp: the behave guest reading a 1 KiB file
//     each call, from /opt (5 layers merged: 4 of benchLayers and one with
//     the file) or from its /tmp; warm/read-none is the floor of a call to
//     that guest, its echo op with no data (it returns null).
func BenchmarkFilesystem(b *testing.B) {
	variants := []string{"none", "layers"}
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		for _, v := range variants {
			b.Run(v, func(b *testing.B) {
				f := withFiles(b, benchRuntime(b), v, lambda.FunctionConfig{Name: "echo", Code: testguest.Go(b, "bytes"), MaxUses: 1})
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := f.Invoke(ctx, payload1K); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
	b.Run("warm", func(b *testing.B) {
		for _, v := range variants {
			b.Run(v, func(b *testing.B) {
				for _, g := range echoGuests {
					b.Run(g, func(b *testing.B) {
						benchEcho(b, withFiles(b, benchRuntime(b), v, lambda.FunctionConfig{Name: "echo", Code: echoGuest(b, g), MinWarm: 1}))
					})
				}
			})
		}
		small := strings.Repeat("z", 1024)
		for _, tc := range []struct{ name, event string }{
			{"read-none", `{"op":"echo"}`},
			{"read-opt", `{"op":"read","path":"/opt/data/small.txt"}`},
			{"read-tmp", `{"op":"read","path":"/tmp/small.txt"}`},
		} {
			b.Run(tc.name, func(b *testing.B) {
				rt := benchRuntime(b)
				layers := benchLayers(b, rt)[:4] // and the data layer: 5
				data, err := rt.PublishLayerVersion(ctx, "data", lambda.LayerContent{FS: fstest.MapFS{"data/small.txt": {Data: []byte(small)}}})
				if err != nil {
					b.Fatal(err)
				}
				f := benchDeploy(b, rt, lambda.FunctionConfig{Name: "reader", Code: benchPackage(b, testguest.Go(b, "behave")),
					Layers: append(layers, data), MinWarm: 1, MaxConcurrency: 1})
				if _, err := f.Invoke(ctx, []byte(`{"op":"write","path":"/tmp/small.txt","text":"`+small+`"}`)); err != nil {
					b.Fatal(err)
				}
				event := []byte(tc.event)
				want := len(`{"data":"` + small + `"}`)
				if tc.name == "read-none" {
					want = len("null")
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					out, err := f.Invoke(ctx, event)
					if err != nil || len(out) != want {
						b.Fatal(err, string(out))
					}
				}
			})
		}
	})
}
