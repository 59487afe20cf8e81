package lambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/abi"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/wasm"
)

// The benchmarks come in pairs: the library, and beside it the floor that
// raw wazero sets for the same work on the same guest, with the same
// deadline enforcement (WithCloseOnContextDone and a per-call deadline).
// docs/PERFORMANCE.md holds the figures and the command.

var payload1K = []byte(`"` + strings.Repeat("x", 1022) + `"`)

func benchRuntime(b *testing.B) *lambda.Runtime {
	b.Helper()
	rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

func benchDeploy(b *testing.B, rt *lambda.Runtime, cfg lambda.FunctionConfig) *lambda.Function {
	b.Helper()
	f, err := rt.Deploy(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// rawGuest is the echo guest driven by wazero alone through ABI v1.
type rawGuest struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
}

// newRawGuest compiles code with raw wazero; guarded turns on wazero's
// deadline enforcement, WithCloseOnContextDone.
func newRawGuest(b *testing.B, code []byte, guarded bool) *rawGuest {
	b.Helper()
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(testguest.CacheDir())
	if err != nil {
		b.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().
		WithCloseOnContextDone(guarded).WithMemoryLimitPages(128*16).WithCompilationCache(cache))
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, code)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close(ctx); cache.Close(ctx) })
	return &rawGuest{rt: rt, compiled: compiled}
}

type rawInstance struct {
	mod    api.Module
	invoke api.Function
	ptr    uint32
	cap    uint32
	stack  []uint64
}

func (g *rawGuest) instantiate(b *testing.B) *rawInstance {
	ctx := context.Background()
	mod, err := g.rt.InstantiateModule(ctx, g.compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		b.Fatal(err)
	}
	if init := mod.ExportedFunction("_initialize"); init != nil {
		if _, err := init.Call(ctx); err != nil {
			b.Fatal(err)
		}
	}
	res, err := mod.ExportedFunction(abi.ExportAlloc).Call(ctx, 64<<10)
	if err != nil {
		b.Fatal(err)
	}
	return &rawInstance{mod: mod, invoke: mod.ExportedFunction(abi.ExportInvoke), ptr: uint32(res[0]), cap: 64 << 10, stack: make([]uint64, 2)}
}

// call is the floor of one invocation: a deadline, one bulk copy in, one
// guest call, one bulk copy out.
func (in *rawInstance) call(b *testing.B, req *abi.Request) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	n := req.Size()
	view, _ := in.mod.Memory().Read(in.ptr, uint32(n))
	req.Encode(view)
	in.stack[0], in.stack[1] = uint64(in.ptr), uint64(n)
	if err := in.invoke.CallWithStack(ctx, in.stack); err != nil {
		b.Fatal(err)
	}
	rec, _ := in.mod.Memory().Read(uint32(in.stack[0]), abi.ResultSize)
	_, ptr, size := abi.DecodeResult(rec)
	out, _ := in.mod.Memory().Read(ptr, size)
	return bytes.Clone(out)
}

func echoRequest() *abi.Request {
	return &abi.Request{DeadlineMs: time.Now().Add(time.Hour).UnixMilli(), MemoryMB: 128, RequestID: "8a2b3c4d-0000-4000-8000-000000000000",
		FunctionName: "echo", FunctionVersion: "$LATEST", InvokedFunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:echo", Payload: payload1K}
}

// echoGuests are the Go echo guests: "json" is a typed aws-lambda-go
// style handler (json.RawMessage in and out, decoded and re-encoded by the
// SDK as aws-lambda-go does); "bytes" is a guest.Handler that returns the
// payload untouched, so it measures the runtime and the SDK alone; "bare" is
// no SDK at all, the two ABI exports written by hand with //go:wasmexport,
// copying the payload into a new slice: the floor of a Go guest.
var echoGuests = []string{"json", "bytes", "bare"}

func echoGuest(b *testing.B, name string) []byte {
	switch name {
	case "json":
		return testguest.Go(b, "echo")
	case "bare":
		return testguest.Go(b, "bare")
	}
	return testguest.Go(b, "bytes")
}

// benchEcho times b.N invocations of f, warm, with the 1 KiB event, which
// f must echo.
func benchEcho(b *testing.B, f *lambda.Function) {
	ctx := context.Background()
	b.SetBytes(int64(len(payload1K)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := f.Invoke(ctx, payload1K)
		if err != nil || len(out) != len(payload1K) {
			b.Fatal(err, len(out))
		}
	}
}

// BenchmarkInvokeWarm: a 1 KiB echo through the library, warm sandbox, with
// its deadline enforced.
func BenchmarkInvokeWarm(b *testing.B) {
	for _, g := range echoGuests {
		b.Run(g, func(b *testing.B) {
			benchEcho(b, benchDeploy(b, benchRuntime(b), lambda.FunctionConfig{Name: "echo", Code: echoGuest(b, g), MinWarm: 1}))
		})
	}
}

// BenchmarkRawWazeroEcho: the same guests and work driven by raw wazero,
// with wazero's deadline enforcement (WithCloseOnContextDone and a deadline
// on every call): what the guarantee costs without this library.
func BenchmarkRawWazeroEcho(b *testing.B) { benchRawEcho(b, true) }

// BenchmarkRawWazeroEchoUnguarded: raw wazero with no deadline enforcement
// at all, the floor no safe runtime can reach.
func BenchmarkRawWazeroEchoUnguarded(b *testing.B) { benchRawEcho(b, false) }

func benchRawEcho(b *testing.B, guarded bool) {
	for _, g := range echoGuests {
		b.Run(g, func(b *testing.B) {
			in := newRawGuest(b, echoGuest(b, g), guarded).instantiate(b)
			req := echoRequest()
			b.SetBytes(int64(len(payload1K)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if out := in.call(b, req); len(out) != len(payload1K) {
					b.Fatal(len(out))
				}
			}
		})
	}
}

// BenchmarkNativeHandler: the json echo handler as a plain Go call through
// aws-lambda-go's lambda.NewHandler, in this process, unsandboxed.
func BenchmarkNativeHandler(b *testing.B) {
	h := awslambda.NewHandler(func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
	ctx := context.Background()
	b.SetBytes(int64(len(payload1K)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := h.Invoke(ctx, payload1K); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGuestJSON times JSON work inside a guest (testdata/guests/go/
// jsonbench), with the guest's own clock, per operation: a 1 KiB echo,
// decoded and encoded, of a JSON string and of an API Gateway style object,
// through aws-lambda-go's way with encoding/json (a json.RawMessage, or a
// typed event), the SDK's handlers, and encoding/json's scanner alone. Run
// with GOEXPERIMENT=jsonv2, the guest also has encoding/json/v2's, and its
// encoding/json is the one built on v2.
func BenchmarkGuestJSON(b *testing.B) {
	f := benchDeploy(b, benchRuntime(b), lambda.FunctionConfig{Name: "jsonbench", Code: testguest.Go(b, "jsonbench"), Timeout: time.Minute, MinWarm: 1})
	for _, payload := range []string{"string", "object"} {
		for _, op := range []string{"v1-raw", "v1-typed", "v1-valid", "sdk-raw", "sdk-typed", "v2-raw", "v2-typed", "v2-valid"} {
			b.Run(payload+"/"+op, func(b *testing.B) {
				out, err := f.Invoke(context.Background(), []byte(op+":"+payload+":"+strconv.Itoa(b.N)))
				if err != nil {
					if strings.Contains(err.Error(), "no op") {
						b.Skip(err)
					}
					b.Fatal(err)
				}
				var r struct {
					NsPerOp float64 `json:"ns_per_op"`
				}
				if err := json.Unmarshal(out, &r); err != nil {
					b.Fatal(err, string(out))
				}
				b.ReportMetric(r.NsPerOp, "guest-ns/op")
			})
		}
	}
}

// BenchmarkColdStart: every invocation in a new sandbox (MaxUses 1):
// instantiate, _initialize, one echo, close.
func BenchmarkColdStart(b *testing.B) {
	f := benchDeploy(b, benchRuntime(b), lambda.FunctionConfig{Name: "echo", Code: testguest.Go(b, "bytes"), MaxUses: 1})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Invoke(ctx, payload1K); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawInstantiate: the same cold start with raw wazero.
func BenchmarkRawInstantiate(b *testing.B) {
	g := newRawGuest(b, testguest.Go(b, "bytes"), true)
	req := echoRequest()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in := g.instantiate(b)
		in.call(b, req)
		in.mod.Close(context.Background())
	}
}

// BenchmarkDeployWarmCache: a deploy from a warm on-disk compilation cache,
// as a second process does: each iteration starts a new runtime and forgets
// the rewrites this process remembers, so nothing is cached in memory. Each
// iteration also compiles the module as BenchmarkRawCompileWarmCache does,
// right after, so that a noisy machine slows both alike: the deploy's time
// is lib-ns/op, the raw compile's raw-ns/op, their ratio x-raw (ns/op is
// their sum).
func BenchmarkDeployWarmCache(b *testing.B) {
	code := testguest.Go(b, "echo")
	ctx := context.Background()
	b.ReportMetric(float64(len(code))/(1<<20), "module-MiB")
	deploy := func() {
		wasm.ForgetRewrites() // nothing in memory, as in a new process
		rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rt.Deploy(ctx, lambda.FunctionConfig{Name: "echo", Code: code}); err != nil {
			b.Fatal(err)
		}
		rt.Close(ctx)
	}
	deploy() // fills the caches, if this is their first use
	rawCompileWarmCache(b, code)
	var lib, raw time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		deploy()
		mid := time.Now()
		rawCompileWarmCache(b, code)
		lib += mid.Sub(start)
		raw += time.Since(mid)
	}
	b.ReportMetric(float64(lib.Nanoseconds())/float64(b.N), "lib-ns/op")
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(lib)/float64(raw), "x-raw")
}

// rawCompileWarmCache compiles code with raw wazero from the shared
// compilation cache, opened afresh.
func rawCompileWarmCache(b *testing.B, code []byte) {
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(testguest.CacheDir())
	if err != nil {
		b.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true).WithCompilationCache(cache))
	if _, err := rt.CompileModule(ctx, code); err != nil {
		b.Fatal(err)
	}
	rt.Close(ctx)
	cache.Close(ctx)
}

// BenchmarkRawCompileWarmCache: raw wazero's compile from the same cache.
func BenchmarkRawCompileWarmCache(b *testing.B) {
	code := testguest.Go(b, "echo")
	rawCompileWarmCache(b, code) // fills the cache, if this is its first use
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rawCompileWarmCache(b, code)
	}
}

// BenchmarkDeployCold: a deploy that no cache helps, the first of a module
// in a new cache, in every iteration: with the default CompileWorkers
// (GOMAXPROCS), then with one worker, then raw wazero's compile of the
// original module, which uses one. Each is timed on its own, one after the
// other, so that a noisy machine slows each alike: workers-ns/op,
// one-ns/op and raw-ns/op; x-one and x-raw are the default's ratios to
// them.
func BenchmarkDeployCold(b *testing.B) {
	code := testguest.Go(b, "echo")
	ctx := context.Background()
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
	deploy := func(workers int) time.Duration {
		wasm.ForgetRewrites() // the rewrite is part of a first deploy
		start := time.Now()
		rt, err := lambda.New(lambda.Options{CompileWorkers: workers})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rt.Deploy(ctx, lambda.FunctionConfig{Name: "echo", Code: code}); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		rt.Close(ctx)
		return d
	}
	raw := func() time.Duration {
		start := time.Now()
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true))
		if _, err := rt.CompileModule(ctx, code); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		rt.Close(ctx)
		return d
	}
	var def, one, rawT time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		def += deploy(0)
		one += deploy(1)
		rawT += raw()
	}
	n := float64(b.N)
	b.ReportMetric(float64(def.Nanoseconds())/n, "workers-ns/op")
	b.ReportMetric(float64(one.Nanoseconds())/n, "one-ns/op")
	b.ReportMetric(float64(rawT.Nanoseconds())/n, "raw-ns/op")
	b.ReportMetric(float64(def)/float64(one), "x-one")
	b.ReportMetric(float64(def)/float64(rawT), "x-raw")
}

// BenchmarkThroughput: two goroutines invoking one function with two warm
// sandboxes.
func BenchmarkThroughput(b *testing.B) {
	f := benchDeploy(b, benchRuntime(b), lambda.FunctionConfig{Name: "echo", Code: testguest.Go(b, "bytes"), MinWarm: 2, MaxConcurrency: 2})
	ctx := context.Background()
	b.SetParallelism(2 / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.Invoke(ctx, payload1K); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRawThroughput: two goroutines, each with its own raw instance.
func BenchmarkRawThroughput(b *testing.B) {
	g := newRawGuest(b, testguest.Go(b, "bytes"), true)
	var mu sync.Mutex
	b.SetParallelism(2 / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		in := g.instantiate(b)
		mu.Unlock()
		req := echoRequest()
		for pb.Next() {
			in.call(b, req)
		}
	})
}

// BenchmarkMemoryPerInstance reports the resident memory one warm Go
// sandbox adds, over 32 of them.
func BenchmarkMemoryPerInstance(b *testing.B) {
	code := testguest.Go(b, "echo")
	const n = 32
	for i := 0; i < b.N; i++ {
		rt := benchRuntime(b)
		benchDeploy(b, rt, lambda.FunctionConfig{Name: "warm0", Code: code, MinWarm: 1})
		runtime.GC()
		before := rss(b)
		var ms0 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		f := benchDeploy(b, rt, lambda.FunctionConfig{Name: fmt.Sprint("warm", i+1), Code: code, MinWarm: n, MaxConcurrency: n})
		runtime.GC()
		var ms1 runtime.MemStats
		runtime.ReadMemStats(&ms1)
		b.ReportMetric(float64(rss(b)-before)/n/(1<<20), "RSS-MiB/instance")
		b.ReportMetric(float64(ms1.HeapAlloc-ms0.HeapAlloc)/n/(1<<20), "heap-MiB/instance")
		f.Close(context.Background())
	}
}

// rss reads the process's resident set size from /proc.
func rss(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	b.Skip("no VmRSS")
	return 0
}

// BenchmarkTimeoutOvershoot reports how long past a 20 ms deadline an
// endless loop keeps running.
func BenchmarkTimeoutOvershoot(b *testing.B) {
	const timeout = 20 * time.Millisecond
	f := benchDeploy(b, benchRuntime(b), lambda.FunctionConfig{Name: "loop", Code: testguest.WAT(b, "loop"), Timeout: timeout})
	var total time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := f.Invoke(context.Background(), nil); err == nil {
			b.Fatal("want a timeout")
		}
		total += time.Since(start) - timeout
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs-overshoot")
}
