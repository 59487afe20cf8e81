package lambda_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// BenchmarkHostCall measures a guest's call of a host function, guest to
// host and back with 1 KiB each way, beside the plain warm invoke it rides
// on. The guest (testdata/guests/go/hostbench) is a guest.Handler that
// decodes no JSON; its event "K:DATA" makes it call the host function
// bench.echo K times with the 1 KiB DATA. "invoke" is K = 0: the same
// invocation, with the same 1 KiB in and out, and no host call;
// "invoke+10calls-empty" makes ten calls with nothing in or out.
func BenchmarkHostCall(b *testing.B) {
	m := lambda.NewHostModule("bench").Func("echo", func(_ context.Context, in []byte) ([]byte, error) { return in, nil })
	rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), HostModules: []*lambda.HostModule{m}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close(context.Background()) })
	fn := benchDeploy(b, rt, lambda.FunctionConfig{Name: "hostbench", Code: testguest.Go(b, "hostbench"), Capabilities: []string{"bench"}})
	for _, bc := range []struct {
		name  string
		calls int
		size  int
	}{
		{"invoke", 0, 1024},
		{"invoke+1call", 1, 1024},
		{"invoke+10calls", 10, 1024},
		{"invoke+10calls-empty", 10, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			data := []byte(strings.Repeat("x", bc.size))
			event := fmt.Appendf(nil, "%d:%s", bc.calls, data)
			b.ReportAllocs()
			for b.Loop() {
				out, err := fn.Invoke(ctx, event)
				if err != nil {
					b.Fatal(err)
				}
				if !bytes.Equal(out, data) {
					b.Fatalf("got %d bytes", len(out))
				}
			}
		})
	}
}
