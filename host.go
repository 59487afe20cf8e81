package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wasmlambda/lambda/internal/abi"
	"github.com/wasmlambda/lambda/internal/lazyregexp"
	"github.com/wasmlambda/lambda/internal/wasm"
)

// Names of the built-in host modules. Each is a capability a function is
// granted by naming it in FunctionConfig.Capabilities, and the module a
// guest imports its functions from (docs/ABI.md).
const (
	// CapabilitySettings lets a guest read FunctionConfig.Settings, one key
	// at a time, as Extism's config_get: its function get takes a key and
	// returns the value, or fails when the key is not set.
	CapabilitySettings = "wasmlambda_settings"
	// CapabilityLog lets a guest log to the runtime's Options.Logger with a
	// level and attributes, beside its standard output and error: its
	// function log takes a record encoded as docs/ABI.md says.
	CapabilityLog = "wasmlambda_log"
	// CapabilityHTTP lets a guest make HTTP requests through the host, to
	// the hosts and with the methods that FunctionConfig.HTTP allows: its
	// function request takes a request encoded as docs/ABI.md says and
	// returns the response. FunctionConfig.HTTP grants it; naming it in
	// Capabilities as well is allowed, and without FunctionConfig.HTTP
	// refused.
	CapabilityHTTP = "wasmlambda_http"
	// CapabilityStream lets a guest stream its response: its function
	// write sends a chunk to the stream of an invocation made with
	// WithResponseStream, and fails in any other. Every function is
	// granted it; naming it in Capabilities changes nothing.
	CapabilityStream = "wasmlambda_stream"
)

// HostFunc is a function of the host that a guest calls: it gets the guest's
// input and returns its output, both opaque bytes (HostFuncJSON makes one
// that speaks JSON). The input is the function's own, a copy of the guest's,
// and the output is copied into the guest after it returns.
//
// The context is the invocation's: it carries the values of the context the
// caller gave Invoke (a tenant ID, say), [InvocationFromContext] reports the
// invocation, and it ends at the invocation's deadline, or when the caller
// cancels. A host function called while a sandbox initialises (from a Go
// guest's init, say) gets the initialisation's context, where
// InvocationFromContext reports nothing.
//
// A HostFunc is called by many sandboxes at once and must be safe for
// concurrent use.
//
// # Errors
//
// A returned error reaches the guest as an error, not a trap: the guest gets
// err.Error() as the message, and the sandbox stays warm. A panic is
// recovered, logged (as "host function panicked", with the value and the
// stack) and reported to the guest as an error that names the function but
// not the value.
//
// # Deadlines
//
// A host function runs on a goroutine of its own, and the guest waits for
// it only until the invocation's context ends. Then the invocation ends as
// any other would (with a timeout, errors.Is ErrTimeout, at the deadline),
// and its sandbox is discarded, whether or not the host function has
// returned; what it returns later is dropped. A host function should
// return when its context ends: one that does not keeps its goroutine until
// it returns.
type HostFunc func(ctx context.Context, in []byte) ([]byte, error)

// HostFuncJSON returns a HostFunc whose input is the JSON of an In and
// whose output is the JSON of fn's Out. An input that does not decode into
// an In, and an Out that does not encode, reach the guest as errors.
func HostFuncJSON[In, Out any](fn func(ctx context.Context, in In) (Out, error)) HostFunc {
	return func(ctx context.Context, b []byte) ([]byte, error) {
		var in In
		if err := json.Unmarshal(b, &in); err != nil {
			return nil, fmt.Errorf("decode the input as %T: %w", in, err)
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	}
}

// HostModule is a named set of host functions that guests import: a guest
// imports the function NAME of the module MODULE as the wasm import
// MODULE.NAME. Build one with NewHostModule and Func, register it on the
// Runtime (Options.HostModules or Runtime.RegisterHostModule), and grant it
// to the functions that may use it in FunctionConfig.Capabilities, by its
// name.
//
// A HostModule is a builder: it is not safe for concurrent use while it is
// being built. Registering it copies its functions, so that a Func added
// later changes nothing in the runtime.
type HostModule struct {
	name  string
	funcs map[string]HostFunc
	err   error
}

// hostNameRE is what a host module's name and its functions' names match:
// names that every guest language can spell in an import, Go's
// //go:wasmimport directive included.
var hostNameRE = lazyregexp.New(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)

// NewHostModule returns an empty host module named name: 1 to 64 letters,
// digits, underscores, dots and hyphens, not starting with a digit, a dot
// or a hyphen. Names starting with "wasi" (WASI's) or "wasmlambda" (the
// runtime's), in any case, are reserved. A bad name is reported when the
// module is registered.
func NewHostModule(name string) *HostModule {
	m := &HostModule{name: name, funcs: map[string]HostFunc{}}
	switch {
	case !hostNameRE.MatchString(name):
		m.err = fmt.Errorf("host module name %q: want 1 to 64 letters, digits, underscores, dots or hyphens, not starting with a digit, a dot or a hyphen", name)
	case strings.HasPrefix(strings.ToLower(name), "wasmlambda"), strings.HasPrefix(strings.ToLower(name), "wasi"):
		m.err = fmt.Errorf("host module name %q is reserved: names starting with wasmlambda or wasi are the runtime's", name)
	}
	return m
}

// Func adds the function name to the module and returns the module. A
// name is spelled as a module's is (see NewHostModule). A bad name, a nil
// fn or a name added twice is reported when the module is registered.
func (m *HostModule) Func(name string, fn HostFunc) *HostModule {
	switch {
	case m.err != nil:
	case !hostNameRE.MatchString(name):
		m.err = fmt.Errorf("host module %s: function name %q: want 1 to 64 letters, digits, underscores, dots or hyphens, not starting with a digit, a dot or a hyphen", m.name, name)
	case fn == nil:
		m.err = fmt.Errorf("host module %s: function %s is nil", m.name, name)
	case m.funcs[name] != nil:
		m.err = fmt.Errorf("host module %s: function %s is added twice", m.name, name)
	default:
		m.funcs[name] = fn
	}
	return m
}

// Name is the module's name.
func (m *HostModule) Name() string { return m.name }

// RegisterHostModule makes m available to the functions deployed from now
// on that name it in FunctionConfig.Capabilities. It copies m's functions.
//
// # Errors
//
//   - ErrInvalidConfig: m is nil, its name or a function's is bad, or it
//     has no function.
//   - ErrConflict: a host module of that name is registered already.
//   - ErrClosed: the runtime is closed.
func (r *Runtime) RegisterHostModule(m *HostModule) error {
	switch {
	case m == nil:
		return invalidConfig("host module is nil")
	case m.err != nil:
		return invalidConfig("%v", m.err)
	case len(m.funcs) == 0:
		return invalidConfig("host module %s has no function", m.name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return serviceError(ErrClosed, "the runtime is closed")
	}
	if _, ok := r.hostModules[m.name]; ok {
		return serviceError(ErrConflict, "host module %s is registered already", m.name)
	}
	r.hostModules[m.name] = maps.Clone(m.funcs)
	return nil
}

// Invocation describes the invocation a host function serves, as
// InvocationFromContext reports it.
type Invocation struct {
	// FunctionName and FunctionVersion name the function invoked.
	FunctionName    string
	FunctionVersion string
	// RequestID is the invocation's request ID, as its guest sees it.
	RequestID string
	// Deadline is when the invocation times out.
	Deadline time.Time
}

// invocationKey is the context key of an *invocationState.
type invocationKey struct{}

// invocationState is what the context of an invocation, or of a sandbox's
// initialisation, carries for host functions. Only the functions granted a
// capability carry one.
type invocationState struct {
	inv     Invocation
	init    bool   // a sandbox's initialisation, not an invocation
	traceID string // the invocation's X-Ray trace ID, for outbound HTTP

	logged    atomic.Int64 // bytes the log capability has logged
	truncated atomic.Bool
}

// InvocationFromContext reports the invocation whose context ctx is, or
// derives from: the context a HostFunc gets during an invocation. It
// reports false for any other context, such as the one a host function
// gets while a sandbox initialises.
func InvocationFromContext(ctx context.Context) (Invocation, bool) {
	st, ok := ctx.Value(invocationKey{}).(*invocationState)
	if !ok || st.init {
		return Invocation{}, false
	}
	return st.inv, true
}

// hostConfig resolves cfg.Capabilities into the host modules the function
// may import, and names the others, which it may not.
func (r *Runtime) hostConfig(f *Function) (granted []wasm.HostModule, ungranted []string, err error) {
	builtins := map[string]wasm.HostModule{
		// A settings read never blocks: it runs on the guest's goroutine.
		CapabilitySettings: {Funcs: map[string]wasm.HostFunc{"get": f.settingsGet}, Inline: true},
		// A log record may: the logger's handler may write to a network.
		CapabilityLog: {Funcs: map[string]wasm.HostFunc{"log": f.logRecord}},
	}
	// A chunk may block, for as long as the stream's reader takes.
	granted = append(granted, wasm.HostModule{Name: CapabilityStream, Funcs: map[string]wasm.HostFunc{"write": streamWrite}})
	grants := map[string]bool{CapabilityStream: true}
	if f.cfg.HTTP != nil {
		// A request blocks, for as long as the network takes.
		f.http = newHostHTTP(f.cfg.HTTP)
		f.http.obs = r.obs
		granted = append(granted, wasm.HostModule{Name: CapabilityHTTP, Funcs: map[string]wasm.HostFunc{"request": f.http.request}})
		grants[CapabilityHTTP] = true
	} else {
		builtins[CapabilityHTTP] = wasm.HostModule{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range f.cfg.Capabilities {
		if grants[c] {
			continue
		}
		grants[c] = true
		hm, ok := builtins[c]
		if c == CapabilityHTTP {
			return nil, nil, invalidConfig("function %s: Capabilities: %s is granted by FunctionConfig.HTTP, which is nil: set it to the hosts and methods the function may reach", f.name, c)
		}
		if !ok {
			user, ok := r.hostModules[c]
			if !ok {
				return nil, nil, invalidConfig("function %s: Capabilities: no host module %s is registered", f.name, c)
			}
			hm.Funcs = make(map[string]wasm.HostFunc, len(user))
			for name, fn := range user {
				hm.Funcs[name] = wasm.HostFunc(fn)
			}
		}
		hm.Name = c
		granted = append(granted, hm)
	}
	for name := range builtins {
		if !grants[name] {
			ungranted = append(ungranted, name)
		}
	}
	for name := range r.hostModules {
		if !grants[name] {
			ungranted = append(ungranted, name)
		}
	}
	slices.Sort(ungranted)
	return granted, ungranted, nil
}

// ungrantedError is Deploy's error for an import of a host module the
// function is not granted.
func ungrantedError(fn string, e *wasm.UngrantedError) error {
	if e.Module == CapabilityHTTP {
		return invalidConfig("function %s: import %s.%s needs the capability %q, which FunctionConfig.HTTP grants, and it is nil", fn, e.Module, e.Name, e.Module)
	}
	return invalidConfig("function %s: import %s.%s needs the capability %q, which FunctionConfig.Capabilities does not grant", fn, e.Module, e.Name, e.Module)
}

// withInvocation returns ctx carrying, for the function's host functions if
// it has any, the invocation of requestID with its deadline, or with init
// set a sandbox's initialisation.
func (f *Function) withInvocation(ctx context.Context, requestID, traceID string, deadline time.Time, init bool) context.Context {
	if len(f.cfg.Capabilities) == 0 && f.http == nil {
		return ctx
	}
	st := &invocationState{init: init, traceID: traceID}
	st.inv = Invocation{FunctionName: f.name, FunctionVersion: f.cfg.Version, RequestID: requestID, Deadline: deadline}
	return context.WithValue(ctx, invocationKey{}, st)
}

// hostPanic logs a host function's panic.
func (f *Function) hostPanic(ctx context.Context, module, name string, value any, stack []byte) {
	if f.logger == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("host_function", module+"."+name),
		slog.String("panic", fmt.Sprint(value)),
		slog.String("stack", string(stack)),
	}
	if inv, ok := InvocationFromContext(ctx); ok {
		attrs = append(attrs, slog.String("request_id", inv.RequestID))
	}
	f.logger.LogAttrs(ctx, slog.LevelError, "host function panicked", attrs...)
}

// streamKey is the context key of the io.Writer of an invocation made with
// WithResponseStream.
type streamKey struct{}

// streamWrite is wasmlambda_stream.write: it writes the guest's chunk to the
// invocation's stream.
func streamWrite(ctx context.Context, chunk []byte) ([]byte, error) {
	w, ok := ctx.Value(streamKey{}).(io.Writer)
	if !ok {
		return nil, errors.New(abi.ErrNotStreamed)
	}
	if _, err := w.Write(chunk); err != nil {
		return nil, fmt.Errorf("%s.write: %w", CapabilityStream, err)
	}
	return nil, nil
}

// settingsGet is wasmlambda_settings.get.
func (f *Function) settingsGet(_ context.Context, key []byte) ([]byte, error) {
	v, ok := f.cfg.Settings[string(key)]
	if !ok {
		return nil, fmt.Errorf("setting %q is not set", key)
	}
	return []byte(v), nil
}

// logRecord is wasmlambda_log.log: it logs the guest's record with the
// request ID, within the invocation's share of MaxLogBytes.
func (f *Function) logRecord(ctx context.Context, rec []byte) ([]byte, error) {
	level, msg, kvs, err := abi.DecodeLog(rec)
	if err != nil {
		detail := strings.TrimPrefix(err.Error(), abi.ErrMalformed.Error()+": ")
		return nil, fmt.Errorf("%s.log: malformed log record: %s", CapabilityLog, detail)
	}
	if f.logger == nil || !f.logs.application(slog.Level(level)) || !f.logger.Enabled(ctx, slog.Level(level)) {
		return nil, nil
	}
	st, _ := ctx.Value(invocationKey{}).(*invocationState)
	attrs := make([]slog.Attr, 0, len(kvs)+1)
	if st != nil && !st.init {
		attrs = append(attrs, slog.String("request_id", st.inv.RequestID))
	} else {
		attrs = append(attrs, slog.String("phase", "init"))
	}
	if st != nil && int(st.logged.Add(int64(len(rec)))) > f.cfg.MaxLogBytes {
		if !st.truncated.Swap(true) {
			attrs = append(attrs, slog.Int("limit_bytes", f.cfg.MaxLogBytes))
			f.logger.LogAttrs(ctx, slog.LevelWarn, "log records dropped", attrs...)
		}
		return nil, nil
	}
	for _, kv := range kvs {
		attrs = append(attrs, slog.String(kv[0], kv[1]))
	}
	f.logger.LogAttrs(ctx, slog.Level(level), msg, attrs...)
	return nil, nil
}
