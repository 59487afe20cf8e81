package lambda_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

const xrayID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

// TestWithTraceID checks that a trace ID given with WithTraceID reaches a
// Go guest as aws-lambda-go hands it on, and that a guest that predates
// the envelope's trace ID field (the C guest) still reads its event.
func TestWithTraceID(t *testing.T) {
	ctx := waitCtx(t)
	rt := newRuntime(t, lambda.Options{})
	tr := deploy(t, rt, lambda.FunctionConfig{Name: "trace", Code: testguest.Go(t, "trace")})
	for _, id := range []string{xrayID, ""} {
		out, err := tr.Invoke(ctx, []byte(`{}`), lambda.WithTraceID(id))
		require.NoError(t, err)
		require.JSONEq(t, `{"env":"`+id+`","ctx":"`+id+`"}`, string(out))
	}
	c := deploy(t, rt, lambda.FunctionConfig{Name: "c", Code: testguest.C(t, "echo", true)})
	out, err := c.Invoke(ctx, []byte(`{"hello":"world"}`), lambda.WithTraceID(xrayID))
	require.NoError(t, err)
	require.JSONEq(t, `{"hello":"world"}`, string(out))
}

// TestObserverSandboxes checks the sandbox hooks: a cold start, a sandbox
// discarded after a timeout, and the one left closed at shutdown.
func TestObserverSandboxes(t *testing.T) {
	ctx := waitCtx(t)
	var mu sync.Mutex
	var events []string
	var done []lambda.InvokeDoneInfo
	obs := &lambda.Observer{
		SandboxCreated: func(info lambda.SandboxInfo) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, "created "+info.Function+" "+info.Version)
		},
		SandboxDiscarded: func(info lambda.SandboxInfo) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, "discarded "+info.Reason)
		},
		InvokeDone: func(_ context.Context, info lambda.InvokeDoneInfo) {
			mu.Lock()
			defer mu.Unlock()
			done = append(done, info)
		},
	}
	rt := newRuntime(t, lambda.Options{Observer: obs})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "sb", Code: testguest.Go(t, "behave"), Timeout: time.Second})
	_, err := f.Invoke(ctx, []byte(`{"op":"echo"}`))
	require.NoError(t, err)
	_, err = f.Invoke(ctx, []byte(`{"op":"loop"}`))
	require.ErrorIs(t, err, lambda.ErrTimeout)
	_, err = f.Invoke(ctx, []byte(`{"op":"echo"}`))
	require.NoError(t, err)
	require.NoError(t, rt.Close(ctx))

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"created sb $LATEST", "discarded error", "created sb $LATEST", "discarded shutdown"}, events)
	require.Len(t, done, 3)
	require.Equal(t, []bool{true, false, true}, []bool{done[0].ColdStart, done[1].ColdStart, done[2].ColdStart})
	require.Equal(t, lambda.ErrorKindTimeout, done[1].ErrorKind)
	require.Equal(t, time.Second, done[1].Duration, "a timed-out invocation lasted its timeout")
	require.Greater(t, done[0].InitDuration, time.Duration(0))
	require.Greater(t, done[0].MaxMemoryUsed, uint64(0))
	require.Equal(t, "sb", done[0].Function)
}
