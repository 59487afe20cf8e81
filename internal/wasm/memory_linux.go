//go:build linux

package wasm

import (
	"context"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// withMemory makes the instance's linear memory one anonymous mapping of its
// maximum size (its limit, or the module's own smaller maximum), reserved up
// front and committed by the kernel as pages are touched. Growing it is then
// free: nothing is copied, however large the guest grows, and the memory is
// never part of the Go heap, so it costs the garbage collector nothing.
// Freeing it returns it to the system at once. A grow past lim is refused
// and recorded in lim.
//
// Wazero frees a memory only when its module is closed, and the host closes
// a module only when no call is running in it, so no guest code can touch a
// mapping after it is gone.
func withMemory(ctx context.Context, lim *limiter) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(capacity, max uint64) experimental.LinearMemory {
		return allocate(capacity, max, lim)
	}))
}

func allocate(capacity, max uint64, lim *limiter) experimental.LinearMemory {
	size := min(max, lim.limit)
	if size > 0 && size <= 1<<32 {
		b, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE,
			syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
		if err == nil {
			return &mapping{b: b, lim: lim}
		}
	}
	return &sliceMemory{lim: lim, b: make([]byte, 0, min(capacity, lim.limit))}
}

type mapping struct {
	b   []byte
	lim *limiter
}

func (m *mapping) Reallocate(size uint64) []byte {
	if !m.lim.allows(size) || m.b == nil || size > uint64(len(m.b)) {
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
