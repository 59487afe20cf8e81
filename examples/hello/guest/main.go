// The hello guest: an AWS Lambda handler in Go, compiled to WebAssembly.
//
// Build it from the repository root with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hello.wasm ./examples/hello/guest
package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wasmlambda/lambda/guest"
)

// Event is what the function receives.
type Event struct {
	Name string `json:"name"`
}

// Response is what it returns.
type Response struct {
	Greeting string `json:"greeting"`
	Function string `json:"function"`
	Calls    int    `json:"calls"`
}

// calls lives in the sandbox's globals, which persist while it stays warm.
var calls int

func handler(ctx context.Context, e Event) (Response, error) {
	if e.Name == "" {
		return Response{}, fmt.Errorf("name is required")
	}
	calls++
	lc, _ := lambdacontext.FromContext(ctx)
	fmt.Printf("greeting %s in request %s\n", e.Name, lc.AwsRequestID)
	return Response{
		Greeting: "Hello, " + e.Name + "!",
		Function: lambdacontext.FunctionName,
		Calls:    calls,
	}, nil
}

// A reactor never runs main, so the handler is registered in init.
func init() { guest.Start(handler) }

func main() {}
