package lambda_test

import (
	"context"
	"fmt"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// A host function sees the context the caller invoked with, and the
// invocation. The guest is testdata/guests/go/hostbench, whose event "K:DATA"
// makes it call bench.echo K times with DATA and answer the last output:
//
//	//go:wasmimport bench echo
//	func echo(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32
//
//	out, err := guest.CallHost(echo, data)
func ExampleNewHostModule() {
	type tenantKey struct{}
	ctx := context.Background()

	bench := lambda.NewHostModule("bench").Func("echo", func(ctx context.Context, in []byte) ([]byte, error) {
		inv, _ := lambda.InvocationFromContext(ctx)
		return fmt.Appendf(nil, "%s, %s (request %s)", in, ctx.Value(tenantKey{}), inv.RequestID), nil
	})
	rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), HostModules: []*lambda.HostModule{bench}})
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)

	fn, err := rt.Deploy(ctx, lambda.FunctionConfig{
		Name:         "plugin",
		Code:         testguest.MustGo("hostbench"),
		Capabilities: []string{"bench"}, // without it, Deploy refuses the module
	})
	if err != nil {
		panic(err)
	}
	out, err := fn.Invoke(context.WithValue(ctx, tenantKey{}, "acme"), []byte("1:hello"), lambda.WithRequestID("req-1"))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(out))
	// Output: hello, acme (request req-1)
}
