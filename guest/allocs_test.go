package guest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/abi"
)

type bytesEcho struct{}

func (bytesEcho) Invoke(_ context.Context, p []byte) ([]byte, error) { return p, nil }

var errBoom = errors.New("boom")

// TestInvokeAllocations counts the allocations of one warm invocation in
// the guest, from the envelope to the result, so that they cannot creep
// back. The counts are the ones the SDK reached; fewer is welcome (lower
// the bound), more is a regression. Before, the same invocations took 10,
// 22, 22, 22 and 2.
func TestInvokeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool, which encoding/json uses, drop items at random")
	}
	if !fastJSON {
		t.Skip("GOEXPERIMENT=jsonv2: the counts are the classic encoding/json's")
	}
	env := envelope(abi.Request{
		DeadlineMs: time.Now().Add(time.Hour).UnixMilli(), MemoryMB: 128, RequestID: "8a2b3c4d-0000-4000-8000-000000000000",
		FunctionName: "echo", FunctionVersion: "$LATEST", InvokedFunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:echo",
		Payload: []byte(`"` + strings.Repeat("x", 1022) + `"`),
	})
	tests := []struct {
		name       string
		handler    any
		wantStatus abi.Status
		max        float64
	}{
		// The invocation context, with the request ID in it.
		{"a guest.Handler", bytesEcho{}, abi.StatusOK, 1},
		// Plus the event, its copy, the context as an argument, and
		// reflect's call: the results and their slice.
		{"json.RawMessage in and out", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }, abi.StatusOK, 7},
		// The same, with encoding/json's string, and its result boxed.
		{"a string in and out", func(ctx context.Context, in string) (string, error) { return in, nil }, abi.StatusOK, 8},
		// The error payload, boxed for its encoder.
		{"an error", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) { return nil, errBoom }, abi.StatusError, 8},
		{"no handler", nil, abi.StatusError, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			if tt.handler != nil {
				h = mustHandler(t, tt.handler)
			}
			setRegistered(t, h)
			status, _ := invokeEnvelope(env)
			require.Equal(t, tt.wantStatus, status)
			got := testing.AllocsPerRun(100, func() { invokeEnvelope(env) })
			require.LessOrEqual(t, got, tt.max, "allocations per invocation")
		})
	}
}
