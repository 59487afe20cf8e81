package wasm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Deadline enforcement, the cheap way.
//
// wazero's WithCloseOnContextDone makes compiled code call out to the runtime
// at every loop header, which costs Go guests (whose code is loops) several
// times their own run time. Instead, instrument rewrites the module, in the
// manner of wasmtime's fuel: every function entry and loop header decrements
// a mutable i32 global, and when it reaches zero calls the host function
// CheckModule.CheckName, which reports whether the call's context has ended
// (the guest then traps with unreachable) and refills the counter. The check
// on the hot path is a decrement and a branch.
//
// The host call every FuelPerCheck steps does more than watch the deadline:
// compiled wasm cannot be preempted by the Go scheduler, and a guest that
// never left it would stall every stop-the-world phase of the garbage
// collector, and so the whole process, until it returned. The check is a Go
// function, where the scheduler can stop it.
//
// The new import is appended after the module's own function imports, so
// every reference to a defined function is renumbered: calls, ref.func,
// element segments, global initialisers, exports and the name section. The
// rewrite also turns a start section into the export StartExport, so that
// the host runs it, like everything else, with the check armed.

const (
	// CheckModule and CheckName name the imported check function,
	// `() -> i32`: non-zero means stop.
	CheckModule = "wasmlambda"
	CheckName   = "check"
	// StartExport is the former start function.
	StartExport = "wasmlambda.start"
	// FuelPerCheck is how many function entries and loop iterations run
	// between two checks.
	FuelPerCheck = 1 << 14
)

// rewriterVersion names the rewrite's output in the on-disk cache of
// rewritten modules (rewritecache.go), whose entries are keyed by the
// original module's hash and this version.
//
// Bump it with every change that can alter what instrument returns for some
// input: the inserted code, FuelPerCheck, bulkShift, CheckModule, CheckName,
// StartExport, the data segment merging of data.go, the sections kept or
// dropped, their order. Otherwise a process would load a rewrite made by an
// older build from a cache directory and run it as if it were this build's.
// A change that leaves every output byte for byte the same (speed, error
// messages) needs no bump.
const rewriterVersion = 2

const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secGlobal   = 6
	funcSection = 3
	secExport   = 7
	secStart    = 8
	secElement  = 9
	secCode     = 10
	secDataCnt  = 12
	secTag      = 13
	externFunc  = 0
	externGlobl = 3
)

// sectionRank orders sections as the binary format requires.
func sectionRank(id byte) int {
	switch id {
	case secTag:
		return 55 // between memory (5) and global (6)
	case secDataCnt:
		return 95 // between element (9) and code (10)
	}
	return int(id) * 10
}

type section struct {
	id   byte
	body []byte
}

// rewriter holds what the rewrite needs to renumber functions.
type rewriter struct {
	importedFuncs uint32   // function imports before the new one
	check         uint32   // the new import's function index
	fuel          uint32   // the fuel global's index
	typeParams    []uint32 // parameter count of each type
	funcTypes     []uint32 // type of each defined function
	globalOnly    bool     // keep the fuel in the global everywhere
	fc            fuelCode // the current body's inserted code
	loops         int      // the loops met in the current body
	frames        []frame  // the current body's open frames
	labels        []uint32 // a branch's labels
}

// bulkShift prices bulk memory and table operations: one step of fuel per
// 1 << bulkShift bytes or elements, so that a loop of large fills or copies
// reaches a check as often as a loop of plain instructions.
const bulkShift = 10

// fn renumbers a function index.
func (w *rewriter) fn(i uint32) uint32 {
	if i >= w.importedFuncs {
		return i + 1
	}
	return i
}

// instrument returns code with deadline checks; see above.
func instrument(code []byte) ([]byte, error) { return instrumentWith(code, false) }

// instrumentWith is instrument; with globalOnly, every function keeps the
// fuel in the global, the reference the tests hold the rewrite to.
func instrumentWith(code []byte, globalOnly bool) ([]byte, error) {
	if len(code) < 8 || string(code[:4]) != "\x00asm" {
		return nil, errors.New("not a wasm binary: bad magic number")
	}
	if v := binary.LittleEndian.Uint32(code[4:8]); v != 1 {
		return nil, fmt.Errorf("unsupported wasm binary version %d", v)
	}
	var secs []section
	r := reader{b: code, off: 8}
	for r.off < len(r.b) {
		id := r.byte()
		n := r.u32()
		body := r.bytes(int(n))
		if r.err != nil {
			return nil, r.err
		}
		secs = append(secs, section{id, body})
	}

	w := rewriter{globalOnly: globalOnly}
	var types, importedGlobals, definedGlobals uint32
	startFunc := int64(-1)
	for _, s := range secs {
		sr := reader{b: s.body}
		switch s.id {
		case secType:
			w.typeParams = sr.funcTypes()
			types = uint32(len(w.typeParams))
		case secImport:
			funcs, globals, err := countImports(s.body)
			if err != nil {
				return nil, err
			}
			w.importedFuncs, importedGlobals = funcs, globals
		case funcSection:
			for n := sr.count(); n > 0 && sr.err == nil; n-- {
				w.funcTypes = append(w.funcTypes, sr.u32())
			}
			sr.end()
		case secGlobal:
			definedGlobals = sr.count()
		case secStart:
			startFunc = int64(sr.u32())
		case secExport:
			if hasExport(s.body, StartExport) {
				return nil, fmt.Errorf("the module already exports %s, a name the runtime reserves", StartExport)
			}
		}
		if sr.err != nil {
			return nil, sr.err
		}
	}
	w.check = w.importedFuncs
	w.fuel = importedGlobals + definedGlobals

	checkType := []byte{0x60, 0x00, 0x01, 0x7f} // () -> i32
	checkImport := appendName(appendName(nil, CheckModule), CheckName)
	checkImport = append(checkImport, externFunc)
	checkImport = appendU32(checkImport, types)
	fuelGlobal := append([]byte{0x7f, 0x01, 0x41}, appendS32(nil, FuelPerCheck)...)
	fuelGlobal = append(fuelGlobal, 0x0b) // mut i32 = FuelPerCheck

	hasDataCount := false
	for _, s := range secs {
		hasDataCount = hasDataCount || s.id == secDataCnt
	}
	out := make([]byte, 0, len(code)+len(code)/8+64)
	out = append(out, code[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	added := map[byte][]byte{
		secType:   append([]byte{1}, checkType...),
		secImport: append([]byte{1}, checkImport...),
		secGlobal: append([]byte{1}, fuelGlobal...),
	}
	if startFunc >= 0 {
		b := appendU32(nil, 1)
		b = appendName(b, StartExport)
		b = append(b, externFunc)
		added[secExport] = appendU32(b, w.fn(uint32(startFunc)))
	}
	// before emits the added sections the module lacks that belong
	// before rank.
	before := func(rank int) {
		for _, id := range []byte{secType, secImport, secGlobal, secExport} {
			if b, ok := added[id]; ok && rank > sectionRank(id) {
				emit(id, b)
				delete(added, id)
			}
		}
	}
	for _, s := range secs {
		if s.id != secCustom {
			before(sectionRank(s.id))
		}
		var body []byte
		var err error
		switch s.id {
		case secCustom:
			body, err = w.custom(s.body)
		case secType:
			body = appendVec(s.body, 1, checkType) // parsed whole above
		case secImport:
			body, err = w.imports(s.body, checkImport)
		case secGlobal:
			body, err = w.globals(s.body, fuelGlobal)
		case secExport:
			body, err = w.exports(s.body, added[secExport])
		case secStart:
			continue // dropped: the host calls StartExport after instantiation
		case secElement:
			body, err = w.elements(s.body)
		case secCode:
			body, err = w.code(s.body)
		case secData:
			if !hasDataCount {
				body = coalesceData(s.body)
			}
			if body == nil {
				body = s.body
			}
		default:
			body = s.body
		}
		if err != nil {
			return nil, err
		}
		if body != nil {
			emit(s.id, body)
		}
		delete(added, s.id)
	}
	before(1 << 30)
	return out, nil
}

// appendVec returns vec with n more items, appended as extra.
func appendVec(vec []byte, n uint32, extra []byte) []byte {
	r := reader{b: vec}
	count := r.u32()
	b := appendU32(make([]byte, 0, len(vec)+len(extra)+5), count+n)
	b = append(b, vec[r.off:]...)
	return append(b, extra...)
}

// imports inserts the check import after the last function import, so
// that it takes the index importedFuncs.
func (w *rewriter) imports(b, imp []byte) ([]byte, error) {
	r := reader{b: b}
	n := r.count()
	out := appendU32(make([]byte, 0, len(b)+len(imp)+5), n+1)
	var funcs uint32
	for i := uint32(0); i < n && r.err == nil; i++ {
		if funcs == w.importedFuncs {
			out = append(out, imp...)
			funcs++ // inserted once
		}
		start := r.off
		r.name()
		r.name()
		if r.skipImportDesc() == externFunc {
			funcs++
		}
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, b[start:r.off]...)
	}
	if funcs == w.importedFuncs {
		out = append(out, imp...)
	}
	r.end()
	return out, r.err
}

func (w *rewriter) globals(b, fuel []byte) ([]byte, error) {
	r := reader{b: b}
	n := r.count()
	out := appendU32(make([]byte, 0, len(b)+len(fuel)+5), n+1)
	for i := uint32(0); i < n && r.err == nil; i++ {
		out = append(out, r.bytes(2)...) // type and mutability
		var err error
		if out, err = w.expr(&r, out); err != nil {
			return nil, fmt.Errorf("global %d: %w", i, err)
		}
	}
	r.end()
	return append(out, fuel...), r.err
}

func (w *rewriter) exports(b, extra []byte) ([]byte, error) {
	r := reader{b: b}
	n := r.count()
	var more uint32
	if extra != nil {
		er := reader{b: extra}
		more = er.u32()
		extra = extra[er.off:]
	}
	out := appendU32(make([]byte, 0, len(b)+len(extra)+5), n+more)
	for i := uint32(0); i < n && r.err == nil; i++ {
		out = appendName(out, r.name())
		kind := r.byte()
		idx := r.u32()
		if kind == externFunc {
			idx = w.fn(idx)
		}
		out = appendU32(append(out, kind), idx)
	}
	r.end()
	return append(out, extra...), r.err
}

func (w *rewriter) elements(b []byte) ([]byte, error) {
	r := reader{b: b}
	n := r.count()
	out := appendU32(make([]byte, 0, len(b)+16), n)
	var err error
	for i := uint32(0); i < n && err == nil; i++ {
		flags := r.u32()
		out = appendU32(out, flags)
		if flags > 7 {
			return nil, fmt.Errorf("element segment %d: unknown flags %d", i, flags)
		}
		if flags&2 != 0 && flags&1 == 0 { // explicit table index
			out = appendU32(out, r.u32())
		}
		if flags&1 == 0 { // active: an offset expression
			if out, err = w.expr(&r, out); err != nil {
				break
			}
		}
		if flags&3 != 0 { // element kind or reference type
			out = append(out, r.byte())
		}
		count := r.count()
		out = appendU32(out, count)
		for j := uint32(0); j < count && err == nil; j++ {
			if flags&4 == 0 {
				out = appendU32(out, w.fn(r.u32()))
			} else {
				out, err = w.expr(&r, out)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	r.end()
	return out, r.err
}

// custom renumbers the name section's function and local names, drops its
// other subsections (they may also be indexed by function), and drops DWARF,
// whose code offsets no longer hold. Other custom sections are kept.
func (w *rewriter) custom(b []byte) ([]byte, error) {
	r := reader{b: b}
	name := r.name()
	if r.err != nil {
		return nil, r.err
	}
	switch {
	case strings.HasPrefix(name, ".debug_"):
		return nil, nil
	case name != "name":
		return b, nil
	}
	out := append([]byte(nil), b[:r.off]...)
	for r.off < len(r.b) && r.err == nil {
		id := r.byte()
		sub := r.bytes(int(r.u32()))
		sr := reader{b: sub}
		var nb []byte
		switch id {
		case 0: // module name
			nb = sub
		case 1: // function names
			n := sr.count()
			nb = appendU32(nil, n)
			for i := uint32(0); i < n && sr.err == nil; i++ {
				nb = appendU32(nb, w.fn(sr.u32()))
				nb = appendName(nb, sr.name())
			}
		case 2: // local names
			n := sr.count()
			nb = appendU32(nil, n)
			for i := uint32(0); i < n && sr.err == nil; i++ {
				nb = appendU32(nb, w.fn(sr.u32()))
				m := sr.count()
				nb = appendU32(nb, m)
				for j := uint32(0); j < m && sr.err == nil; j++ {
					nb = appendU32(nb, sr.u32())
					nb = appendName(nb, sr.name())
				}
			}
		default:
			continue
		}
		if sr.err != nil {
			return nil, fmt.Errorf("name section: %w", sr.err)
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(nb)))
		out = append(out, nb...)
	}
	return out, r.err
}

// Where the fuel lives while a function runs.
//
// Decrementing the global at every loop header costs a load and a store per
// iteration, and the store feeds the next iteration's load: a loop of a few
// instructions ran at half speed. So a function with a loop keeps the fuel
// in a local of its own, a register, and the global holds it only across
// calls and exits:
//
//   - at entry, the local is loaded from the global (and charged one step);
//   - before every call, the local is stored into the global, for the
//     callee, and after it reloaded, with what the callee left;
//   - before every return, tail call, throw, branch out of the function and
//     the body's final end, the local is stored into the global.
//
// The steps charged and the checks made are exactly those of a function
// that decremented the global itself; only their place changes. A function
// without a loop charges the global directly at its entry, as its calls
// then need no store and reload.

// checkCode is the sequence inserted at every function entry and loop
// header, and after a bulk operation's charge, in a function that keeps the
// fuel in the global:
//
//	fuel--; if fuel <= 0 { if check() { unreachable }; fuel = FuelPerCheck }
func (w *rewriter) checkCode() []byte {
	b := appendU32([]byte{0x23}, w.fuel) // global.get fuel
	b = append(b, 0x41, 0x01, 0x6b)      // i32.const 1; i32.sub
	b = appendU32(append(b, 0x24), w.fuel)
	b = appendU32(append(b, 0x23), w.fuel) // global.get fuel
	return w.refill(b, 0x24, w.fuel)
}

// refill appends to b, which leaves the decremented fuel on the stack, the
// test and the refill: if fuel > 0 {} else { if check() { unreachable };
// fuel = FuelPerCheck }, where set (global.set or local.set) of idx stores
// the fuel. The empty then comes first so that wazero lays the code out
// for it, the path taken all but once in FuelPerCheck.
func (w *rewriter) refill(b []byte, set byte, idx uint32) []byte {
	b = append(b, 0x41, 0x00, 0x4a, 0x04, 0x40, 0x05) // i32.const 0; i32.gt_s; if; else
	b = appendU32(append(b, 0x10), w.check)
	b = append(b, 0x04, 0x40, 0x00, 0x0b) // if; unreachable; end
	b = append(b, 0x41)
	b = appendS32(b, FuelPerCheck)
	b = appendU32(append(b, set), idx)
	return append(b, 0x0b) // end
}

// fuelCode is the code inserted into one function body.
type fuelCode struct {
	entry []byte // at the function's entry
	// loop is inserted after a loop's block type when the loop takes
	// parameters; see wrapped loops below for the others.
	loop []byte
	// head and cold are the two halves of a wrapped loop's check: head
	// branches to the end of the block it starts when the fuel runs out,
	// where cold calls the check, refills and branches back to the loop.
	head, cold []byte
	// charge takes a bulk operation's length from the top of the stack,
	// leaving it there, and charges it, then checks.
	charge []byte
	// spill stores the fuel local into the global; reload loads it back.
	// Both are nil when the function keeps the fuel in the global.
	spill, reload []byte
}

// globalFuel is the code of a function that keeps the fuel in the global;
// scratch is a free i32 local.
func (w *rewriter) globalFuel(scratch uint32) fuelCode {
	check := w.checkCode()
	charge := appendU32([]byte{0x22}, scratch)       // local.tee scratch
	charge = appendU32(append(charge, 0x23), w.fuel) // global.get fuel
	charge = appendU32(append(charge, 0x20), scratch)
	charge = append(charge, 0x41, bulkShift, 0x76, 0x6b) // i32.const shift; i32.shr_u; i32.sub
	charge = appendU32(append(charge, 0x24), w.fuel)     // global.set fuel
	return fuelCode{entry: check, loop: check, charge: append(charge, check...)}
}

// localFuel is the code of a function that keeps the fuel in the local
// fuel; scratch is another free i32 local.
func (w *rewriter) localFuel(scratch, fuel uint32) fuelCode {
	entry := appendU32([]byte{0x23}, w.fuel) // global.get fuel
	entry = append(entry, 0x41, 0x01, 0x6b)  // i32.const 1; i32.sub
	entry = appendU32(append(entry, 0x22), fuel)
	entry = w.refill(entry, 0x21, fuel)

	loop := appendU32([]byte{0x20}, fuel) // local.get fuel
	loop = append(loop, 0x41, 0x01, 0x6b) // i32.const 1; i32.sub
	loop = appendU32(append(loop, 0x22), fuel)
	loop = w.refill(loop, 0x21, fuel)

	charge := appendU32([]byte{0x22}, scratch) // local.tee scratch
	charge = appendU32(append(charge, 0x20), fuel)
	charge = appendU32(append(charge, 0x20), scratch)
	charge = append(charge, 0x41, bulkShift, 0x76, 0x6b) // i32.const shift; i32.shr_u; i32.sub
	charge = appendU32(append(charge, 0x21), fuel)       // local.set fuel

	head := appendU32([]byte{0x02, 0x40, 0x20}, fuel) // block; local.get fuel
	head = append(head, 0x41, 0x01, 0x6b)             // i32.const 1; i32.sub
	head = appendU32(append(head, 0x22), fuel)
	head = append(head, 0x41, 0x00, 0x4c, 0x0d, 0x00) // i32.const 0; i32.le_s; br_if 0

	cold := appendU32([]byte{0x10}, w.check)
	cold = append(cold, 0x04, 0x40, 0x00, 0x0b) // if; unreachable; end
	// One more than a refill: the branch back to the loop takes one step
	// again, which the loop has already paid for.
	cold = appendS32(append(cold, 0x41), FuelPerCheck+1)
	cold = appendU32(append(cold, 0x21), fuel)
	cold = append(cold, 0x0c, 0x00) // br 0 (the loop)

	spill := appendU32([]byte{0x20}, fuel)         // local.get fuel
	spill = appendU32(append(spill, 0x24), w.fuel) // global.set fuel
	reload := appendU32([]byte{0x23}, w.fuel)      // global.get fuel
	reload = appendU32(append(reload, 0x21), fuel) // local.set fuel
	return fuelCode{entry: entry, loop: loop, head: head, cold: cold, charge: append(charge, loop...), spill: spill, reload: reload}
}

// code rewrites every function body: checks at entry and loop headers,
// and renumbered function references.
func (w *rewriter) code(b []byte) ([]byte, error) {
	r := reader{b: b}
	n := r.count()
	if r.err != nil {
		return nil, r.err
	}
	if int(n) != len(w.funcTypes) {
		return nil, fmt.Errorf("malformed wasm module: %d function bodies for %d functions", n, len(w.funcTypes))
	}
	out := appendU32(make([]byte, 0, len(b)+len(b)/8), n)
	var body []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		fn := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, r.err)
		}
		t := w.funcTypes[i]
		if int(t) >= len(w.typeParams) {
			return nil, fmt.Errorf("function %d: type index %d out of range", i, t)
		}
		var err error
		body, err = w.body(body[:0], fn, w.typeParams[t])
		if err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, err)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	r.end()
	return out, r.err
}

// body rewrites one function body. It declares two more i32 locals, after
// the others: one to hold the length of a bulk operation while it is
// charged, and one for the fuel. It first rewrites the body to keep the fuel
// in that local; if the body has no loop, it rewrites it again to keep the
// fuel in the global, and drops the local.
func (w *rewriter) body(out, fn []byte, params uint32) ([]byte, error) {
	r := reader{b: fn}
	groups := r.count()
	declStart := r.off
	locals := uint64(params)
	for i := uint32(0); i < groups && r.err == nil; i++ {
		locals += uint64(r.u32())
		r.byte()
	}
	if r.err != nil {
		return nil, r.err
	}
	if locals >= 1<<30 {
		return nil, fmt.Errorf("%d locals: too many", locals)
	}
	start, code := len(out), r.off
	if !w.globalOnly {
		out = appendU32(out, groups+1)
		out = append(out, fn[declStart:code]...)
		out = append(out, 0x02, 0x7f) // two i32
		w.fc = w.localFuel(uint32(locals), uint32(locals)+1)
		w.loops = 0
		out = append(out, w.fc.entry...)
		var err error
		if out, err = w.instructions(&r, out, true, false); err != nil || w.loops > 0 {
			return out, err
		}
		r.off = code
	}
	out = appendU32(out[:start], groups+1)
	out = append(out, fn[declStart:code]...)
	out = append(out, 0x01, 0x7f) // one i32
	w.fc = w.globalFuel(uint32(locals))
	out = append(out, w.fc.entry...)
	return w.instructions(&r, out, true, false)
}

// expr copies a constant expression, renumbering ref.func, through its end.
func (w *rewriter) expr(r *reader, out []byte) ([]byte, error) {
	return w.instructions(r, out, false, true)
}

// Wrapped loops.
//
// A check inside the loop, if fuel <= 0 { ... }, costs a loop of a few
// instructions a good part of its speed: wazero lays the check's call out
// on the way through the loop, which then jumps over it every time. So a
// loop without parameters is wrapped, which moves the call after the
// loop's body:
//
//	block bt            ;; done
//	  loop bt           ;; the loop
//	    block           ;; cold
//	      fuel--; br_if cold (fuel <= 0)
//	      BODY
//	      br done       ;; BODY's end: leave with the loop's results
//	    end
//	    if check() { unreachable }; fuel = FuelPerCheck + 1
//	    br loop
//	  end
//	end
//
// Inside BODY, a branch to the loop now crosses cold too, and a branch out
// of it crosses cold and done: their label indices are renumbered
// (relabel). A loop with parameters keeps its check inside, as they would
// have to be carried through cold.

// frame is an open block, loop, if or try of the body being rewritten.
type frame struct {
	wrapped bool // a wrapped loop
}

// relabel returns the label index l, relative to the innermost open frame
// of w.frames, once every wrapped loop is wrapped.
func (w *rewriter) relabel(l uint32) uint32 {
	n := len(w.frames)
	if int64(l) > int64(n) {
		return l // no such label: wazero refuses it
	}
	target := n - 1 - int(l) // the frame branched to; -1 is the function
	extra := uint32(0)
	for i := max(target, 0); i < n; i++ {
		switch {
		case !w.frames[i].wrapped:
		case i == target:
			extra++ // cold
		default:
			extra += 2 // cold and done
		}
	}
	return l + extra
}

// instructions copies instructions from r to out, renumbering function
// references. With fuel set, it inserts w.fc's code: at every loop, before
// every bulk operation, and around calls and exits. With one set, it stops
// after the first end at depth 0 (a constant expression).
func (w *rewriter) instructions(r *reader, out []byte, fuel, one bool) ([]byte, error) {
	last := r.off
	depth := 0
	w.frames = w.frames[:0]
	// spillAt inserts the spill before the instruction at at.
	spillAt := func(at int) {
		if fuel && w.fc.spill != nil {
			out = append(out, r.b[last:at]...)
			out = append(out, w.fc.spill...)
			last = at
		}
	}
	// branch rewrites the branch instruction op at at, whose labels r has
	// just read, with its labels renumbered.
	branch := func(at int, op byte, labels []uint32) {
		changed := false
		for i, l := range labels {
			if n := w.relabel(l); n != l {
				labels[i], changed = n, true
			}
		}
		if !changed {
			return
		}
		out = append(out, r.b[last:at]...)
		out = append(out, op)
		if op == 0x0e {
			out = appendU32(out, uint32(len(labels)-1))
		}
		for _, l := range labels {
			out = appendU32(out, l)
		}
		last = r.off
	}
	for r.off < len(r.b) && r.err == nil {
		at := r.off
		op := r.byte()
		switch op {
		case 0x03: // loop
			bt := r.s33v()
			depth++
			wrap := false
			if fuel {
				w.loops++
				wrap = w.fc.head != nil && (bt < 0 || bt < int64(len(w.typeParams)) && w.typeParams[bt] == 0)
				out = append(out, r.b[last:at]...)
				if wrap {
					out = append(append(out, 0x02), r.b[at+1:r.off]...) // block bt
					out = append(out, r.b[at:r.off]...)                 // loop bt
					out = append(out, w.fc.head...)
				} else {
					out = append(out, r.b[at:r.off]...)
					out = append(out, w.fc.loop...)
				}
				last = r.off
			}
			w.frames = append(w.frames, frame{wrapped: wrap})
			continue
		case 0x10, 0x12, 0xd2: // call, return_call, ref.func
			if op != 0xd2 {
				spillAt(at)
			}
			idx := r.u32()
			out = append(out, r.b[last:at+1]...)
			out = appendU32(out, w.fn(idx))
			last = r.off
			if op == 0x10 && fuel && w.fc.reload != nil {
				out = append(out, w.fc.reload...)
			}
			continue
		case 0x11, 0x14: // call_indirect, call_ref
			spillAt(at)
			if err := r.skipImmediates(op); err != nil {
				return nil, err
			}
			if fuel && w.fc.reload != nil {
				out = append(out, r.b[last:r.off]...)
				out = append(out, w.fc.reload...)
				last = r.off
			}
			continue
		case 0x0f, 0x13, 0x15, 0x08, 0x09: // return, return_call_indirect, return_call_ref, throw, rethrow
			spillAt(at)
		case 0x0c, 0x0d: // br, br_if
			l := r.u32()
			if r.err != nil {
				return nil, r.err
			}
			if l >= uint32(depth) {
				spillAt(at)
			}
			w.labels = append(w.labels[:0], l)
			branch(at, op, w.labels)
			continue
		case 0x0e: // br_table
			exits := false
			w.labels = w.labels[:0]
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				l := r.u32()
				exits = exits || l >= uint32(depth)
				w.labels = append(w.labels, l)
			}
			l := r.u32()
			if r.err != nil {
				return nil, r.err
			}
			w.labels = append(w.labels, l)
			if l >= uint32(depth) || exits {
				spillAt(at)
			}
			branch(at, op, w.labels)
			continue
		case 0xfc:
			sub := r.u32()
			switch sub {
			case 8, 10, 11, 12, 14, 17: // memory.init/copy/fill, table.init/copy/fill
				if fuel {
					out = append(out, r.b[last:at]...)
					out = append(out, w.fc.charge...)
					last = at
				}
			}
			r.skipFC(sub)
			continue
		case 0x02, 0x04, 0x06: // block, if, try
			depth++
			w.frames = append(w.frames, frame{})
		case 0x18: // delegate, which ends a try
			depth--
			if n := len(w.frames); n > 0 {
				w.frames = w.frames[:n-1]
			}
		case 0x0b: // end
			if depth == 0 {
				if one {
					return append(out, r.b[last:r.off]...), r.err
				}
				spillAt(at)
			}
			depth--
			if n := len(w.frames); n > 0 {
				if w.frames[n-1].wrapped {
					out = append(out, r.b[last:at]...)
					out = append(out, 0x0c, 0x02, 0x0b) // br 2 (done); end (cold)
					out = append(out, w.fc.cold...)
					out = append(out, 0x0b, 0x0b) // end (the loop); end (done)
					last = r.off
				}
				w.frames = w.frames[:n-1]
			}
			continue
		}
		if err := r.skipImmediates(op); err != nil {
			return nil, err
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if one {
		return nil, errTruncated
	}
	return append(out, r.b[last:]...), nil
}

// countImports counts the function and global imports.
func countImports(b []byte) (funcs, globals uint32, err error) {
	r := reader{b: b}
	n := r.count()
	for i := uint32(0); i < n && r.err == nil; i++ {
		mod, name := r.name(), r.name()
		if mod == CheckModule {
			return 0, 0, fmt.Errorf("unsupported import %s.%s: the module name %s is reserved", mod, name, CheckModule)
		}
		switch r.skipImportDesc() {
		case externFunc:
			funcs++
		case externGlobl:
			globals++
		}
	}
	r.end()
	return funcs, globals, r.err
}

func externName(kind byte) string {
	switch kind {
	case 0x01:
		return "table"
	case externGlobl:
		return "global"
	case 0x04:
		return "tag"
	}
	return fmt.Sprintf("kind %#x", kind)
}

// checkImportKinds refuses imports of tables, globals and tags, which the
// host never provides, with an error that names them. (Function and memory
// imports are checked on the compiled module.)
func checkImportKinds(code []byte) error {
	r := reader{b: code, off: 8}
	for r.off < len(r.b) && r.err == nil {
		id := r.byte()
		body := r.bytes(int(r.u32()))
		if id != secImport {
			continue
		}
		sr := reader{b: body}
		for n := sr.count(); n > 0 && sr.err == nil; n-- {
			mod, name := sr.name(), sr.name()
			if kind := sr.skipImportDesc(); kind != externFunc && kind != 0x02 && sr.err == nil {
				return fmt.Errorf("unsupported import %s.%s: the host provides functions only, not a %s", mod, name, externName(kind))
			}
		}
		return sr.err
	}
	return r.err
}

// skipImportDesc skips an import's description and returns its kind.
func (r *reader) skipImportDesc() byte {
	kind := r.byte()
	switch kind {
	case externFunc: // type index
		r.u32()
	case 0x01: // table: reftype, limits
		r.byte()
		r.limits()
	case 0x02: // memory: limits
		r.limits()
	case externGlobl: // valtype, mutability
		r.byte()
		r.byte()
	case 0x04: // tag: attribute, type index
		r.byte()
		r.u32()
	default:
		r.fail(fmt.Errorf("malformed wasm module: unknown import kind %#x", kind))
	}
	return kind
}

func hasExport(b []byte, name string) bool {
	r := reader{b: b}
	n := r.count()
	for i := uint32(0); i < n && r.err == nil; i++ {
		if r.name() == name {
			return true
		}
		r.byte()
		r.u32()
	}
	return false
}

// skipImmediates skips the immediates of the instruction op.
func (r *reader) skipImmediates(op byte) error {
	switch {
	case op == 0x02 || op == 0x04 || op == 0x06: // block, if, try
		r.s33()
	case op == 0x0c || op == 0x0d || op == 0x07 || op == 0x08 || op == 0x09 || op == 0x18: // br, br_if, catch, throw, rethrow, delegate
		r.u32()
	case op == 0x0e: // br_table
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x14 || op == 0x15: // call_ref, return_call_ref
		r.u32()
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.byte()
		}
	case op >= 0x20 && op <= 0x26: // local.*, global.*, table.get/set
		r.u32()
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41:
		r.s33()
	case op == 0x42:
		r.s64()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null
		r.s33()
	case op == 0xfd:
		r.skipFD(r.u32())
	case op == 0xfe:
		if sub := r.u32(); sub == 0x03 { // atomic.fence
			r.byte()
		} else {
			r.memarg()
		}
	case op <= 0x01 || op == 0x05 || op == 0x0b || op == 0x0f || op == 0x19 || op == 0x1a || op == 0x1b ||
		(op >= 0x45 && op <= 0xc4) || op == 0xd1:
		// No immediates.
	default:
		return fmt.Errorf("unknown opcode %#x at offset %d", op, r.off-1)
	}
	return r.err
}

func (r *reader) skipFC(sub uint32) {
	switch {
	case sub <= 7: // saturating truncations
	case sub == 8, sub == 10, sub == 12, sub == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	case sub == 9, sub == 11, sub == 13, sub == 15, sub == 16, sub == 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		r.u32()
	default:
		r.fail(fmt.Errorf("unknown 0xfc opcode %d", sub))
	}
}

func (r *reader) skipFD(sub uint32) {
	switch {
	case sub <= 11, sub == 92, sub == 93: // loads and stores
		r.memarg()
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // lane extract and replace
		r.byte()
	case sub >= 84 && sub <= 91: // load and store lane
		r.memarg()
		r.byte()
	}
}

// reader decodes the binary format; the first error sticks.
type reader struct {
	b   []byte
	off int
	err error
}

var errTruncated = errors.New("malformed wasm module: unexpected end")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.off = len(r.b)
}

func (r *reader) byte() byte {
	if r.off >= len(r.b) {
		r.fail(errTruncated)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b)-r.off {
		r.fail(errTruncated)
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

func (r *reader) leb(maxBytes int) uint64 {
	var v uint64
	for i := 0; i < maxBytes; i++ {
		c := r.byte()
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail(errors.New("malformed wasm module: LEB128 too long"))
	return 0
}

func (r *reader) u32() uint32 { return uint32(r.leb(5)) }

// count reads a vector's length, which cannot exceed the bytes left, since
// every item takes at least one.
func (r *reader) count() uint32 {
	n := r.u32()
	if int64(n) > int64(len(r.b)-r.off) {
		r.fail(fmt.Errorf("malformed wasm module: a vector of %d items in %d bytes", n, len(r.b)-r.off))
		return 0
	}
	return n
}

// end fails if bytes are left over.
func (r *reader) end() {
	if r.err == nil && r.off != len(r.b) {
		r.fail(fmt.Errorf("malformed wasm module: %d unexpected bytes at the end of a section", len(r.b)-r.off))
	}
}

// funcTypes reads the type section and returns each type's parameter count.
func (r *reader) funcTypes() []uint32 {
	n := r.count()
	params := make([]uint32, 0, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		if form := r.byte(); form != 0x60 {
			r.fail(fmt.Errorf("malformed wasm module: type %d has unsupported form %#x", i, form))
			break
		}
		p := r.count()
		r.bytes(int(p))
		params = append(params, p)
		r.bytes(int(r.count()))
	}
	r.end()
	return params
}
func (r *reader) s33() { r.leb(5) }

// s33v reads a block type: negative for an empty or value type, else a type
// index.
func (r *reader) s33v() int64 {
	v := int64(r.leb(5))
	if v&0x40 != 0 && v < 0x80 { // a one-byte negative value
		return v - 0x80
	}
	return v
}
func (r *reader) s64() { r.leb(10) }

func (r *reader) memarg() {
	if align := r.u32(); align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.leb(10) // offset: u64 with memory64
}

func (r *reader) limits() {
	flags := r.byte()
	r.leb(10)
	if flags&1 != 0 {
		r.leb(10)
	}
}

func (r *reader) name() string {
	n := r.u32()
	return string(r.bytes(int(n)))
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
