package lambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// behave invokes the behave guest with op and fields.
func behave(ctx context.Context, f *lambda.Function, op string, fields map[string]any, opts ...lambda.InvokeOption) ([]byte, error) {
	ev := map[string]any{"op": op}
	for k, v := range fields {
		ev[k] = v
	}
	b, _ := json.Marshal(ev)
	return f.Invoke(ctx, b, opts...)
}

// TestGoGuest drives the Go guest SDK through every behaviour of the behave
// guest, one function per case so that each starts from a known pool.
func TestGoGuest(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	rt := newRuntime(t, lambda.Options{Logger: slog.New(logs)})
	code := testguest.Go(t, "behave")
	ctx := context.Background()
	n := 0
	fn := func(t *testing.T, cfg lambda.FunctionConfig) *lambda.Function {
		n++
		cfg.Name = fmt.Sprintf("behave-%d", n)
		cfg.Code = code
		return deploy(t, rt, cfg)
	}

	t.Run("warm state", func(t *testing.T) {
		f := fn(t, lambda.FunctionConfig{})
		for i := 1; i <= 3; i++ {
			out, err := behave(ctx, f, "counter", nil)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprint(i), string(out))
		}
		require.EqualValues(t, 1, f.Stats().ColdStarts)
	})
	t.Run("function error", func(t *testing.T) {
		f := fn(t, lambda.FunctionConfig{})
		_, err := behave(ctx, f, "error", map[string]any{"message": "bad input"}, lambda.WithRequestID("req-error"))
		var fe *lambda.FunctionError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, "errorString", fe.Type)
		require.Equal(t, "bad input", fe.Message)
		require.EqualValues(t, 0, f.Stats().Discarded, "a returned error keeps the sandbox warm")
		var msgs []string
		for _, r := range logs.forRequest("req-error") {
			msgs = append(msgs, r.Msg)
		}
		require.Equal(t, []string{"START", `{"errorMessage":"bad input","errorType":"errorString"}`, "END", "REPORT"}, msgs,
			"the error JSON is logged, as aws-lambda-go logs it before reporting it")
	})
	t.Run("unnamed error type", func(t *testing.T) {
		f := fn(t, lambda.FunctionConfig{})
		_, err := behave(ctx, f, "unnamed", map[string]any{"message": "anonymous"})
		var fe *lambda.FunctionError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, "", fe.Type, "aws-lambda-go names the type, through one pointer, and an unnamed one has no name")
		require.Equal(t, "anonymous", fe.Message)
		require.JSONEq(t, `{"errorMessage":"anonymous","errorType":""}`, string(fe.Payload()))
	})
	t.Run("panic", func(t *testing.T) {
		f := fn(t, lambda.FunctionConfig{})
		_, err := behave(ctx, f, "counter", nil)
		require.NoError(t, err)
		_, err = behave(ctx, f, "panic", map[string]any{"message": "kaboom"})
		var fe *lambda.FunctionError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, "string", fe.Type)
		require.Equal(t, "kaboom", fe.Message)
		// The whole stack, as aws-lambda-go sends it: the SDK's frames that
		// recovered, the runtime's panic, the handler, and reflect's and the
		// SDK's frames that called it.
		require.NotEmpty(t, fe.StackTrace)
		require.LessOrEqual(t, len(fe.StackTrace), 32)
		labels := make([]string, len(fe.StackTrace))
		for i, sf := range fe.StackTrace {
			labels[i] = sf.Label
		}
		gopanic, handler := slices.Index(labels, "gopanic"), slices.Index(labels, "handler")
		require.Positive(t, gopanic, "frames %v", labels)
		require.Greater(t, handler, gopanic, "frames %v", labels)
		require.Equal(t, "runtime/panic.go", fe.StackTrace[gopanic].Path)
		require.True(t, strings.HasSuffix(fe.StackTrace[handler].Path, "behave/main.go"), "path %s", fe.StackTrace[handler].Path)
		require.Positive(t, fe.StackTrace[handler].Line)
		require.Contains(t, labels[handler:], "Value.Call", "reflect called the handler: frames %v", labels)
		require.EqualValues(t, 1, f.Stats().Discarded, "after a panic the sandbox is discarded, as aws-lambda-go exits")
		out, err := behave(ctx, f, "counter", nil)
		require.NoError(t, err)
		require.Equal(t, "1", string(out), "the next call starts a fresh sandbox")
	})
	t.Run("timeout", func(t *testing.T) {
		f := fn(t, lambda.FunctionConfig{Timeout: 200 * time.Millisecond})
		start := time.Now()
		_, err := behave(ctx, f, "loop", nil, lambda.WithRequestID("req-loop"))
		require.ErrorIs(t, err, lambda.ErrTimeout)
		require.EqualError(t, err, "Sandbox.Timedout: RequestId: req-loop Error: Task timed out after 0.20 seconds")
		require.Less(t, time.Since(start), 20*time.Second, "the loop ran on past its deadline")
		_, err = behave(ctx, f, "sleep", map[string]any{"ms": 10000})
		require.ErrorIs(t, err, lambda.ErrTimeout)
		out, err := behave(ctx, f, "sleep", map[string]any{"ms": 20})
		require.NoError(t, err)
		require.JSONEq(t, `{"slept_ms":20}`, string(out))
		require.EqualValues(t, 2, f.Stats().Discarded)
	})
	t.Run("memory limit", func(t *testing.T) {
		f := fn(t, lambda.FunctionConfig{MemorySize: 128})
		out, err := behave(ctx, f, "alloc", map[string]any{"mb": 32})
		require.NoError(t, err)
		require.Equal(t, "32", string(out))
		_, err = behave(ctx, f, "alloc", map[string]any{"mb": 400})
		var fe *lambda.FunctionError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, lambda.ErrorTypeOutOfMemory, fe.Type)
		require.Contains(t, fe.Message, "128 MB limit")
		require.EqualValues(t, 1, f.Stats().Discarded)
		out, err = behave(ctx, f, "counter", nil)
		require.NoError(t, err)
		require.Equal(t, "1", string(out), "the host and the function go on")
	})
	t.Run("oversize response", func(t *testing.T) {
		f := fn(t, lambda.FunctionConfig{})
		_, err := behave(ctx, f, "big", map[string]any{"bytes": lambda.DefaultMaxResponseBytes + 1})
		require.ErrorIs(t, err, lambda.ErrPayloadTooLarge)
		require.ErrorContains(t, err, "Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes).")
		out, err := behave(ctx, f, "big", map[string]any{"bytes": lambda.DefaultMaxResponseBytes})
		require.NoError(t, err)
		require.Len(t, out, lambda.DefaultMaxResponseBytes)
		require.EqualValues(t, 0, f.Stats().Discarded)
	})
	t.Run("exit", func(t *testing.T) {
		f := fn(t, lambda.FunctionConfig{})
		_, err := behave(ctx, f, "exit", map[string]any{"code": 3}, lambda.WithRequestID("req-exit"))
		var fe *lambda.FunctionError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, lambda.ErrorTypeExit, fe.Type)
		require.Equal(t, "RequestId: req-exit Error: Runtime exited with error: exit status 3", fe.Message)
		require.EqualValues(t, 1, f.Stats().Discarded)
	})
	t.Run("logs", func(t *testing.T) {
		f := fn(t, lambda.FunctionConfig{})
		_, err := behave(ctx, f, "log", map[string]any{"lines": 3}, lambda.WithRequestID("req-logs"))
		require.NoError(t, err)
		for _, want := range []struct{ msg, stream string }{{"line 1", "stdout"}, {"line 3", "stdout"}, {"err 2", "stderr"}} {
			recs := logs.find(want.msg)
			require.NotEmpty(t, recs, want.msg)
			last := recs[len(recs)-1]
			require.Equal(t, "req-logs", last.Attrs["request_id"])
			require.Equal(t, want.stream, last.Attrs["stream"])
		}
		small := fn(t, lambda.FunctionConfig{MaxLogBytes: 64})
		_, err = behave(ctx, small, "log", map[string]any{"lines": 100}, lambda.WithRequestID("req-trunc"))
		require.NoError(t, err)
		trunc := logs.find("log output truncated")
		require.NotEmpty(t, trunc)
		require.Equal(t, "req-trunc", trunc[len(trunc)-1].Attrs["request_id"])
		require.Empty(t, logs.find("line 100"), "output past the bound is dropped")
	})
	t.Run("events types", func(t *testing.T) {
		f := fn(t, lambda.FunctionConfig{})
		ev := events.S3Event{Records: []events.S3EventRecord{{EventName: "ObjectCreated:Put", S3: events.S3Entity{Bucket: events.S3Bucket{Name: "photos"}, Object: events.S3Object{Key: "cats/tom.jpg"}}}}}
		out, err := behave(ctx, f, "s3", map[string]any{"event": ev})
		require.NoError(t, err)
		require.JSONEq(t, `{"bucket":"photos","key":"cats/tom.jpg"}`, string(out))
	})
}

// TestGoGuestSandbox checks what a guest can see: its context, its
// environment, and no files, network or arguments.
func TestGoGuestSandbox(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{Region: "eu-central-1"})
	f := deploy(t, rt, lambda.FunctionConfig{
		Name:        "sandbox",
		Code:        testguest.Go(t, "behave"),
		MemorySize:  512,
		Version:     "3",
		Environment: map[string]string{"GREETING": "hi", "TZ": "Europe/Paris"},
		Timeout:     5 * time.Second,
	})
	var got struct {
		RequestID           string            `json:"request_id"`
		InvokedFunctionArn  string            `json:"invoked_function_arn"`
		HasDeadline         bool              `json:"has_deadline"`
		DeadlineMs          int64             `json:"deadline_ms"`
		RemainingMs         int64             `json:"remaining_ms"`
		FunctionName        string            `json:"function_name"`
		FunctionVersion     string            `json:"function_version"`
		MemoryLimitMB       int               `json:"memory_limit_mb"`
		ClientContextCustom map[string]string `json:"client_context_custom"`
		Identity            map[string]string `json:"identity"`
		Env                 []string          `json:"env"`
		ReaddirRoot         map[string]any    `json:"readdir_root"`
		ReaddirCwd          map[string]any    `json:"readdir_cwd"`
		NetDial             string            `json:"net_dial"`
		ArgsLen             int               `json:"args_len"`
		LogGroupName        string            `json:"log_group_name"`
		LogStreamName       string            `json:"log_stream_name"`
	}
	start := time.Now()
	out, err := behave(context.Background(), f, "context", nil,
		lambda.WithRequestID("req-ctx"),
		lambda.WithClientContext([]byte(`{"custom":{"tenant":"acme"}}`)),
		lambda.WithIdentity([]byte(`{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}`)))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(out, &got))

	require.Equal(t, "req-ctx", got.RequestID)
	require.Equal(t, "arn:aws:lambda:eu-central-1:000000000000:function:sandbox", got.InvokedFunctionArn)
	require.True(t, got.HasDeadline)
	require.InDelta(t, start.Add(5*time.Second).UnixMilli(), got.DeadlineMs, 1000)
	require.InDelta(t, 5000, got.RemainingMs, 1000)
	require.Equal(t, "sandbox", got.FunctionName)
	require.Equal(t, "3", got.FunctionVersion)
	require.Equal(t, 512, got.MemoryLimitMB)
	require.Equal(t, map[string]string{"tenant": "acme"}, got.ClientContextCustom)
	require.Equal(t, "id-1", got.Identity["CognitoIdentityID"], "lambdacontext.CognitoIdentity has no JSON tags")

	env := map[string]string{}
	for _, kv := range got.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	// The log stream is the execution environment's, as AWS names it:
	// the date it started, the version and 32 hex digits.
	require.Regexp(t, `^\d{4}/\d{2}/\d{2}/\[3\][0-9a-f]{32}$`, env["AWS_LAMBDA_LOG_STREAM_NAME"])
	require.Equal(t, env["AWS_LAMBDA_LOG_STREAM_NAME"], got.LogStreamName, "lambdacontext.LogStreamName")
	require.Equal(t, "/aws/lambda/sandbox", got.LogGroupName, "lambdacontext.LogGroupName")
	delete(env, "AWS_LAMBDA_LOG_STREAM_NAME")
	require.Equal(t, map[string]string{
		"AWS_DEFAULT_REGION":              "eu-central-1",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
		"AWS_LAMBDA_FUNCTION_NAME":        "sandbox",
		"AWS_LAMBDA_FUNCTION_VERSION":     "3",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/sandbox",
		"AWS_REGION":                      "eu-central-1",
		"GREETING":                        "hi",
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"LAMBDA_TASK_ROOT":                "/var/task",
		"LANG":                            "en_US.UTF-8",
		"LD_LIBRARY_PATH":                 "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
		"PATH":                            "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"TZ":                              "Europe/Paris",
		"_HANDLER":                        "bootstrap",
	}, env, "the function's variables and the ones AWS sets for provided.al2023, nothing of the host's")

	// Only /opt, /var/task and /tmp are mounted: the root and the working
	// directory list nothing of the host.
	require.Empty(t, got.ReaddirRoot["entries"])
	require.Empty(t, got.ReaddirCwd["entries"])
	require.NotEqual(t, "ok", got.NetDial, "no network")
	require.Equal(t, 1, got.ArgsLen)
}

func TestGoGuestProvisionedEnv(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "prov", Code: testguest.Go(t, "behave"), MinWarm: 1})
	out, err := behave(context.Background(), f, "context", nil)
	require.NoError(t, err)
	var got struct{ Env []string }
	require.NoError(t, json.Unmarshal(out, &got))
	require.Contains(t, got.Env, "AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency")
	require.Contains(t, got.Env, "TZ=:UTC", "AWS's TZ, unless the function sets its own")
}

// TestGoGuestLogStream checks that each sandbox has its own log stream, as
// each of AWS's execution environments has, kept while it lives.
func TestGoGuestLogStream(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "streams", Code: testguest.Go(t, "behave"), MaxConcurrency: 1})
	stream := func() string {
		out, err := behave(context.Background(), f, "context", nil)
		require.NoError(t, err)
		var got struct {
			LogStreamName string `json:"log_stream_name"`
		}
		require.NoError(t, json.Unmarshal(out, &got))
		require.Regexp(t, regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$`), got.LogStreamName)
		return got.LogStreamName
	}
	first := stream()
	require.Equal(t, first, stream(), "a warm sandbox keeps its stream")
	_, err := behave(context.Background(), f, "exit", map[string]any{"code": 1})
	require.Error(t, err)
	require.NotEqual(t, first, stream(), "a new sandbox has a new stream")
	require.EqualValues(t, 2, f.Stats().ColdStarts)
}

// TestTypedHandler shows a handler written for aws-lambda-go, moved over
// with only its init wiring changed, called with the typed helper.
func TestTypedHandler(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "typed", Code: testguest.Go(t, "typed")})
	type req struct {
		Name string `json:"name"`
	}
	type resp struct {
		Greeting string `json:"greeting"`
	}
	got, err := lambda.InvokeJSON[resp](context.Background(), f, req{Name: "Ada"})
	require.NoError(t, err)
	require.Equal(t, resp{Greeting: "hello, Ada"}, got)
	_, err = lambda.InvokeJSON[resp](context.Background(), f, req{})
	require.EqualError(t, err, "errorString: typed: no name given")
}

// TestGoCommandGuest runs a Go program built as a plain WASI command.
func TestGoCommandGuest(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "shout", Code: testguest.Go(t, "command")})
	got, err := lambda.InvokeJSON[string](context.Background(), f, "hello")
	require.NoError(t, err)
	require.Equal(t, "HELLO", got)
	_, err = lambda.InvokeJSON[string](context.Background(), f, "fail")
	var fe *lambda.FunctionError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "ShoutError", fe.Type)
	require.Equal(t, `cannot shout "fail"`, fe.Message)
}

// TestGoGuestInitFailure deploys a guest whose init panics: the error names
// the cause from the guest's stderr.
func TestGoGuestInitFailure(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	_, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "badinit", Code: testguest.Go(t, "badinit"), MinWarm: 1})
	var fe *lambda.FunctionError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, lambda.ErrorTypeInit, fe.Type)
	require.Contains(t, fe.Message, "handler takes 3 arguments, but at most 2 are allowed")
	_, ok := rt.Function("badinit")
	require.False(t, ok)
}
