package guest

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wasmlambda/lambda/internal/abi"
)

// noHandlerMessage explains Runtime.NoHandler.
const noHandlerMessage = "wasmlambda/guest: no handler is registered: call guest.Start from an init function " +
	"(in a -buildmode=c-shared build main never runs)"

// registered is the handler Start registered in reactor mode.
var registered Handler

// invokeEnvelope serves one ABI v1 invocation: it decodes the request
// envelope and runs the registered handler on it.
func invokeEnvelope(envelope []byte) (abi.Status, []byte) {
	if registered == nil {
		return sdkError(errTypeNoHandler, noHandlerMessage)
	}
	req, err := abi.DecodeRequestView(envelope)
	if err != nil {
		return sdkError(errTypeInvalidEnvelope, err.Error())
	}
	if req.Env != nil {
		// The host refreshes variables, the execution role's credentials,
		// before the handler runs: os.Getenv sees the new values.
		if err := abi.EachEnv(req.Env, setenv); err != nil {
			return sdkError(errTypeInvalidEnvelope, err.Error())
		}
	}
	return serveView(registered, &req)
}

// serve runs h on one request; see serveView.
func serve(h Handler, req *abi.Request) (abi.Status, []byte) {
	return serveView(h, &abi.RequestView{
		DeadlineMs:         req.DeadlineMs,
		MemoryMB:           req.MemoryMB,
		RequestID:          []byte(req.RequestID),
		FunctionName:       []byte(req.FunctionName),
		FunctionVersion:    []byte(req.FunctionVersion),
		InvokedFunctionARN: []byte(req.InvokedFunctionARN),
		ClientContext:      req.ClientContext,
		Identity:           req.Identity,
		Payload:            req.Payload,
		TraceID:            []byte(req.TraceID),
	})
}

// serveView runs h on one request: it builds the invocation context, calls
// h, recovers a panic, and returns the result status and payload. The
// context is cancelled when h returns.
//
// A handler built with a base context (WithContext, WithContextValue) gets
// what aws-lambda-go's loop gives it: lambdacontext.NewContext of
// context.WithDeadline of the base.
func serveView(h Handler, req *abi.RequestView) (abi.Status, []byte) {
	inv, err := newInvocation(req)
	if err != nil {
		return sdkError(errTypeInvalidContext, err.Error())
	}
	defer inv.cancel(canceled)
	if base := baseContext(h); base != nil {
		var (
			ctx    context.Context
			cancel context.CancelFunc
		)
		if d, ok := inv.Deadline(); ok {
			ctx, cancel = context.WithDeadline(base, d)
		} else {
			ctx, cancel = context.WithCancel(base)
		}
		defer cancel()
		return callHandler(lambdacontext.NewContext(ctx, &inv.lc), h, req.Payload)
	}
	return callHandler(inv, h, req.Payload)
}

// callHandler calls h and turns its outcome into a result. It is not
// inlined, so that a panic's stack names it and its deferred function the
// same way in every build.
//
//go:noinline
func callHandler(ctx context.Context, h Handler, payload []byte) (status abi.Status, result []byte) {
	defer func() {
		if v := recover(); v != nil {
			status, result = panicResponse(v)
		}
	}()
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		return errorResponse(err)
	}
	return abi.StatusOK, out
}

// setenv sets an environment variable the host sent with the envelope.
func setenv(name, value []byte) { _ = os.Setenv(string(name), string(value)) }
