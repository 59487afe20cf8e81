package extism

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	extism "github.com/extism/go-sdk"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// wat assembles testdata/NAME.wat with wat2wasm.
func wat(tb testing.TB, name string) []byte {
	tb.Helper()
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		tb.Skipf("wat2wasm not installed: %v", err)
	}
	out := filepath.Join(tb.TempDir(), name+".wasm")
	if b, err := exec.Command("wat2wasm", filepath.Join("testdata", name+".wat"), "-o", out).CombinedOutput(); err != nil {
		tb.Fatalf("wat2wasm %s: %v\n%s", name, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// invoker runs one invocation of a benchmark guest: it sends in, whose
// first 8 bytes are the number of host calls, and returns the output.
type invoker func(ctx context.Context, in []byte) ([]byte, error)

// wasmlambdaWAT deploys testdata/wasmlambda.wat on a runtime with the host
// module bench, whose echo returns its input.
func wasmlambdaWAT(tb testing.TB) invoker {
	fn := deployBench(tb, wat(tb, "wasmlambda"))
	return func(ctx context.Context, in []byte) ([]byte, error) { return fn.Invoke(ctx, in) }
}

// wasmlambdaGo deploys the Go guest of the core module's BenchmarkHostCall
// (testdata/guests/go/hostbench), whose event is "K:DATA".
func wasmlambdaGo(tb testing.TB) invoker {
	fn := deployBench(tb, testguest.Go(tb, "hostbench"))
	return func(ctx context.Context, in []byte) ([]byte, error) {
		k := binary.LittleEndian.Uint64(in)
		return fn.Invoke(ctx, fmt.Appendf(nil, "%d:%s", k, in[8:]))
	}
}

func deployBench(tb testing.TB, code []byte) *lambda.Function {
	tb.Helper()
	m := lambda.NewHostModule("bench").Func("echo", func(_ context.Context, in []byte) ([]byte, error) { return in, nil })
	rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), HostModules: []*lambda.HostModule{m}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rt.Close(context.Background()) })
	fn, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "bench", Code: code, Capabilities: []string{"bench"}})
	if err != nil {
		tb.Fatal(err)
	}
	return fn
}

// extismPlugin instantiates testdata/extism.wat with Extism's go-sdk and
// the host function echo, which returns its input as Extism's host
// functions do: it reads the block the plugin passes and writes a new one.
// A timeout in milliseconds, when not 0, is the manifest's.
func extismPlugin(tb testing.TB, timeoutMs uint64) invoker {
	tb.Helper()
	ctx := context.Background()
	echo := extism.NewHostFunctionWithStack("echo", func(_ context.Context, p *extism.CurrentPlugin, stack []uint64) {
		in, err := p.ReadBytes(stack[0])
		if err != nil {
			panic(err)
		}
		out, err := p.WriteBytes(in)
		if err != nil {
			panic(err)
		}
		stack[0] = out
	}, []extism.ValueType{extism.ValueTypePTR}, []extism.ValueType{extism.ValueTypePTR})
	manifest := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wat(tb, "extism")}}, Timeout: timeoutMs}
	compiled, err := extism.NewCompiledPlugin(ctx, manifest, extism.PluginConfig{}, []extism.HostFunction{echo})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { compiled.Close(ctx) })
	plugin, err := compiled.Instance(ctx, extism.PluginInstanceConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { plugin.Close(ctx) })
	return func(ctx context.Context, in []byte) ([]byte, error) {
		rc, out, err := plugin.CallWithContext(ctx, "run", in)
		if err == nil && rc != 0 {
			err = fmt.Errorf("run returned %d", rc)
		}
		return out, err
	}
}

// runtimes are what BenchmarkRoundTrip compares.
var runtimes = []struct {
	name string
	new  func(testing.TB) invoker
}{
	{"wasmlambda-wat", wasmlambdaWAT},
	{"wasmlambda-go", wasmlambdaGo},
	{"extism-wat", func(tb testing.TB) invoker { return extismPlugin(tb, 0) }},
	{"extism-wat-timeout", func(tb testing.TB) invoker { return extismPlugin(tb, 3000) }},
}

// event is the input of K calls with 1 KiB.
func event(k int) (in, data []byte) {
	data = []byte(strings.Repeat("x", 1024))
	in = binary.LittleEndian.AppendUint64(nil, uint64(k))
	return append(in, data...), data
}

func TestRoundTrip(t *testing.T) {
	for _, r := range runtimes {
		t.Run(r.name, func(t *testing.T) {
			invoke := r.new(t)
			for _, k := range []int{0, 1, 3} {
				in, data := event(k)
				out, err := invoke(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, data) {
					t.Fatalf("%d calls: got %d bytes %.20q, want the 1 KiB of data", k, len(out), out)
				}
			}
		})
	}
}

// BenchmarkRoundTrip measures one invocation of a guest that calls a host
// function returning its input K times with 1 KiB, through wasmlambda and
// through Extism's go-sdk, in the same run. Each invocation also takes
// 1 KiB in and returns 1 KiB; "invoke" is K = 0, the invocation alone.
//
//   - wasmlambda-wat: testdata/wasmlambda.wat, on ABI v1, granted the host
//     module bench.
//   - wasmlambda-go: the Go guest of the core module's BenchmarkHostCall,
//     which calls bench.echo through guest.CallHost.
//   - extism-wat: testdata/extism.wat, on Extism's kernel ABI, copying to
//     and from Extism's memory as its PDKs do, with no timeout (Extism's
//     default).
//   - extism-wat-timeout: the same with a manifest timeout of 3 s, which
//     wasmlambda always has (AWS's default).
func BenchmarkRoundTrip(b *testing.B) {
	for _, r := range runtimes {
		b.Run(r.name, func(b *testing.B) {
			invoke := r.new(b)
			for _, k := range []int{0, 1, 10} {
				name := "invoke"
				if k > 0 {
					name = fmt.Sprintf("invoke+%dcall", k)
				}
				if k > 1 {
					name += "s"
				}
				in, data := event(k)
				b.Run(name, func(b *testing.B) {
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						out, err := invoke(ctx, in)
						if err != nil {
							b.Fatal(err)
						}
						if len(out) != len(data) {
							b.Fatalf("got %d bytes", len(out))
						}
					}
				})
			}
		})
	}
}
