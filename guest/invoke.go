package guest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

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
	req, err := abi.DecodeRequest(envelope)
	if err != nil {
		return sdkError(errTypeInvalidEnvelope, err.Error())
	}
	return serve(registered, &req)
}

// serve runs h on one request: it builds the invocation context, calls h,
// recovers a panic, and returns the result status and payload. The context is
// cancelled when h returns.
func serve(h Handler, req *abi.Request) (abi.Status, []byte) {
	ctx, cancel, err := invocationContext(context.Background(), req)
	if err != nil {
		return sdkError(errTypeInvalidContext, err.Error())
	}
	defer cancel()
	return callHandler(ctx, h, req.Payload)
}

// invocationContext derives the context a handler sees from parent: the
// deadline (none if req.DeadlineMs is not positive) and a
// *lambdacontext.LambdaContext.
func invocationContext(parent context.Context, req *abi.Request) (context.Context, context.CancelFunc, error) {
	lc := &lambdacontext.LambdaContext{
		AwsRequestID:       req.RequestID,
		InvokedFunctionArn: req.InvokedFunctionARN,
	}
	if len(req.ClientContext) > 0 {
		if err := json.Unmarshal(req.ClientContext, &lc.ClientContext); err != nil {
			return nil, nil, fmt.Errorf("failed to unmarshal client context json: %v", err)
		}
	}
	if len(req.Identity) > 0 {
		if err := json.Unmarshal(req.Identity, &lc.Identity); err != nil {
			return nil, nil, fmt.Errorf("failed to unmarshal cognito identity json: %v", err)
		}
	}
	var (
		ctx    context.Context
		cancel context.CancelFunc
	)
	if req.DeadlineMs > 0 {
		ctx, cancel = context.WithDeadline(parent, time.UnixMilli(req.DeadlineMs))
	} else {
		ctx, cancel = context.WithCancel(parent)
	}
	return lambdacontext.NewContext(ctx, lc), cancel, nil
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
