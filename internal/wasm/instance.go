package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmlambda/lambda/internal/abi"
)

// FaultKind classifies a failure after which an instance is unusable.
type FaultKind int

const (
	// FaultDeadline: the context's deadline passed during the call.
	FaultDeadline FaultKind = iota + 1
	// FaultCanceled: the context was canceled during the call.
	FaultCanceled
	// FaultExit: the guest called proc_exit.
	FaultExit
	// FaultTrap: the guest trapped.
	FaultTrap
	// FaultOutOfMemory: the guest trapped or exited after its memory limit
	// refused a grow.
	FaultOutOfMemory
	// FaultBadResult: the guest broke the ABI (bad buffer or result record).
	FaultBadResult
)

// Fault is an error after which the instance is discarded.
type Fault struct {
	Kind     FaultKind
	ExitCode uint32
	// Detail is a one-line description, such as the trap's message.
	Detail string
}

func (f *Fault) Error() string { return f.Detail }

// Instance is one sandbox: a module instance serving one call at a time.
// It is not safe for concurrent use; the pool hands it to one caller at a
// time.
type Instance struct {
	m      *Module
	mod    api.Module
	mem    api.Memory
	alloc  api.Function
	invoke api.Function
	lim    *limiter
	host   *hostState // nil unless the guest imports host functions
	stack  [2]uint64
	bufPtr uint32
	bufCap uint32
	// done is the channel of the current call's context, read by nanosleep.
	done atomic.Pointer[<-chan struct{}]
	// InitDuration is how long instantiation and _initialize took.
	InitDuration time.Duration
}

// InstanceConfig is what an instance is made with.
type InstanceConfig struct {
	// Env is the environment, in order.
	Env [][2]string
	// Stdout and Stderr receive the guest's output; nil discards it.
	Stdout, Stderr io.Writer
	// Stdin is the guest's standard input, for commands.
	Stdin io.Reader
	// Mounts are the file systems the guest sees, by guest path. Nothing
	// else of the host is visible.
	Mounts []Mount
}

// Mount is a file system at a guest path.
type Mount struct {
	// GuestPath is an absolute, clean path such as "/opt".
	GuestPath string
	// FS serves it; a read-only one fails mutations with EROFS.
	FS experimentalsys.FS
}

func (m *Module) moduleConfig(ic InstanceConfig, done *atomic.Pointer[<-chan struct{}]) wazero.ModuleConfig {
	mc := wazero.NewModuleConfig().
		WithName("").
		WithArgs("bootstrap").
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(randSource).
		WithNanosleep(func(ns int64) { sleep(done, ns) }).
		WithStartFunctions()
	for _, kv := range ic.Env {
		mc = mc.WithEnv(kv[0], kv[1])
	}
	if ic.Stdout != nil {
		mc = mc.WithStdout(ic.Stdout)
	}
	if ic.Stderr != nil {
		mc = mc.WithStderr(ic.Stderr)
	}
	if ic.Stdin != nil {
		mc = mc.WithStdin(ic.Stdin)
	}
	if len(ic.Mounts) > 0 {
		fc := wazero.NewFSConfig()
		for _, m := range ic.Mounts {
			fc = fc.(sysfs.FSConfig).WithSysFSMount(m.FS, m.GuestPath)
		}
		mc = mc.WithFSConfig(fc)
	}
	return mc
}

// sleep is the guest's nanosleep: real, but cut short when the current
// call's context ends, so that a sleeping guest cannot outlive its deadline.
func sleep(done *atomic.Pointer[<-chan struct{}], ns int64) {
	if ns <= 0 {
		return
	}
	var ch <-chan struct{}
	if p := done.Load(); p != nil {
		ch = *p
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ch:
	}
}

// Instantiate makes a warm ABI v1 instance and runs _initialize under ctx.
func (m *Module) Instantiate(ctx context.Context, ic InstanceConfig) (*Instance, error) {
	if m.mode != ModeABI {
		return nil, errors.New("a command module is not instantiated ahead of time")
	}
	start := time.Now()
	in := &Instance{m: m, lim: &limiter{limit: m.limitBytes()}}
	if m.hasHost {
		in.host = &hostState{table: m.host}
		ctx = withHost(ctx, in.host)
		defer in.host.reset()
	}
	in.setDone(ctx)
	defer in.done.Store(nil)
	mod, err := m.sh.eng.rt.InstantiateModule(withMemory(ctx, in.lim), m.sh.compiled, m.moduleConfig(ic, &in.done))
	if err != nil {
		return nil, m.fault(ctx, in.lim, nil, err)
	}
	in.mod = mod
	in.mem = mod.ExportedMemory(abi.ExportMemory)
	in.alloc = mod.ExportedFunction(abi.ExportAlloc)
	in.invoke = mod.ExportedFunction(abi.ExportInvoke)
	for _, name := range m.initFunctions(abi.ExportInitialize) {
		if err := callGuest(ctx, mod.ExportedFunction(name), nil); err != nil {
			f := m.fault(ctx, in.lim, in.mem, err)
			_ = mod.Close(context.Background())
			return nil, f
		}
	}
	in.InitDuration = time.Since(start)
	return in, nil
}

func (in *Instance) setDone(ctx context.Context) {
	ch := ctx.Done()
	in.done.Store(&ch)
}

// Invoke sends one request and returns the guest's status and a copy of its
// result payload. A *Fault error means the instance must be discarded.
// A result over maxResult bytes is not copied: Invoke returns its size with
// a nil payload and StatusOK.
func (in *Instance) Invoke(ctx context.Context, req *abi.Request, maxResult int) (abi.Status, []byte, int, error) {
	if in.host != nil {
		ctx = withHost(ctx, in.host)
		defer in.host.reset()
	}
	in.setDone(ctx)
	defer in.done.Store(nil)
	in.lim.refused = false
	n := req.Size()
	if uint32(n) > in.bufCap || n > int(^uint32(0)>>1) {
		if err := in.grow(ctx, n); err != nil {
			return 0, nil, 0, err
		}
	}
	view, ok := in.mem.Read(in.bufPtr, uint32(n))
	if !ok {
		return 0, nil, 0, &Fault{Kind: FaultBadResult, Detail: fmt.Sprintf("buffer at %#x from %s lies outside memory", in.bufPtr, abi.ExportAlloc)}
	}
	req.Encode(view)
	in.stack[0], in.stack[1] = uint64(in.bufPtr), uint64(n)
	if err := callGuest(ctx, in.invoke, in.stack[:]); err != nil {
		return 0, nil, 0, in.m.fault(ctx, in.lim, in.mem, err)
	}
	rec, ok := in.mem.Read(uint32(in.stack[0]), abi.ResultSize)
	if !ok {
		return 0, nil, 0, &Fault{Kind: FaultBadResult, Detail: fmt.Sprintf("result record at %#x lies outside memory", uint32(in.stack[0]))}
	}
	status, ptr, size := abi.DecodeResult(rec)
	if status > abi.StatusFatal {
		return 0, nil, 0, &Fault{Kind: FaultBadResult, Detail: fmt.Sprintf("unknown result status %d", status)}
	}
	payload, ok := in.mem.Read(ptr, size)
	if !ok {
		return 0, nil, 0, &Fault{Kind: FaultBadResult, Detail: fmt.Sprintf("result payload [%#x, +%d) lies outside memory", ptr, size)}
	}
	if int(size) > maxResult {
		return status, nil, int(size), nil
	}
	return status, bytes.Clone(payload), int(size), nil
}

func (in *Instance) grow(ctx context.Context, n int) error {
	c := uint32(4096)
	for int(c) < n {
		c *= 2
	}
	in.stack[0] = uint64(c)
	if err := callGuest(ctx, in.alloc, in.stack[:]); err != nil {
		return in.m.fault(ctx, in.lim, in.mem, err)
	}
	ptr := uint32(in.stack[0])
	if ptr == 0 {
		return &Fault{Kind: FaultOutOfMemory, Detail: fmt.Sprintf("%s(%d) returned 0", abi.ExportAlloc, c)}
	}
	in.bufPtr, in.bufCap = ptr, c
	return nil
}

// MemoryBytes is the instance's current linear memory size.
func (in *Instance) MemoryBytes() uint64 { return memoryBytes(in.mem) }

// memoryBytes is mem's size; api.Memory.Size, a uint32, says 0 at 4 GiB.
func memoryBytes(mem api.Memory) uint64 {
	if mem == nil {
		return 0
	}
	pages, _ := mem.Grow(0)
	return uint64(pages) * PageSize
}

// Close releases the instance.
func (in *Instance) Close(ctx context.Context) error { return in.mod.Close(ctx) }

// Shutdown calls the guest's wasmlambda_v1_shutdown under ctx, if it
// exports it, so that it runs its shutdown hooks before the instance is
// closed. An error means the call trapped, exited or ran out of ctx.
func (in *Instance) Shutdown(ctx context.Context) error {
	if !in.m.hasShutdown {
		return nil
	}
	if in.host != nil {
		ctx = withHost(ctx, in.host)
		defer in.host.reset()
	}
	in.setDone(ctx)
	defer in.done.Store(nil)
	if err := callGuest(ctx, in.mod.ExportedFunction(abi.ExportShutdown), nil); err != nil {
		return in.m.fault(ctx, in.lim, in.mem, err)
	}
	return nil
}

// fault classifies an error from a call into the guest, whose memory is
// mem (nil before it exists) and limited by lim.
func (m *Module) fault(ctx context.Context, lim *limiter, mem api.Memory, err error) *Fault {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return &Fault{Kind: FaultDeadline, Detail: "deadline exceeded"}
		case sys.ExitCodeContextCanceled:
			return &Fault{Kind: FaultCanceled, Detail: "canceled"}
		}
		f := &Fault{Kind: FaultExit, ExitCode: exit.ExitCode(), Detail: fmt.Sprintf("exit status %d", exit.ExitCode())}
		if m.outOfMemory(lim, mem) {
			f.Kind = FaultOutOfMemory
		}
		return f
	}
	if Ended(ctx) {
		// Stopped by the instrumented check or a host function's import,
		// or returned after the deadline.
		if errors.Is(ctx.Err(), context.Canceled) {
			return &Fault{Kind: FaultCanceled, Detail: "canceled"}
		}
		return &Fault{Kind: FaultDeadline, Detail: "deadline exceeded"}
	}
	var hf *Fault
	if errors.As(err, &hf) {
		// A host function's import found the guest's memory wrong.
		return hf
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	f := &Fault{Kind: FaultTrap, Detail: msg}
	if m.outOfMemory(lim, mem) {
		f.Kind = FaultOutOfMemory
	}
	return f
}

// outOfMemory reports whether the guest ran out of memory: its limit
// refused a grow during the call. A limit of 4 GiB or more is never what
// refuses, but wazero's own maximum, which the allocator does not see: then
// memory within 1 MiB of that maximum is taken as out of memory.
func (m *Module) outOfMemory(lim *limiter, mem api.Memory) bool {
	if lim != nil && lim.refused {
		return true
	}
	return m.limitPages >= maxPages && memoryBytes(mem)+16*PageSize > maxPages*PageSize
}

// RunCommand runs a WASI command one-shot: stdin in ic, output to stdout.
// It returns the exit code (0 for success) or a *Fault for a trap, a
// deadline, a cancellation or running out of memory, and the size of the
// command's linear memory when it ended (0 when it never started), which is
// the most it used: linear memory never shrinks.
func (m *Module) RunCommand(ctx context.Context, ic InstanceConfig) (uint32, uint64, error) {
	if m.mode != ModeCommand {
		return 0, 0, errors.New("not a command module")
	}
	var done atomic.Pointer[<-chan struct{}]
	ch := ctx.Done()
	done.Store(&ch)
	lim := &limiter{limit: m.limitBytes()}
	if m.hasHost {
		ctx = withHost(ctx, &hostState{table: m.host})
	}
	mod, err := m.sh.eng.rt.InstantiateModule(withMemory(ctx, lim), m.sh.compiled, m.moduleConfig(ic, &done))
	if err != nil {
		return 0, 0, m.fault(ctx, lim, nil, err)
	}
	defer mod.Close(context.Background())
	mem := mod.Memory()
	for _, name := range m.initFunctions(abi.ExportStart) {
		if err = callGuest(ctx, mod.ExportedFunction(name), nil); err != nil {
			break
		}
	}
	size := memoryBytes(mem)
	var exit *sys.ExitError
	if err == nil || errors.As(err, &exit) && exit.ExitCode() == 0 && ctx.Err() == nil {
		return 0, size, nil
	}
	f := m.fault(ctx, lim, mem, err)
	if f.Kind == FaultExit {
		return f.ExitCode, size, nil
	}
	return 0, size, f
}

// initFunctions lists what runs after instantiation: the former start
// section, then entry (_initialize or _start) if the module has it.
func (m *Module) initFunctions(entry string) []string {
	var fns []string
	if m.hasStart {
		fns = append(fns, StartExport)
	}
	if entry == abi.ExportStart || m.hasInit {
		fns = append(fns, entry)
	}
	return fns
}

// callGuest runs fn under ctx: the instrumented checks stop it when ctx ends.
// A call that returns after ctx ended (a sleep cut short) is reported with
// ctx's error, so that the instance is discarded like any interrupted one.
func callGuest(ctx context.Context, fn api.Function, stack []uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := fn.CallWithStack(ctx, stack); err != nil {
		return err
	}
	return ctx.Err()
}

// checkFunc is the host side of the instrumented check: it tells the guest
// to stop once the call's context has ended or its deadline has passed.
func checkFunc(ctx context.Context, _ api.Module, stack []uint64) {
	stack[0] = 0
	if Ended(ctx) {
		stack[0] = 1
	}
}

// Ended reports whether ctx is done or past its deadline (its timer may
// not have fired yet).
func Ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
