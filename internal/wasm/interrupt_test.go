package wasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmlambda/lambda/internal/abi"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// ---------------------------------------------------------------------------
// Building modules.

// wat assembles src with wat2wasm and the given flags.
func wat(t testing.TB, src string, flags ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("wat2wasm is required under CI: %v", err)
		}
		t.Skipf("wat2wasm not installed: %v", err)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	require.NoError(t, os.WriteFile(in, []byte(src), 0o644))
	msg, err := exec.Command("wat2wasm", append(flags, in, "-o", out)...).CombinedOutput()
	require.NoError(t, err, "wat2wasm: %s\n%s", msg, src)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	return b
}

// leb is an unsigned LEB128 encoding, written independently of appendU32.
func leb(v uint64) []byte { return binary.AppendUvarint(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func wname(s string) []byte { return cat(leb(uint64(len(s))), []byte(s)) }

func vec(items ...[]byte) []byte { return cat(leb(uint64(len(items))), cat(items...)) }

// sec is a section: its id, length and body.
func sec(id byte, body ...[]byte) []byte {
	b := cat(body...)
	return cat([]byte{id}, leb(uint64(len(b))), b)
}

const wasmHeader = "\x00asm\x01\x00\x00\x00"

func module(sections ...[]byte) []byte { return cat([]byte(wasmHeader), cat(sections...)) }

// funcBody is a code-section entry: size, no locals, instrs, end.
func funcBody(instrs ...byte) []byte {
	b := cat([]byte{0x00}, instrs, []byte{0x0b})
	return cat(leb(uint64(len(b))), b)
}

// oneFunc is a module with one function () -> () whose body is instrs.
func oneFunc(instrs ...byte) []byte {
	return module(
		sec(1, vec([]byte{0x60, 0x00, 0x00})),
		sec(3, vec(leb(0))),
		sec(10, vec(funcBody(instrs...))),
	)
}

// ---------------------------------------------------------------------------
// Reading modules, independently of the rewriter's own reader.

type cursor struct {
	t   testing.TB
	b   []byte
	off int
}

func (c *cursor) u() uint64 {
	c.t.Helper()
	v, k := binary.Uvarint(c.b[c.off:])
	require.Positive(c.t, k, "LEB128 at %d", c.off)
	c.off += k
	return v
}

func (c *cursor) byte() byte {
	c.t.Helper()
	require.Less(c.t, c.off, len(c.b), "unexpected end")
	c.off++
	return c.b[c.off-1]
}

func (c *cursor) name() string {
	c.t.Helper()
	n := int(c.u())
	require.LessOrEqual(c.t, c.off+n, len(c.b), "name overruns")
	c.off += n
	return string(c.b[c.off-n : c.off])
}

type wsection struct {
	id   byte
	body []byte
}

func sections(t testing.TB, b []byte) []wsection {
	t.Helper()
	require.GreaterOrEqual(t, len(b), 8)
	require.Equal(t, wasmHeader, string(b[:8]))
	var out []wsection
	c := &cursor{t: t, b: b, off: 8}
	for c.off < len(b) {
		id := c.byte()
		n := int(c.u())
		require.LessOrEqual(t, c.off+n, len(b), "section %d overruns", id)
		out = append(out, wsection{id, b[c.off : c.off+n]})
		c.off += n
	}
	return out
}

// find returns the one section with id, or nil; it fails if there are more.
func find(t testing.TB, secs []wsection, id byte) []byte {
	t.Helper()
	var found [][]byte
	for _, s := range secs {
		if s.id == id {
			found = append(found, s.body)
		}
	}
	require.LessOrEqual(t, len(found), 1, "section %d appears %d times", id, len(found))
	if len(found) == 0 {
		return nil
	}
	return found[0]
}

// count is the item count at the start of a vector section, 0 if absent.
func count(t testing.TB, body []byte) uint64 {
	t.Helper()
	if body == nil {
		return 0
	}
	return (&cursor{t: t, b: body}).u()
}

type wimport struct {
	module, name string
	kind         byte
	typ          uint64 // a function's type index
}

func importsOf(t testing.TB, body []byte) []wimport {
	t.Helper()
	if body == nil {
		return nil
	}
	c := &cursor{t: t, b: body}
	var out []wimport
	for n := c.u(); n > 0; n-- {
		im := wimport{module: c.name(), name: c.name(), kind: c.byte()}
		switch im.kind {
		case 0x00:
			im.typ = c.u()
		case 0x01, 0x02:
			if im.kind == 0x01 {
				c.byte()
			}
			if c.byte()&1 != 0 {
				c.u()
			}
			c.u()
		case 0x03:
			c.byte()
			c.byte()
		case 0x04:
			c.byte()
			im.typ = c.u()
		default:
			t.Fatalf("unexpected import kind %d", im.kind)
		}
		out = append(out, im)
	}
	require.Equal(t, len(body), c.off, "trailing bytes in the import section")
	return out
}

type wexport struct {
	kind byte
	idx  uint64
}

func exportsOf(t testing.TB, body []byte) map[string]wexport {
	t.Helper()
	m := map[string]wexport{}
	if body == nil {
		return m
	}
	c := &cursor{t: t, b: body}
	for n := c.u(); n > 0; n-- {
		name, kind := c.name(), c.byte()
		_, dup := m[name]
		require.False(t, dup, "export %q twice", name)
		m[name] = wexport{kind, c.u()}
	}
	require.Equal(t, len(body), c.off, "trailing bytes in the export section")
	return m
}

func customName(body []byte) string {
	n, k := binary.Uvarint(body)
	if k <= 0 || k+int(n) > len(body) {
		return ""
	}
	return string(body[k : k+int(n)])
}

// fuelGlobal is the global instrument appends: (mut i32) (i32.const 16384).
var fuelGlobal = []byte{0x7f, 0x01, 0x41, 0x80, 0x80, 0x01, 0x0b}

// rewritten is what requireInstrumented learnt of a rewrite.
type rewritten struct {
	check   uint64 // the check import's function index
	fuel    uint64 // the fuel global's index
	exports map[string]wexport
}

// wtype is a function type.
type wtype struct{ params, results string }

func typesOf(t testing.TB, body []byte) []wtype {
	t.Helper()
	if body == nil {
		return nil
	}
	c := &cursor{t: t, b: body}
	var out []wtype
	for n := c.u(); n > 0; n-- {
		require.Equal(t, byte(0x60), c.byte(), "a function type")
		p := int(c.u())
		params := string(c.b[c.off : c.off+p])
		c.off += p
		r := int(c.u())
		out = append(out, wtype{params, string(c.b[c.off : c.off+r])})
		c.off += r
	}
	require.Equal(t, len(body), c.off, "trailing bytes in the type section")
	return out
}

// bodiesOf splits a code section into function bodies.
func bodiesOf(t testing.TB, body []byte) [][]byte {
	t.Helper()
	if body == nil {
		return nil
	}
	c := &cursor{t: t, b: body}
	var out [][]byte
	for n := c.u(); n > 0; n-- {
		size := int(c.u())
		out = append(out, c.b[c.off:c.off+size])
		c.off += size
	}
	return out
}

// wrapped returns the function an export wrapper calls: its body must be
// local.get 0 ... local.get n-1; global.get fuel; call f; global.set fuel.
func wrapped(t testing.TB, body []byte, fuel uint64) uint64 {
	t.Helper()
	c := &cursor{t: t, b: body}
	require.Equal(t, uint64(0), c.u(), "a wrapper has no locals")
	for i := uint64(0); c.b[c.off] == 0x20; i++ {
		c.off++
		require.Equal(t, i, c.u(), "a wrapper passes its parameters in order")
	}
	require.Equal(t, byte(0x23), c.byte(), "global.get")
	require.Equal(t, fuel, c.u())
	require.Equal(t, byte(0x10), c.byte(), "call")
	f := c.u()
	require.Equal(t, byte(0x24), c.byte(), "global.set")
	require.Equal(t, fuel, c.u())
	require.Equal(t, byte(0x0b), c.byte())
	require.Equal(t, len(body), c.off)
	return f
}

// requireInstrumented checks out, the rewrite of code (by instrument, or by
// the reference, instrumentWith(code, true)), section by section: their
// order, the added types, import and global, the renumbered exports, which
// call the functions they named through wrappers unless in the reference,
// the start section turned into an export, and DWARF dropped.
func requireInstrumented(t testing.TB, code, out []byte) rewritten {
	t.Helper()
	in, o := sections(t, code), sections(t, out)
	require.Equal(t, code[:8], out[:8])

	last := -1
	for _, s := range o {
		require.NotEqual(t, byte(secStart), s.id, "the start section must be gone")
		if s.id == secCustom {
			require.False(t, strings.HasPrefix(customName(s.body), ".debug_"), "DWARF section %q kept", customName(s.body))
			continue
		}
		r := sectionRank(s.id)
		require.Greater(t, r, last, "section %d out of order", s.id)
		last = r
	}

	// The module's own types, then the check's () -> i32; then, unless in
	// the reference, each of the module's types with the fuel after its
	// parameters and its results, then block types returning several
	// values.
	inTypes, outTypes := typesOf(t, find(t, in, secType)), typesOf(t, find(t, o, secType))
	types := uint64(len(inTypes))
	require.GreaterOrEqual(t, len(outTypes), len(inTypes)+1)
	if types > 0 {
		require.Equal(t, inTypes, outTypes[:types])
	}
	require.Equal(t, wtype{"", "\x7f"}, outTypes[types], "the check's type")
	reference := len(outTypes) == len(inTypes)+1 && len(inTypes) > 0
	if !reference && len(inTypes) > 0 {
		for i, typ := range inTypes {
			require.Equal(t, wtype{typ.params + "\x7f", typ.results + "\x7f"}, outTypes[int(types)+1+i], "type %d extended", i)
		}
		for _, typ := range outTypes[2*types+1:] {
			require.Empty(t, typ.params, "a block type")
			require.Greater(t, len(typ.results), 1, "a block type")
		}
	}

	// The check import right after the function imports, the others kept.
	ins, outs := importsOf(t, find(t, in, secImport)), importsOf(t, find(t, o, secImport))
	var funcs uint64
	for _, im := range ins {
		if im.kind == 0x00 {
			funcs++
		}
	}
	check := wimport{module: CheckModule, name: CheckName, kind: 0x00, typ: types}
	var got []wimport
	var gotFuncs uint64
	checkAt := -1
	for i, im := range outs {
		if im == check && checkAt < 0 {
			checkAt = i
			require.Equal(t, funcs, gotFuncs, "the check import's function index")
			continue
		}
		if im.kind == 0x00 {
			gotFuncs++
		}
		got = append(got, im)
	}
	require.GreaterOrEqual(t, checkAt, 0, "no %s.%s import of type %d", CheckModule, CheckName, types)
	require.Equal(t, ins, got, "the module's own imports must be kept in order")

	// The fuel global after every imported and defined one.
	var importedGlobals uint64
	for _, im := range ins {
		if im.kind == 0x03 {
			importedGlobals++
		}
	}
	defined := count(t, find(t, in, secGlobal))
	require.Equal(t, defined+1, count(t, find(t, o, secGlobal)))
	require.True(t, bytes.HasSuffix(find(t, o, secGlobal), fuelGlobal), "the last global is not the fuel")
	fuel := importedGlobals + defined

	// Exports renumbered; the start function exported. Unless in the
	// reference, an exported defined function is a wrapper, after the
	// defined functions, that calls it.
	renumber := func(i uint64) uint64 {
		if i >= funcs {
			return i + 1
		}
		return i
	}
	want := map[string]wexport{}
	for name, e := range exportsOf(t, find(t, in, secExport)) {
		if e.kind == 0x00 {
			e.idx = renumber(e.idx)
		}
		want[name] = e
	}
	if s := find(t, in, secStart); s != nil {
		want[StartExport] = wexport{0x00, renumber(count(t, s))}
	}
	exports := exportsOf(t, find(t, o, secExport))
	definedFuncs := count(t, find(t, in, funcSection))
	bodies := bodiesOf(t, find(t, o, secCode))
	calls := map[string]wexport{}
	for name, e := range exports {
		if !reference && e.kind == 0x00 && e.idx > funcs {
			require.GreaterOrEqual(t, e.idx, funcs+1+definedFuncs, "export %s is a wrapper", name)
			require.Less(t, int(e.idx-funcs-1), len(bodies))
			e.idx = wrapped(t, bodies[e.idx-funcs-1], fuel)
		}
		calls[name] = e
	}
	require.Equal(t, want, calls)
	return rewritten{check: funcs, fuel: fuel, exports: exports}
}

// ---------------------------------------------------------------------------
// Running modules on a plain wazero runtime.

// checker is a stand-in for the host's check function.
type checker struct {
	stop  atomic.Bool
	calls atomic.Int64
}

// plainRuntime is a wazero runtime without this package's validation, with
// a check function and, when env is set, an "env" module instantiated from
// that WAT source.
func plainRuntime(t testing.TB, features api.CoreFeatures, env string) (wazero.Runtime, *checker) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(features))
	t.Cleanup(func() { _ = rt.Close(ctx) })
	c := &checker{}
	_, err := rt.NewHostModuleBuilder(CheckModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
			c.calls.Add(1)
			stack[0] = 0
			if c.stop.Load() {
				stack[0] = 1
			}
		}), nil, []api.ValueType{api.ValueTypeI32}).
		Export(CheckName).
		Instantiate(ctx)
	require.NoError(t, err)
	if env != "" {
		_, err := rt.InstantiateWithConfig(ctx, wat(t, env), wazero.NewModuleConfig().WithName("env"))
		require.NoError(t, err)
	}
	return rt, c
}

func instantiate(t testing.TB, rt wazero.Runtime, code []byte) api.Module {
	t.Helper()
	mod, err := rt.InstantiateWithConfig(context.Background(), code, wazero.NewModuleConfig().WithName("m"))
	require.NoError(t, err)
	return mod
}

// within runs fn and fails the test if it takes longer than d, so that the
// test fails rather than hangs. A hung fn keeps running in the background:
// it must not be given anything that is closed (such as the instance it
// runs in) when within reports false, and the test must stop there.
func within(t testing.TB, d time.Duration, what string, fn func()) bool {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		t.Errorf("%s did not return within %v", what, d)
		return false
	}
}

// ---------------------------------------------------------------------------
// instrument on its own.

// envWAT provides what the modules below import.
const envWAT = `(module
	(func (export "seven") (result i32) (i32.const 7))
	(func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
	(global (export "g0") i32 (i32.const 100))
	(global (export "g1") (mut i64) (i64.const 101))
	(memory (export "mem") 1)
	(table (export "tab") 4 funcref)
	(elem (i32.const 3) $nine)
	(func $nine (result i32) (i32.const 9)))`

// renumberWAT refers to functions in every way the format allows, with
// function imports before and after other imports, so that the rewrite has
// to renumber each of them.
const renumberWAT = `(module
	(import "env" "g0" (global $g0 i32))
	(import "env" "seven" (func $seven (result i32)))
	(import "env" "mem" (memory 1))
	(import "env" "tab" (table $tab 4 funcref))
	(import "env" "add" (func $add (param i32 i32) (result i32)))
	(import "env" "g1" (global $g1 (mut i64)))
	(type $r (func (result i32)))
	(table $t 8 funcref)
	(global $counter (export "counter") (mut i32) (i32.const 0))
	(global $started (export "started") (mut i32) (global.get $g0))
	(global $fr funcref (ref.func $thirteen))
	(elem (table $tab) (i32.const 0) func $ten $eleven)
	(elem (table $t) (i32.const 0) func $ten $eleven)
	(elem (table $tab) (i32.const 2) funcref (ref.func $twelve))
	(elem (table $t) (i32.const 2) funcref (ref.func $twelve) (ref.null func))
	(elem $pass func $ten $twelve)
	(elem $passx funcref (ref.func $eleven) (ref.func $seven))
	(elem declare func $thirteen)
	(elem declare funcref (ref.func $twelve))
	(func $ten (result i32) (i32.const 10))
	(func $eleven (result i32) (i32.const 11))
	(func $twelve (result i32) (i32.const 12))
	(func $thirteen (result i32) (i32.const 13))
	(func $bump (global.set $counter (i32.add (global.get $counter) (i32.const 1))))
	(func $init (global.set $started (i32.add (global.get $started) (i32.const 1000))))
	(start $init)
	(func $direct (export "direct") (result i32)
		(i32.add (call $ten) (i32.add (call $seven) (call $add (i32.const 2) (i32.const 3)))))
	(func $indirect (export "indirect") (result i32)
		(i32.add
			(i32.add (call_indirect $tab (type $r) (i32.const 0)) (call_indirect $tab (type $r) (i32.const 1)))
			(i32.add
				(i32.add (call_indirect $tab (type $r) (i32.const 2)) (call_indirect $tab (type $r) (i32.const 3)))
				(i32.add (call_indirect $t (type $r) (i32.const 1)) (call_indirect $t (type $r) (i32.const 2))))))
	(func $passive (export "passive") (result i32)
		(table.init $t $pass (i32.const 4) (i32.const 0) (i32.const 2))
		(table.init $t $passx (i32.const 6) (i32.const 0) (i32.const 2))
		(i32.add
			(i32.add (call_indirect $t (type $r) (i32.const 4)) (call_indirect $t (type $r) (i32.const 5)))
			(i32.add (call_indirect $t (type $r) (i32.const 6)) (call_indirect $t (type $r) (i32.const 7)))))
	(func $reffunc (export "reffunc") (result i32)
		(table.set $t (i32.const 7) (ref.func $thirteen))
		(i32.mul (call_indirect $t (type $r) (i32.const 7)) (i32.const 3)))
	(func $globalref (export "globalref") (result i32)
		(table.set $t (i32.const 7) (global.get $fr))
		(i32.add (call_indirect $t (type $r) (i32.const 7)) (i32.wrap_i64 (global.get $g1))))
	(func $loops (export "loops") (result i32)
		(local $i i32)
		(loop $l
			(call $bump)
			(br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 100000))))
		(global.get $counter)))`

// TestInstrumentRenumbers runs a module and its rewrite side by side: every
// export must give the same result, which it cannot if a reference to a
// function was missed or misnumbered.
func TestInstrumentRenumbers(t *testing.T) {
	// With the table imported, a function from elsewhere may sit in it, so
	// tables keep functions of their original signature. With the table
	// defined, tables hold functions that take the fuel, imported ones
	// through reverse wrappers.
	own := strings.NewReplacer(`(import "env" "tab" (table $tab 4 funcref))`, ``,
		`(import "env" "g1" (global $g1 (mut i64)))`, `(import "env" "g1" (global $g1 (mut i64)))
	(table $tab 4 funcref) (elem (table $tab) (i32.const 3) func $nine) (func $nine (result i32) (i32.const 9))`).Replace(renumberWAT)
	require.NotEqual(t, renumberWAT, own)
	for _, tc := range []struct {
		name, src string
		extTables bool
	}{
		{"imported table", renumberWAT, false},
		{"own tables", own, true},
	} {
		t.Run(tc.name, func(t *testing.T) { testInstrumentRenumbers(t, tc.src, tc.extTables) })
	}
}

func testInstrumentRenumbers(t *testing.T, src string, extTables bool) {
	ctx := context.Background()
	code := wat(t, src, "--debug-names")
	out, err := instrument(code)
	require.NoError(t, err)
	secs, err := splitSections(code)
	require.NoError(t, err)
	var types []funcType
	for _, s := range secs {
		if s.id == secType {
			types = (&reader{b: s.body}).funcTypes()
		}
	}
	require.Equal(t, !extTables, foreignRefs(secs, types))
	rw := requireInstrumented(t, code, out)
	require.Equal(t, uint64(2), rw.check, "two function imports come first")
	require.Equal(t, uint64(5), rw.fuel, "two imported and three defined globals come first")

	rt1, _ := plainRuntime(t, api.CoreFeaturesV2, envWAT)
	orig := instantiate(t, rt1, code)
	rt2, check := plainRuntime(t, api.CoreFeaturesV2, envWAT)
	inst := instantiate(t, rt2, out)

	// The start section ran at instantiation; its rewrite runs when asked.
	require.Equal(t, uint64(1100), orig.ExportedGlobal("started").Get())
	require.Equal(t, uint64(100), inst.ExportedGlobal("started").Get(), "the start function must not run at instantiation")
	_, err = inst.ExportedFunction(StartExport).Call(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1100), inst.ExportedGlobal("started").Get())

	var names []string
	for name, d := range orig.ExportedFunctionDefinitions() {
		names = append(names, name)
		// The name section was renumbered with the functions.
		require.Equal(t, d.DebugName(), inst.ExportedFunctionDefinitions()[name].DebugName())
	}
	sort.Strings(names)
	require.Equal(t, []string{"direct", "globalref", "indirect", "loops", "passive", "reffunc"}, names)
	want := map[string]uint64{
		"direct": 22, "indirect": 10 + 11 + 12 + 9 + 11 + 12, "passive": 10 + 12 + 11 + 7,
		"reffunc": 39, "globalref": 13 + 101, "loops": 100000,
	}
	for _, name := range names {
		r1, err := orig.ExportedFunction(name).Call(ctx)
		require.NoError(t, err, name)
		r2, err := inst.ExportedFunction(name).Call(ctx)
		require.NoError(t, err, name)
		require.Equal(t, r1, r2, name)
		require.Equal(t, want[name], r2[0], name)
	}
	// The fuel is not one of the module's globals: the counter the loop
	// bumped is exact, and the check ran every FuelPerCheck steps.
	require.Equal(t, uint64(100000), inst.ExportedGlobal("counter").Get())
	require.GreaterOrEqual(t, check.calls.Load(), int64(200000/FuelPerCheck))
	require.LessOrEqual(t, check.calls.Load(), int64(200100/FuelPerCheck))
}

func TestInstrumentIndices(t *testing.T) {
	manyGlobals := func(n int) string {
		var b strings.Builder
		b.WriteString("(module\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "(global $g%d (export \"g%d\") (mut i32) (i32.const %d))\n", i, i, 1000+i)
		}
		b.WriteString("(func (export \"spin\") (param $n i32) (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))")
		return b.String()
	}
	spin := `(func (export "spin") (param $n i32) (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))`
	tests := []struct {
		name        string
		src         string
		check, fuel uint64
	}{
		{"nothing but a function", `(module ` + spin + `)`, 0, 0},
		{"no type section", `(module (memory (export "memory") 1))`, 0, 0},
		{"only a memory import, no type section", `(module (import "env" "mem" (memory 1)))`, 0, 0},
		{"imported globals only", `(module
			(import "env" "g0" (global i32))
			(import "env" "mem" (memory 1))
			(import "env" "g1" (global (mut i64))) ` + spin + `)`, 0, 2},
		{"defined mutable i32 globals", `(module
			(global (export "a") (mut i32) (i32.const 7))
			(global (export "b") (mut i32) (i32.const 8)) ` + spin + `)`, 0, 2},
		{"imported functions and globals, defined globals", `(module
			(import "env" "seven" (func (result i32)))
			(import "env" "g0" (global i32))
			(import "env" "add" (func (param i32 i32) (result i32)))
			(global (export "a") (mut i32) (i32.const 7)) ` + spin + `)`, 2, 2},
		{"a fuel index two LEB128 bytes long", manyGlobals(130), 0, 130},
		{"a data count section, no global or export section", `(module
			(memory 1)
			(data $d "hello")
			(func (memory.init $d (i32.const 0) (i32.const 0) (i32.const 5)) (data.drop $d)))`, 0, 0},
		{"a start section only", `(module (func $s) (start $s))`, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			code := wat(t, tt.src)
			out, err := instrument(code)
			require.NoError(t, err)
			rw := requireInstrumented(t, code, out)
			require.Equal(t, tt.check, rw.check, "check function index")
			require.Equal(t, tt.fuel, rw.fuel, "fuel global index")

			// wazero accepts the rewrite; running it leaves the module's
			// own globals alone.
			rt, check := plainRuntime(t, api.CoreFeaturesV2, envWAT)
			mod := instantiate(t, rt, out)
			before := map[string]uint64{}
			for name, e := range rw.exports {
				if e.kind == 0x03 {
					before[name] = mod.ExportedGlobal(name).Get()
				}
			}
			if fn := mod.ExportedFunction("spin"); fn != nil {
				_, err := fn.Call(ctx, 3*FuelPerCheck)
				require.NoError(t, err)
				require.Equal(t, int64(3), check.calls.Load())
			}
			for name, v := range before {
				require.Equal(t, v, mod.ExportedGlobal(name).Get(), "global %s changed", name)
			}
		})
	}
}

// TestInstrumentFuel counts the checks: one per FuelPerCheck function
// entries and loop iterations, and a stop traps at the next one.
func TestInstrumentFuel(t *testing.T) {
	ctx := context.Background()
	out, err := instrument(wat(t, `(module
		(func (export "spin") (param $n i32)
			(loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
		(func (export "forever") (loop $l (br $l))))`))
	require.NoError(t, err)

	rt, check := plainRuntime(t, api.CoreFeaturesV2, "")
	mod := instantiate(t, rt, out)
	spin := mod.ExportedFunction("spin")
	// spin(n) takes 1 + n steps: its entry and n loop iterations. The fuel
	// starts full and is refilled at each check.
	for _, tc := range []struct {
		n     uint64
		total int64
	}{
		{FuelPerCheck - 2, 0},   // 16383 steps: one short of a check
		{1, 1},                  // the 16384th step checks; 1 more step
		{FuelPerCheck - 2, 2},   // 16383 more make 16384 since the check
		{3*FuelPerCheck - 1, 5}, // 3 × 16384
	} {
		_, err := spin.Call(ctx, tc.n)
		require.NoError(t, err)
		require.Equal(t, tc.total, check.calls.Load(), "after spin(%d)", tc.n)
	}

	check.stop.Store(true)
	calls := check.calls.Load()
	if !within(t, 10*time.Second, "a stopped loop", func() {
		_, err = mod.ExportedFunction("forever").Call(ctx)
	}) {
		return
	}
	require.ErrorContains(t, err, "unreachable")
	require.Equal(t, calls+1, check.calls.Load(), "the first check stops it")
}

func TestInstrumentSections(t *testing.T) {
	base := wat(t, `(module
		(func $hello (export "hello") (result i32) (i32.const 1)))`, "--debug-names")
	custom := func(name string, payload string) []byte { return sec(secCustom, wname(name), []byte(payload)) }
	// Custom sections may appear anywhere, before the first section too.
	code := cat(base[:8], custom(".debug_info", "dwarf"), custom("first", "1"), base[8:],
		custom(".debug_line", "lines"), custom("producers", "\x00"))
	out, err := instrument(code)
	require.NoError(t, err)
	requireInstrumented(t, code, out)
	var names []string
	for _, s := range sections(t, out) {
		if s.id == secCustom {
			names = append(names, customName(s.body))
		}
	}
	require.Equal(t, []string{"first", "name", "producers"}, names, "DWARF dropped, other custom sections kept in order")

	rt, _ := plainRuntime(t, api.CoreFeaturesV2, "")
	mod := instantiate(t, rt, out)
	require.Equal(t, ".hello", mod.ExportedFunctionDefinitions()["hello"].DebugName(), "the name section still names the function")
}

// TestInstrumentOpcodes instruments a module using every kind of immediate
// the rewriter must skip. A miscounted immediate would put the check in the
// middle of an instruction, which wazero then refuses, or would miss a loop.
func TestInstrumentOpcodes(t *testing.T) {
	const src = `(module
		(type $ii (func (param i32) (result i32)))
		(memory $m 1 1 shared)
		(table $t 2 funcref)
		(global $gi (mut i32) (i32.const 0))
		(data $d "abcdefgh")
		(elem $e func $id $id)
		(elem declare func $blocks)
		(func $id (type $ii) (local.get 0))
		(func $blocks (param $x i32) (result i32)
			(local $y i64) (local $f f32) (local $d f64) (local $v v128) (local $r funcref)
			(drop (block $b (result i32)
				(i32.const 5)
				(loop $l (param i32) (result i32)
					(br_table $b $l $b (local.get $x)))))
			(drop (if (result i32) (local.get $x)
				(then (i32.const -1))
				(else (i32.const 0x7fffffff))))
			(drop (select (result i32) (i32.const 1) (i32.const 2) (local.get $x)))
			(drop (select (i32.const 1) (i32.const 2) (local.get $x)))
			(local.set $y (i64.const -9223372036854775808))
			(local.set $f (f32.const 1.5))
			(local.set $d (f64.const -2.25))
			(global.set $gi (i32.load8_u offset=3 align=1 (i32.const 0)))
			(i64.store32 offset=0x1000 (i32.const 0) (local.get $y))
			(drop (memory.size))
			(drop (memory.grow (i32.const 0)))
			(drop (i32.extend8_s (i32.trunc_sat_f32_s (local.get $f))))
			(memory.init $d (i32.const 0) (i32.const 0) (i32.const 4))
			(data.drop $d)
			(memory.copy (i32.const 8) (i32.const 0) (i32.const 4))
			(memory.fill (i32.const 0) (i32.const 0) (i32.const 4))
			(table.init $t $e (i32.const 0) (i32.const 0) (i32.const 1))
			(elem.drop $e)
			(table.copy (i32.const 0) (i32.const 1) (i32.const 1))
			(drop (table.grow $t (ref.null func) (i32.const 1)))
			(drop (table.size $t))
			(table.fill $t (i32.const 0) (ref.func $id) (i32.const 1))
			(local.set $r (table.get $t (i32.const 0)))
			(table.set $t (i32.const 1) (local.get $r))
			(drop (call_indirect $t (type $ii) (i32.const 1) (i32.const 0)))
			(drop (ref.is_null (ref.func $blocks)))
			(local.set $v (v128.const i32x4 1 2 3 4))
			(local.set $v (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))
			(local.set $v (i32x4.replace_lane 3 (local.get $v) (i32x4.extract_lane 2 (local.get $v))))
			(local.set $v (v128.load32_lane 1 (i32.const 0) (local.get $v)))
			(v128.store16_lane offset=2 3 (i32.const 0) (local.get $v))
			(local.set $v (v128.load64_zero (i32.const 0)))
			(local.set $v (v128.load offset=16 (i32.const 0)))
			(local.set $v (i8x16.add (local.get $v) (i8x16.splat (i32.const 1))))
			(v128.store (i32.const 32) (local.get $v))
			(drop (i32.atomic.rmw.add offset=4 (i32.const 0) (i32.const 1)))
			(drop (memory.atomic.notify (i32.const 0) (i32.const 0)))
			(atomic.fence)
			(drop (i64.atomic.load (i32.const 0)))
			(loop $count (result i32)
				(local.set $x (i32.sub (local.get $x) (i32.const 1)))
				(br_if $count (i32.gt_s (local.get $x) (i32.const 0)))
				(i32.const 0)))
		(func (export "run") (result i32)
			(block $done (result i32)
				(loop $l
					(br_if $done (call $blocks (i32.const 3)) (i32.const 1))
					(drop)
					(br $l))
				(unreachable))))`
	code := wat(t, src, "--enable-threads")
	out, err := instrument(code)
	require.NoError(t, err)
	rw := requireInstrumented(t, code, out)
	ref, err := instrumentWith(code, true)
	require.NoError(t, err)
	rwRef := requireInstrumented(t, code, ref)
	require.Equal(t, []uint64{rw.check, rw.fuel}, []uint64{rwRef.check, rwRef.fuel})

	// The module and its rewrites run, to the same result.
	for _, b := range [][]byte{code, out, ref} {
		rt, _ := plainRuntime(t, api.CoreFeaturesV2|experimental.CoreFeaturesThreads, "")
		mod := instantiate(t, rt, b)
		res, err := mod.ExportedFunction("run").Call(context.Background())
		require.NoError(t, err)
		require.Equal(t, []uint64{0}, res)
	}

	// Every function entry and every loop got exactly one check: count them
	// with wasm-objdump, which decodes instructions on its own.
	if _, err := exec.LookPath("wasm-objdump"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("wasm-objdump (wabt) is required under CI: %v", err)
		}
		t.Skip("wasm-objdump not installed: cannot count the checks")
	}
	instrs := func(b []byte, match func(string) bool) int {
		p := filepath.Join(t.TempDir(), "m.wasm")
		require.NoError(t, os.WriteFile(p, b, 0o644))
		dis, err := exec.Command("wasm-objdump", "-d", p).CombinedOutput()
		require.NoError(t, err, "%s", dis)
		n := 0
		for _, line := range strings.Split(string(dis), "\n") {
			if _, ins, ok := strings.Cut(line, "| "); ok && match(strings.TrimSpace(ins)) {
				n++
			}
		}
		return n
	}
	is := func(s string) func(string) bool { return func(x string) bool { return x == s } }
	const funcs = 3
	loops := instrs(code, func(s string) bool { return s == "loop" || strings.HasPrefix(s, "loop ") })
	require.Equal(t, 3, loops, "the fixture has three loops")
	callCheck := fmt.Sprintf("call %d", rw.check)
	const bulk = 6 // memory.init/copy/fill and table.init/copy/fill, each charged by length
	for _, b := range [][]byte{out, ref} {
		require.Equal(t, funcs+loops+bulk, instrs(b, func(s string) bool { return s == callCheck || strings.HasPrefix(s, callCheck+" ") }), "one check per function, loop and bulk operation")
		require.Equal(t, instrs(code, is("unreachable"))+funcs+loops+bulk, instrs(b, is("unreachable")))
	}
	require.Equal(t, 2*(funcs+loops)+3*bulk, instrs(ref, is(fmt.Sprintf("global.get %d", rw.fuel))), "the reference decrements the global at every check")
	// The rewrite passes the fuel from function to function: only the
	// wrapper of the export run loads and stores the global.
	require.Equal(t, 1, instrs(out, is(fmt.Sprintf("global.get %d", rw.fuel))))
	require.Equal(t, 1, instrs(out, is(fmt.Sprintf("global.set %d", rw.fuel))))
}

func TestInstrumentRefusesReservedExport(t *testing.T) {
	funcExport := func(name string) []byte {
		return module(
			sec(1, vec([]byte{0x60, 0x00, 0x00})),
			sec(3, vec(leb(0))),
			sec(secExport, vec(cat(wname("ok"), []byte{0x00}, leb(0)), cat(wname(name), []byte{0x00}, leb(0)))),
			sec(10, vec(funcBody())),
		)
	}
	startloop, err := instrument(testguest.WAT(t, "startloop"))
	require.NoError(t, err)
	tests := []struct {
		name string
		code []byte
		want string
	}{
		{"a function named " + StartExport, funcExport(StartExport), "already exports " + StartExport + ", a name the runtime reserves"},
		{"a module with a start section, instrumented twice", startloop, "the module name wasmlambda is reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := instrument(tt.code)
			require.ErrorContains(t, err, tt.want)

			// Compile reports it, rather than a confusing wazero error.
			_, err = Compile(context.Background(), Config{Code: tt.code, MemoryLimitPages: 16})
			require.ErrorContains(t, err, tt.want)
		})
	}

	// A name that merely resembles it is fine.
	out, err := instrument(funcExport("wasmlambda.started"))
	require.NoError(t, err)
	requireInstrumented(t, funcExport("wasmlambda.started"), out)
}

// TestReservedCheckImport: the check import is the runtime's. A module that
// imports it already (a module instrumented before, or a guest helping
// itself to the name) must be refused when it is deployed, not when it is
// first instantiated, and must not be instrumented a second time.
func TestReservedCheckImport(t *testing.T) {
	counter := testguest.WAT(t, "counter")
	twice, err := instrument(counter)
	require.NoError(t, err)
	alloc := `(memory (export "memory") 1)
		(func (export "wasmlambda_v1_alloc") (param i32) (result i32) (i32.const 1024))
		(func (export "wasmlambda_v1_invoke") (param i32 i32) (result i32) (i32.const 16))`
	tests := []struct {
		name string
		code []byte
	}{
		{"an instrumented module", twice},
		{"the check's own signature", wat(t, `(module (import "wasmlambda" "check" (func (result i32))) `+alloc+`)`)},
		{"another signature", wat(t, `(module (import "wasmlambda" "check" (func (param i64))) `+alloc+`)`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := instrument(tt.code)
			require.Error(t, err, "instrument must refuse a module that imports %s.%s", CheckModule, CheckName)
			m, err := Compile(context.Background(), Config{Code: tt.code, MemoryLimitPages: 16})
			if err == nil {
				// Show where it fails instead.
				_, ierr := m.Instantiate(context.Background(), InstanceConfig{})
				_ = m.Close(context.Background())
				t.Fatalf("Compile accepted a module importing %s.%s; Instantiate then gives %v", CheckModule, CheckName, ierr)
			}
			require.ErrorContains(t, err, CheckModule+"."+CheckName)
		})
	}
}

func TestInstrumentMalformed(t *testing.T) {
	valid := oneFunc()
	typeAndFunc := []byte(nil)
	typeAndFunc = append(typeAndFunc, sec(1, vec([]byte{0x60, 0x00, 0x00}))...)
	typeAndFunc = append(typeAndFunc, sec(3, vec(leb(0)))...)
	body := func(b ...byte) []byte { // a code section of one body, b verbatim
		return module(typeAndFunc, sec(10, vec(cat(leb(uint64(len(b))), b))))
	}
	tests := []struct {
		name string
		code []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"magic only", []byte("\x00asm"), "bad magic"},
		{"bad magic", []byte("\x00wsm\x01\x00\x00\x00"), "bad magic"},
		{"ELF", []byte("\x7fELF\x02\x01\x01\x00\x00\x00"), "bad magic"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), "version 2"},
		{"version 0x1000000", []byte("\x00asm\x00\x00\x00\x01"), "version 16777216"},
		{"section id alone", cat([]byte(wasmHeader), []byte{1}), "unexpected end"},
		{"section overruns the module", cat([]byte(wasmHeader), []byte{1, 10, 0x60}), "unexpected end"},
		{"valid module cut short", valid[:len(valid)-1], "unexpected end"},
		{"section length too long a LEB128", cat([]byte(wasmHeader), []byte{1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}), "LEB128 too long"},
		{"section length of 2^32-1", cat([]byte(wasmHeader), []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}), "unexpected end"},
		{"empty type section", module(sec(secType)), "unexpected end"},
		{"empty import section", module(sec(secImport)), "unexpected end"},
		{"truncated import", module(sec(secImport, leb(1), wname("env"))), "unexpected end"},
		{"unknown import kind", module(sec(secImport, vec(cat(wname("env"), wname("x"), []byte{0x09, 0x00})))), "unknown import kind 0x9"},
		{"empty global section", module(sec(secGlobal)), "unexpected end"},
		{"global initialiser without end", module(sec(secGlobal, vec([]byte{0x7f, 0x00, 0x41, 0x05}))), "unexpected end"},
		{"global initialiser with an unknown opcode", module(sec(secGlobal, vec([]byte{0x7f, 0x00, 0x27, 0x0b}))), "global 0: unknown opcode 0x27"},
		{"empty export section", module(sec(secExport)), "unexpected end"},
		{"truncated export", module(sec(secExport, leb(1), wname("f"), []byte{0x00})), "unexpected end"},
		{"empty start section", module(sec(secStart)), "unexpected end"},
		{"element segment with unknown flags", module(sec(secElement, vec(leb(8)))), "element segment 0: unknown flags 8"},
		{"truncated element segment", module(sec(secElement, leb(1), leb(0), []byte{0x41, 0x00, 0x0b}, leb(3), leb(0))), "a vector of 3 items in 1 bytes"},
		{"truncated name section", module(sec(secCustom, wname("name"), []byte{1, 5}, leb(1))), "name section: malformed wasm module: a vector of 1 items in 0 bytes"},
		{"name section with a cut-short function name", module(sec(secCustom, wname("name"), []byte{1, 4}, leb(1), leb(0), leb(9), []byte("x"))), "name section"},
		{"custom section without a name", module(sec(secCustom)), "unexpected end"},
		{"fewer bodies than counted", module(sec(1, vec([]byte{0x60, 0x00, 0x00})), sec(3, vec(leb(0), leb(0))), sec(secCode, leb(2), funcBody())), "function body 1"},
		{"bodies without functions", module(sec(secCode, leb(1), funcBody())), "1 function bodies for 0 functions"},
		{"body overruns the section", module(sec(1, vec([]byte{0x60, 0x00, 0x00})), sec(3, vec(leb(0))), sec(secCode, leb(1), leb(100), []byte{0, 0x0b})), "function body 0"},
		{"truncated locals", body(0x01), "function body 0"},
		{"unknown opcode 0x27", oneFunc(0x27), "unknown opcode 0x27"},
		{"unknown opcode 0xff", oneFunc(0xff), "unknown opcode 0xff"},
		{"unknown opcode 0x0a (throw_ref)", oneFunc(0x0a), "unknown opcode 0xa"},
		{"unknown opcode 0xd4 (ref.as_non_null)", oneFunc(0xd4), "unknown opcode 0xd4"},
		{"unknown 0xfc opcode", oneFunc(0xfc, 99), "unknown 0xfc opcode 99"},
		{"truncated i32.const", body(0, 0x41), "unexpected end"},
		{"i32.const too long a LEB128", oneFunc(0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), "LEB128 too long"},
		{"truncated loop block type", body(0, 0x03), "unexpected end"},
		{"truncated call", body(0, 0x10), "unexpected end"},
		{"truncated ref.func", body(0, 0xd2, 0x80), "unexpected end"},
		{"truncated f64.const", body(0, 0x44, 1, 2, 3), "unexpected end"},
		{"br_table of 2^32-1 labels", oneFunc(0x0e, 0xff, 0xff, 0xff, 0xff, 0x0f), "unexpected end"},
		{"truncated memarg", body(0, 0x28, 0x02), "unexpected end"},
		{"truncated SIMD shuffle", oneFunc(0xfd, 13, 1, 2, 3), "unexpected end"},
		// Sections the rewrite would leave two of: see splitSections.
		{"unknown section id", module(sec(48, []byte("000000")), sec(1, vec([]byte{0x60, 0x00, 0x00}))), "unknown section id 48 at offset 8"},
		{"import section after the function section", module(sec(1, vec([]byte{0x60, 0x00, 0x00})), sec(3, vec(leb(0))), sec(secImport, vec())), "section id 2 at offset 18: repeated, or out of order"},
		{"two type sections", module(sec(1, vec()), sec(1, vec())), "section id 1 at offset 11: repeated, or out of order"},
		{"a tag section after the global section", module(sec(secGlobal, vec()), sec(secTag, vec())), "section id 13 at offset 11: repeated, or out of order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if !within(t, 2*time.Second, "instrument", func() {
				require.NotPanics(t, func() { _, err = instrument(tt.code) })
			}) {
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// TestInstrumentMalformedCost: a malformed count must cost no more than the
// bytes that are there. A few bytes claiming 2^32-1 items must not make the
// rewrite loop 2^32 times, nor allocate for every item it did not find.
func TestInstrumentMalformedCost(t *testing.T) {
	const n = 1 << 22 // 2^32-1 would allocate tens of GB below
	typeAndFunc := cat(sec(1, vec([]byte{0x60, 0x00, 0x00})), sec(3, vec(leb(0))))
	nameSub := func(id byte) []byte {
		sub := leb(n)
		return sec(secCustom, wname("name"), []byte{id}, leb(uint64(len(sub))), sub)
	}
	tests := []struct {
		name string
		code []byte
	}{
		{"an export section claiming 2^22 exports", module(sec(secExport, leb(n)))},
		{"a name section claiming 2^22 function names", module(nameSub(1))},
		{"a name section claiming 2^22 local names", module(nameSub(2))},
		{"a function body claiming 2^32-1 local groups", module(typeAndFunc, sec(10, vec(cat(leb(5), leb(0xFFFFFFFF)))))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var err error
			if !within(t, 2*time.Second, "instrument", func() { _, err = instrument(tt.code) }) {
				return
			}
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			alloc := after.TotalAlloc - before.TotalAlloc
			require.Less(t, alloc, uint64(1<<20), "instrument allocated %d MB for a %d-byte module", alloc>>20, len(tt.code))
		})
	}
}

func TestCompileMalformed(t *testing.T) {
	tests := []struct {
		name string
		code []byte
		want string
	}{
		{"empty", nil, "the module is empty"},
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), "malformed wasm module: not a wasm binary"},
		{"unknown opcode", oneFunc(0x27), "malformed wasm module: function body 0: unknown opcode 0x27"},
		// instrument skips what it does not need to understand; wazero
		// then refuses it.
		{"a body instrument accepts but wazero refuses", oneFunc(0x6a), "malformed wasm module"},
		{"type section garbage", module(sec(1, []byte{0x05, 0x99})), "malformed wasm module"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compile(context.Background(), Config{Code: tt.code, MemoryLimitPages: 16})
			require.Nil(t, m)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestEnded(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	past, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	future, cancel3 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel3()
	require.False(t, Ended(context.Background()))
	require.False(t, Ended(future))
	require.True(t, Ended(canceled))
	require.True(t, Ended(past))
}

// ---------------------------------------------------------------------------
// Interruption end to end, through Compile, Instantiate, Invoke and
// RunCommand.

const testMemoryPages = 2048 // 128 MiB

var testCache = sync.OnceValues(func() (*Cache, error) { return NewCache(testguest.CacheDir(), 0) })

// guest is a test guest: how to build it and what Compile must make of it.
type guest struct {
	name string
	code func(testing.TB) []byte
	mode Mode
	// err, when set, is what Compile's error must contain.
	err string
}

func watGuest(name string) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return testguest.WAT(t, name) }
}

func cGuest(name string, reactor bool) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return testguest.C(t, name, reactor) }
}

func goGuest(name string) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return testguest.Go(t, name) }
}

var guests = []guest{
	{name: "wat/counter", code: watGuest("counter")},
	{name: "wat/loop", code: watGuest("loop")},
	{name: "wat/nestedloop", code: watGuest("nestedloop")},
	{name: "wat/recurse", code: watGuest("recurse")},
	{name: "wat/startloop", code: watGuest("startloop")},
	{name: "wat/sleep", code: watGuest("sleep")},
	{name: "wat/grow", code: watGuest("grow")},
	{name: "wat/trap", code: watGuest("trap")},
	{name: "wat/bigout", code: watGuest("bigout")},
	{name: "wat/badrecord", code: watGuest("badrecord")},
	{name: "wat/badimport", code: watGuest("badimport"), err: "unsupported import env.evil: no host module env is registered"},
	{name: "wat/badwasi", code: watGuest("badwasi"), err: "unsupported import wasi_snapshot_preview1.no_such_function: no such WASI preview 1 function"},
	{name: "wat/noexport", code: watGuest("noexport"), err: "missing handler export"},
	{name: "c/echo", code: cGuest("echo", true)},
	{name: "c/cat", code: cGuest("cat", false), mode: ModeCommand},
	{name: "go/echo", code: goGuest("echo")},
	{name: "go/behave", code: goGuest("behave")},
	{name: "go/typed", code: goGuest("typed")},
	{name: "go/command", code: goGuest("command"), mode: ModeCommand},
}

var compiled sync.Map // guest name -> *compiledGuest

type compiledGuest struct {
	mu  sync.Mutex
	mod *Module
}

// guestModule compiles the named guest once per test binary (Go guests take
// a second or two each), through the compilation cache the tests share.
func guestModule(t testing.TB, name string) *Module {
	t.Helper()
	var g guest
	for _, x := range guests {
		if x.name == name {
			g = x
		}
	}
	require.NotNil(t, g.code, "no guest %s", name)
	require.Empty(t, g.err, "guest %s does not compile", name)
	e, _ := compiled.LoadOrStore(name, &compiledGuest{})
	c := e.(*compiledGuest)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mod == nil {
		code := g.code(t)
		cache, err := testCache()
		require.NoError(t, err)
		m, err := Compile(context.Background(), Config{Code: code, MemoryLimitPages: testMemoryPages, Cache: cache})
		require.NoError(t, err, "compile %s", name)
		c.mod = m
	}
	return c.mod
}

func TestInstrumentedGuestsCompile(t *testing.T) {
	for _, g := range guests {
		t.Run(g.name, func(t *testing.T) {
			if strings.HasPrefix(g.name, "go/") {
				t.Parallel()
			}
			code := g.code(t)
			out, err := instrument(code)
			require.NoError(t, err)
			rw := requireInstrumented(t, code, out)
			_, hasStart := rw.exports[StartExport]

			if g.err != "" {
				// Instrumentation is not what fails: the rewrite is valid
				// wasm, refused for what the guest itself does.
				rt, _ := plainRuntime(t, api.CoreFeaturesV2, "")
				_, err := rt.CompileModule(context.Background(), out)
				require.NoError(t, err)
				cache, err := testCache()
				require.NoError(t, err)
				_, err = Compile(context.Background(), Config{Code: code, MemoryLimitPages: testMemoryPages, Cache: cache})
				require.ErrorContains(t, err, g.err)
				require.NotContains(t, err.Error(), "malformed")
				return
			}
			m := guestModule(t, g.name)
			require.Equal(t, g.mode, m.Mode())
			require.Equal(t, hasStart, m.hasStart)
			require.Equal(t, g.name == "wat/startloop", hasStart)
		})
	}
}

// TestInstrumentedGuestsRun checks that instrumented guests still behave.
func TestInstrumentedGuestsRun(t *testing.T) {
	abiTests := []struct {
		guest   string
		payload string
		status  abi.Status
		want    string
	}{
		{"wat/counter", `{"a": 1}`, abi.StatusOK, `{"a": 1}`},
		{"c/echo", `{"a": 1}`, abi.StatusOK, `{"a": 1}`},
		{"c/echo", `"fail"`, abi.StatusError, `{"errorMessage":"failure requested","errorType":"EchoError"}`},
		{"go/echo", `{"a": 1}`, abi.StatusOK, `{"a":1}`},
		{"go/typed", `{"name":"Ada"}`, abi.StatusOK, `{"greeting":"hello, Ada"}`},
		{"go/behave", `{"op":"counter"}`, abi.StatusOK, `1`},
	}
	for _, tt := range abiTests {
		t.Run(tt.guest+" "+tt.payload, func(t *testing.T) {
			if strings.HasPrefix(tt.guest, "go/") {
				t.Parallel()
			}
			m := guestModule(t, tt.guest)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			in, err := m.Instantiate(ctx, InstanceConfig{})
			require.NoError(t, err)
			defer in.Close(ctx)
			status, out, _, err := in.Invoke(ctx, &abi.Request{RequestID: "r1", Payload: []byte(tt.payload)}, 1<<20)
			require.NoError(t, err)
			require.Equal(t, tt.status, status)
			require.Equal(t, tt.want, string(out))
		})
	}
	commandTests := []struct {
		guest string
		stdin string
		exit  uint32
		want  string
	}{
		{"c/cat", `"hello"`, 0, `{"echo": "hello"}`},
		{"c/cat", `"fail"`, 3, `{"errorMessage":"cat failed","errorType":"CatError"}`},
		{"go/command", `"hello"`, 0, `"HELLO"`},
	}
	for _, tt := range commandTests {
		t.Run(tt.guest+" "+tt.stdin, func(t *testing.T) {
			m := guestModule(t, tt.guest)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout bytes.Buffer
			code, _, err := m.RunCommand(ctx, InstanceConfig{Stdin: strings.NewReader(tt.stdin), Stdout: &stdout})
			require.NoError(t, err)
			require.Equal(t, tt.exit, code)
			require.Equal(t, tt.want, strings.TrimSpace(stdout.String()))
		})
	}
}

func requireFault(t testing.TB, err error, kind FaultKind) *Fault {
	t.Helper()
	var f *Fault
	require.ErrorAs(t, err, &f, "want a *Fault, got %v", err)
	require.Equal(t, kind, f.Kind, "fault kind, detail %q", f.Detail)
	return f
}

func TestInterruptInvoke(t *testing.T) {
	tests := []struct {
		name    string
		guest   string
		payload string
		timeout time.Duration
		cancel  bool // cancel after timeout instead of a deadline
		kind    FaultKind
		detail  string
	}{
		{"endless loop", "wat/loop", "", 100 * time.Millisecond, false, FaultDeadline, "deadline exceeded"},
		{"nested loops and a looping callee", "wat/nestedloop", "", 100 * time.Millisecond, false, FaultDeadline, "deadline exceeded"},
		{"sleeping in poll_oneoff", "wat/sleep", "", 100 * time.Millisecond, false, FaultDeadline, "deadline exceeded"},
		{"canceled during an endless loop", "wat/loop", "", 100 * time.Millisecond, true, FaultCanceled, "canceled"},
		{"canceled while sleeping", "wat/sleep", "", 100 * time.Millisecond, true, FaultCanceled, "canceled"},
		// No loop: the stack overflows long before a generous deadline.
		{"endless recursion", "wat/recurse", "", 20 * time.Second, false, FaultTrap, "stack overflow"},
		{"go: endless loop", "go/behave", `{"op":"loop"}`, 200 * time.Millisecond, false, FaultDeadline, "deadline exceeded"},
		{"go: time.Sleep", "go/behave", `{"op":"sleep","ms":60000}`, 200 * time.Millisecond, false, FaultDeadline, "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.HasPrefix(tt.guest, "go/") {
				t.Parallel()
			}
			m := guestModule(t, tt.guest)
			in, err := m.Instantiate(context.Background(), InstanceConfig{})
			require.NoError(t, err)

			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			if tt.cancel {
				ctx, cancel = context.WithCancel(context.Background())
				time.AfterFunc(tt.timeout, cancel)
			}
			req := &abi.Request{RequestID: "r1", Payload: []byte(tt.payload)}
			start := time.Now()
			if !within(t, 10*time.Second, "Invoke", func() {
				_, _, _, err = in.Invoke(ctx, req, 1<<20)
			}) {
				return // the instance is still running: leave it open
			}
			defer in.Close(context.Background())
			f := requireFault(t, err, tt.kind)
			require.Contains(t, f.Detail, tt.detail)
			if tt.kind != FaultTrap {
				require.Less(t, time.Since(start), tt.timeout+2*time.Second, "the interrupt came late")
			}
		})
	}
}

// TestInterruptBoundedOverrun: the deadline holds against a loop whose
// every iteration is expensive. Here each one fills 16 MiB of memory, in one
// instruction; a check every FuelPerCheck iterations comes only after 16384
// such fills, seconds past the deadline (minutes, with larger fills in a
// larger memory). Meanwhile the guest cannot be preempted, so a garbage
// collection, which stops the world, waits for it: the whole process stalls.
func TestInterruptBoundedOverrun(t *testing.T) {
	code := wat(t, `(module
		(memory (export "memory") 512)
		(func (export "wasmlambda_v1_alloc") (param i32) (result i32) (i32.const 1024))
		(func (export "wasmlambda_v1_invoke") (param i32 i32) (result i32)
			(loop $l
				(memory.fill (i32.const 0x1000000) (i32.const 7) (i32.const 0x1000000))
				(br $l))
			(i32.const 0)))`)
	m, err := Compile(context.Background(), Config{Code: code, MemoryLimitPages: testMemoryPages})
	require.NoError(t, err)
	in, err := m.Instantiate(context.Background(), InstanceConfig{})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, _, _, err := in.Invoke(ctx, &abi.Request{}, 1<<20)
		done <- err
	}()

	time.Sleep(300 * time.Millisecond)
	gc := time.Now()
	runtime.GC()
	// Unbounded, the stall lasts the 16384 fills of 16 MiB, some 256 GiB
	// of memset: tens of seconds. The bounds leave a loaded machine room.
	if d := time.Since(gc); d > 5*time.Second {
		t.Errorf("a garbage collection waited %v for the spinning guest", d)
	}

	select {
	case err := <-done:
		defer m.Close(context.Background())
		requireFault(t, err, FaultDeadline)
		require.Less(t, time.Since(start), 5*time.Second, "a 100 ms deadline was overrun")
	case <-time.After(20 * time.Second):
		t.Errorf("Invoke did not return within 20 s of a 100 ms deadline")
		// The instance is still running: leave it open.
	}
}

func TestInterruptInstantiate(t *testing.T) {
	tests := []struct {
		name    string
		guest   string
		timeout time.Duration // <0: a deadline already passed
		kind    FaultKind
		ok      bool
	}{
		{"start section spins", "wat/startloop", 100 * time.Millisecond, FaultDeadline, false},
		{"start section, deadline already passed", "wat/startloop", -time.Second, FaultDeadline, false},
		{"go _initialize, deadline already passed", "go/echo", -time.Second, FaultDeadline, false},
		// Nothing runs at instantiation, so nothing checks the deadline.
		{"no start or _initialize, deadline already passed", "wat/counter", -time.Second, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := guestModule(t, tt.guest)
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			var (
				in  *Instance
				err error
			)
			start := time.Now()
			if !within(t, 10*time.Second, "Instantiate", func() {
				in, err = m.Instantiate(ctx, InstanceConfig{})
			}) {
				return
			}
			if tt.ok {
				require.NoError(t, err)
				require.NoError(t, in.Close(context.Background()))
				return
			}
			require.Nil(t, in)
			requireFault(t, err, tt.kind)
			require.Less(t, time.Since(start), max(tt.timeout, 0)+2*time.Second, "the interrupt came late")
		})
	}
}

func TestInterruptRunCommand(t *testing.T) {
	tests := []struct {
		name   string
		guest  string
		cancel bool
		kind   FaultKind
	}{
		{"c, deadline already passed", "c/cat", false, FaultDeadline},
		{"c, already canceled", "c/cat", true, FaultCanceled},
		{"go, deadline already passed", "go/command", false, FaultDeadline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := guestModule(t, tt.guest)
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			if tt.cancel {
				ctx, cancel = context.WithCancel(context.Background())
				cancel()
			}
			var stdout, stderr bytes.Buffer
			var (
				code uint32
				err  error
			)
			ok := within(t, 10*time.Second, "RunCommand", func() {
				code, _, err = m.RunCommand(ctx, InstanceConfig{
					Env:    [][2]string{{abi.EnvRequestID, "r1"}},
					Stdin:  strings.NewReader(`"hello"`),
					Stdout: &stdout,
					Stderr: &stderr,
				})
			})
			if !ok {
				return
			}
			requireFault(t, err, tt.kind)
			require.Zero(t, code)
			// The guest did not run: cat writes to stderr first thing.
			require.Empty(t, stdout.String())
			require.Empty(t, stderr.String())
		})
	}
}

// TestInterruptCallRace ends calls at random points of a short invocation:
// whichever wins, the result is a clean success or a deadline fault, and
// never a hang.
func TestInterruptCallRace(t *testing.T) {
	m := guestModule(t, "wat/counter")
	for i := 0; i < 200; i++ {
		in, err := m.Instantiate(context.Background(), InstanceConfig{})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%20)*time.Microsecond)
		status, out, _, err := in.Invoke(ctx, &abi.Request{Payload: []byte("x")}, 1<<20)
		cancel()
		if err != nil {
			requireFault(t, err, FaultDeadline)
		} else {
			require.Equal(t, abi.StatusOK, status)
			require.Equal(t, "x", string(out))
		}
		require.NoError(t, in.Close(context.Background()))
	}
}

// TestInstrumentKeepsMalformedModulesMalformed: the rewrite re-encodes
// sections item by item. A malformed section must be refused, or come out
// as malformed as it went in, so that Compile refuses what wazero itself
// would; it must not come out repaired.
func TestInstrumentKeepsMalformedModulesMalformed(t *testing.T) {
	typeAndFunc := cat(sec(1, vec([]byte{0x60, 0x00, 0x00})), sec(3, vec(leb(0))))
	tests := []struct {
		name string
		code []byte
	}{
		{"an empty code section", module(sec(secCode))},
		{"a code section with bytes after its bodies", module(typeAndFunc, sec(secCode, vec(funcBody()), []byte{0x01, 0x02}))},
		{"an export section with bytes after its exports", module(typeAndFunc, sec(secExport, vec(cat(wname("f"), []byte{0x00}, leb(0))), []byte{0x07}), sec(secCode, vec(funcBody())))},
		{"a global section with bytes after its globals", module(sec(secGlobal, vec([]byte{0x7f, 0x00, 0x41, 0x00, 0x0b}), []byte{0x7f}))},
		{"an import section with bytes after its imports", module(sec(secImport, vec(cat(wname("env"), wname("m"), []byte{0x02, 0x00, 0x01})), []byte{0x00}))},
		{"an element section with bytes after its segments", module(typeAndFunc, sec(4, vec([]byte{0x70, 0x00, 0x01})), sec(secElement, vec(cat(leb(0), []byte{0x41, 0x00, 0x0b}, vec(leb(0)))), []byte{0x09}), sec(secCode, vec(funcBody())))},
		{"a type section with bytes after its types", module(sec(1, vec([]byte{0x60, 0x00, 0x00}), []byte{0x60}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, _ := plainRuntime(t, api.CoreFeaturesV2, "")
			_, werr := rt.CompileModule(context.Background(), tt.code)
			require.Error(t, werr, "wazero accepts the module itself: the case proves nothing")
			out, err := instrument(tt.code)
			if err != nil {
				return
			}
			_, err = rt.CompileModule(context.Background(), out)
			require.Error(t, err, "wazero refuses the module (%v), but accepts its rewrite", werr)
		})
	}
}
