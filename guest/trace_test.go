package guest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/abi"
)

// traceSeen is what a handler sees of its trace ID: the context value
// aws-lambda-go sets and the environment variable.
func traceSeen(ctx context.Context, _ struct{}) ([]string, error) {
	v, _ := ctx.Value("x-amzn-trace-id").(string)
	return []string{v, os.Getenv("_X_AMZN_TRACE_ID")}, nil
}

// TestTraceID checks that the trace ID of each invocation reaches the
// handler as aws-lambda-go hands it on: as the context value
// "x-amzn-trace-id" and as _X_AMZN_TRACE_ID, both empty without one.
func TestTraceID(t *testing.T) {
	const id1 = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	const id2 = "Root=1-5759e988-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad9;Sampled=0"
	t.Cleanup(func() { setTraceEnv(nil) })
	h := mustHandler(t, traceSeen)
	for _, id := range []string{id1, id1, "", id2, ""} {
		status, out := invokeEnvelope(envelopeWith(t, h, abi.Request{Payload: []byte(`{}`), TraceID: id}))
		require.Equal(t, abi.StatusOK, status, string(out))
		require.JSONEq(t, `["`+id+`","`+id+`"]`, string(out), "trace ID %q", id)
	}

	// In compatibility mode the host sets the variable, and the SDK reads it.
	var stdout strings.Builder
	env := map[string]string{abi.EnvRequestID: "r", abi.EnvTraceID: id2}
	require.Equal(t, 0, runCommand(h, strings.NewReader(`{}`), &stdout, func(k string) string { return env[k] }))
	require.JSONEq(t, `["`+id2+`","`+id2+`"]`, stdout.String())
}

// envelopeWith registers h for the test and returns r's envelope.
func envelopeWith(t *testing.T, h Handler, r abi.Request) []byte {
	setRegistered(t, h)
	return envelope(r)
}
