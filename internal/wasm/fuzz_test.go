package wasm

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmlambda/lambda/internal/abi"
)

// Fuzzing the rewrite and the reading of what a guest returns: both read
// bytes a stranger wrote, in the host's process.

// Bounds on the rewrite's output: every byte of input can grow into at most
// maxGrowth bytes of output (a loop header, two bytes, gets a fuel check;
// an export, a few bytes, gets a wrapper), plus a fixed overhead for the
// import, type and global the rewrite adds.
const (
	maxGrowth   = 24
	maxOverhead = 256
)

// laxInvalid reports errors of wazero's on an input whose rewrite wazero
// may accept all the same:
//
//   - A custom section with an empty name at the very end of a module:
//     wazero reads the name's zero bytes at the end of the input as EOF,
//     though the spec allows it; the rewrite appends sections after it.
//   - A body whose operand stack is ill-typed: instrument does not type
//     the stack, and the branch a wrapped loop ends with discards what the
//     body left over its results. Such a body runs as if it had dropped
//     them; indices, which could reach the fuel, are checked
//     (TestInstrumentRefusesOutOfRange).
func laxInvalid(err error) bool {
	for _, s := range []string{"custom section name", "results in", "type mismatch", "cannot pop"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// undecodable reports instrument's errors for a module it could not
// decode.
func undecodable(err error) bool {
	for _, s := range []string{"malformed wasm module", "unknown opcode", "unknown 0xfc opcode", "unknown 0xfd opcode", "not a wasm binary", "unsupported wasm binary version", "locals: too many"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// refusedValid lists what instrument may refuse in a module wazero accepts:
// names the runtime reserves for itself.
var refusedValid = []string{
	"a name the runtime reserves",
	"the module name " + CheckModule + " is reserved",
}

// diffFuzzWAT are small modules with exported functions of numeric
// parameters, for the differential property: loops, recursion, calls
// through a table, memory and globals, traps.
var diffFuzzWAT = []string{
	`(module
	(memory (export "mem") 1)
	(global $g (export "g") (mut i64) (i64.const 0))
	(func $fib (export "fib") (param $n i32) (result i64)
		(if (result i64) (i32.lt_u (local.get $n) (i32.const 2))
			(then (i64.extend_i32_u (local.get $n)))
			(else (i64.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
				(call $fib (i32.sub (local.get $n) (i32.const 2)))))))
	(func (export "sum") (param $n i32) (param $step i64) (result i64)
		(local $acc i64)
		(local.set $n (i32.and (local.get $n) (i32.const 0xffff)))
		(block $done
			(loop $l
				(br_if $done (i32.eqz (local.get $n)))
				(local.set $acc (i64.add (local.get $acc) (local.get $step)))
				(global.set $g (i64.add (global.get $g) (i64.const 1)))
				(local.set $n (i32.sub (local.get $n) (i32.const 1)))
				(br $l)))
		(local.get $acc))
	(func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
	(func (export "store") (param $a i32) (param $v i64)
		(i64.store (local.get $a) (local.get $v)))
	(func (export "load") (param $a i32) (result i64) (i64.load (local.get $a))))`,
	`(module
	(type $bin (func (param i32 i32) (result i32)))
	(table 4 funcref)
	(elem (i32.const 0) $add $sub $mul)
	(func $add (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
	(func $sub (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))
	(func $mul (param i32 i32) (result i32) (i32.mul (local.get 0) (local.get 1)))
	(func (export "apply") (param $op i32) (param $a i32) (param $b i32) (result i32)
		(call_indirect (type $bin) (local.get $a) (local.get $b) (local.get $op)))
	(func (export "pick") (param $i i32) (result i32)
		(block $c (block $b (block $a
			(br_table $a $b $c (local.get $i)))
			(return (i32.const 10)))
			(return (i32.const 20)))
		(i32.const 30))
	(func (export "collatz") (param $n i64) (result i32)
		(local $steps i32)
		(local.set $n (i64.or (i64.and (local.get $n) (i64.const 0xfffff)) (i64.const 1)))
		(loop $l
			(if (i64.ne (local.get $n) (i64.const 1))
				(then
					(local.set $steps (i32.add (local.get $steps) (i32.const 1)))
					(if (i64.eqz (i64.rem_u (local.get $n) (i64.const 2)))
						(then (local.set $n (i64.div_u (local.get $n) (i64.const 2))))
						(else (local.set $n (i64.add (i64.mul (local.get $n) (i64.const 3)) (i64.const 1)))))
					(br $l))))
		(local.get $steps))
	(func (export "spin") (param $n i32)
		(loop $l (br_if $l (i32.ne (local.tee $n (i32.sub (local.get $n) (i32.const 1))) (i32.const 0)))))
	(func (export "f") (param f64 f32) (result f64)
		(f64.add (f64.sqrt (local.get 0)) (f64.promote_f32 (local.get 1)))))`,
	`(module
	(memory 1)
	(global $started (export "started") (mut i32) (i32.const 0))
	(data (i32.const 8) "hello, world")
	(func $init (global.set $started (i32.load8_u (i32.const 8))))
	(start $init)
	(func (export "byte") (param i32) (result i32) (i32.load8_u (local.get 0)))
	(func (export "grow") (param i32) (result i32) (memory.grow (i32.and (local.get 0) (i32.const 3))))
	(func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (i32.and (local.get 2) (i32.const 0xff))))
	(func (export "deep") (param $n i32) (result i32)
		(if (result i32) (i32.eqz (local.get $n))
			(then (i32.const 0))
			(else (i32.add (i32.const 1) (call 4 (i32.sub (local.get $n) (i32.const 1))))))))`,
}

// fuzzRuntimes are the wazero runtimes one fuzz target uses: a validating
// one, one running originals and one running rewrites with a check
// function that stops a call after budget checks.
type fuzzRuntimes struct {
	validate, orig, rewritten wazero.Runtime
	checks                    atomic.Int64
	budget                    int64
}

// fuzzMemoryPages bounds the memories the differential runs instantiate.
const fuzzMemoryPages = 16

func newFuzzRuntimes(t testing.TB) *fuzzRuntimes {
	ctx := context.Background()
	cfg := func() wazero.RuntimeConfig {
		return wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2).WithMemoryLimitPages(fuzzMemoryPages)
	}
	r := &fuzzRuntimes{
		validate:  wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2)),
		orig:      wazero.NewRuntimeWithConfig(ctx, cfg().WithCloseOnContextDone(true)),
		rewritten: wazero.NewRuntimeWithConfig(ctx, cfg()),
		budget:    32,
	}
	t.Cleanup(func() {
		for _, rt := range []wazero.Runtime{r.validate, r.orig, r.rewritten} {
			_ = rt.Close(ctx)
		}
	})
	_, err := r.rewritten.NewHostModuleBuilder(CheckModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
			stack[0] = 0
			if r.checks.Add(1) > r.budget {
				stack[0] = 1
			}
		}), nil, []api.ValueType{api.ValueTypeI32}).
		Export(CheckName).
		Instantiate(ctx)
	require.NoError(t, err)
	return r
}

// compile is wazero's verdict on code.
func (r *fuzzRuntimes) compile(code []byte) error {
	ctx := context.Background()
	cm, err := r.validate.CompileModule(ctx, code)
	if err != nil {
		return err
	}
	return cm.Close(ctx)
}

func FuzzInstrument(f *testing.F) {
	f.Add([]byte(wasmHeader), uint64(0))
	f.Add(oneFunc(), uint64(0))
	f.Add(oneFunc(0x03, 0x40, 0x0c, 0x00, 0x0b), uint64(0))
	f.Add(oneFunc(0x10, 0x00), uint64(0))
	f.Add(oneFunc(0xfd, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x1a), uint64(0))
	f.Add(module(sec(secGlobal, vec([]byte{0x7f, 0x00, 0x41, 0x05, 0x0b})), sec(secStart, leb(0))), uint64(0))
	f.Add(module(sec(secImport, vec(cat(wname("a"), wname("b"), []byte{0x03, 0x7f, 0x00})))), uint64(0))
	f.Add(module(sec(secElement, vec(cat(leb(0), []byte{0x41, 0x00, 0x0b}), vec(leb(0))))), uint64(0))
	f.Add(module(sec(secCustom, wname("name"), []byte{1, 3}, leb(1), leb(0), leb(0))), uint64(0))
	// Loops in blocks, branched to and out of from nested blocks.
	f.Add(oneFunc(0x02, 0x40, 0x03, 0x40, 0x02, 0x40, 0x41, 0x01, 0x0d, 0x01, 0x41, 0x00, 0x0d, 0x02, 0x0b, 0x0b, 0x0b), uint64(0))
	f.Add(oneFunc(0x03, 0x40, 0x03, 0x40, 0x41, 0x00, 0x0e, 0x02, 0x00, 0x01, 0x02, 0x0b, 0x0b), uint64(0))
	f.Add(oneFunc(0x03, 0x7f, 0x41, 0x07, 0x0b, 0x1a, 0x03, 0x40, 0x0f, 0x0b), uint64(0))
	f.Add(wat(f, fuelFixture), uint64(0))
	for i, src := range diffFuzzWAT {
		f.Add(wat(f, src), uint64(i)*0x9E3779B97F4A7C15)
	}
	// The committed corpus (testdata/fuzz/FuzzInstrument) holds the test
	// guests' WAT modules as well.
	rts := newFuzzRuntimes(f)
	f.Fuzz(func(t *testing.T, code []byte, seed uint64) {
		if len(code) > 1<<15 {
			return
		}
		out, err := instrument(code)
		if err != nil && undecodable(err) {
			// wazero itself is not given what instrument cannot decode:
			// its decoder allocates by the counts it reads before reading
			// the items, and a 14-byte module claiming 2^31 exports or
			// tables costs it tens of gigabytes. Compile hands wazero
			// nothing but instrument's output.
			return
		}
		verr := rts.compile(code)
		valid := verr == nil
		if err != nil {
			// What wazero accepts, instrument accepts, unless it uses a
			// name the runtime keeps for itself.
			if valid {
				for _, why := range refusedValid {
					if strings.Contains(err.Error(), why) {
						return
					}
				}
				t.Fatalf("instrument refused a module wazero accepts: %v", err)
			}
			return
		}
		// Memory bounded by the input: the output grows linearly.
		require.LessOrEqual(t, len(out), maxGrowth*len(code)+maxOverhead, "the rewrite of a %d-byte module", len(code))
		// The output validates exactly when the input does, but for
		// laxInvalid's exceptions.
		oerr := rts.compile(out)
		if valid {
			require.NoError(t, oerr, "the rewrite of a valid module")
		} else if !laxInvalid(verr) {
			require.Error(t, oerr, "wazero refuses the input (%v), but accepts the rewrite", verr)
		}

		// What instrument accepts, it can split into sections again; and
		// when those of the input came once each, in order, the output's
		// do too, with the check imported.
		require.Equal(t, code[:8], out[:8])
		osecs := sections(t, out)
		found := false
		for _, im := range importsOf(t, find(t, osecs, secImport)) {
			found = found || im.module == CheckModule && im.name == CheckName && im.kind == 0x00
		}
		require.True(t, found, "no check import")
		last := -1
		for _, s := range sections(t, code) {
			if s.id == secCustom {
				continue
			}
			if sectionRank(s.id) <= last {
				return
			}
			last = sectionRank(s.id)
		}
		last = -1
		for _, s := range osecs {
			if s.id != secCustom {
				require.Greater(t, sectionRank(s.id), last, "section %d out of order", s.id)
				last = sectionRank(s.id)
			}
		}
		if valid {
			rts.differential(t, code, out, seed)
		}
	})
}

// outcome is what one call of an export did.
type outcome struct {
	results []uint64
	trap    string // the error's first line, or ""
}

// differential runs the module code and its rewrite out side by side: the
// start function, then each exported function of numeric signature in
// name order, with arguments drawn from seed. Each call must give the same
// results or the same trap, and leave the exported globals and memories
// the same. Modules with imports are not run. A call of the rewrite stopped
// by its check (its budget of steps spent) is not compared: both modules
// are instantiated afresh for the next one.
func (r *fuzzRuntimes) differential(t *testing.T, code, out []byte, seed uint64) {
	ctx := context.Background()
	cm, err := r.orig.CompileModule(ctx, code)
	if err != nil {
		return // over fuzzMemoryPages
	}
	defer cm.Close(ctx)
	if len(cm.ImportedFunctions()) > 0 || len(cm.ImportedMemories()) > 0 {
		return
	}
	var globals []string
	for name, e := range exportsOf(t, find(t, sections(t, code), secExport)) {
		if e.kind == externGlobl {
			globals = append(globals, name)
		}
	}
	sort.Strings(globals)
	stopped := func() bool { return r.checks.Load() > r.budget }
	// The original has no fuel: it runs under a timeout, well over what the
	// rewrite's budget of steps takes, and under the fuzzer's own limit.
	const timeout = 3 * time.Second

	// instantiate instantiates both, the rewrite first: when its budget
	// runs out, the original, which has none, is not run at all. It
	// reports whether both can be called.
	var om, rm api.Module
	closeBoth := func() {
		for _, m := range []api.Module{om, rm} {
			if m != nil {
				_ = m.Close(ctx)
			}
		}
		om, rm = nil, nil
	}
	defer closeBoth()
	instantiate := func() bool {
		closeBoth()
		r.checks.Store(0)
		var rerr error
		rm, rerr = r.rewritten.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if rerr == nil {
			if start := rm.ExportedFunction(StartExport); start != nil {
				_, rerr = start.Call(ctx)
			}
		}
		if stopped() {
			return false
		}
		octx, cancel := context.WithTimeout(ctx, timeout)
		var oerr error
		om, oerr = r.orig.InstantiateModule(octx, cm, wazero.NewModuleConfig().WithName(""))
		cancel()
		if skipTrap(oerr) || skipTrap(rerr) {
			return false
		}
		require.Equal(t, trapOf(oerr), trapOf(rerr), "instantiating")
		if oerr != nil {
			return false
		}
		require.Equal(t, exportedState(om, globals), exportedState(rm, globals), "after instantiation")
		return true
	}
	if !instantiate() {
		return
	}

	var names []string
	for name, d := range om.ExportedFunctionDefinitions() {
		if numeric(d.ParamTypes()) && numeric(d.ResultTypes()) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	rng := seed
	for _, name := range names {
		if om == nil && !instantiate() {
			return
		}
		of, rf := om.ExportedFunction(name), rm.ExportedFunction(name)
		require.NotNil(t, rf, "the rewrite lacks the export %s", name)
		require.Equal(t, of.Definition().ParamTypes(), rf.Definition().ParamTypes(), name)
		require.Equal(t, of.Definition().ResultTypes(), rf.Definition().ResultTypes(), name)
		args := make([]uint64, len(of.Definition().ParamTypes()))
		for i := range args {
			args[i] = fuzzArg(&rng)
		}
		r.checks.Store(0)
		rres, rerr := rf.Call(ctx, args...)
		if stopped() {
			closeBoth()
			continue
		}
		octx, cancel := context.WithTimeout(ctx, timeout)
		ores, oerr := of.Call(octx, args...)
		cancel()
		if rerr == nil && oerr != nil && strings.Contains(oerr.Error(), "context deadline") {
			t.Fatalf("%s%v: the rewrite returned %v within its budget, the original ran for over %v", name, args, rres, timeout)
		}
		if skipTrap(oerr) || skipTrap(rerr) {
			closeBoth()
			continue
		}
		require.Equal(t, outcome{ores, trapOf(oerr)}, outcome{rres, trapOf(rerr)}, "%s%v", name, args)
		require.Equal(t, exportedState(om, globals), exportedState(rm, globals), "after %s%v", name, args)
	}
}

// fuzzArg draws an argument: a small number more often than not.
func fuzzArg(rng *uint64) uint64 {
	*rng += 0x9E3779B97F4A7C15
	z := *rng
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	z ^= z >> 31
	switch z % 4 {
	case 0, 1:
		return z >> 59 // 0 to 31
	case 2:
		return z >> 48
	}
	return z
}

func numeric(types []api.ValueType) bool {
	for _, vt := range types {
		switch vt {
		case api.ValueTypeI32, api.ValueTypeI64, api.ValueTypeF32, api.ValueTypeF64:
		default:
			return false
		}
	}
	return true
}

// skipTrap reports errors that say nothing about the rewrite: a call out
// of time (the original has no fuel) or out of stack (the rewrite's
// wrappers and checks take frames of their own).
func skipTrap(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "stack overflow") || strings.Contains(err.Error(), "context deadline") ||
		strings.Contains(err.Error(), "closed"))
}

// trapOf is the first line of err, where wazero names the trap.
func trapOf(err error) string {
	if err == nil {
		return ""
	}
	line, _, _ := strings.Cut(err.Error(), "\n")
	// A failed start function names its module's function index, which
	// the rewrite renumbers.
	if i := strings.Index(line, "wasm error:"); i >= 0 {
		return line[i:]
	}
	return line
}

// exportedState is the values of m's exported numeric globals and the
// contents of its exported memories.
func exportedState(m api.Module, globals []string) string {
	var b strings.Builder
	for _, name := range globals {
		g := m.ExportedGlobal(name)
		if numeric([]api.ValueType{g.Type()}) {
			fmt.Fprintf(&b, "global %s = %#x\n", name, g.Get())
		}
	}
	var names []string
	for name := range m.ExportedMemoryDefinitions() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		mem := m.ExportedMemory(name)
		data, _ := mem.Read(0, mem.Size())
		fmt.Fprintf(&b, "memory %s: %d bytes, %x\n", name, len(data), hashBytes(data))
	}
	return b.String()
}

func hashBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// resultGuestWAT is an ABI v1 guest whose invoke returns the address held
// in the exported global "ret": the test writes what it likes there.
const resultGuestWAT = `(module
	(memory (export "memory") 1)
	(global $ret (export "ret") (mut i32) (i32.const 16))
	(func (export "wasmlambda_v1_alloc") (param i32) (result i32) (i32.const 1024))
	(func (export "wasmlambda_v1_invoke") (param i32 i32) (result i32) (global.get $ret)))`

// FuzzResultRecord: a hostile guest returns any address for its result
// record and writes any record there. Invoke must return the payload the
// record describes when it lies within memory and the status is known, and
// a FaultBadResult otherwise, never panicking or reading out of range.
func FuzzResultRecord(f *testing.F) {
	f.Add(uint32(16), uint32(0), uint32(64), uint32(5), uint32(1<<20))
	f.Add(uint32(16), uint32(1), uint32(65530), uint32(6), uint32(1<<20))
	f.Add(uint32(65530), uint32(0), uint32(0), uint32(0), uint32(100))
	f.Add(uint32(0x7FFFFFF0), uint32(0), uint32(0), uint32(0), uint32(100))
	f.Add(uint32(16), uint32(3), uint32(0), uint32(0), uint32(100))
	f.Add(uint32(16), uint32(2), uint32(0xFFFFFFFF), uint32(2), uint32(100))
	f.Add(uint32(16), uint32(0), uint32(100), uint32(65436), uint32(10))
	f.Add(uint32(16), uint32(0), uint32(1), uint32(0xFFFFFFFF), uint32(10))
	ctx := context.Background()
	m, err := Compile(ctx, Config{Code: wat(f, resultGuestWAT), MemoryLimitPages: 16})
	require.NoError(f, err)
	f.Cleanup(func() { _ = m.Close(ctx) })
	in, err := m.Instantiate(ctx, InstanceConfig{})
	require.NoError(f, err)
	f.Cleanup(func() { _ = in.Close(ctx) })
	ret := in.mod.ExportedGlobal("ret").(api.MutableGlobal)
	const memSize = 1 << 16
	f.Fuzz(func(t *testing.T, addr, status, ptr, n, maxResult uint32) {
		rec := make([]byte, abi.ResultSize)
		abi.EncodeResult(rec, abi.Status(status), ptr, n)
		if uint64(addr)+abi.ResultSize <= memSize {
			require.True(t, in.mem.Write(addr, rec))
		}
		// The payload's bytes, where they lie in memory, are recognisable.
		if uint64(ptr) < memSize {
			end := min(uint64(ptr)+uint64(n), memSize)
			fill := make([]byte, end-uint64(ptr))
			for i := range fill {
				fill[i] = byte(uint64(ptr) + uint64(i))
			}
			require.True(t, in.mem.Write(ptr, fill))
		}
		// The record is read before the payload, so whatever the payload
		// overwrote of it is what the host sees.
		var got [abi.ResultSize]byte
		recOK := uint64(addr)+abi.ResultSize <= memSize
		if recOK {
			b, _ := in.mem.Read(addr, abi.ResultSize)
			copy(got[:], b)
		}
		ret.Set(uint64(addr))
		s, payload, size, err := in.Invoke(ctx, &abi.Request{RequestID: "r", Payload: []byte("{}")}, int(maxResult%(1<<21)))
		if !recOK {
			var fault *Fault
			require.ErrorAs(t, err, &fault)
			require.Equal(t, FaultBadResult, fault.Kind)
			return
		}
		ws, wptr, wn := abi.DecodeResult(got[:])
		switch {
		case ws > abi.StatusFatal, uint64(wptr)+uint64(wn) > memSize:
			var fault *Fault
			require.ErrorAs(t, err, &fault, "status %d, payload [%d, +%d)", ws, wptr, wn)
			require.Equal(t, FaultBadResult, fault.Kind)
			return
		}
		require.NoError(t, err)
		require.Equal(t, ws, s)
		require.Equal(t, int(wn), size)
		if int(wn) > int(maxResult%(1<<21)) {
			require.Nil(t, payload)
			return
		}
		want, _ := in.mem.Read(wptr, wn)
		require.True(t, bytes.Equal(want, payload))
		require.Len(t, payload, int(wn))
	})
}

// TestInstrumentRefusesOutOfRange: an index one past the last function,
// global or local names, after the rewrite, the check function, the fuel
// global or a local the rewrite added; a branch past the last open label
// names one the rewrite added. wazero would accept the rewrite,
// and the guest reach its fuel; so instrument refuses the module.
func TestInstrumentRefusesOutOfRange(t *testing.T) {
	tests := []struct {
		name string
		code []byte
		want string
	}{
		{"local.set of the local after the last", oneFunc(0x41, 0x00, 0x21, 0x00), "local index 0 out of range"},
		{"local.get of the local after the last", oneFunc(0x20, 0x00, 0x1a), "local index 0 out of range"},
		{"global.set of the global after the last", oneFunc(0x41, 0x7f, 0x24, 0x00), "global index 0 out of range"},
		{"global.get of the global after the last", oneFunc(0x23, 0x00, 0x1a), "global index 0 out of range"},
		{"call of the function after the last", oneFunc(0x10, 0x01), "function index 1 out of range"},
		{"an export of the global after the last", module(sec(secExport, vec(cat(wname("g"), []byte{externGlobl}, leb(0))))), "global index 0 out of range"},
		{"an export of the function after the last", module(sec(1, vec([]byte{0x60, 0x00, 0x00})), sec(3, vec(leb(0))),
			sec(secExport, vec(cat(wname("f"), []byte{externFunc}, leb(1)))), sec(10, vec(funcBody()))), "function index 1 out of range"},
		{"a start function after the last", module(sec(secStart, leb(0))), "function index 0 out of range"},
		// Labels: the rewrite opens a block around a body and two around
		// each loop, which would give such branches a target.
		{"br_if past the function's label, in a block", oneFunc(0x02, 0x40, 0x41, 0x00, 0x0d, 0x02, 0x0b), "label 2, with 2 labels open"},
		{"br past the function's label", oneFunc(0x0c, 0x01), "label 1, with 1 labels open"},
		{"br past the function's label, in a loop", oneFunc(0x03, 0x40, 0x0c, 0x02, 0x0b), "label 2, with 2 labels open"},
		{"br_table with a default past the function's label", oneFunc(0x03, 0x40, 0x41, 0x00, 0x0e, 0x01, 0x00, 0x03, 0x0b), "label 3, with 2 labels open"},
		// Types: the rewrite adds the check's and others.
		{"a block of the type after the last", oneFunc(0x02, 0x01, 0x0b), "block at offset 1: type 1 of 1"},
		{"a loop of the type after the last", oneFunc(0x03, 0x01, 0x0b), "block at offset 1: type 1 of 1"},
		{"an if of the type after the last", oneFunc(0x41, 0x00, 0x04, 0x01, 0x0b), "block at offset 3: type 1 of 1"},
		{"call_indirect of the type after the last", oneFunc(0x41, 0x00, 0x11, 0x01, 0x00), "call_indirect at offset 3: type 1 of 1"},
	}
	rts := newFuzzRuntimes(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Error(t, rts.compile(tt.code), "wazero must refuse the module")
			out, err := instrument(tt.code)
			if err == nil {
				require.Error(t, rts.compile(out), "instrument accepted the module, and wazero its rewrite")
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// TestInstrumentBlockTypeEncodings: a block type is a signed LEB128, and a
// value type or none may take more than one byte, as wazero reads it; the
// rewriter reads it the same way, and accepts what wazero accepts.
func TestInstrumentBlockTypeEncodings(t *testing.T) {
	rts := newFuzzRuntimes(t)
	for _, code := range [][]byte{
		oneFunc(0x02, 0xc0, 0x7f, 0x0b),                   // block, none in two bytes
		oneFunc(0x03, 0xc0, 0xff, 0x7f, 0x0b),             // loop, none in three bytes
		oneFunc(0x02, 0xff, 0x7f, 0x41, 0x00, 0x0b, 0x1a), // block (result i32) in two bytes
		oneFunc(0x02, 0x00, 0x0b),                         // block of type 0
	} {
		require.NoError(t, rts.compile(code), "wazero accepts % x", code)
		out, err := instrument(code)
		require.NoError(t, err, "% x", code)
		require.NoError(t, rts.compile(out), "the rewrite of % x", code)
	}
}

// TestInstrumentBoundsWhatWazeroAllocates: modules of a few bytes whose
// counts would make wazero allocate gigabytes when it decodes the rewrite
// (a fatal out-of-memory for the whole process, for a table count), or
// hundreds of megabytes when it compiles it (locals). instrument refuses
// them, so that wazero never sees them.
func TestInstrumentBoundsWhatWazeroAllocates(t *testing.T) {
	huge := []byte{0xf0, 0xff, 0xff, 0xff, 0x07} // 2^31 - 16
	locals := func(n uint64) []byte {
		body := cat(leb(1), leb(n), []byte{0x7f, 0x0b})
		return module(sec(1, vec([]byte{0x60, 0x00, 0x00})), sec(3, vec(leb(0))), sec(10, vec(cat(leb(uint64(len(body))), body))))
	}
	tests := []struct {
		name string
		code []byte
		want string
	}{
		{"a table section claiming 2^31 tables", module(sec(4, huge)), "a vector of 2147483632 items"},
		{"a memory section claiming 2^31 memories", module(sec(5, huge)), "a vector of 2147483632 items"},
		{"a data section claiming 2^31 segments", module(sec(11, huge)), "a vector of 2147483632 items"},
		{"a tag section claiming 2^31 tags", module(sec(13, huge)), "a vector of 2147483632 items"},
		{"a function of 2^24 locals", locals(1 << 24), "16777216 locals: too many"},
		{"a function of 50,001 locals", locals(50001), "50001 locals: too many"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := instrument(tt.code)
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err := instrument(locals(50000))
	require.NoError(t, err, "50,000 locals are allowed")
}
