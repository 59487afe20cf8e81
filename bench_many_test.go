package lambda_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/wasm"
)

// rssBytes is the process's resident memory, from /proc/self/statm; 0
// where there is none.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(fields[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// settledRSS is the resident memory after a garbage collection.
func settledRSS() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return rssBytes()
}

// BenchmarkDeployMany deploys the Go echo module as 1,000 functions on one
// runtime, in one run, with a warm disk cache and nothing in memory, as a
// new process would: the first deploy compiles (from the disk cache), the
// others share its code. It reports the first deploy's time and resident
// memory (first-ms, first-KiB), the 1,000th's time (nth-us), the median of
// the last hundred (last100-us, steadier on a noisy machine), and the mean
// time and resident memory of the 999 after the first (extra-us,
// extra-KiB). Run it with -benchtime=1x.
func BenchmarkDeployMany(b *testing.B) {
	const n = 1000
	code := testguest.Go(b, "echo")
	ctx := context.Background()
	b.ReportMetric(float64(len(code))/(1<<20), "module-MiB")
	for range b.N {
		wasm.ForgetRewrites()
		rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
		if err != nil {
			b.Fatal(err)
		}
		deploy := func(i int) time.Duration {
			start := time.Now()
			_, err := rt.Deploy(ctx, lambda.FunctionConfig{Name: fmt.Sprintf("echo-%04d", i), Code: code, MemorySize: 128 << (i % 3)})
			d := time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			return d
		}
		rss0 := settledRSS()
		first := deploy(0)
		rss1 := settledRSS()
		var extra, nth time.Duration
		var last []time.Duration
		for i := 1; i < n; i++ {
			d := deploy(i)
			extra += d
			nth = d
			if i >= n-100 {
				last = append(last, d)
			}
		}
		slices.Sort(last)
		rssN := settledRSS()
		b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
		b.ReportMetric(float64(rss1-rss0)/1024, "first-KiB")
		b.ReportMetric(float64(nth.Nanoseconds())/1000, "nth-us")
		b.ReportMetric(float64(last[len(last)/2].Nanoseconds())/1000, "last100-us")
		b.ReportMetric(float64(extra.Nanoseconds())/1000/(n-1), "extra-us")
		b.ReportMetric(float64(rssN-rss1)/1024/(n-1), "extra-KiB")
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
		if err := rt.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// distinctModules returns n small ABI v1 modules, each the hand-written
// counter guest with a custom section of its own: different code, compiled
// one by one.
func distinctModules(tb testing.TB, n int) [][]byte {
	base := testguest.WAT(tb, "counter")
	mods := make([][]byte, n)
	for i := range mods {
		var sec bytes.Buffer
		name := "variant"
		sec.WriteByte(byte(len(name)))
		sec.WriteString(name)
		sec.Write(binary.LittleEndian.AppendUint32(nil, uint32(i)))
		m := append(bytes.Clone(base), 0) // custom section
		m = append(m, byte(sec.Len()))
		mods[i] = append(m, sec.Bytes()...)
	}
	return mods
}

// BenchmarkDeployDistinct deploys 1,000 distinct small modules (see
// distinctModules) on one runtime, invokes each once, and reports the mean
// time and resident memory per function, deployed and idle (per-us,
// per-KiB), and the resident memory after they are all closed (closed-KiB,
// beside the start). Run it with -benchtime=1x.
func BenchmarkDeployDistinct(b *testing.B) {
	const n = 1000
	mods := distinctModules(b, n)
	ctx := context.Background()
	for range b.N {
		rt, err := lambda.New(lambda.Options{CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		rss0 := settledRSS()
		start := time.Now()
		fs := make([]*lambda.Function, n)
		for i, code := range mods {
			if fs[i], err = rt.Deploy(ctx, lambda.FunctionConfig{Name: fmt.Sprintf("counter-%04d", i), Code: code, MaxUses: 1}); err != nil {
				b.Fatal(err)
			}
			if _, err := fs[i].Invoke(ctx, []byte(`"x"`)); err != nil {
				b.Fatal(err)
			}
		}
		took := time.Since(start)
		rssN := settledRSS()
		for _, f := range fs {
			if err := f.Close(ctx); err != nil {
				b.Fatal(err)
			}
		}
		rssClosed := settledRSS()
		b.ReportMetric(float64(took.Nanoseconds())/1000/n, "per-us")
		b.ReportMetric(float64(rssN-rss0)/1024/n, "per-KiB")
		b.ReportMetric(float64(rssClosed-rss0)/1024, "closed-KiB")
		b.ReportMetric(float64(lambda.SharedModules(rt)), "modules-left")
		if err := rt.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
