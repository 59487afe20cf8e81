package guest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/abi"
)

func mustHandler(t *testing.T, handler any) Handler {
	t.Helper()
	h, err := NewHandler(handler)
	require.NoError(t, err)
	return h
}

// decodeError decodes an error payload.
func decodeError(t *testing.T, b []byte) abi.ErrorPayload {
	t.Helper()
	var p abi.ErrorPayload
	require.NoError(t, json.Unmarshal(b, &p), "payload %s", b)
	return p
}

type valueError struct{}

func (valueError) Error() string { return "a value error" }

type pointerError struct{ msg string }

func (e *pointerError) Error() string { return e.msg }

func TestServeErrors(t *testing.T) {
	frames := []*messages.InvokeResponse_Error_StackFrame{{Path: "a.go", Line: 3, Label: "f"}, nil}
	tests := []struct {
		name       string
		err        error
		wantStatus abi.Status
		want       abi.ErrorPayload
	}{
		{"errors.New", errors.New("boom"), abi.StatusError, abi.ErrorPayload{Message: "boom", Type: "errorString"}},
		{
			"fmt.Errorf wrapping",
			fmt.Errorf("ctx: %w", io.EOF), abi.StatusError,
			abi.ErrorPayload{Message: "ctx: EOF", Type: "wrapError"},
		},
		{"a value type", valueError{}, abi.StatusError, abi.ErrorPayload{Message: "a value error", Type: "valueError"}},
		{
			"a pointer type is named without the pointer",
			&pointerError{"pointed"}, abi.StatusError,
			abi.ErrorPayload{Message: "pointed", Type: "pointerError"},
		},
		{
			"an unnamed type has no name, as in aws-lambda-go",
			&struct{ error }{errors.New("anonymous")}, abi.StatusError,
			abi.ErrorPayload{Message: "anonymous", Type: ""},
		},
		{
			"messages.InvokeResponse_Error passes through",
			messages.InvokeResponse_Error{Message: "custom", Type: "Custom.Type", StackTrace: frames},
			abi.StatusError,
			abi.ErrorPayload{Message: "custom", Type: "Custom.Type", StackTrace: []abi.StackFrame{{Path: "a.go", Line: 3, Label: "f"}}},
		},
		{
			"messages.InvokeResponse_Error asking to exit is fatal",
			messages.InvokeResponse_Error{Message: "bye", Type: "Bye", ShouldExit: true},
			abi.StatusFatal,
			abi.ErrorPayload{Message: "bye", Type: "Bye"},
		},
		{
			"a wrapped messages.InvokeResponse_Error is an ordinary error, as in aws-lambda-go",
			fmt.Errorf("w: %w", messages.InvokeResponse_Error{Message: "m", Type: "T"}),
			abi.StatusError,
			abi.ErrorPayload{Message: `w: messages.InvokeResponse_Error{Message:"m", Type:"T", StackTrace:[]*messages.InvokeResponse_Error_StackFrame(nil), ShouldExit:false}`, Type: "wrapError"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustHandler(t, func() error { return tt.err })
			status, out := serve(h, &abi.Request{})
			require.Equal(t, tt.wantStatus, status)
			require.Equal(t, tt.want, decodeError(t, out))
		})
	}
}

func TestServeSuccess(t *testing.T) {
	h := mustHandler(t, func(ctx context.Context, in map[string]int) (map[string]int, error) {
		in["n"]++
		return in, nil
	})
	status, out := serve(h, &abi.Request{Payload: []byte(`{"n":41}`)})
	require.Equal(t, abi.StatusOK, status)
	require.JSONEq(t, `{"n":42}`, string(out))

	status, out = serve(h, &abi.Request{Payload: []byte(`{"n":`)})
	require.Equal(t, abi.StatusError, status)
	require.Equal(t, abi.ErrorPayload{Message: "unexpected EOF", Type: "errorString"}, decodeError(t, out))
}

func panicsDeep(v any) { panic(v) }

func TestServePanic(t *testing.T) {
	var nilMap map[string]int
	tests := []struct {
		name        string
		handler     any
		wantStatus  abi.Status
		wantMessage string
		wantType    string
		wantFrame   string // the label of the frame that panicked
		reflect     bool   // reflect called the handler
	}{
		{
			name:        "a string",
			handler:     func() { panicsDeep("boom") },
			wantStatus:  abi.StatusFatal,
			wantMessage: "boom", wantType: "string", wantFrame: "panicsDeep", reflect: true,
		},
		{
			name:        "an error",
			handler:     func(ctx context.Context) error { panicsDeep(&pointerError{"bad"}); return nil },
			wantStatus:  abi.StatusFatal,
			wantMessage: "bad", wantType: "pointerError", wantFrame: "panicsDeep", reflect: true,
		},
		{
			name:        "a runtime error",
			handler:     func(s []int) (int, error) { return s[3], nil },
			wantStatus:  abi.StatusFatal,
			wantMessage: "runtime error: index out of range [3] with length 1", wantType: "boundsError",
			wantFrame: "TestServePanic.func3", reflect: true,
		},
		{
			name:        "a nil map write",
			handler:     func() { nilMap["x"] = 1 },
			wantStatus:  abi.StatusFatal,
			wantMessage: "assignment to entry in nil map", wantType: "plainError",
			wantFrame: "TestServePanic.func4", reflect: true,
		},
		{
			name:        "panic(nil)",
			handler:     func() { panic(nil) }, //nolint:govet // the point of the test
			wantStatus:  abi.StatusFatal,
			wantMessage: "panic called with nil argument", wantType: "PanicNilError",
			wantFrame: "TestServePanic.func5", reflect: true,
		},
		{
			name: "a messages.InvokeResponse_Error passes through and is not fatal, as in aws-lambda-go",
			handler: func() {
				panic(messages.InvokeResponse_Error{Message: "m", Type: "T"})
			},
			wantStatus:  abi.StatusError,
			wantMessage: "m", wantType: "T",
		},
		{
			name:        "a Handler",
			handler:     panicHandler{},
			wantStatus:  abi.StatusFatal,
			wantMessage: "raw", wantType: "string", wantFrame: "panicHandler.Invoke",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := serve(mustHandler(t, tt.handler), &abi.Request{Payload: []byte(`[1]`)})
			require.Equal(t, tt.wantStatus, status)
			p := decodeError(t, out)
			require.Equal(t, tt.wantMessage, p.Message)
			require.Equal(t, tt.wantType, p.Type)
			if tt.wantFrame == "" {
				require.Empty(t, p.StackTrace)
				return
			}
			// The whole stack, as aws-lambda-go sends it: from the SDK's
			// frame that builds the error, through the deferred call that
			// recovered and the runtime's panic, to the handler and the
			// frames that called it, at most 32.
			require.LessOrEqual(t, len(p.StackTrace), maxStackFrames)
			labels := make([]string, len(p.StackTrace))
			for i, f := range p.StackTrace {
				labels[i] = f.Label
			}
			require.Greater(t, len(labels), 3, "trace %v", p.StackTrace)
			require.Equal(t, []string{"panicResponse", "callHandler.func1", "gopanic"}, labels[:3], "trace %v", p.StackTrace)
			require.Equal(t, "runtime/panic.go", p.StackTrace[2].Path)
			at := slices.Index(labels, tt.wantFrame)
			require.Greater(t, at, 2, "trace %v", p.StackTrace)
			for _, f := range p.StackTrace[3:at] {
				require.NotContains(t, f.Path, "/guest/", "only the runtime's frames come between: trace %v", p.StackTrace)
			}
			// As in aws-lambda-go, a path with fewer elements than the
			// function's import path suggests (a module outside GOPATH) is
			// kept whole.
			require.True(t, strings.HasSuffix(p.StackTrace[at].Path, "/guest/invoke_test.go"), "path %s", p.StackTrace[at].Path)
			require.Positive(t, p.StackTrace[at].Line)
			callers := labels[at+1:]
			require.Contains(t, callers, "callHandler", "trace %v", p.StackTrace)
			require.Contains(t, callers, "serve", "trace %v", p.StackTrace)
			if tt.reflect {
				require.Contains(t, callers, "Value.Call", "trace %v", p.StackTrace)
				require.Contains(t, callers, "(*reflectHandler).Invoke", "trace %v", p.StackTrace)
			}
		})
	}
}

type panicHandler struct{}

func (panicHandler) Invoke(context.Context, []byte) ([]byte, error) { panic("raw") }

// TestServePanicStackDepth: a deep stack is cut at 32 frames from the
// top, as aws-lambda-go cuts it, so that the frames nearest the panic stay.
func TestServePanicStackDepth(t *testing.T) {
	var recurse func(n int)
	recurse = func(n int) {
		if n == 0 {
			panic("deep")
		}
		recurse(n - 1)
	}
	status, out := serve(mustHandler(t, func() { recurse(100) }), &abi.Request{})
	require.Equal(t, abi.StatusFatal, status)
	p := decodeError(t, out)
	require.Len(t, p.StackTrace, maxStackFrames)
	require.Equal(t, "gopanic", p.StackTrace[2].Label)
	for _, f := range p.StackTrace[3:] {
		require.Equal(t, "TestServePanicStackDepth.func1", f.Label)
	}
}

func TestStackFrame(t *testing.T) {
	tests := []struct {
		frame runtime.Frame
		want  abi.StackFrame
	}{
		{
			runtime.Frame{Function: "main.handler", File: "/build/src/app/main.go", Line: 12},
			abi.StackFrame{Path: "app/main.go", Line: 12, Label: "handler"},
		},
		{
			runtime.Frame{Function: "example.com/a/pkg.(*T).Method", File: "/home/u/go/pkg/mod/example.com/a/pkg/t.go", Line: 7},
			abi.StackFrame{Path: "example.com/a/pkg/t.go", Line: 7, Label: "(*T).Method"},
		},
		{
			runtime.Frame{Function: "example.com/a/pkg.f.func1", File: "t.go", Line: 1},
			abi.StackFrame{Path: "t.go", Line: 1, Label: "f.func1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.frame.Function, func(t *testing.T) {
			require.Equal(t, tt.want, stackFrame(tt.frame))
		})
	}
}

type funcError func() string

// TestErrorTypeName checks errorType is what aws-lambda-go's getErrorType
// gives: the type's name, through one pointer, empty for an unnamed type.
func TestErrorTypeName(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{"s", "string"},
		{42, "int"},
		{errors.New("x"), "errorString"},
		{&pointerError{}, "pointerError"},
		{valueError{}, "valueError"},
		{struct{ error }{}, ""},
		{&struct{ error }{}, ""},
		{func() {}, ""},
		{funcError(nil), "funcError"},
		{new(*pointerError), ""},
		{[]string{}, ""},
		{nil, "nil"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T", tt.v), func(t *testing.T) {
			require.Equal(t, tt.want, errorTypeName(tt.v))
		})
	}
}

// contextReport is what the context test handler sees.
type contextReport struct {
	RequestID     string
	ARN           string
	HasDeadline   bool
	Deadline      time.Time
	ClientContext lambdacontext.ClientContext
	Identity      lambdacontext.CognitoIdentity
	HasLambdaCtx  bool
}

func TestServeContext(t *testing.T) {
	var seen context.Context
	h := mustHandler(t, func(ctx context.Context) (contextReport, error) {
		seen = ctx
		require.NoError(t, ctx.Err(), "the context is live during the call")
		var r contextReport
		r.Deadline, r.HasDeadline = ctx.Deadline()
		lc, ok := lambdacontext.FromContext(ctx)
		if ok {
			r.HasLambdaCtx = true
			r.RequestID, r.ARN = lc.AwsRequestID, lc.InvokedFunctionArn
			r.ClientContext, r.Identity = lc.ClientContext, lc.Identity
		}
		return r, nil
	})
	deadline := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	const arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
	tests := []struct {
		name string
		req  abi.Request
		want contextReport
	}{
		{
			name: "everything",
			req: abi.Request{
				DeadlineMs:         deadline.UnixMilli(),
				RequestID:          "req-1",
				InvokedFunctionARN: arn,
				ClientContext:      []byte(`{"Client":{"app_title":"app"},"env":{"k":"v"},"custom":{"a":"b","n":{"x":1}}}`),
				Identity:           []byte(`{"CognitoIdentityID":"id","CognitoIdentityPoolID":"pool"}`),
			},
			want: contextReport{
				RequestID: "req-1", ARN: arn, HasDeadline: true, Deadline: deadline, HasLambdaCtx: true,
				ClientContext: lambdacontext.ClientContext{
					Client: lambdacontext.ClientApplication{AppTitle: "app"},
					Env:    map[string]string{"k": "v"},
					Custom: map[string]string{"a": "b", "n": `{"x":1}`},
				},
				Identity: lambdacontext.CognitoIdentity{CognitoIdentityID: "id", CognitoIdentityPoolID: "pool"},
			},
		},
		{
			name: "no deadline, client context or identity",
			req:  abi.Request{RequestID: "req-2"},
			want: contextReport{RequestID: "req-2", HasLambdaCtx: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := serve(h, &tt.req)
			require.Equal(t, abi.StatusOK, status, "%s", out)
			var got contextReport
			require.NoError(t, json.Unmarshal(out, &got))
			if tt.want.HasDeadline {
				require.True(t, tt.want.Deadline.Equal(got.Deadline), "deadline %v, want %v", got.Deadline, tt.want.Deadline)
				got.Deadline = tt.want.Deadline
			}
			require.Equal(t, tt.want, got)
			require.ErrorIs(t, seen.Err(), context.Canceled, "the context is cancelled after the call")
		})
	}
}

func TestServeContextDeadlinePassed(t *testing.T) {
	h := mustHandler(t, func(ctx context.Context) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})
	status, out := serve(h, &abi.Request{DeadlineMs: time.Now().Add(-time.Second).UnixMilli()})
	require.Equal(t, abi.StatusError, status)
	require.Equal(t, abi.ErrorPayload{Message: "context deadline exceeded", Type: "deadlineExceededError"}, decodeError(t, out))
}

func TestServeInvalidContext(t *testing.T) {
	called := false
	h := mustHandler(t, func() { called = true })
	tests := []struct {
		name string
		req  abi.Request
		want string
	}{
		{
			"client context",
			abi.Request{ClientContext: []byte(`{`)},
			"failed to unmarshal client context json: unexpected end of JSON input",
		},
		{
			"identity",
			abi.Request{Identity: []byte(`[]`)},
			"failed to unmarshal cognito identity json: json: cannot unmarshal array into Go value of type lambdacontext.CognitoIdentity",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := serve(h, &tt.req)
			require.Equal(t, abi.StatusError, status)
			require.Equal(t, abi.ErrorPayload{Message: tt.want, Type: "Runtime.InvalidContext"}, decodeError(t, out))
			require.False(t, called)
		})
	}
}

// setRegistered registers h for the duration of the test.
func setRegistered(t *testing.T, h Handler) {
	old := registered
	registered = h
	t.Cleanup(func() { registered = old })
}

func envelope(r abi.Request) []byte {
	b := make([]byte, r.Size())
	r.Encode(b)
	return b
}

func TestInvokeEnvelope(t *testing.T) {
	t.Run("no handler", func(t *testing.T) {
		setRegistered(t, nil)
		status, out := invokeEnvelope(envelope(abi.Request{Payload: []byte(`"x"`)}))
		require.Equal(t, abi.StatusError, status)
		p := decodeError(t, out)
		require.Equal(t, "Runtime.NoHandler", p.Type)
		require.Contains(t, p.Message, "call guest.Start from an init function")
		require.Contains(t, p.Message, "-buildmode=c-shared")
	})

	setRegistered(t, mustHandler(t, func(ctx context.Context, s string) (string, error) {
		lc, _ := lambdacontext.FromContext(ctx)
		return lc.AwsRequestID + ":" + strings.ToUpper(s), nil
	}))
	good := envelope(abi.Request{RequestID: "r1", DeadlineMs: time.Now().Add(time.Minute).UnixMilli(), Payload: []byte(`"x"`)})
	wrongVersion := bytes.Clone(good)
	wrongVersion[0] = 2
	tests := []struct {
		name       string
		envelope   []byte
		wantStatus abi.Status
		want       string
	}{
		{"a good envelope", good, abi.StatusOK, `"r1:X"`},
		{"too short", good[:10], abi.StatusError, "abi: malformed envelope: 10 bytes is shorter than the 20-byte header"},
		{"truncated", good[:len(good)-1], abi.StatusError, "abi: malformed envelope: field of 3 bytes at offset 50 overruns the envelope"},
		{"an unknown version", wrongVersion, abi.StatusError, "abi: malformed envelope: version 2, want 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := invokeEnvelope(tt.envelope)
			require.Equal(t, tt.wantStatus, status)
			if status == abi.StatusOK {
				require.Equal(t, tt.want, string(out))
				return
			}
			require.Equal(t, abi.ErrorPayload{Message: tt.want, Type: "Runtime.InvalidEnvelope"}, decodeError(t, out))
		})
	}
}

func TestEnvelopeView(t *testing.T) {
	buf := make([]byte, 8, 16)
	for i := range buf[:cap(buf)] {
		buf[:cap(buf)][i] = byte(i)
	}
	const base = 1000
	tests := []struct {
		name    string
		ptr, n  uint32
		want    []byte
		wantErr string
	}{
		{name: "the whole buffer", ptr: base, n: 16, want: buf[:16]},
		{name: "a part", ptr: base + 4, n: 2, want: []byte{4, 5}},
		{name: "empty at the end", ptr: base + 16, n: 0, want: []byte{}},
		{name: "past the end", ptr: base + 10, n: 7, wantErr: "envelope [0x3f2, 0x3f9) lies outside the 16-byte buffer at 0x3e8 from wasmlambda_v1_alloc"},
		{name: "before the start", ptr: base - 1, n: 1, wantErr: "envelope [0x3e7, 0x3e8) lies outside"},
		{name: "wrapping", ptr: 0xffff_ffff, n: 0xffff_ffff, wantErr: "lies outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := envelopeView(buf, base, tt.ptr, tt.n)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, len(got), cap(got), "the view cannot be appended into the buffer")
		})
	}
}

// failingReader fails every read.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("stdin broke") }

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stdout broke") }

type shoutError struct{ in string }

func (e shoutError) Error() string { return "cannot shout " + e.in }

func TestRunCommand(t *testing.T) {
	deadline := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	h := mustHandler(t, func(ctx context.Context, s string) (map[string]any, error) {
		switch s {
		case "fail":
			return nil, shoutError{s}
		case "panic":
			panic("command panic")
		}
		lc, _ := lambdacontext.FromContext(ctx)
		d, ok := ctx.Deadline()
		return map[string]any{
			"out": strings.ToUpper(s), "id": lc.AwsRequestID, "arn": lc.InvokedFunctionArn,
			"deadline": d.UnixMilli(), "hasDeadline": ok,
			"custom": lc.ClientContext.Custom, "identity": lc.Identity.CognitoIdentityID,
		}, nil
	})
	env := map[string]string{
		abi.EnvRequestID:          "cmd-1",
		abi.EnvDeadlineMs:         fmt.Sprint(deadline.UnixMilli()),
		abi.EnvInvokedFunctionARN: "arn:fn",
		abi.EnvClientContext:      `{"custom":{"k":"v"}}`,
		abi.EnvIdentity:           `{"CognitoIdentityID":"who"}`,
	}
	getenv := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	withEnv := func(k, v string) map[string]string {
		m := make(map[string]string, len(env))
		for k, v := range env {
			m[k] = v
		}
		m[k] = v
		return m
	}

	tests := []struct {
		name     string
		stdin    io.Reader
		env      map[string]string
		wantCode int
		wantJSON string           // a success response
		wantErr  abi.ErrorPayload // an error object, without its stack trace
	}{
		{
			name: "success", stdin: strings.NewReader(`"hi"`), env: env, wantCode: 0,
			wantJSON: fmt.Sprintf(`{"out":"HI","id":"cmd-1","arn":"arn:fn","deadline":%d,"hasDeadline":true,`+
				`"custom":{"k":"v"},"identity":"who"}`, deadline.UnixMilli()),
		},
		{
			name: "no environment", stdin: strings.NewReader(`"hi"`), env: nil, wantCode: 0,
			wantJSON: `{"out":"HI","id":"","arn":"","deadline":-62135596800000,"hasDeadline":false,"custom":null,"identity":""}`,
		},
		{
			name: "a function error", stdin: strings.NewReader(`"fail"`), env: env, wantCode: 1,
			wantErr: abi.ErrorPayload{Message: "cannot shout fail", Type: "shoutError"},
		},
		{
			name: "a panic", stdin: strings.NewReader(`"panic"`), env: env, wantCode: 1,
			wantErr: abi.ErrorPayload{Message: "command panic", Type: "string"},
		},
		{
			name: "an invalid deadline", stdin: strings.NewReader(`"hi"`), env: withEnv(abi.EnvDeadlineMs, "soon"), wantCode: 1,
			wantErr: abi.ErrorPayload{
				Message: `failed to parse deadline: strconv.ParseInt: parsing "soon": invalid syntax`,
				Type:    "Runtime.InvalidContext",
			},
		},
		{
			name: "an invalid client context", stdin: strings.NewReader(`"hi"`), env: withEnv(abi.EnvClientContext, "{"), wantCode: 1,
			wantErr: abi.ErrorPayload{
				Message: "failed to unmarshal client context json: unexpected end of JSON input",
				Type:    "Runtime.InvalidContext",
			},
		},
		{
			name: "invalid JSON", stdin: strings.NewReader(`{`), env: env, wantCode: 1,
			wantErr: abi.ErrorPayload{Message: "unexpected EOF", Type: "errorString"},
		},
		{
			name: "a failing stdin", stdin: failingReader{}, env: env, wantCode: 1,
			wantErr: abi.ErrorPayload{
				Message: "wasmlambda/guest: reading the event from standard input: stdin broke",
				Type:    "wrapError",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			code := runCommand(h, tt.stdin, &stdout, getenv(tt.env))
			require.Equal(t, tt.wantCode, code)
			if tt.wantJSON != "" {
				require.JSONEq(t, tt.wantJSON, stdout.String())
				return
			}
			p := decodeError(t, stdout.Bytes())
			p.StackTrace = nil
			require.Equal(t, tt.wantErr, p)
		})
	}

	t.Run("a failing stdout", func(t *testing.T) {
		require.Equal(t, 1, runCommand(h, strings.NewReader(`"hi"`), failingWriter{}, getenv(env)))
	})
	t.Run("a handler without a result writes null", func(t *testing.T) {
		var stdout bytes.Buffer
		require.Equal(t, 0, runCommand(mustHandler(t, func() {}), strings.NewReader(""), &stdout, getenv(nil)))
		require.Equal(t, "null", stdout.String())
	})
}

func TestIsReactorNatively(t *testing.T) {
	// A test binary is built with -buildmode=exe.
	require.False(t, isReactor())
}

func TestStartTwice(t *testing.T) {
	setRegistered(t, mustHandler(t, func() {}))
	require.PanicsWithValue(t, "wasmlambda/guest: Start called more than once; a guest serves one handler",
		func() { Start(func() {}) })
}
