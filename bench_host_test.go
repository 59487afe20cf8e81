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
// invocation, with the same 1 KiB in and out, and no host call.
func BenchmarkHostCall(b *testing.B) {
	m := lambda.NewHostModule("bench").Func("echo", func(_ context.Context, in []byte) ([]byte, error) { return in, nil })
	rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), HostModules: []*lambda.HostModule{m}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close(context.Background()) })
	fn := benchDeploy(b, rt, lambda.FunctionConfig{Name: "hostbench", Code: testguest.Go(b, "hostbench"), Capabilities: []string{"bench"}})
	data := strings.Repeat("x", 1024)
	for _, k := range []int{0, 1, 10} {
		name := "invoke"
		if k > 0 {
			name = fmt.Sprintf("invoke+%dcalls", k)
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			event := []byte(fmt.Sprintf("%d:%s", k, data))
			b.ReportAllocs()
			for b.Loop() {
				out, err := fn.Invoke(ctx, event)
				if err != nil {
					b.Fatal(err)
				}
				if !bytes.Equal(out, []byte(data)) {
					b.Fatalf("got %d bytes", len(out))
				}
			}
		})
	}
}
