package wasm

import "fmt"

// maxPages is the most memory a wasm32 module can address: 4 GiB. It is
// the maximum wazero is given, so that every grow below it reaches the
// allocator, which enforces the function's own limit (see limiter).
const maxPages = 65536

// limiter is one instance's memory limit, enforced by its allocator rather
// than by wazero. wazero refuses a memory.grow past its own maximum before it
// asks the allocator, and says nothing about it; the allocator sees every
// grow up to maxPages, so it can refuse one past the limit and remember it.
// A trap or an exit after a refused grow is the guest running out of memory,
// however much it asked for at once.
//
// An instance's calls run one at a time, and refused is read after the call
// that set it, so it needs no lock.
type limiter struct {
	// limit is the most linear memory the guest may have, in bytes.
	limit uint64
	// refused is set when a grow passed limit.
	refused bool
}

// allows reports whether memory may grow to size bytes, and records a
// refusal.
func (l *limiter) allows(size uint64) bool {
	if size > l.limit {
		l.refused = true
		return false
	}
	return true
}

// sliceMemory is wazero's usual memory, a Go slice grown by copying, with
// the limit enforced.
type sliceMemory struct {
	lim *limiter
	b   []byte
}

func (m *sliceMemory) Reallocate(size uint64) []byte {
	if !m.lim.allows(size) {
		return nil
	}
	if size > uint64(cap(m.b)) {
		nb := make([]byte, size, min(max(size, 2*uint64(cap(m.b))), m.lim.limit))
		copy(nb, m.b)
		m.b = nb
	}
	m.b = m.b[:size]
	return m.b
}

func (m *sliceMemory) Free() { m.b = nil }

// secMemory is the memory section's id.
const secMemory = 5

// memoryPages is the initial size, in pages, of the memory code defines, 0
// without one. A malformed section is for the compiler to report.
func memoryPages(code []byte) uint64 {
	r := reader{b: code, off: 8}
	for r.off < len(r.b) && r.err == nil {
		id := r.byte()
		body := r.bytes(int(r.u32()))
		if id != secMemory {
			continue
		}
		sr := reader{b: body}
		most := uint64(0)
		for n := sr.count(); n > 0 && sr.err == nil; n-- {
			flags := sr.byte()
			pages := sr.leb(10)
			if flags&1 != 0 {
				sr.leb(10) // maximum
			}
			if sr.err == nil {
				most = max(most, pages)
			}
		}
		return most
	}
	return 0
}

// checkMemory refuses a module whose memory starts at pages, above the
// limit: the allocator could not give it its first pages. (wazero, whose
// maximum is maxPages, would let it through.)
func (m *Module) checkMemory(pages uint64) error {
	if pages > uint64(m.limitPages) {
		return fmt.Errorf("the module's memory starts at %d pages of 64 KiB, over the limit of %d pages (%d MiB)",
			pages, m.limitPages, m.limitBytes()>>20)
	}
	return nil
}

// limitBytes is the memory limit in bytes.
func (m *Module) limitBytes() uint64 { return uint64(m.limitPages) * PageSize }
