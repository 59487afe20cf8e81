package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// TestCGuest runs the C reference guest: proof that ABI v1 is not Go-only.
func TestCGuest(t *testing.T) {
	logs := &logRecorder{}
	rt := newRuntime(t, lambda.Options{Logger: slog.New(logs), Region: "eu-west-1", AccountID: "123456789012"})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "cecho", Code: testguest.C(t, "echo", true), MemorySize: 256, Version: "7"})
	ctx := context.Background()

	t.Run("echo", func(t *testing.T) {
		for _, payload := range []string{`{"hello":"world"}`, `[1,2,3]`, strings.Repeat("x", 100000), ""} {
			out, err := f.Invoke(ctx, []byte(payload))
			require.NoError(t, err)
			require.Equal(t, payload, string(out))
		}
	})
	t.Run("function error", func(t *testing.T) {
		_, err := f.Invoke(ctx, []byte(`"fail"`), lambda.WithRequestID("req-fail"))
		var fe *lambda.FunctionError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, "EchoError", fe.Type)
		require.Equal(t, "failure requested", fe.Message)
		require.Equal(t, "req-fail", fe.RequestID)
		require.JSONEq(t, `{"errorMessage":"failure requested","errorType":"EchoError"}`, string(fe.Payload()))
		// The host logs the error JSON, whatever the guest's language, as
		// aws-lambda-go and AWS's other runtimes log it.
		var msgs []string
		for _, r := range logs.forRequest("req-fail") {
			msgs = append(msgs, r.Msg)
		}
		require.Equal(t, []string{"START", "c guest: 6 bytes", `{"errorMessage":"failure requested","errorType":"EchoError"}`, "END", "REPORT"}, msgs)
		errRec := logs.forRequest("req-fail")[2]
		require.Equal(t, "cecho", errRec.Attrs["function"])
		require.Equal(t, "EchoError", errRec.Attrs["error_type"])
	})
	t.Run("context and warm state", func(t *testing.T) {
		type whoami struct {
			RequestID          string `json:"requestId"`
			FunctionName       string `json:"functionName"`
			FunctionVersion    string `json:"functionVersion"`
			InvokedFunctionArn string `json:"invokedFunctionArn"`
			MemoryMB           int    `json:"memoryMB"`
			DeadlineMs         int64  `json:"deadlineMs"`
			Calls              int    `json:"calls"`
		}
		before := time.Now()
		w1, err := lambda.InvokeJSON[whoami](ctx, f, "whoami", lambda.WithRequestID("req-1"))
		require.NoError(t, err)
		require.Equal(t, "req-1", w1.RequestID)
		require.Equal(t, "cecho", w1.FunctionName)
		require.Equal(t, "7", w1.FunctionVersion)
		require.Equal(t, "arn:aws:lambda:eu-west-1:123456789012:function:cecho", w1.InvokedFunctionArn)
		require.Equal(t, f.ARN(), w1.InvokedFunctionArn)
		require.Equal(t, 256, w1.MemoryMB)
		require.InDelta(t, before.Add(3*time.Second).UnixMilli(), w1.DeadlineMs, 1000)
		w2, err := lambda.InvokeJSON[whoami](ctx, f, "whoami")
		require.NoError(t, err)
		require.Equal(t, w1.Calls+1, w2.Calls, "one warm instance serves both calls")
		require.Len(t, w2.RequestID, 36, "a fresh request ID is a UUID")
	})
	t.Run("logs", func(t *testing.T) {
		_, err := f.Invoke(ctx, []byte(`12345`), lambda.WithRequestID("req-log"))
		require.NoError(t, err)
		lines := logs.find("c guest: 5 bytes")
		require.NotEmpty(t, lines)
		last := lines[len(lines)-1]
		require.Equal(t, "req-log", last.Attrs["request_id"])
		require.Equal(t, "stdout", last.Attrs["stream"])
		require.Equal(t, "cecho", last.Attrs["function"])
		require.Equal(t, "7", last.Attrs["version"])
		var report *logRecord
		for _, r := range logs.find("REPORT") {
			if r.Attrs["request_id"] == "req-log" {
				report = &r
			}
		}
		require.NotNil(t, report, "a REPORT record for every invocation")
		require.EqualValues(t, 256, report.Attrs["memory_size_mb"])
		require.Greater(t, report.Attrs["max_memory_used_mb"], uint64(0))
		require.Contains(t, report.Attrs, "duration_ms")
		require.Contains(t, report.Attrs, "billed_duration_ms")
		require.NotContains(t, report.Attrs, "init_duration_ms", "only a cold start reports its init")
		first := logs.find("REPORT")[0]
		require.Contains(t, first.Attrs, "init_duration_ms")
		starts := 0
		for _, r := range logs.find("START") {
			if r.Attrs["request_id"] == "req-log" {
				starts++
			}
		}
		require.Equal(t, 1, starts)
	})
}

// TestCommandMode runs a plain WASI command one-shot: stdin in, stdout out.
func TestCommandMode(t *testing.T) {
	logs := &logRecorder{}
	rt := newRuntime(t, lambda.Options{Logger: slog.New(logs)})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "cat", Code: testguest.C(t, "cat", false)})
	ctx := context.Background()

	out, err := f.Invoke(ctx, []byte(`{"a":1}`), lambda.WithRequestID("req-cat"))
	require.NoError(t, err)
	require.JSONEq(t, `{"echo":{"a":1}}`, string(out))
	require.NotEmpty(t, logs.find("cat guest: request req-cat"), "stderr goes to the log with the request ID passed in the environment")

	_, err = f.Invoke(ctx, []byte(`"fail"`))
	var fe *lambda.FunctionError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "CatError", fe.Type)
	require.Equal(t, "cat failed", fe.Message)

	f2 := deploy(t, rt, lambda.FunctionConfig{Name: "cat-small", Code: testguest.C(t, "cat", false), MaxResponseBytes: 100})
	_, err = f2.Invoke(ctx, []byte(`"`+strings.Repeat("y", 200)+`"`))
	require.ErrorIs(t, err, lambda.ErrPayloadTooLarge)
	require.EqualValues(t, 3, f.Stats().Invocations+f2.Stats().Invocations)
	require.EqualValues(t, 2, f.Stats().ColdStarts, "every command invocation is a cold start")
}

func TestInvokeJSONErrors(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "counter", Code: testguest.WAT(t, "counter")})
	_, err := lambda.InvokeJSON[int](context.Background(), f, func() {})
	var ute *json.UnsupportedTypeError
	require.ErrorAs(t, err, &ute, "TestInvokeJSONEncodeError has the cases")
	_, err = lambda.InvokeJSON[int](context.Background(), f, "not a number")
	require.ErrorContains(t, err, "decode the response of counter as int")
	var ume *json.UnmarshalTypeError
	require.ErrorAs(t, err, &ume)
	got, err := lambda.InvokeJSON[map[string]int](context.Background(), f, map[string]int{"a": 1})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"a": 1}, got)
}

func TestDeployConflictAndClose(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	code := testguest.WAT(t, "counter")
	f := deploy(t, rt, lambda.FunctionConfig{Name: "dup", Code: code})
	_, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "dup", Code: code})
	require.ErrorIs(t, err, lambda.ErrConflict)
	got, ok := rt.Function("dup")
	require.True(t, ok)
	require.Same(t, f, got)
	require.Len(t, rt.Functions(), 1)

	require.NoError(t, f.Close(context.Background()))
	_, err = f.Invoke(context.Background(), []byte(`1`))
	require.ErrorIs(t, err, lambda.ErrClosed)
	_, ok = rt.Function("dup")
	require.False(t, ok)
	deploy(t, rt, lambda.FunctionConfig{Name: "dup", Code: code})

	cfg := f.Config()
	require.Equal(t, lambda.DefaultTimeout, cfg.Timeout)
	require.Equal(t, 128, cfg.MemorySize)
	require.Equal(t, "$LATEST", cfg.Version)
	require.Equal(t, lambda.DefaultMaxConcurrency, cfg.MaxConcurrency)
	require.Equal(t, lambda.DefaultMaxRequestBytes, cfg.MaxRequestBytes)
	require.Nil(t, cfg.Code)
}

func TestRuntimeCloseRefusesDeploy(t *testing.T) {
	rt, err := lambda.New(lambda.Options{})
	require.NoError(t, err)
	require.NoError(t, rt.Close(context.Background()))
	require.NoError(t, rt.Close(context.Background()), "Close is idempotent")
	_, err = rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "f", Code: testguest.WAT(t, "counter")})
	require.ErrorIs(t, err, lambda.ErrClosed)
}

func TestFunctionErrorJSON(t *testing.T) {
	fe := &lambda.FunctionError{Type: "T", Message: "m", StackTrace: []lambda.StackFrame{{Path: "main.go", Line: 3, Label: "h"}}}
	var got map[string]any
	require.NoError(t, json.Unmarshal(fe.Payload(), &got))
	require.Equal(t, map[string]any{"errorMessage": "m", "errorType": "T", "stackTrace": []any{map[string]any{"path": "main.go", "line": 3.0, "label": "h"}}}, got)
	require.Equal(t, "h (main.go:3)", fe.StackTrace[0].String())
	require.Equal(t, "T: m", fe.Error())
}

func TestCloseDuringDeploy(t *testing.T) {
	t.Parallel()
	guest := hammerGuest(t)
	for i := 0; i < 10; i++ {
		rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), StateDir: t.TempDir()})
		require.NoError(t, err)
		done := make(chan error)
		go func() {
			f, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "racing", Code: guest, MinWarm: 1})
			if err == nil {
				_, err = f.InvokeAsync(context.Background(), []byte(`{}`))
			}
			done <- err
		}()
		require.NoError(t, rt.Close(context.Background()))
		if err := <-done; err != nil {
			require.ErrorIs(t, err, lambda.ErrClosed)
		}
	}
}

// TestConfigReturnsACopy: Config hands out a copy the caller may change at
// will, and Deploy takes one, so that neither the caller's config nor the
// returned one reaches into the function's. Code is not kept.
func TestConfigReturnsACopy(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	ctx := context.Background()
	layer, err := rt.PublishLayerVersion(ctx, "lib", lambda.LayerContent{FS: fstest.MapFS{"lib.txt": {Data: []byte("v1")}}})
	require.NoError(t, err)
	in := lambda.FunctionConfig{
		Name:        "copied",
		Code:        testguest.WAT(t, "counter"),
		Environment: map[string]string{"STAGE": "prod"},
		Layers:      []*lambda.LayerVersion{layer},
		Mounts:      []lambda.Mount{{Path: "/data", FS: fstest.MapFS{"d.txt": {Data: []byte("d")}}}},
		Async: lambda.AsyncConfig{
			MaxRetryAttempts: lambda.Retries(1),
			RetryBackoff:     []time.Duration{time.Second},
		},
	}
	f := deploy(t, rt, in)
	// check compares with literals: a config that shared its maps or slices
	// with the function's would compare equal to it after any change.
	check := func(t *testing.T, c lambda.FunctionConfig) {
		t.Helper()
		require.Nil(t, c.Code, "the function does not keep its code")
		require.Equal(t, map[string]string{"STAGE": "prod"}, c.Environment)
		require.Equal(t, []*lambda.LayerVersion{layer}, c.Layers)
		require.Len(t, c.Mounts, 1)
		require.Equal(t, "/data", c.Mounts[0].Path)
		require.Equal(t, []time.Duration{time.Second}, c.Async.RetryBackoff)
		require.Equal(t, 1, *c.Async.MaxRetryAttempts)
	}
	check(t, f.Config())

	mutate := func(c *lambda.FunctionConfig) {
		c.Environment["STAGE"] = "changed"
		c.Environment["EXTRA"] = "x"
		c.Layers[0] = nil
		c.Mounts[0].Path = "/elsewhere"
		c.Async.RetryBackoff[0] = time.Hour
		*c.Async.MaxRetryAttempts = 0
	}
	t.Run("the returned config", func(t *testing.T) {
		got := f.Config()
		mutate(&got)
		check(t, f.Config())
	})
	t.Run("the config given to Deploy", func(t *testing.T) {
		mutate(&in)
		check(t, f.Config())
	})
	out, err := f.Invoke(ctx, []byte(`"still serves"`))
	require.NoError(t, err)
	require.Equal(t, `"still serves"`, string(out))
}

// TestConfigOffValues: a negative value turns off the three fields that can
// be turned off, and Config resolves the retries to the count that runs.
func TestConfigOffValues(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{
		Name:        "off",
		Code:        testguest.WAT(t, "counter"),
		IdleTimeout: -1,
		MaxUses:     -1,
		Async:       lambda.AsyncConfig{MaxRetryAttempts: lambda.Retries(-1)},
	})
	c := f.Config()
	require.Negative(t, c.IdleTimeout)
	require.Equal(t, -1, c.MaxUses)
	require.Equal(t, 0, *c.Async.MaxRetryAttempts)
	for range 3 {
		_, err := f.Invoke(context.Background(), []byte(`{}`))
		require.NoError(t, err)
	}
	s := f.Stats()
	require.Equal(t, int64(1), s.ColdStarts, "MaxUses -1 recycles no sandbox")
	require.Zero(t, s.Recycled)

	d := deploy(t, rt, lambda.FunctionConfig{Name: "defaults", Code: testguest.WAT(t, "counter")})
	c = d.Config()
	require.Equal(t, lambda.DefaultIdleTimeout, c.IdleTimeout)
	require.Zero(t, c.MaxUses)
	require.Equal(t, lambda.DefaultMaxRetryAttempts, *c.Async.MaxRetryAttempts)
}

// TestInvokeJSONEncodeError: an event encoding/json refuses is reported as
// the encoding error it is, not as a configuration AWS would refuse, and
// nothing is invoked.
func TestInvokeJSONEncodeError(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "encode", Code: testguest.WAT(t, "counter")})
	ctx := context.Background()
	errMarshal := errors.New("no JSON for this one")
	tests := []struct {
		name  string
		call  func() error
		check func(t *testing.T, err error)
	}{
		{"unsupported type", func() error {
			_, err := lambda.InvokeJSON[string](ctx, f, make(chan int))
			return err
		}, func(t *testing.T, err error) {
			var ute *json.UnsupportedTypeError
			require.ErrorAs(t, err, &ute)
		}},
		{"unsupported value", func() error {
			_, err := lambda.InvokeJSON[string](ctx, f, math.Inf(1))
			return err
		}, func(t *testing.T, err error) {
			var uve *json.UnsupportedValueError
			require.ErrorAs(t, err, &uve)
		}},
		{"marshaler error", func() error {
			_, err := lambda.InvokeJSON[string](ctx, f, failingMarshaler{errMarshal})
			return err
		}, func(t *testing.T, err error) {
			var me *json.MarshalerError
			require.ErrorAs(t, err, &me)
			require.ErrorIs(t, err, errMarshal)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.Error(t, err)
			tt.check(t, err)
			require.NotErrorIs(t, err, lambda.ErrInvalidConfig)
			var se *lambda.ServiceError
			require.False(t, errors.As(err, &se), "not a service error: %v", err)
			require.ErrorContains(t, err, "encode the event for function encode: ")
		})
	}
	require.Zero(t, f.Stats().Invocations, "nothing is invoked")
}

type failingMarshaler struct{ err error }

func (m failingMarshaler) MarshalJSON() ([]byte, error) { return nil, m.err }
