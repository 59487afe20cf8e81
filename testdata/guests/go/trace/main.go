// Command trace is the Go test guest that reports its invocation's X-Ray
// trace ID as aws-lambda-go hands it to a handler: {"env": the variable
// _X_AMZN_TRACE_ID, "ctx": the context value "x-amzn-trace-id"}. Its
// event is ignored.
//
// Build from the repository root:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o trace.wasm ./testdata/guests/go/trace
package main

import (
	"context"
	"os"

	"github.com/wasmlambda/lambda/guest"
)

type seen struct {
	Env string `json:"env"`
	Ctx string `json:"ctx"`
}

func handler(ctx context.Context) (seen, error) {
	v, _ := ctx.Value("x-amzn-trace-id").(string)
	return seen{Env: os.Getenv("_X_AMZN_TRACE_ID"), Ctx: v}, nil
}

// A reactor never runs main: register the handler in init.
func init() { guest.Start(handler) }

func main() {}
