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
// times their own run time. Instead, instrument rewrites the module, as
// wasmtime's epoch interruption compiles it: a mutable i32 global, exported as
// InterruptExport, is tested at every function entry and loop header, and a
// non-zero value traps with unreachable. The host sets it when the deadline
// passes. The test is a load, a compare and a branch.
//
// The rewrite also turns a start section into the export StartExport, so
// that the host runs it, like everything else, with the interrupt armed.

const (
	// InterruptExport is the exported global the host sets to interrupt.
	InterruptExport = "wasmlambda.interrupt"
	// StartExport is the former start function.
	StartExport = "wasmlambda.start"
)

const (
	secCustom   = 0
	secImport   = 2
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secCode     = 10
	secDataCnt  = 12
	secTag      = 13
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

// instrument returns code with interruption checks; see above.
func instrument(code []byte) ([]byte, error) {
	if len(code) < 8 || string(code[:4]) != "\x00asm" {
		return nil, errors.New("not a wasm binary: bad magic number")
	}
	if binary.LittleEndian.Uint32(code[4:8]) != 1 {
		return nil, fmt.Errorf("unsupported wasm binary version %d", binary.LittleEndian.Uint32(code[4:8]))
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

	var importedGlobals, definedGlobals uint32
	startFunc := int64(-1)
	for _, s := range secs {
		switch s.id {
		case secImport:
			n, err := countImportedGlobals(s.body)
			if err != nil {
				return nil, err
			}
			importedGlobals = n
		case secGlobal:
			sr := reader{b: s.body}
			definedGlobals = sr.u32()
			if sr.err != nil {
				return nil, sr.err
			}
		case secStart:
			sr := reader{b: s.body}
			startFunc = int64(sr.u32())
			if sr.err != nil {
				return nil, sr.err
			}
		case secExport:
			if hasExport(s.body, InterruptExport) || hasExport(s.body, StartExport) {
				return nil, fmt.Errorf("the module already exports %s or %s, names the runtime reserves", InterruptExport, StartExport)
			}
		}
	}
	global := importedGlobals + definedGlobals
	check := appendU32([]byte{0x23}, global)      // global.get
	check = append(check, 0x04, 0x40, 0x00, 0x0b) // if; unreachable; end

	out := make([]byte, 0, len(code)+len(code)/16+64)
	out = append(out, code[:8]...)
	var haveGlobal, haveExport bool
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	newGlobal := []byte{0x7f, 0x01, 0x41, 0x00, 0x0b} // mut i32 = i32.const 0
	exports := func(prefix []byte, count uint32) []byte {
		count++
		if startFunc >= 0 {
			count++
		}
		b := appendU32(nil, count)
		b = append(b, prefix...)
		b = appendName(b, InterruptExport)
		b = append(b, externGlobl)
		b = appendU32(b, global)
		if startFunc >= 0 {
			b = appendName(b, StartExport)
			b = append(b, 0x00)
			b = appendU32(b, uint32(startFunc))
		}
		return b
	}
	// before emits the sections this rewrite adds that belong before rank.
	before := func(rank int) {
		if !haveGlobal && rank > sectionRank(secGlobal) {
			emit(secGlobal, append([]byte{1}, newGlobal...))
			haveGlobal = true
		}
		if !haveExport && rank > sectionRank(secExport) {
			emit(secExport, exports(nil, 0))
			haveExport = true
		}
	}
	for _, s := range secs {
		if s.id != secCustom {
			before(sectionRank(s.id))
		}
		switch s.id {
		case secCustom:
			sr := reader{b: s.body}
			if name := sr.name(); sr.err == nil && strings.HasPrefix(name, ".debug_") {
				continue // DWARF offsets no longer match the code.
			}
			emit(s.id, s.body)
		case secGlobal:
			sr := reader{b: s.body}
			n := sr.u32()
			b := appendU32(nil, n+1)
			b = append(b, s.body[sr.off:]...)
			emit(s.id, append(b, newGlobal...))
			haveGlobal = true
		case secExport:
			sr := reader{b: s.body}
			n := sr.u32()
			emit(s.id, exports(s.body[sr.off:], n))
			haveExport = true
		case secStart:
			// Dropped: the host calls StartExport after instantiation.
		case secCode:
			body, err := instrumentCode(s.body, check)
			if err != nil {
				return nil, err
			}
			emit(s.id, body)
		default:
			emit(s.id, s.body)
		}
	}
	before(1 << 30)
	return out, nil
}

func countImportedGlobals(b []byte) (uint32, error) {
	r := reader{b: b}
	n := r.u32()
	var globals uint32
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // func: type index
			r.u32()
		case 0x01: // table: reftype, limits
			r.byte()
			r.limits()
		case 0x02: // memory: limits
			r.limits()
		case externGlobl: // global: valtype, mut
			r.byte()
			r.byte()
			globals++
		case 0x04: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			return 0, fmt.Errorf("import %d: unknown kind %#x", i, kind)
		}
	}
	return globals, r.err
}

func hasExport(b []byte, name string) bool {
	r := reader{b: b}
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		if r.name() == name {
			return true
		}
		r.byte()
		r.u32()
	}
	return false
}

// instrumentCode inserts check at the start of every function body and
// after every loop's block type.
func instrumentCode(b []byte, check []byte) ([]byte, error) {
	r := reader{b: b}
	n := r.u32()
	out := appendU32(make([]byte, 0, len(b)+len(b)/16), n)
	var body []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		fn := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, r.err)
		}
		var err error
		body, err = instrumentBody(body[:0], fn, check)
		if err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, err)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out, nil
}

func instrumentBody(out, fn, check []byte) ([]byte, error) {
	r := reader{b: fn}
	groups := r.u32()
	for i := uint32(0); i < groups; i++ {
		r.u32()
		r.byte()
	}
	if r.err != nil {
		return nil, r.err
	}
	out = append(out, fn[:r.off]...)
	out = append(out, check...)
	last := r.off
	for r.off < len(r.b) && r.err == nil {
		op := r.byte()
		if op == 0x03 { // loop
			r.s33()
			out = append(out, fn[last:r.off]...)
			out = append(out, check...)
			last = r.off
			continue
		}
		if err := r.skipImmediates(op); err != nil {
			return nil, err
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return append(out, fn[last:]...), nil
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
	case op == 0x10 || op == 0x12 || op == 0x14 || op == 0x15: // call, return_call, call_ref, return_call_ref
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
	case op == 0xd2: // ref.func
		r.u32()
	case op == 0xfc:
		r.skipFC(r.u32())
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
func (r *reader) s33()        { r.leb(5) }
func (r *reader) s64()        { r.leb(10) }

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
