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

// InvokeAsync answers at once with the request ID, as AWS's Event
// invocation answers 202. The event then runs under the function's retry
// policy, and one that fails for good reaches the dead-letter sink.
func ExampleFunction_InvokeAsync() {
	ctx := context.Background()
	rt, _ := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
	defer rt.Close(ctx)

	sink := &lambda.MemorySink{}
	fn, _ := rt.Deploy(ctx, lambda.FunctionConfig{
		Name: "orders",
		Code: testguest.MustGo("behave"),
		Async: lambda.AsyncConfig{
			MaxRetryAttempts: lambda.Retries(1),                      // AWS's default is 2
			RetryBackoff:     []time.Duration{10 * time.Millisecond}, // AWS waits 1 minute
			DeadLetter:       sink,
		},
	})

	id, err := fn.InvokeAsync(ctx, []byte(`{"op":"error","message":"payment declined"}`))
	if err != nil {
		panic(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := sink.WaitLen(wctx, 1); err != nil {
		panic(err)
	}
	dl := sink.Letters()[0]
	fmt.Println(dl.RequestID == id)
	fmt.Println(dl.Condition, dl.Attempts)
	fmt.Println(dl.ErrorType+":", dl.ErrorMessage)
	fmt.Println(string(dl.Payload))
	// Output:
	// true
	// RetriesExhausted 2
	// errorString: payment declined
	// {"op":"error","message":"payment declined"}
}

// Redrive replays dead letters through the fixed function and removes
// those that now succeed from the sink.
func ExampleFunction_Redrive() {
	ctx := context.Background()
	rt, _ := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
	defer rt.Close(ctx)

	sink := &lambda.MemorySink{}
	buggy, _ := rt.Deploy(ctx, lambda.FunctionConfig{
		Name:  "orders",
		Code:  testguest.MustGo("behave"),
		Async: lambda.AsyncConfig{MaxRetryAttempts: lambda.Retries(0), DeadLetter: sink},
	})
	for i := 1; i <= 3; i++ {
		_, _ = buggy.InvokeAsync(ctx, []byte(fmt.Sprintf(`{"op":"error","message":"bug","data":%d}`, i)))
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := sink.WaitLen(wctx, 3); err != nil {
		panic(err)
	}
	_ = buggy.Close(ctx)

	// The fix goes out under the same name; the echo guest stands in for it.
	fixed, _ := rt.Deploy(ctx, lambda.FunctionConfig{Name: "orders", Code: testguest.MustGo("echo")})
	rep, err := fixed.Redrive(ctx, sink, lambda.RedriveOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d succeeded, %d failed, %d left in the sink\n", len(rep.Succeeded), len(rep.Failed), sink.Len())
	// Output: 3 succeeded, 0 failed, 0 left in the sink
}
