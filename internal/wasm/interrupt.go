package wasm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Deadline enforcement, the cheap way.
//
// wazero's WithCloseOnContextDone makes compiled code call out to the runtime
// at every loop header, which costs Go guests (whose code is loops) several
// times their own run time. Instead, instrument rewrites the module, in the
// manner of wasmtime's fuel: every function entry and loop header takes one
// step of fuel from a counter, and when it runs out calls the host function
// CheckModule.CheckName, which reports whether the call's context has ended
// (the guest then traps with unreachable); the counter is then refilled with
// FuelPerCheck steps. The check on the hot path is a decrement and a branch.
//
// The host call every FuelPerCheck steps does more than watch the deadline:
// compiled wasm cannot be preempted by the Go scheduler, and a guest that
// never left it would stall every stop-the-world phase of the garbage
// collector, and so the whole process, until it returned. The check is a Go
// function, where the scheduler can stop it.
//
// Where the counter lives. A global decremented at every loop header costs
// a load and a store per iteration, the store feeding the next iteration's
// load: a loop of a few instructions ran at half speed. And around a call,
// a counter in memory is a store and a load on the way of every call. So the
// counter travels with the calls instead, in registers:
//
//   - Every defined function takes the fuel as one more parameter, after its
//     own, and returns what is left as one more result, after its own. In
//     its body the fuel is that parameter, a local: a register.
//   - A call to a defined function passes the fuel and takes it back; a
//     call_indirect does the same with the parameter-and-result-extended
//     type, as tables hold these functions too. (Unless a function from
//     elsewhere could get into a table: see extTables.)
//   - The host sees the functions it knows: each exported function (and the
//     start function) is a wrapper with the original signature, which loads
//     the fuel from a mutable i32 global, calls the function and stores what
//     is left back. A call to an imported (host) function stores the fuel in
//     the global before and loads it after, so that a host function calling
//     back into the guest finds it there; an imported function referred to
//     by ref.func or an element segment is wrapped the other way round.
//   - A return, a branch out of the function and the body's end put the
//     fuel after the results. A body with a br_table out of the function,
//     whose targets must all take the same values, is enclosed in a block
//     instead, which every exit leaves, and after which the fuel is
//     returned.
//
// Each loop's check calls out after the loop body rather than inside it; see
// "Wrapped loops" below. The steps charged and the checks made are exactly
// those of a module that decremented the global itself, everywhere; the
// tests hold the rewrite to that reference (instrumentWith).
//
// The new import is appended after the module's own function imports, so
// every reference to a defined function is renumbered: calls, ref.func,
// element segments, global initialisers, exports and the name section. The
// rewrite also turns a start section into the export StartExport, so that
// the host runs it, like everything else, with the check armed.
//
// Exception handling and typed function references are refused: wazero
// does not run them as configured here, and a thrown exception would leave
// a function without returning its fuel.

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
// messages) needs no bump, unless it refuses modules an older build
// accepted: their old rewrites must not be found again (version 4 refuses
// out-of-range indices; version 5, branches to labels that are not open,
// name sections whose subsection sizes do not add up, sections of an
// unknown id, repeated or out of order, and block and call_indirect types
// past the module's own).
const rewriterVersion = 5

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
	secTable    = 4
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
	off  int // of its id in the module
}

// funcType is a function type: its parameter and result value types, one
// byte each.
type funcType struct {
	params, results []byte
}

// wrapper is a function the rewrite adds: an export wrapper gives a defined
// function its original signature back, for the host; a reverse wrapper
// gives an imported function the extended one, for tables.
type wrapper struct {
	target  uint32 // the original index of the function wrapped
	typ     uint32 // the original type of the function wrapped
	reverse bool   // target is imported
}

// rewriter holds what the rewrite needs to renumber functions.
type rewriter struct {
	importedFuncs uint32     // function imports before the new one
	check         uint32     // the new import's function index
	fuel          uint32     // the fuel global's index
	types         []funcType // the module's own types
	typeParams    []uint32   // parameter count of each type
	funcTypes     []uint32   // type of each defined function
	importTypes   []uint32   // type of each imported function
	// globalOnly keeps the fuel in the global everywhere: the reference the
	// tests hold the rewrite to, which rewrites nothing but the checks.
	globalOnly bool

	// Fuel passing (not globalOnly).
	//
	// extTables: tables hold the functions as they take the fuel, and
	// call_indirect passes it, unless a function from elsewhere could be
	// put in a table (the module imports a table, or takes references from
	// its imports): then tables hold functions of their original signature
	// (wrappers of the defined ones), and call_indirect stores and loads
	// the fuel around the call as for a host function.
	extTables  bool
	wrappers   []wrapper         // in index order, after the defined functions
	wrapperOf  map[uint32]uint32 // original function index to its wrapper's index
	blockTypes map[string]uint32 // a result list to the type [] -> results
	collecting bool              // record the imported functions refs name

	enclose bool     // the current body is enclosed in a block; see body
	fc      fuelCode // the current body's inserted code
	fuelIn  uint32   // the current body's fuel parameter
	scratch uint32   // the current body's scratch local
	locals  uint32   // the current body's parameters and locals
	frames  []frame  // the current body's open frames
	labels  []uint32 // a branch's labels
}

// bulkShift prices bulk memory and table operations: one step of fuel per
// 1 << bulkShift bytes or elements, so that a loop of large fills or copies
// reaches a check as often as a loop of plain instructions.
const bulkShift = 10

// fn renumbers a function index for a direct call.
func (w *rewriter) fn(i uint32) uint32 {
	if i >= w.importedFuncs {
		return i + 1
	}
	return i
}

// ref renumbers a function index that makes a function reference, which a
// table may hold and call_indirect call: with extTables, an imported
// function's is its reverse wrapper; without, a defined function's is its
// wrapper.
func (w *rewriter) ref(i uint32) uint32 {
	imported := i < w.importedFuncs
	if w.globalOnly || imported != w.extTables {
		return w.fn(i)
	}
	if w.collecting {
		w.wrapperOf[i] = 0 // to be numbered
		return i
	}
	if x, ok := w.wrapperOf[i]; ok {
		return x
	}
	return w.fn(i) // not declared as a reference: wazero refuses the module
}

// export renumbers the index of an exported function: a defined function's
// is its export wrapper.
func (w *rewriter) export(i uint32) uint32 {
	if w.globalOnly || i < w.importedFuncs {
		return w.fn(i)
	}
	if x, ok := w.wrapperOf[i]; ok {
		return x
	}
	return w.fn(i) // no such function: wazero refuses the module
}

// Indices out of range. wazero refuses a module that refers to a function,
// global or local that does not exist; but the rewrite adds a function, a
// global and locals, and renumbers, so that such an index would come to
// name one of them, and wazero accept the rewrite: a guest could then reach
// its fuel. So the rewrite refuses them itself.

// checkFunc refuses the function index i that is out of range.
func (w *rewriter) checkFunc(i uint32) error {
	if n := w.importedFuncs + uint32(len(w.funcTypes)); i >= n {
		return fmt.Errorf("malformed wasm module: function index %d out of range (%d functions)", i, n)
	}
	return nil
}

// checkGlobal refuses the global index i that is out of range (the fuel
// global's index is the module's global count).
func (w *rewriter) checkGlobal(i uint32) error {
	if i >= w.fuel {
		return fmt.Errorf("malformed wasm module: global index %d out of range (%d globals)", i, w.fuel)
	}
	return nil
}

// extended returns the index of type t extended with the fuel, as a
// parameter and a result.
func (w *rewriter) extended(t uint32) uint32 { return uint32(len(w.types)) + 1 + t }

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
	secs, err := splitSections(code)
	if err != nil {
		return nil, err
	}

	w := rewriter{globalOnly: globalOnly}
	var types, importedGlobals, definedGlobals uint32
	startFunc := int64(-1)
	for _, s := range secs {
		sr := reader{b: s.body}
		switch s.id {
		case secType:
			w.types = sr.funcTypes()
			types = uint32(len(w.types))
			for _, t := range w.types {
				w.typeParams = append(w.typeParams, uint32(len(t.params)))
			}
		case secImport:
			funcs, globals, err := countImports(s.body)
			if err != nil {
				return nil, err
			}
			w.importedFuncs, importedGlobals = funcs, globals
			w.importTypes = importedFuncTypes(s.body)
		case funcSection:
			for n := sr.count(); n > 0 && sr.err == nil; n-- {
				w.funcTypes = append(w.funcTypes, sr.u32())
			}
			sr.end()
		case secGlobal:
			definedGlobals = sr.count()
		case secStart:
			startFunc = int64(sr.u32())
		case secTable, secMemory, secData, secTag:
			// Sections the rewrite copies without reading them: wazero
			// sizes a slice by their count before reading an item, so a
			// count the section cannot hold would allocate gigabytes for a
			// module of a few bytes. Every item takes a byte at least.
			sr.count()
		case secExport:
			if hasExport(s.body, StartExport) {
				return nil, fmt.Errorf("the module already exports %s, a name the runtime reserves", StartExport)
			}
		}
		if sr.err != nil {
			return nil, sr.err
		}
	}
	if err := checkOrder(secs); err != nil {
		return nil, err
	}
	for i, t := range w.funcTypes {
		if t >= types {
			return nil, fmt.Errorf("malformed wasm module: function %d has type %d of %d", i, t, types)
		}
	}
	for i, t := range w.importTypes {
		if t >= types {
			return nil, fmt.Errorf("malformed wasm module: imported function %d has type %d of %d", i, t, types)
		}
	}
	w.check = w.importedFuncs
	w.fuel = importedGlobals + definedGlobals
	if startFunc >= 0 {
		if err := w.checkFunc(uint32(min(startFunc, 1<<32-1))); err != nil {
			return nil, fmt.Errorf("start function: %w", err)
		}
	}
	w.extTables = !foreignRefs(secs, w.types)
	if !globalOnly {
		if err := w.planWrappers(secs, startFunc); err != nil {
			return nil, err
		}
	}

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
		added[secExport] = appendU32(b, w.export(uint32(startFunc)))
	}
	if len(w.wrappers) > 0 && len(w.funcTypes) == 0 {
		// Wrappers for a module that defines no function of its own.
		added[funcSection] = w.functions(nil)
		added[secCode] = w.wrapperBodies(appendU32(nil, uint32(len(w.wrappers))))
	}
	// before emits the added sections the module lacks that belong
	// before rank.
	before := func(rank int) {
		for _, id := range []byte{secType, secImport, funcSection, secGlobal, secExport, secCode} {
			if b, ok := added[id]; ok && rank > sectionRank(id) {
				emit(id, b)
				delete(added, id)
			}
		}
	}
	for i, s := range secs {
		if s.id != secCustom {
			before(sectionRank(s.id))
		}
		var body []byte
		var err error
		switch s.id {
		case secCustom:
			body, err = w.custom(s.body, i == len(secs)-1)
		case secType:
			body = w.typeSection(s.body, checkType)
		case secImport:
			body, err = w.imports(s.body, checkImport)
		case funcSection:
			body = w.functions(s.body)
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

// splitSections splits a module, whose header has been checked, into its
// sections.
func splitSections(code []byte) ([]section, error) {
	var secs []section
	r := reader{b: code, off: 8}
	for r.off < len(r.b) {
		at := r.off
		id := r.byte()
		n := r.u32()
		body := r.bytes(int(n))
		if r.err != nil {
			return nil, r.err
		}
		secs = append(secs, section{id, body, at})
	}
	return secs, nil
}

// checkOrder refuses a section of unknown id, or repeated, or out of
// order, as wazero does. The rewrite emits its added sections by rank, and
// merges them into the module's own: such a section would leave two of one
// kind. It is checked after the sections' counts, which bound what wazero
// allocates to decode the sections before the misplaced one.
func checkOrder(secs []section) error {
	last := 0 // the rank of the last section but custom ones
	for _, s := range secs {
		if s.id == secCustom {
			continue
		}
		switch rank := sectionRank(s.id); {
		case s.id > secTag:
			return fmt.Errorf("unknown section id %d at offset %d", s.id, s.off)
		case rank <= last:
			return fmt.Errorf("section id %d at offset %d: repeated, or out of order", s.id, s.off)
		default:
			last = rank
		}
	}
	return nil
}

// planWrappers decides which functions need a wrapper: every exported
// defined function and the start function, for the host, and every imported
// function a reference names (in an element segment, a global initialiser
// or an export, the only places a ref.func in code may name), for tables.
// It numbers them after the defined functions, and finds the block types
// the bodies need.
func (w *rewriter) planWrappers(secs []section, startFunc int64) error {
	w.wrapperOf = map[uint32]uint32{}
	w.collecting = true
	exported := map[uint32]bool{}
	if startFunc >= int64(w.importedFuncs) {
		exported[uint32(startFunc)] = true
	}
	for _, s := range secs {
		var err error
		switch s.id {
		case secExport:
			r := reader{b: s.body}
			for n := r.count(); n > 0 && r.err == nil; n-- {
				r.name()
				kind, idx := r.byte(), r.u32()
				switch {
				case kind != externFunc:
				case idx >= w.importedFuncs:
					exported[idx] = true
				default:
					w.ref(idx)
				}
			}
			err = r.err
		case secElement:
			_, err = w.elements(s.body)
		case secGlobal:
			_, err = w.globals(s.body, nil)
		}
		if err != nil {
			return err
		}
	}
	w.collecting = false
	var imported []uint32
	for i := range w.wrapperOf {
		if i < w.importedFuncs {
			imported = append(imported, i)
		} else {
			exported[i] = true // a reference, without extTables
		}
	}
	defined := make([]uint32, 0, len(exported))
	for i := range exported {
		if i-w.importedFuncs < uint32(len(w.funcTypes)) {
			defined = append(defined, i)
		}
	}
	clear(w.wrapperOf)
	sort.Slice(imported, func(a, b int) bool { return imported[a] < imported[b] })
	sort.Slice(defined, func(a, b int) bool { return defined[a] < defined[b] })
	next := w.importedFuncs + 1 + uint32(len(w.funcTypes))
	for _, i := range defined {
		w.wrappers = append(w.wrappers, wrapper{target: i, typ: w.funcTypes[i-w.importedFuncs]})
		w.wrapperOf[i] = next
		next++
	}
	for _, i := range imported {
		if i >= uint32(len(w.importTypes)) {
			delete(w.wrapperOf, i)
			continue
		}
		w.wrappers = append(w.wrappers, wrapper{target: i, typ: w.importTypes[i], reverse: true})
		w.wrapperOf[i] = next
		next++
	}

	// A body returning more than one value is enclosed in a block of type
	// [] -> results, which the module may not have.
	w.blockTypes = map[string]uint32{}
	next = 2*uint32(len(w.types)) + 1
	for _, t := range w.funcTypes {
		res := string(w.types[t].results)
		if _, ok := w.blockTypes[res]; len(res) > 1 && !ok {
			w.blockTypes[res] = next
			next++
		}
	}
	return nil
}

// foreignRefs reports whether a function reference from outside the module
// could reach its tables: through an imported table, an imported global of
// a reference type, or an imported function taking or returning one.
func foreignRefs(secs []section, types []funcType) bool {
	isRef := func(v byte) bool { return v == 0x70 || v == 0x6f }
	for _, s := range secs {
		if s.id != secImport {
			continue
		}
		r := reader{b: s.body}
		for n := r.count(); n > 0 && r.err == nil; n-- {
			r.name()
			r.name()
			switch kind := r.byte(); kind {
			case externFunc:
				if t := r.u32(); t < uint32(len(types)) {
					for _, v := range string(types[t].params) + string(types[t].results) {
						if isRef(byte(v)) {
							return true
						}
					}
				}
			case 0x01: // a table
				return true
			case externGlobl:
				if isRef(r.byte()) {
					return true
				}
				r.byte()
			default:
				r.off--
				r.skipImportDesc()
			}
		}
	}
	return false
}

// typeSection returns the type section with the check's type after the
// module's own types and, with fuel passing, each type extended with the
// fuel, then the block types of bodies returning several values.
func (w *rewriter) typeSection(b, checkType []byte) []byte {
	if w.globalOnly {
		return appendVec(b, 1, checkType) // parsed whole above
	}
	extra := append([]byte(nil), checkType...)
	for _, t := range w.types {
		extra = appendFuncType(extra, t.params, t.results, 0x7f)
	}
	blocks := make([]string, len(w.blockTypes))
	for res, i := range w.blockTypes {
		blocks[i-2*uint32(len(w.types))-1] = res
	}
	for _, res := range blocks {
		extra = appendFuncType(extra, nil, []byte(res))
	}
	return appendVec(b, uint32(1+len(w.types)+len(blocks)), extra)
}

// appendFuncType appends the type params -> results, with the value types
// more (none or one) after both.
func appendFuncType(b, params, results []byte, more ...byte) []byte {
	b = append(b, 0x60)
	b = append(append(appendU32(b, uint32(len(params)+len(more))), params...), more...)
	return append(append(appendU32(b, uint32(len(results)+len(more))), results...), more...)
}

// functions returns the function section: with fuel passing, each defined
// function of its extended type, then the wrappers.
func (w *rewriter) functions(b []byte) []byte {
	if w.globalOnly {
		return b
	}
	out := appendU32(nil, uint32(len(w.funcTypes)+len(w.wrappers)))
	for _, t := range w.funcTypes {
		out = appendU32(out, w.extended(t))
	}
	for _, x := range w.wrappers {
		if x.reverse {
			out = appendU32(out, w.extended(x.typ))
		} else {
			out = appendU32(out, x.typ)
		}
	}
	return out
}

// wrapperBodies appends the wrappers' bodies to the code section out.
//
// An export wrapper of a defined function f:
//
//	local.get 0 ... local.get n-1; global.get fuel; call f; global.set fuel
//
// A reverse wrapper of an imported function g, whose fuel is local n:
//
//	local.get n; global.set fuel; local.get 0 ... local.get n-1; call g;
//	global.get fuel
func (w *rewriter) wrapperBodies(out []byte) []byte {
	var body []byte
	for _, x := range w.wrappers {
		params := w.typeParams[x.typ]
		body = append(body[:0], 0x00) // no locals
		if x.reverse {
			body = appendU32(append(body, 0x20), params)
			body = appendU32(append(body, 0x24), w.fuel)
		}
		for i := uint32(0); i < params; i++ {
			body = appendU32(append(body, 0x20), i)
		}
		if x.reverse {
			body = appendU32(append(body, 0x10), x.target)
			body = appendU32(append(body, 0x23), w.fuel)
		} else {
			body = appendU32(append(body, 0x23), w.fuel)
			body = appendU32(append(body, 0x10), w.fn(x.target))
			body = appendU32(append(body, 0x24), w.fuel)
		}
		body = append(body, 0x0b)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out
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

// importedFuncTypes returns the type of each imported function; what it
// cannot read, countImports reports.
func importedFuncTypes(b []byte) []uint32 {
	var types []uint32
	r := reader{b: b}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		r.name()
		r.name()
		if kind := r.byte(); kind == externFunc {
			types = append(types, r.u32())
			continue
		}
		r.off--
		r.skipImportDesc()
	}
	return types
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
		var err error
		switch kind {
		case externFunc:
			err = w.checkFunc(idx)
			idx = w.export(idx)
		case externGlobl:
			err = w.checkGlobal(idx)
		}
		if err != nil && r.err == nil {
			return nil, fmt.Errorf("export %d: %w", i, err)
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
				idx := r.u32()
				if err = w.checkFunc(idx); err != nil && r.err == nil {
					return nil, fmt.Errorf("element segment %d: %w", i, err)
				}
				out = appendU32(out, w.ref(idx))
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
// whose code offsets no longer hold. Other custom sections are kept. A
// wrapper is named after the function it wraps.
func (w *rewriter) custom(b []byte, last bool) ([]byte, error) {
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
	// The name section is read as wazero reads it, so that the rewrite,
	// whose subsections' sizes are right, is refused exactly when the
	// input is: wazero reads a known subsection's content whatever size
	// it declares, counts the declared sizes down from the section's own,
	// and refuses the section unless it read exactly its bytes. Reading
	// on from a section's end reaches the next section, which can only
	// fail, or the end of the module, where wazero stops.
	out := append([]byte(nil), b[:r.off]...)
	limit := uint64(len(b) - r.off)
	for limit > 0 && r.err == nil {
		if r.off == len(r.b) {
			if !last {
				return nil, errors.New("name section: its subsections declare more bytes than it has")
			}
			break
		}
		id := r.byte()
		limit--
		at := r.off
		size := r.u32()
		limit -= uint64(r.off - at)
		var nb []byte
		switch id {
		case 0: // module name
			at := r.off
			r.name()
			nb = r.b[at:r.off]
		case 1: // function names
			n := r.count()
			names := map[uint32]string{}
			var entries []byte
			for i := uint32(0); i < n && r.err == nil; i++ {
				idx, name := r.u32(), r.name()
				names[idx] = name
				entries = appendName(appendU32(entries, w.fn(idx)), name)
			}
			for i, x := range w.wrappers {
				if name, ok := names[x.target]; ok {
					n++
					entries = appendU32(entries, w.importedFuncs+1+uint32(len(w.funcTypes)+i))
					entries = appendName(entries, name)
				}
			}
			nb = append(appendU32(nil, n), entries...)
		case 2: // local names
			n := r.count()
			nb = appendU32(nil, n)
			for i := uint32(0); i < n && r.err == nil; i++ {
				f := r.u32()
				// The fuel parameter comes after a defined function's own.
				shift := uint32(1 << 31)
				if d := f - w.importedFuncs; !w.globalOnly && f >= w.importedFuncs && d < uint32(len(w.funcTypes)) {
					shift = w.typeParams[w.funcTypes[d]]
				}
				nb = appendU32(nb, w.fn(f))
				m := r.count()
				nb = appendU32(nb, m)
				for j := uint32(0); j < m && r.err == nil; j++ {
					l := r.u32()
					if l >= shift {
						l++
					}
					nb = appendU32(nb, l)
					nb = appendName(nb, r.name())
				}
			}
		default: // skipped, and dropped
			r.bytes(int(size))
			limit -= uint64(size)
			continue
		}
		limit -= uint64(size)
		if r.err != nil {
			break
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(nb)))
		out = append(out, nb...)
	}
	if r.err != nil {
		return nil, fmt.Errorf("name section: %w", r.err)
	}
	if r.off != len(r.b) {
		return nil, fmt.Errorf("name section: its subsections declare %d bytes fewer than it has", len(r.b)-r.off)
	}
	return out, nil
}

// checkCode is the sequence inserted at every function entry and loop
// header, and after a bulk operation's charge, in a function that keeps the
// fuel in the global (the reference):
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
	// parameters, or in the reference; see wrapped loops below for the
	// others.
	loop []byte
	// head and cold are the two halves of a wrapped loop's check: head
	// branches to the end of the block it starts when the fuel runs out,
	// where cold calls the check, refills and branches back to the loop.
	// Both are nil in the reference.
	head, cold []byte
	// charge takes a bulk operation's length from the top of the stack,
	// leaving it there, and charges it, then checks.
	charge []byte
	// spill stores the fuel into the global before a call to a host
	// function; reload loads it back after. Both are nil in the reference.
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

// localFuel is the code of a function whose fuel is its parameter fuel;
// scratch is a free i32 local.
func (w *rewriter) localFuel(scratch, fuel uint32) fuelCode {
	entry := appendU32([]byte{0x20}, fuel)  // local.get fuel
	entry = append(entry, 0x41, 0x01, 0x6b) // i32.const 1; i32.sub
	entry = appendU32(append(entry, 0x22), fuel)
	entry = w.refill(entry, 0x21, fuel)

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
	return fuelCode{entry: entry, loop: entry, head: head, cold: cold, charge: append(charge, entry...), spill: spill, reload: reload}
}

// code rewrites every function body: checks at entry and loop headers,
// and renumbered function references; then appends the wrappers.
func (w *rewriter) code(b []byte) ([]byte, error) {
	r := reader{b: b}
	n := r.count()
	if r.err != nil {
		return nil, r.err
	}
	if int(n) != len(w.funcTypes) {
		return nil, fmt.Errorf("malformed wasm module: %d function bodies for %d functions", n, len(w.funcTypes))
	}
	out := appendU32(make([]byte, 0, len(b)+len(b)/8), n+uint32(len(w.wrappers)))
	var body []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		fn := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, r.err)
		}
		var err error
		body, err = w.body(body[:0], fn, w.types[w.funcTypes[i]])
		if err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, err)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	r.end()
	return w.wrapperBodies(out), r.err
}

// body rewrites one function body of type t. It declares one more i32
// local, after the others, to hold the length of a bulk operation while it
// is charged (and, with fuel passing, the index of a call_indirect).
func (w *rewriter) body(out, fn []byte, t funcType) ([]byte, error) {
	r := reader{b: fn}
	groups := r.count()
	declStart := r.off
	params := uint32(len(t.params))
	locals := uint64(params)
	for i := uint32(0); i < groups && r.err == nil; i++ {
		locals += uint64(r.u32())
		r.byte()
	}
	if r.err != nil {
		return nil, r.err
	}
	if locals > maxLocals {
		return nil, fmt.Errorf("%d locals: too many (at most %d)", locals, maxLocals)
	}
	out = appendU32(out, groups+1)
	out = append(out, fn[declStart:r.off]...)
	out = append(out, 0x01, 0x7f) // one i32
	if w.globalOnly {
		w.locals = uint32(locals)
		w.fc = w.globalFuel(uint32(locals))
		out = append(out, w.fc.entry...)
		return w.instructions(&r, out, true, false)
	}
	// The fuel is the parameter after the function's own, so the declared
	// locals move up by one, and the scratch local comes after them.
	w.locals = uint32(locals)
	w.fuelIn, w.scratch = params, uint32(locals)+1
	w.fc = w.localFuel(w.scratch, w.fuelIn)
	out = append(out, w.fc.entry...)
	head, code := out, r.off
	w.enclose = false
	out, err := w.instructions(&r, out, true, false)
	if err != errEnclose {
		return out, err
	}
	// A br_table leaves the function: enclose the body in a block, which
	// every exit leaves instead, and return the fuel after it.
	out, r.off, w.enclose = head, code, true
	switch len(t.results) {
	case 0:
		out = append(out, 0x02, 0x40)
	case 1:
		out = append(out, 0x02, t.results[0])
	default:
		out = appendS32(append(out, 0x02), int32(w.blockTypes[string(t.results)]))
	}
	return w.instructions(&r, out, true, false)
}

// maxLocals bounds a function's parameters and locals, as V8 and wasmtime
// do (50,000): wazero allocates for each local as it compiles, so a body of
// a few bytes declaring 2^24 of them cost half a gigabyte and seconds.
const maxLocals = 50000

// errEnclose makes body enclose a function body in a block.
var errEnclose = errors.New("enclose the body")

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
	wrapped bool   // a wrapped loop
	wrapps  uint32 // the wrapped loops among the open frames up to this one
}

// push opens a frame.
func (w *rewriter) push(wrapped bool) {
	f := frame{wrapped: wrapped}
	if n := len(w.frames); n > 0 {
		f.wrapps = w.frames[n-1].wrapps
	}
	if wrapped {
		f.wrapps++
	}
	w.frames = append(w.frames, f)
}

// checkLabel refuses a branch, at offset at, to a label that is not open.
// The rewrite adds labels (the block enclosing a body, and each wrapped
// loop's), which could otherwise turn such a branch, which the validator
// refuses, into one it accepts.
func (w *rewriter) checkLabel(l uint32, at int) error {
	if int64(l) > int64(len(w.frames)) {
		return fmt.Errorf("invalid branch at offset %d: label %d, with %d labels open", at, l, len(w.frames)+1)
	}
	return nil
}

// checkBlockType refuses a block type, of the block, loop or if at offset
// at, that indexes a type past the module's own: the rewrite adds types,
// which such an index would name.
func (w *rewriter) checkBlockType(bt int64, at int) error {
	if bt >= int64(len(w.types)) {
		return fmt.Errorf("block at offset %d: type %d of %d", at, bt, len(w.types))
	}
	return nil
}

// relabel returns the label index l, relative to the innermost open frame
// of w.frames, once every wrapped loop is wrapped.
func (w *rewriter) relabel(l uint32) uint32 {
	n := len(w.frames)
	if n == 0 || int64(l) > int64(n) {
		return l // the function, from its top, or no such label
	}
	target := n - 1 - int(l) // the frame branched to; -1 is the function
	inner := w.frames[n-1].wrapps
	if target < 0 {
		return l + 2*inner // crosses cold and done of each
	}
	t := w.frames[target]
	extra := 2 * (inner - t.wrapps) // the wrapped loops inside the target
	if t.wrapped {
		extra++ // the target's own cold
	}
	return l + extra
}

// instructions copies instructions from r to out, renumbering function
// references. With fuel set, it inserts w.fc's code: at every loop and
// before every bulk operation; and, with fuel passing, it passes the fuel
// through calls and returns it. With one set, it stops after the first end
// at depth 0 (a constant expression).
func (w *rewriter) instructions(r *reader, out []byte, fuel, one bool) ([]byte, error) {
	last := r.off
	depth := 0
	pass := fuel && !w.globalOnly
	w.frames = w.frames[:0]
	// flush copies the input up to at.
	flush := func(at int) {
		out = append(out, r.b[last:at]...)
		last = at
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
		flush(at)
		out = append(out, op)
		if op == 0x0e {
			out = appendU32(out, uint32(len(labels)-1))
		}
		for _, l := range labels {
			out = appendU32(out, l)
		}
		last = r.off
	}
	// exit leaves the function with the fuel after the results, as a return
	// or a tail call to a host function must.
	exit := func() {
		if w.enclose { // by the block enclosing the body
			out = appendU32(append(out, 0x0c), w.relabel(uint32(len(w.frames))))
			return
		}
		out = appendU32(append(out, 0x20), w.fuelIn) // local.get fuel
		out = append(out, 0x0f)                      // return
	}
	for r.off < len(r.b) && r.err == nil {
		at := r.off
		op := r.byte()
		switch op {
		case 0x03: // loop
			bt := r.blockType()
			if err := w.checkBlockType(bt, at); err != nil && r.err == nil {
				return nil, err
			}
			depth++
			wrap := false
			if fuel {
				wrap = w.fc.head != nil && (bt < 0 || bt < int64(len(w.typeParams)) && w.typeParams[bt] == 0)
				flush(at)
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
			w.push(wrap)
			continue
		case 0x20, 0x21, 0x22: // local.get, local.set, local.tee
			idx := r.u32()
			if fuel && idx >= w.locals && r.err == nil {
				return nil, fmt.Errorf("malformed wasm module: local index %d out of range (%d locals)", idx, w.locals)
			}
			if pass && idx >= w.fuelIn {
				flush(at)
				out = appendU32(append(out, op), idx+1)
				last = r.off
			}
			continue
		case 0x23, 0x24: // global.get, global.set
			if err := w.checkGlobal(r.u32()); err != nil && r.err == nil {
				return nil, err
			}
			continue
		case 0xd2: // ref.func
			idx := r.u32()
			if err := w.checkFunc(idx); err != nil && r.err == nil {
				return nil, err
			}
			flush(at)
			out = appendU32(append(out, op), w.ref(idx))
			last = r.off
			continue
		case 0x10, 0x12: // call, return_call
			idx := r.u32()
			if err := w.checkFunc(idx); err != nil && r.err == nil {
				return nil, err
			}
			flush(at)
			switch {
			case !pass:
				out = appendU32(append(out, op), w.fn(idx))
			case idx < w.importedFuncs: // a host function
				out = append(out, w.fc.spill...)
				out = appendU32(append(out, 0x10), idx)
				out = append(out, w.fc.reload...)
				if op == 0x12 {
					exit()
				}
			default:
				out = appendU32(append(out, 0x20), w.fuelIn) // local.get fuel
				out = appendU32(append(out, op), w.fn(idx))
				if op == 0x10 {
					out = appendU32(append(out, 0x21), w.fuelIn) // local.set fuel
				}
			}
			last = r.off
			continue
		case 0x11, 0x13: // call_indirect, return_call_indirect
			typ, table := r.u32(), r.u32()
			if r.err != nil {
				return nil, r.err
			}
			if typ >= uint32(len(w.types)) {
				// The rewrite adds types: one this index would name.
				return nil, fmt.Errorf("call_indirect at offset %d: type %d of %d", at, typ, len(w.types))
			}
			if !pass {
				continue
			}
			flush(at)
			if !w.extTables { // as a call to a host function
				out = append(out, w.fc.spill...)
				out = appendU32(appendU32(append(out, 0x11), typ), table)
				out = append(out, w.fc.reload...)
				if op == 0x13 {
					exit()
				}
				last = r.off
				continue
			}
			// The fuel goes under the table index.
			out = appendU32(append(out, 0x21), w.scratch) // local.set scratch
			out = appendU32(append(out, 0x20), w.fuelIn)  // local.get fuel
			out = appendU32(append(out, 0x20), w.scratch) // local.get scratch
			out = appendU32(appendU32(append(out, op), w.extended(typ)), table)
			if op == 0x11 {
				out = appendU32(append(out, 0x21), w.fuelIn) // local.set fuel
			}
			last = r.off
			continue
		case 0x0f: // return
			if pass {
				flush(at)
				exit()
				last = r.off
			}
			continue
		case 0x06, 0x07, 0x08, 0x09, 0x18, 0x19, 0x14, 0x15: // exception handling, call_ref, return_call_ref
			if pass {
				return nil, fmt.Errorf("unsupported instruction %#x at offset %d: exception handling and typed function references are not supported", op, at)
			}
			switch op {
			case 0x06: // try
				depth++
				w.push(false)
			case 0x18: // delegate, which ends a try
				depth--
				if n := len(w.frames); n > 0 {
					w.frames = w.frames[:n-1]
				}
			}
		case 0x0c, 0x0d: // br, br_if
			l := r.u32()
			if r.err != nil {
				return nil, r.err
			}
			if err := w.checkLabel(l, at); err != nil {
				return nil, err
			}
			if pass && !w.enclose && l == uint32(len(w.frames)) {
				// Out of the function: the fuel goes after the results.
				flush(at)
				if op == 0x0d { // and under the condition
					out = appendU32(append(out, 0x21), w.scratch) // local.set scratch
					out = appendU32(append(out, 0x20), w.fuelIn)  // local.get fuel
					out = appendU32(append(out, 0x20), w.scratch) // local.get scratch
				} else {
					out = appendU32(append(out, 0x20), w.fuelIn) // local.get fuel
				}
				out = appendU32(append(out, op), w.relabel(l))
				if op == 0x0d {
					out = append(out, 0x1a) // drop: not taken, the fuel stays
				}
				last = r.off
				continue
			}
			w.labels = append(w.labels[:0], l)
			branch(at, op, w.labels)
			continue
		case 0x0e: // br_table
			w.labels = w.labels[:0]
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				w.labels = append(w.labels, r.u32())
			}
			w.labels = append(w.labels, r.u32())
			if r.err != nil {
				return nil, r.err
			}
			for _, l := range w.labels {
				if err := w.checkLabel(l, at); err != nil {
					return nil, err
				}
			}
			if pass && !w.enclose && slices.Contains(w.labels, uint32(len(w.frames))) {
				return nil, errEnclose
			}
			branch(at, op, w.labels)
			continue
		case 0xfc:
			sub := r.u32()
			switch sub {
			case 8, 10, 11, 12, 14, 17: // memory.init/copy/fill, table.init/copy/fill
				if fuel {
					flush(at)
					out = append(out, w.fc.charge...)
				}
			}
			r.skipFC(sub)
			continue
		case 0x02, 0x04: // block, if
			if err := w.checkBlockType(r.blockType(), at); err != nil && r.err == nil {
				return nil, err
			}
			depth++
			w.push(false)
			continue
		case 0x0b: // end
			if depth == 0 {
				if one {
					return append(out, r.b[last:r.off]...), r.err
				}
				if pass { // return the fuel, after the block enclosing the body
					flush(at)
					if w.enclose {
						out = append(out, 0x0b)
					}
					out = appendU32(append(out, 0x20), w.fuelIn)
				}
			}
			depth--
			if n := len(w.frames); n > 0 {
				if w.frames[n-1].wrapped {
					flush(at)
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

// funcTypes reads the type section.
func (r *reader) funcTypes() []funcType {
	n := r.count()
	types := make([]funcType, 0, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		if form := r.byte(); form != 0x60 {
			r.fail(fmt.Errorf("malformed wasm module: type %d has unsupported form %#x", i, form))
			break
		}
		params := r.bytes(int(r.count()))
		results := r.bytes(int(r.count()))
		types = append(types, funcType{params: params, results: results})
	}
	r.end()
	return types
}
func (r *reader) s33() { r.leb(5) }

// s33v reads a block type: negative for an empty or value type, else a type
// index.
// blockType reads a block type, a signed LEB128 of up to 33 bits, as the
// validator reads it: a negative value is a value type or none, however
// many bytes encode it; a non-negative one indexes a type.
func (r *reader) blockType() int64 {
	var v int64
	for shift := 0; shift < 35; shift += 7 {
		b := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(b&0x7f) << shift
		if b&0x80 == 0 {
			if b&0x40 != 0 {
				v |= -1 << (shift + 7) // sign extension
			}
			return v
		}
	}
	r.fail(errors.New("malformed wasm module: a block type of more than 5 bytes"))
	return 0
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
