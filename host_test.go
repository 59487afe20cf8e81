package lambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

type tenantKey struct{}

// testHost is the host module "test" the host-call guests import.
type testHost struct {
	blocked  chan context.Context // block sends its context
	release  chan struct{}        // and waits for this to close
	returned chan struct{}        // closed when block returns
}

func newTestHost() (*testHost, *lambda.HostModule) {
	h := &testHost{blocked: make(chan context.Context, 1), release: make(chan struct{}), returned: make(chan struct{})}
	type addIn struct {
		A int `json:"a"`
		B int `json:"b"`
	}
	type addOut struct {
		Sum int `json:"sum"`
	}
	m := lambda.NewHostModule("test").
		Func("echo", func(_ context.Context, in []byte) ([]byte, error) { return in, nil }).
		Func("whoami", func(ctx context.Context, _ []byte) ([]byte, error) {
			inv, ok := lambda.InvocationFromContext(ctx)
			deadline, _ := ctx.Deadline()
			return json.Marshal(map[string]any{
				"tenant":          ctx.Value(tenantKey{}),
				"ok":              ok,
				"functionName":    inv.FunctionName,
				"functionVersion": inv.FunctionVersion,
				"requestId":       inv.RequestID,
				"deadline":        inv.Deadline.UnixNano(),
				"ctxDeadline":     deadline.UnixNano(),
			})
		}).
		Func("fail", func(_ context.Context, in []byte) ([]byte, error) {
			return nil, fmt.Errorf("no record for %s", in)
		}).
		Func("panic", func(context.Context, []byte) ([]byte, error) { panic("host bug") }).
		Func("block", func(ctx context.Context, in []byte) ([]byte, error) {
			defer close(h.returned)
			h.blocked <- ctx
			<-h.release // ignores ctx
			return in, nil
		}).
		Func("add", lambda.HostFuncJSON(func(_ context.Context, in addIn) (addOut, error) {
			return addOut{Sum: in.A + in.B}, nil
		}))
	return h, m
}

// allGrants are the capabilities the hostcall guests import.
var allGrants = []string{"test", lambda.CapabilitySettings, lambda.CapabilityLog}

type hostResp struct {
	Out       string `json:"out"`
	Error     string `json:"error"`
	ErrorType string `json:"errorType"`
	Len       int    `json:"len"`
	Same      bool   `json:"same"`
	Sum       int    `json:"sum"`
	Value     string `json:"value"`
	OK        bool   `json:"ok"`
	Calls     int    `json:"calls"`
}

// hostFunction deploys the Go hostcall guest on a runtime with the test host
// module, granted it all it imports.
func hostFunction(t *testing.T, logger *slog.Logger, cfg lambda.FunctionConfig) (*lambda.Function, *testHost) {
	t.Helper()
	h, m := newTestHost()
	rt := newRuntime(t, lambda.Options{Logger: logger, HostModules: []*lambda.HostModule{m}})
	if cfg.Name == "" {
		cfg.Name = "hostfn"
	}
	if cfg.Code == nil {
		cfg.Code = testguest.Go(t, "hostcall")
	}
	if cfg.Capabilities == nil {
		cfg.Capabilities = allGrants
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return deploy(t, rt, cfg), h
}

func callHost(t *testing.T, ctx context.Context, fn *lambda.Function, req map[string]any, opts ...lambda.InvokeOption) hostResp {
	t.Helper()
	resp, err := lambda.InvokeJSON[hostResp](ctx, fn, req, opts...)
	require.NoError(t, err)
	return resp
}

func TestHostFunctionSeesInvocation(t *testing.T) {
	fn, _ := hostFunction(t, nil, lambda.FunctionConfig{Version: "7"})
	ctx := context.WithValue(context.Background(), tenantKey{}, "tenant-42")
	resp := callHost(t, ctx, fn, map[string]any{"op": "whoami"}, lambda.WithRequestID("req-1"))
	require.Empty(t, resp.Error)
	var who struct {
		Tenant          string `json:"tenant"`
		OK              bool   `json:"ok"`
		FunctionName    string `json:"functionName"`
		FunctionVersion string `json:"functionVersion"`
		RequestID       string `json:"requestId"`
		Deadline        int64  `json:"deadline"`
		CtxDeadline     int64  `json:"ctxDeadline"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.Out), &who))
	require.Equal(t, "tenant-42", who.Tenant, "the caller's context values")
	require.True(t, who.OK, "InvocationFromContext")
	require.Equal(t, "hostfn", who.FunctionName)
	require.Equal(t, "7", who.FunctionVersion)
	require.Equal(t, "req-1", who.RequestID)
	require.Equal(t, who.CtxDeadline, who.Deadline, "the invocation's deadline is the context's")
	require.InDelta(t, time.Now().Add(30*time.Second).UnixNano(), who.Deadline, float64(20*time.Second))

	_, ok := lambda.InvocationFromContext(ctx)
	require.False(t, ok)

	// During initialisation, there is no invocation.
	resp = callHost(t, ctx, fn, map[string]any{"op": "initwhoami"})
	require.Empty(t, resp.Error)
	who.OK, who.RequestID = true, "x"
	require.NoError(t, json.Unmarshal([]byte(resp.Out), &who))
	require.False(t, who.OK, "InvocationFromContext during init")
	require.Empty(t, who.RequestID)
	require.NotZero(t, who.CtxDeadline, "the initialisation's deadline")
}

func TestDeployRefusesUngrantedImport(t *testing.T) {
	acme := lambda.NewHostModule("acme").Func("lookup", func(_ context.Context, in []byte) ([]byte, error) { return in, nil })
	rt := newRuntime(t, lambda.Options{HostModules: []*lambda.HostModule{acme}})
	require.NoError(t, rt.RegisterHostModule(lambda.NewHostModule("test").Func("echo", func(_ context.Context, in []byte) ([]byte, error) { return in, nil })))
	wat := func(t *testing.T) []byte { return testguest.WAT(t, "hostimport") }
	goGuest := func(t *testing.T) []byte { return testguest.Go(t, "hostcall") }
	tests := []struct {
		name string
		code func(t *testing.T) []byte
		caps []string
		is   error
		want []string
	}{
		{"not granted", wat, []string{"test"}, lambda.ErrInvalidConfig,
			[]string{"function bad: import acme.lookup needs the capability \"acme\", which FunctionConfig.Capabilities does not grant"}},
		{"no grants", wat, nil, lambda.ErrInvalidConfig, []string{"import acme.lookup", `capability "acme"`}},
		{"built-in not granted", goGuest, []string{"test", lambda.CapabilitySettings}, lambda.ErrInvalidConfig,
			[]string{"import wasmlambda_log.log needs the capability \"wasmlambda_log\""}},
		{"unregistered capability", wat, []string{"acme", "nope"}, lambda.ErrInvalidConfig, []string{"Capabilities: no host module nope is registered"}},
		{"unknown function", goGuest, allGrants, lambda.ErrInvalidCode, []string{"unsupported import test.whoami: host module test has no function whoami (it has echo)"}},
		{"unknown module", func(t *testing.T) []byte { return testguest.WAT(t, "badimport") }, []string{"acme"}, lambda.ErrInvalidCode,
			[]string{"unsupported import env.evil: no host module env is registered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "bad", Code: tt.code(t), Capabilities: tt.caps})
			require.ErrorIs(t, err, tt.is)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			_, ok := rt.Function("bad")
			require.False(t, ok)
		})
	}

	t.Run("granted", func(t *testing.T) {
		fn := deploy(t, rt, lambda.FunctionConfig{Name: "good", Code: wat(t), Capabilities: []string{"acme"}})
		out, err := fn.Invoke(context.Background(), []byte(`"hi"`))
		require.NoError(t, err)
		require.Equal(t, `"hi"`, string(out))
	})
}

func TestRegisterHostModule(t *testing.T) {
	echo := func(_ context.Context, in []byte) ([]byte, error) { return in, nil }
	tests := []struct {
		name string
		m    *lambda.HostModule
		is   error
		want string
	}{
		{"nil", nil, lambda.ErrInvalidConfig, "host module is nil"},
		{"empty name", lambda.NewHostModule("").Func("f", echo), lambda.ErrInvalidConfig, `host module name ""`},
		{"bad name", lambda.NewHostModule("a b").Func("f", echo), lambda.ErrInvalidConfig, `host module name "a b"`},
		{"reserved wasmlambda", lambda.NewHostModule("wasmlambda_http").Func("f", echo), lambda.ErrInvalidConfig, "is reserved"},
		{"reserved wasi", lambda.NewHostModule("wasi_snapshot_preview1").Func("f", echo), lambda.ErrInvalidConfig, "is reserved"},
		{"no function", lambda.NewHostModule("acme"), lambda.ErrInvalidConfig, "host module acme has no function"},
		{"bad function name", lambda.NewHostModule("acme").Func("", echo), lambda.ErrInvalidConfig, `function name ""`},
		{"nil function", lambda.NewHostModule("acme").Func("f", nil), lambda.ErrInvalidConfig, "function f is nil"},
		{"function twice", lambda.NewHostModule("acme").Func("f", echo).Func("f", echo), lambda.ErrInvalidConfig, "function f is added twice"},
		{"module twice", lambda.NewHostModule("taken").Func("g", echo), lambda.ErrConflict, "host module taken is registered already"},
	}
	rt := newRuntime(t, lambda.Options{})
	require.NoError(t, rt.RegisterHostModule(lambda.NewHostModule("taken").Func("f", echo)))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rt.RegisterHostModule(tt.m)
			require.ErrorIs(t, err, tt.is)
			require.ErrorContains(t, err, tt.want)
		})
	}
	t.Run("in Options", func(t *testing.T) {
		_, err := lambda.New(lambda.Options{HostModules: []*lambda.HostModule{lambda.NewHostModule("acme")}})
		require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	})
	t.Run("closed", func(t *testing.T) {
		rt, err := lambda.New(lambda.Options{})
		require.NoError(t, err)
		require.NoError(t, rt.Close(context.Background()))
		require.ErrorIs(t, rt.RegisterHostModule(lambda.NewHostModule("acme").Func("f", echo)), lambda.ErrClosed)
	})
}

// TestHostFunctionErrors: a host function's error and its panic reach the
// guest as errors it handles, and the sandbox stays warm.
func TestHostFunctionErrors(t *testing.T) {
	logs := &logRecorder{}
	fn, _ := hostFunction(t, slog.New(logs), lambda.FunctionConfig{MaxConcurrency: 1})
	ctx := context.Background()

	resp := callHost(t, ctx, fn, map[string]any{"op": "fail", "data": "k1"})
	require.Equal(t, "no record for k1", resp.Error)
	require.Equal(t, "*guest.HostError", resp.ErrorType)
	require.Equal(t, 1, resp.Calls)

	resp = callHost(t, ctx, fn, map[string]any{"op": "panic"}, lambda.WithRequestID("req-panic"))
	require.Equal(t, "host function test.panic panicked", resp.Error)
	require.Equal(t, "*guest.HostError", resp.ErrorType)
	require.Equal(t, 2, resp.Calls, "the same warm sandbox")

	resp = callHost(t, ctx, fn, map[string]any{"op": "echo", "data": "still here"})
	require.Equal(t, "still here", resp.Out)
	require.Equal(t, 3, resp.Calls, "the same warm sandbox")

	stats := fn.Stats()
	require.Equal(t, int64(1), stats.ColdStarts)
	require.Zero(t, stats.Discarded)

	recs := logs.find("host function panicked")
	require.Len(t, recs, 1)
	require.Equal(t, slog.LevelError, recs[0].Level)
	require.Equal(t, "test.panic", recs[0].Attrs["host_function"])
	require.Equal(t, "host bug", recs[0].Attrs["panic"])
	require.Equal(t, "req-panic", recs[0].Attrs["request_id"])
	require.Equal(t, "hostfn", recs[0].Attrs["function"])
	require.Contains(t, recs[0].Attrs["stack"], "host_test.go")
}

// TestHostFunctionPastDeadline: a host function that ignores its context
// and runs past the deadline does not hold the invocation: it times out at
// its deadline, the host function's context has ended, and the sandbox is
// discarded.
func TestHostFunctionPastDeadline(t *testing.T) {
	fn, h := hostFunction(t, nil, lambda.FunctionConfig{Timeout: 300 * time.Millisecond, MaxConcurrency: 1})
	defer func() {
		close(h.release)
		<-h.returned
	}()
	ctx := waitCtx(t)
	_, err := fn.Invoke(ctx, []byte(`{"op":"block"}`))
	require.ErrorIs(t, err, lambda.ErrTimeout)
	var hctx context.Context
	select {
	case hctx = <-h.blocked:
	default:
		t.Fatal("the host function was never called")
	}
	require.ErrorIs(t, hctx.Err(), context.DeadlineExceeded)
	select {
	case <-h.returned:
		t.Fatal("the host function returned, though it was never released")
	default:
	}
	stats := fn.Stats()
	require.Equal(t, int64(1), stats.Discarded)
	require.Zero(t, stats.Open)

	// The next invocation gets a new sandbox.
	resp := callHost(t, ctx, fn, map[string]any{"op": "echo", "data": "next"})
	require.Equal(t, "next", resp.Out)
	require.Equal(t, 1, resp.Calls)
	require.Equal(t, int64(2), fn.Stats().ColdStarts)
}

// TestHostFunctionHammer: 32 goroutines invoke one function at once, each
// sandbox calling host functions with its caller's data and context, and
// each gets its own back.
func TestHostFunctionHammer(t *testing.T) {
	fn, _ := hostFunction(t, nil, lambda.FunctionConfig{MaxConcurrency: 8})
	const goroutines, rounds = 32, 10
	ctx := waitCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				// Up to 18 KiB: past the guest SDK's 16 KiB buffer for some.
				data := fmt.Sprintf("g%d-r%d-%s", g, i, strings.Repeat("x", g*600))
				tenant := fmt.Sprintf("tenant-%d", g)
				resp, err := lambda.InvokeJSON[hostResp](context.WithValue(ctx, tenantKey{}, tenant), fn, map[string]any{"op": "echo", "data": data, "n": 3})
				if err == nil && resp.Out != data {
					err = fmt.Errorf("goroutine %d round %d: got %q, want %q", g, i, resp.Out, data)
				}
				if err == nil {
					var who struct {
						Tenant string `json:"tenant"`
					}
					resp, err = lambda.InvokeJSON[hostResp](context.WithValue(ctx, tenantKey{}, tenant), fn, map[string]any{"op": "whoami"})
					if err == nil {
						err = json.Unmarshal([]byte(resp.Out), &who)
					}
					if err == nil && who.Tenant != tenant {
						err = fmt.Errorf("goroutine %d round %d: the host function saw tenant %q, want %q", g, i, who.Tenant, tenant)
					}
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Zero(t, fn.Stats().Discarded)
}

func TestHostCallGuestSDK(t *testing.T) {
	fn, _ := hostFunction(t, nil, lambda.FunctionConfig{Settings: map[string]string{"greeting": "hello", "empty": ""}})
	ctx := context.Background()
	tests := []struct {
		name string
		req  map[string]any
		want hostResp
	}{
		{"json", map[string]any{"op": "add", "a": 2, "b": 40}, hostResp{Sum: 42}},
		{"output past the guest's buffer", map[string]any{"op": "big", "size": 100000}, hostResp{Len: 100000, Same: true}},
		{"output of the guest's buffer", map[string]any{"op": "big", "size": 16 << 10}, hostResp{Len: 16 << 10, Same: true}},
		{"empty input and output", map[string]any{"op": "big", "size": 0}, hostResp{Same: true}},
		{"setting", map[string]any{"op": "setting", "key": "greeting"}, hostResp{Value: "hello", OK: true}},
		{"empty setting", map[string]any{"op": "setting", "key": "empty"}, hostResp{OK: true}},
		{"unset setting", map[string]any{"op": "setting", "key": "nope"}, hostResp{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, callHost(t, ctx, fn, tt.req))
		})
	}
}

func TestHostCallLog(t *testing.T) {
	logs := &logRecorder{}
	fn, _ := hostFunction(t, slog.New(logs), lambda.FunctionConfig{})
	resp := callHost(t, context.Background(), fn, map[string]any{"op": "log"}, lambda.WithRequestID("req-log"))
	require.True(t, resp.OK)
	tests := []struct {
		msg   string
		level slog.Level
		attrs map[string]any
	}{
		{"initialising", slog.LevelInfo, map[string]any{"phase": "init", "request_id": nil}},
		{"debugging", slog.LevelDebug, map[string]any{"step": "1"}},
		{"hello from the guest", slog.LevelInfo, map[string]any{"user": "ada", "req.path": "/x"}},
		{"careful", slog.LevelWarn, nil},
		{"broken", slog.LevelError, nil},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			recs := logs.find(tt.msg)
			require.Len(t, recs, 1)
			require.Equal(t, tt.level, recs[0].Level)
			want := map[string]any{"function": "hostfn", "version": "$LATEST", "request_id": "req-log"}
			for k, v := range tt.attrs {
				want[k] = v
				if v == nil {
					delete(want, k)
				}
			}
			require.Equal(t, want, recs[0].Attrs)
		})
	}

	t.Run("over MaxLogBytes", func(t *testing.T) {
		logs := &logRecorder{}
		fn, _ := hostFunction(t, slog.New(logs), lambda.FunctionConfig{Name: "small", MaxLogBytes: 80})
		for range 2 { // each invocation has its own share
			resp := callHost(t, context.Background(), fn, map[string]any{"op": "log"})
			require.True(t, resp.OK)
		}
		require.Len(t, logs.find("initialising"), 1)
		require.Len(t, logs.find("debugging"), 2)
		require.Len(t, logs.find("broken"), 0)
		dropped := logs.find("log records dropped")
		require.Len(t, dropped, 2, "one warning per invocation")
		require.Equal(t, slog.LevelWarn, dropped[0].Level)
		require.Equal(t, int64(80), dropped[0].Attrs["limit_bytes"])
	})
}

// TestHostCallCGuest: a guest in C calls host functions through the ABI
// alone.
func TestHostCallCGuest(t *testing.T) {
	logs := &logRecorder{}
	fn, _ := hostFunction(t, slog.New(logs), lambda.FunctionConfig{
		Name:         "cguest",
		Code:         testguest.C(t, "hostcall", true),
		Capabilities: []string{"test", lambda.CapabilitySettings, lambda.CapabilityLog},
		Settings:     map[string]string{"greeting": "bonjour"},
		MaxLogBytes:  1 << 20,
	})
	long := `"` + strings.Repeat("abcdefgh", 1000) + `"`
	tests := []struct {
		name, event, out string
		err              string
	}{
		{"echo in the guest's buffer", `"hi"`, `"hi"`, ""},
		{"echo past the guest's buffer", long, long, ""},
		{"setting", `"setting"`, "bonjour", ""},
		{"error", `"fail me"`, "", `no record for "fail me"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := fn.Invoke(context.Background(), []byte(tt.event), lambda.WithRequestID("req-"+tt.name))
			if tt.err != "" {
				var fe *lambda.FunctionError
				require.ErrorAs(t, err, &fe)
				require.Equal(t, "HostError", fe.Type)
				require.Equal(t, tt.err, fe.Message)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.out, string(out))
		})
	}
	recs := logs.find("c guest called the host")
	require.Len(t, recs, len(tests))
	require.Equal(t, slog.LevelWarn, recs[0].Level)
	require.Equal(t, "4", recs[0].Attrs["bytes"])
	require.Equal(t, "req-echo in the guest's buffer", recs[0].Attrs["request_id"])
	require.Equal(t, "cguest", recs[0].Attrs["function"])
	require.Zero(t, fn.Stats().Discarded)
}

func TestCapabilitiesConfig(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	code := testguest.WAT(t, "counter")
	tests := []struct {
		name string
		cfg  lambda.FunctionConfig
		want string
	}{
		{"empty capability", lambda.FunctionConfig{Capabilities: []string{lambda.CapabilityLog, ""}}, "Capabilities: a capability name is empty"},
		{"empty setting key", lambda.FunctionConfig{Settings: map[string]string{"": "v"}}, "Settings: a key is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Name, tt.cfg.Code = "f", code
			_, err := rt.Deploy(context.Background(), tt.cfg)
			require.ErrorIs(t, err, lambda.ErrInvalidConfig)
			require.ErrorContains(t, err, tt.want)
		})
	}

	t.Run("Config returns copies", func(t *testing.T) {
		caps := []string{lambda.CapabilitySettings, lambda.CapabilitySettings}
		settings := map[string]string{"k": "v"}
		fn := deploy(t, rt, lambda.FunctionConfig{Name: "copies", Code: code, Capabilities: caps, Settings: settings})
		caps[0], settings["k"] = "changed", "changed"
		cfg := fn.Config()
		require.Equal(t, []string{lambda.CapabilitySettings, lambda.CapabilitySettings}, cfg.Capabilities)
		require.Equal(t, map[string]string{"k": "v"}, cfg.Settings)
		cfg.Capabilities[0], cfg.Settings["k"] = "changed", "changed"
		require.Equal(t, lambda.CapabilitySettings, fn.Config().Capabilities[0])
		require.Equal(t, "v", fn.Config().Settings["k"])
	})
}
