package lambda_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// The typed guest is testdata/guests/go/typed, a handler written as for
// aws-lambda-go:
//
//	func handler(ctx context.Context, in Req) (Resp, error)
//	func init() { guest.Start(handler) }
//
// built with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
func Example() {
	ctx := context.Background()
	rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)

	fn, err := rt.Deploy(ctx, lambda.FunctionConfig{
		Name:    "greeter",
		Code:    testguest.MustGo("typed"),
		Timeout: 5 * time.Second,
	})
	if err != nil {
		panic(err)
	}

	type request struct {
		Name string `json:"name"`
	}
	type response struct {
		Greeting string `json:"greeting"`
	}
	resp, err := lambda.InvokeJSON[response](ctx, fn, request{Name: "Ada"})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Greeting)
	// Output: hello, Ada
}

// A function error carries AWS's errorType and errorMessage, and its
// Payload is the JSON AWS returns.
func ExampleFunctionError() {
	ctx := context.Background()
	rt, _ := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
	defer rt.Close(ctx)
	fn, _ := rt.Deploy(ctx, lambda.FunctionConfig{Name: "greeter", Code: testguest.MustGo("typed")})

	_, err := fn.Invoke(ctx, []byte(`{"name":""}`))
	var fe *lambda.FunctionError
	if errors.As(err, &fe) {
		fmt.Println(fe.Type)
		fmt.Println(fe.Message)
		fmt.Println(string(fe.Payload()))
	}
	// Output:
	// errorString
	// typed: no name given
	// {"errorMessage":"typed: no name given","errorType":"errorString"}
}

// Stats is a snapshot of the pool, as database/sql's DBStats.
func ExampleFunction_Stats() {
	ctx := context.Background()
	rt, _ := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
	defer rt.Close(ctx)
	fn, _ := rt.Deploy(ctx, lambda.FunctionConfig{
		Name:           "greeter",
		Code:           testguest.MustGo("typed"),
		MinWarm:        2, // provisioned concurrency
		MaxConcurrency: 4, // reserved concurrency
	})
	for i := 0; i < 3; i++ {
		_, _ = fn.Invoke(ctx, []byte(`{"name":"Ada"}`))
	}
	s := fn.Stats()
	fmt.Printf("open %d, idle %d, invocations %d, cold starts %d\n", s.Open, s.Idle, s.Invocations, s.ColdStarts)
	// Output: open 2, idle 2, invocations 3, cold starts 2
}

// A function that throttles, as AWS does, instead of waiting for a sandbox.
func ExampleFunctionConfig_throttle() {
	ctx := context.Background()
	rt, _ := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
	defer rt.Close(ctx)
	fn, _ := rt.Deploy(ctx, lambda.FunctionConfig{
		Name:             "busy",
		Code:             testguest.MustGo("behave"),
		MaxConcurrency:   1,
		ThrottleWhenBusy: true,
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = fn.Invoke(ctx, []byte(`{"op":"sleep","ms":200}`))
	}()
	for fn.Stats().InUse == 0 {
		time.Sleep(time.Millisecond)
	}
	_, err := fn.Invoke(ctx, []byte(`{"op":"counter"}`))
	fmt.Println(errors.Is(err, lambda.ErrThrottled), err)
	<-done
	// Output: true TooManyRequestsException: Rate Exceeded. Function busy is running at its MaxConcurrency of 1.
}
