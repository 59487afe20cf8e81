// Package guest runs an AWS-Lambda-style Go handler inside a wasmlambda host.
//
// A guest is an ordinary Go program that registers its handler with Start from
// an init function and is compiled to a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o function.wasm .
//
// A reactor never runs main; the host calls its _initialize export once, which
// runs the package init functions, and then calls the ABI v1 exports
// (wasmlambda_v1_alloc and wasmlambda_v1_invoke, see docs/ABI.md) once per
// invocation. The instance stays warm between invocations, so package-level
// state survives from one event to the next as it does on AWS Lambda.
//
//	package main
//
//	import (
//		"context"
//
//		"github.com/wasmlambda/lambda/guest"
//	)
//
//	func handler(ctx context.Context, name string) (string, error) {
//		return "hello, " + name, nil
//	}
//
//	func init() { guest.Start(handler) }
//
//	func main() {}
//
// Start accepts every handler signature that aws-lambda-go's lambda.Start
// accepts, decodes the event and encodes the response as it does, and builds a
// context that carries the deadline and a *lambdacontext.LambdaContext, so
// handler code written for AWS Lambda moves over with only the init wiring
// changed.
//
// The context behaves as context.WithDeadline's would, wrapped by
// lambdacontext.NewContext, for everything the standard library does with
// it (derived contexts, context.AfterFunc, context.Cause), but it is
// cheaper: it starts no timer unless the handler, or a context derived
// from it, calls Done, and its Err reports context.DeadlineExceeded as soon
// as the deadline has passed, by the clock, rather than once a timer has
// fired. It is cancelled when the handler returns.
//
// A json.RawMessage or []byte event or response is decoded and encoded
// without encoding/json's scanner, whose call per byte is slow in
// WebAssembly, but to the same bytes and with the same errors: see
// NewHandler. Other types go through encoding/json, as in aws-lambda-go. A
// guest built with GOEXPERIMENT=jsonv2 gets the encoding/json that Go
// implements on top of encoding/json/v2, which differs in details, and
// then the SDK leaves every event and response to it (docs/PERFORMANCE.md
// compares them).
//
// A returned error becomes a function error (result status 1) whose
// errorMessage is err.Error() and whose errorType is the name of the error's
// type, through one pointer ("errorString" for errors.New, "" for an unnamed
// type), as aws-lambda-go reports it; an error that is a
// messages.InvokeResponse_Error is reported as it is. A panic in the handler
// is recovered and becomes a fatal function error (status 2: the host
// discards the instance) with the panic value as the message, its type's
// name as the errorType, and the stack as aws-lambda-go sends it as the
// stackTrace: the top 32 frames, from the SDK's that recovered the panic
// through runtime.gopanic and the handler's to the SDK's and reflect's that
// called it.
//
// A guest calls the host application's functions, when its function is
// granted them (lambda.FunctionConfig.Capabilities), through CallHost and
// CallHostJSON, each host function declared with //go:wasmimport (see
// HostFunc); Setting reads the function's settings and NewLogHandler logs to
// the host's logger. docs/ABI.md has the contract.
//
// Built without -buildmode=c-shared, the same program is a WASI command (the
// host's compatibility mode): Start then serves exactly one event read from
// standard input, writes the response to standard output and exits.
//
// The package does not import aws-lambda-go's lambda package, which would pull
// net/http into every guest; lambdacontext, events and lambda/messages are
// small and may be used freely.
package guest
