package lambda_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// What deadline enforcement costs compiled code: CPU-bound workloads of the
// guests testdata/guests/c/work.c and testdata/guests/go/work, through the
// library (its fuel checks, deadline enforced) and through raw wazero with
// no enforcement at all, the floor. Each operation takes some milliseconds,
// so the invocation itself hardly counts.

var workloads = []struct{ guest, name, event string }{
	{"c", "loop", `"loop 10000000"`}, // the tightest loop: 4 instructions
	{"c", "fib", `"fib 27"`},         // recursive calls
	{"c", "sha256", `"sha256 8"`},    // 512 KiB of SHA-256 rounds
	{"c", "sort", `"sort 30000"`},    // qsort, its comparator called indirectly
	{"go", "loop", `"loop 2000000"`},
	{"go", "fib", `"fib 25"`},
	{"go", "sha256", `"sha256 8"`}, // crypto/sha256
	{"go", "sort", `"sort 30000"`}, // slices.Sort
}

func workGuest(b *testing.B, lang string) []byte {
	if lang == "c" {
		return testguest.C(b, "work", true)
	}
	return testguest.Go(b, "work")
}

// BenchmarkWorkload runs each workload through the library, warm, with the
// deadline enforced, and through raw wazero without enforcement, one after
// the other in every iteration, so that a noisy machine slows both alike.
// It reports each side's time per operation (lib-ns/op, raw-ns/op) and
// their ratio (x-raw); ns/op is their sum.
func BenchmarkWorkload(b *testing.B) {
	for _, w := range workloads {
		b.Run(w.guest+"/"+w.name, func(b *testing.B) {
			code := workGuest(b, w.guest)
			f := benchDeploy(b, benchRuntime(b), lambda.FunctionConfig{Name: "work", Code: code, MinWarm: 1, Timeout: time.Minute})
			raw := newRawGuest(b, code, false).instantiate(b)
			req := echoRequest()
			req.Payload = []byte(w.event)
			ctx := context.Background()
			lib := func() {
				out, err := f.Invoke(ctx, req.Payload)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := strconv.ParseUint(string(out), 10, 64); err != nil {
					b.Fatalf("%s: %s", w.event, out)
				}
			}
			bare := func() {
				if out := raw.call(b, req); len(out) == 0 || out[0] < '0' || out[0] > '9' {
					b.Fatalf("%s: %s", w.event, out)
				}
			}
			lib() // warm both
			bare()
			var libTime, rawTime time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				lib()
				mid := time.Now()
				bare()
				libTime += mid.Sub(start)
				rawTime += time.Since(mid)
			}
			b.ReportMetric(float64(libTime.Nanoseconds())/float64(b.N), "lib-ns/op")
			b.ReportMetric(float64(rawTime.Nanoseconds())/float64(b.N), "raw-ns/op")
			b.ReportMetric(float64(libTime)/float64(rawTime), "x-raw")
		})
	}
}
