//go:build linux

package wasm

import (
	"context"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// withMemory makes the instance's linear memory one anonymous mapping of its
// maximum size, reserved up front and committed by the kernel as pages are
// touched. Growing it is then free: nothing is copied, however large the
// guest grows, and the memory is never part of the Go heap, so it costs the
// garbage collector nothing. Freeing it returns it to the system at once.
//
// Wazero frees a memory only when its module is closed, and the host closes
// a module only when no call is running in it, so no guest code can touch a
// mapping after it is gone.
func withMemory(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(allocate))
}

func allocate(capacity, max uint64) experimental.LinearMemory {
	if max > 0 && max <= 1<<32 {
		b, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_READ|syscall.PROT_WRITE,
			syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
		if err == nil {
			return &mapping{b: b}
		}
	}
	return &sliceMemory{max: max, b: make([]byte, 0, capacity)}
}

// sliceMemory is wazero's usual memory, a Go slice grown by copying, for
// when the mapping cannot be made.
type sliceMemory struct {
	max uint64
	b   []byte
}

func (m *sliceMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if size > uint64(cap(m.b)) {
		nb := make([]byte, size, max(size, 2*uint64(cap(m.b))))
		copy(nb, m.b)
		m.b = nb
	}
	m.b = m.b[:size]
	return m.b
}

func (m *sliceMemory) Free() { m.b = nil }

type mapping struct{ b []byte }

func (m *mapping) Reallocate(size uint64) []byte {
	if m.b == nil || size > uint64(len(m.b)) {
		return nil
	}
	return m.b[:size]
}

func (m *mapping) Free() {
	if m.b != nil {
		_ = syscall.Munmap(m.b)
		m.b = nil
	}
}
