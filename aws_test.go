package lambda_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// forRequest returns the records of one request, in order.
func (h *logRecorder) forRequest(requestID string) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range h.records {
		if r.Attrs["request_id"] == requestID {
			out = append(out, r)
		}
	}
	return out
}

// reportOf returns the REPORT record of a request.
func reportOf(t *testing.T, logs *logRecorder, requestID string) logRecord {
	t.Helper()
	for _, r := range logs.forRequest(requestID) {
		if r.Msg == "REPORT" {
			return r
		}
	}
	t.Fatalf("no REPORT for %s", requestID)
	return logRecord{}
}

// micros turns a logged millisecond figure back into whole microseconds.
func micros(t *testing.T, v any) int64 {
	t.Helper()
	ms, ok := v.(float64)
	require.True(t, ok, "%v (%T) is not a float64", v, v)
	return int64(math.Round(ms * 1000))
}

// billedFor is the billed duration, in ms, of the durations in a REPORT:
// the invocation, plus init when withInit, rounded up to the millisecond.
func billedFor(t *testing.T, report logRecord, withInit bool) int64 {
	t.Helper()
	us := micros(t, report.Attrs["duration_ms"])
	if withInit {
		require.Contains(t, report.Attrs, "init_duration_ms")
		us += micros(t, report.Attrs["init_duration_ms"])
	}
	return (us + 999) / 1000
}

// TestTimeoutAsAWS checks what a timeout looks like: AWS's message with
// the request ID, the platform's log line, and a REPORT whose duration is
// the timeout, not what the sandbox took to stop.
func TestTimeoutAsAWS(t *testing.T) {
	logs := &logRecorder{}
	rt := newRuntime(t, lambda.Options{Logger: slog.New(logs)})
	for _, guest := range []string{"loop", "sleep"} {
		t.Run(guest, func(t *testing.T) {
			f := deploy(t, rt, lambda.FunctionConfig{Name: guest, Code: testguest.WAT(t, guest), Timeout: 100 * time.Millisecond})
			id := "req-timeout-" + guest
			_, err := f.Invoke(context.Background(), []byte(`{}`), lambda.WithRequestID(id))
			require.ErrorIs(t, err, lambda.ErrTimeout)
			var fe *lambda.FunctionError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, "RequestId: "+id+" Error: Task timed out after 0.10 seconds", fe.Message)
			require.JSONEq(t, `{"errorMessage":"RequestId: `+id+` Error: Task timed out after 0.10 seconds","errorType":"Sandbox.Timedout"}`, string(fe.Payload()))

			var msgs []string
			for _, r := range logs.forRequest(id) {
				msgs = append(msgs, r.Msg)
			}
			require.Equal(t, []string{"START", "END", "REPORT", "Task timed out after 0.10 seconds"}, msgs,
				"the platform's line with the request ID closes the log, as on AWS")

			report := reportOf(t, logs, id)
			require.Equal(t, "timeout", report.Attrs["status"], "AWS's REPORT says Status: timeout")
			require.Equal(t, lambda.ErrorTypeTimeout, report.Attrs["error_type"])
			require.Equal(t, 100.0, report.Attrs["duration_ms"], "the duration of a timed-out invocation is the timeout")
			require.Equal(t, billedFor(t, report, true), report.Attrs["billed_duration_ms"], "a cold start bills its init too")
		})
	}
}

// TestBilledDuration checks that a cold start of an on-demand sandbox bills
// its init, as AWS does since August 2025, and that a provisioned sandbox's
// does not: AWS bills that init with the provisioned concurrency, and, as
// the invocation did not wait for it, its REPORT shows no Init Duration and
// it is no cold start.
func TestBilledDuration(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	var mu sync.Mutex
	cold := map[string][]bool{}
	obs := &lambda.Observer{GotSandbox: func(_ context.Context, info lambda.GotSandboxInfo) {
		mu.Lock()
		defer mu.Unlock()
		cold[info.Function] = append(cold[info.Function], info.ColdStart)
	}}
	rt := newRuntime(t, lambda.Options{Logger: slog.New(logs), Observer: obs})
	code := hammerGuest(t) // a Go guest, whose init takes milliseconds
	ctx := context.Background()

	onDemand := deploy(t, rt, lambda.FunctionConfig{Name: "ondemand", Code: code})
	for i, cold := range []bool{true, false} {
		id := fmt.Sprintf("req-ondemand-%d", i)
		_, err := onDemand.Invoke(ctx, []byte(`{}`), lambda.WithRequestID(id))
		require.NoError(t, err)
		report := reportOf(t, logs, id)
		if cold {
			require.Greater(t, report.Attrs["init_duration_ms"], 1.0, "an init long enough to show in the bill")
		} else {
			require.NotContains(t, report.Attrs, "init_duration_ms")
		}
		require.Equal(t, billedFor(t, report, cold), report.Attrs["billed_duration_ms"], "cold %v: %v", cold, report.Attrs)
	}

	provisioned := deploy(t, rt, lambda.FunctionConfig{Name: "provisioned", Code: code, MinWarm: 1})
	_, err := provisioned.Invoke(ctx, []byte(`{}`), lambda.WithRequestID("req-provisioned"))
	require.NoError(t, err)
	report := reportOf(t, logs, "req-provisioned")
	require.NotContains(t, report.Attrs, "init_duration_ms", "a provisioned sandbox's first invocation did not do its init")
	require.Equal(t, billedFor(t, report, false), report.Attrs["billed_duration_ms"], "a provisioned sandbox's init is not billed per invocation: %v", report.Attrs)

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []bool{true, false}, cold["ondemand"])
	require.Equal(t, []bool{false}, cold["provisioned"], "provisioned concurrency has no cold start")
}

// TestPayloadLimits checks AWS's limits: 6 MB for a request, and 6 MB and
// 100 bytes for a response, as AWS's runtime API accepts.
func TestPayloadLimits(t *testing.T) {
	require.Equal(t, 6291456, lambda.DefaultMaxRequestBytes)
	require.Equal(t, 6291556, lambda.DefaultMaxResponseBytes)

	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "counter", Code: testguest.WAT(t, "counter")})
	cfg := f.Config()
	require.Equal(t, lambda.DefaultMaxRequestBytes, cfg.MaxRequestBytes)
	require.Equal(t, lambda.DefaultMaxResponseBytes, cfg.MaxResponseBytes)
	_, err := f.Invoke(context.Background(), make([]byte, lambda.DefaultMaxRequestBytes+1))
	require.ErrorIs(t, err, lambda.ErrPayloadTooLarge)
	require.ErrorContains(t, err, "exceeds the 6291456-byte limit")
}

// TestReservedEnvironment checks every key AWS reserves is refused, and the
// keys AWS sets but lets a function override are accepted.
func TestReservedEnvironment(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	code := testguest.WAT(t, "counter")
	tests := []struct {
		key      string
		reserved bool
	}{
		// AWS's reserved environment variables.
		{"_HANDLER", true},
		{"_X_AMZN_TRACE_ID", true},
		{"AWS_DEFAULT_REGION", true},
		{"AWS_REGION", true},
		{"AWS_EXECUTION_ENV", true},
		{"AWS_LAMBDA_FUNCTION_NAME", true},
		{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", true},
		{"AWS_LAMBDA_FUNCTION_VERSION", true},
		{"AWS_LAMBDA_INITIALIZATION_TYPE", true},
		{"AWS_LAMBDA_LOG_GROUP_NAME", true},
		{"AWS_LAMBDA_LOG_STREAM_NAME", true},
		{"AWS_ACCESS_KEY", true},
		{"AWS_ACCESS_KEY_ID", true},
		{"AWS_SECRET_ACCESS_KEY", true},
		{"AWS_SESSION_TOKEN", true},
		{"AWS_LAMBDA_RUNTIME_API", true},
		{"LAMBDA_TASK_ROOT", true},
		{"LAMBDA_RUNTIME_DIR", true},
		{"AWS_LAMBDA_MAX_CONCURRENCY", true},
		{"AWS_LAMBDA_METADATA_API", true},
		{"AWS_LAMBDA_METADATA_TOKEN", true},
		// Ours.
		{"WASMLAMBDA_REQUEST_ID", true},
		// Set by AWS, but a function may set them.
		{"LANG", false},
		{"PATH", false},
		{"LD_LIBRARY_PATH", false},
		{"TZ", false},
		{"AWS_XRAY_CONTEXT_MISSING", false},
		{"AWS_XRAY_DAEMON_ADDRESS", false},
		{"AWS_LAMBDA_EXEC_WRAPPER", false},
	}
	for i, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			f, err := rt.Deploy(context.Background(), lambda.FunctionConfig{
				Name: fmt.Sprintf("env-%d", i), Code: code, Environment: map[string]string{tt.key: "x"},
			})
			if !tt.reserved {
				require.NoError(t, err)
				require.NoError(t, f.Close(context.Background()))
				return
			}
			require.ErrorIs(t, err, lambda.ErrInvalidConfig)
			if strings.HasPrefix(tt.key, "_") {
				// AWS's key pattern refuses these already.
				require.ErrorContains(t, err, `environment variable "`+tt.key+`": keys match`)
				return
			}
			require.ErrorContains(t, err, "environment variable "+tt.key+" is reserved")
		})
	}
}

// TestInvokeAsyncRefusesClientContext: AWS passes a client context on
// synchronous invocations only.
func TestInvokeAsyncRefusesClientContext(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "counter", Code: testguest.WAT(t, "counter")})
	_, err := f.InvokeAsync(context.Background(), []byte(`{}`), lambda.WithClientContext([]byte(`{"custom":{"k":"v"}}`)))
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	require.ErrorContains(t, err, "client context")
	require.ErrorContains(t, err, "synchronous")
	require.EqualValues(t, 0, f.AsyncStats().Accepted)

	_, err = f.InvokeAsync(context.Background(), []byte(`{}`), lambda.WithIdentity([]byte(`{"cognitoIdentityId":"id"}`)))
	require.NoError(t, err, "an identity is fine")
	out, err := f.Invoke(context.Background(), []byte(`{}`), lambda.WithClientContext([]byte(`{"custom":{"k":"v"}}`)))
	require.NoError(t, err, "a synchronous invocation takes a client context")
	require.Equal(t, `{}`, string(out))
}
