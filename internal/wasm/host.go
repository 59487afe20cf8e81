package wasm

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmlambda/lambda/internal/abi"
)

// Host functions.
//
// A guest imports a host function as MODULE.NAME with the one signature of
// every host function (abi: in_ptr, in_len, out_ptr, out_cap, out_len_ptr ->
// status). The import copies the input out of guest memory, runs the Go
// function on its own goroutine and waits for it or for the end of the
// call's context, whichever comes first, and copies the output in: one bulk
// copy each way. A context that ends first stops the guest (the call faults
// with the deadline or the cancellation, and the instance is discarded);
// the host function's goroutine, whose context has ended too, is left to
// finish, and what it returns is dropped. A host function never touches
// guest memory: it gets a copy of the input, and the output is copied after
// it returns, into the memory of the instance that called it.

// HostFunc is a host function: it gets the call's context and the guest's
// input, a copy it may keep, and returns the output or an error, whose
// message the guest receives.
type HostFunc func(ctx context.Context, in []byte) ([]byte, error)

// HostModule is a module of host functions a guest may import.
type HostModule struct {
	// Name is the module name the guest imports from.
	Name string
	// Funcs are its functions, by name.
	Funcs map[string]HostFunc
	// Inline runs its functions on the guest's goroutine: only for the
	// runtime's own functions that never block, which then cost no
	// goroutine hand-off (see run).
	Inline bool
}

// UngrantedError reports an import of a host module that exists (it is in
// Config.Ungranted) but that the module may not use.
type UngrantedError struct {
	Module, Name string
}

// Error says which import is not granted.
func (e *UngrantedError) Error() string {
	return fmt.Sprintf("unsupported import %s.%s: host module %s is not granted", e.Module, e.Name, e.Module)
}

// hostParams and hostResults are the signature of every host function.
var (
	hostParams  = []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}
	hostResults = []api.ValueType{api.ValueTypeI32}
)

// hostState is what the host functions of one instance keep between calls:
// the output the last call held back for host_result. An instance serves one
// call at a time; the state travels in the call's context.
type hostState struct {
	// table is the function's host functions.
	table   hostTable
	held    bool
	pending []byte
}

type hostStateKey struct{}

// withHost returns ctx carrying st, if any.
func withHost(ctx context.Context, st *hostState) context.Context {
	if st == nil {
		return ctx
	}
	return context.WithValue(ctx, hostStateKey{}, st)
}

func (st *hostState) hold(out []byte) {
	if st != nil {
		st.held, st.pending = true, out
	}
}

func (st *hostState) reset() {
	if st != nil {
		st.held, st.pending = false, nil
	}
}

// hostFunc is one host function as wazero calls it.
type hostFunc struct {
	module, name string
	fn           HostFunc
	inline       bool
	panicked     func(ctx context.Context, module, name string, value any, stack []byte)
}

// hostTable is one module's host functions, by module and name.
type hostTable map[string]map[string]*hostFunc

// newHostTable makes the table of cfg's host modules.
func newHostTable(cfg *Config) hostTable {
	t := hostTable{}
	for _, hm := range cfg.Host {
		fns := make(map[string]*hostFunc, len(hm.Funcs))
		for name, fn := range hm.Funcs {
			fns[name] = &hostFunc{module: hm.Name, name: name, fn: fn, inline: hm.Inline, panicked: cfg.HostPanic}
		}
		t[hm.Name] = fns
	}
	return t
}

// dispatch is a host function of an engine, shared by the modules of every
// function: it calls the function of that module and name in the table of
// the calling instance's own function, which the call's context carries.
type dispatch struct {
	module, name string
}

func (d *dispatch) call(ctx context.Context, mod api.Module, stack []uint64) {
	st, _ := ctx.Value(hostStateKey{}).(*hostState)
	var h *hostFunc
	if st != nil {
		h = st.table[d.module][d.name]
	}
	if h == nil {
		// Deploy checked the imports against the function's grants, so
		// this is not reached.
		panic(&Fault{Kind: FaultTrap, Detail: fmt.Sprintf("host function %s.%s is not granted", d.module, d.name)})
	}
	h.call(ctx, mod, stack)
}

// checkHostImport checks an import that is not WASI's against the host
// modules and reports whether it is one.
func checkHostImport(cfg *Config, mod, name string, d api.FunctionDefinition) error {
	if mod == abi.ImportModule {
		if name != abi.ImportHostResult {
			return fmt.Errorf("unsupported import %s.%s: %s provides only %s", mod, name, abi.ImportModule, abi.ImportHostResult)
		}
		if !hasTypes(d, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, hostResults) {
			return fmt.Errorf("unsupported import %s.%s: signature %s, want (i32, i32) -> (i32)", mod, name, signature(d))
		}
		return nil
	}
	for _, hm := range cfg.Host {
		if hm.Name != mod {
			continue
		}
		if _, ok := hm.Funcs[name]; !ok {
			names := make([]string, 0, len(hm.Funcs))
			for n := range hm.Funcs {
				names = append(names, n)
			}
			sort.Strings(names)
			return fmt.Errorf("unsupported import %s.%s: host module %s has no function %s (it has %s)", mod, name, mod, name, strings.Join(names, ", "))
		}
		if !hasTypes(d, hostParams, hostResults) {
			return fmt.Errorf("unsupported import %s.%s: signature %s, want (i32, i32, i32, i32, i32) -> (i32), the signature of every host function", mod, name, signature(d))
		}
		return nil
	}
	for _, u := range cfg.Ungranted {
		if u == mod {
			return &UngrantedError{Module: mod, Name: name}
		}
	}
	return fmt.Errorf("unsupported import %s.%s: no host module %s is registered (the runtime provides wasi_snapshot_preview1, %s and the host modules a function is granted)", mod, name, mod, abi.ImportModule)
}

// call is the import: see the top of this file.
func (h *hostFunc) call(ctx context.Context, mod api.Module, stack []uint64) {
	inPtr, inLen := uint32(stack[0]), uint32(stack[1])
	outPtr, outCap, outLenPtr := uint32(stack[2]), uint32(stack[3]), uint32(stack[4])
	mem := mod.Memory()
	view, ok := mem.Read(inPtr, inLen)
	if !ok {
		panic(h.outside("input", inPtr, inLen))
	}
	st, _ := ctx.Value(hostStateKey{}).(*hostState)
	st.reset()
	status, out := h.run(ctx, bytes.Clone(view))
	if uint64(len(out)) > math.MaxInt32 {
		status, out = abi.HostError, fmt.Appendf(nil, "host function %s.%s returned %d bytes, more than a guest can take", h.module, h.name, len(out))
	}
	if !mem.WriteUint32Le(outLenPtr, uint32(len(out))) {
		panic(h.outside("output length", outLenPtr, 4))
	}
	if uint32(len(out)) <= outCap {
		if !mem.Write(outPtr, out) {
			panic(h.outside("output", outPtr, uint32(len(out))))
		}
	} else {
		st.hold(out)
	}
	stack[0] = uint64(status)
}

func (h *hostFunc) outside(what string, ptr, n uint32) *Fault {
	return &Fault{Kind: FaultTrap, Detail: fmt.Sprintf("host function %s.%s: its %s [%#x, +%d) lies outside memory", h.module, h.name, what, ptr, n)}
}

type hostOutcome struct {
	status uint32
	out    []byte
}

// run runs the host function on its own goroutine and waits for it, or for
// ctx to end, which stops the guest. The hand-off costs a goroutine, and
// when the process has an idle thread, waking it (a futex call): the price
// of stopping a guest whose host function ignores its context. An inline
// function runs on the caller's goroutine.
func (h *hostFunc) run(ctx context.Context, in []byte) (uint32, []byte) {
	if Ended(ctx) {
		panic(interrupted(ctx))
	}
	done := ctx.Done()
	if done == nil || h.inline {
		return h.invoke(ctx, in)
	}
	ch := make(chan hostOutcome, 1)
	go func() {
		status, out := h.invoke(ctx, in)
		ch <- hostOutcome{status, out}
	}()
	select {
	case r := <-ch:
		return r.status, r.out
	case <-done:
		panic(interrupted(ctx))
	}
}

// invoke calls the Go function and turns its error or panic into a
// HostError.
func (h *hostFunc) invoke(ctx context.Context, in []byte) (status uint32, out []byte) {
	defer func() {
		if v := recover(); v != nil {
			if h.panicked != nil {
				h.panicked(ctx, h.module, h.name, v, debug.Stack())
			}
			status, out = abi.HostError, fmt.Appendf(nil, "host function %s.%s panicked", h.module, h.name)
		}
	}()
	out, err := h.fn(ctx, in)
	if err != nil {
		return abi.HostError, []byte(err.Error())
	}
	return abi.HostOK, out
}

// interrupted is the fault of a call whose context ended.
func interrupted(ctx context.Context) *Fault {
	if ctx.Err() == context.Canceled {
		return &Fault{Kind: FaultCanceled, Detail: "canceled"}
	}
	return &Fault{Kind: FaultDeadline, Detail: "deadline exceeded"}
}

// hostResult is the import wasmlambda_v1.host_result.
func hostResult(ctx context.Context, mod api.Module, stack []uint64) {
	ptr, capacity := uint32(stack[0]), uint32(stack[1])
	st, _ := ctx.Value(hostStateKey{}).(*hostState)
	if st == nil || !st.held || uint64(len(st.pending)) > uint64(capacity) {
		stack[0] = api.EncodeI32(-1)
		return
	}
	if !mod.Memory().Write(ptr, st.pending) {
		panic(&Fault{Kind: FaultTrap, Detail: fmt.Sprintf("%s.%s: its buffer [%#x, +%d) lies outside memory", abi.ImportModule, abi.ImportHostResult, ptr, len(st.pending))})
	}
	stack[0] = api.EncodeI32(int32(len(st.pending)))
	st.reset()
}
