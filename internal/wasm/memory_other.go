//go:build !linux

package wasm

import (
	"context"

	"github.com/tetratelabs/wazero/experimental"
)

// withMemory gives the instance a Go slice that grows by copying, within
// lim.
func withMemory(ctx context.Context, lim *limiter) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(capacity, _ uint64) experimental.LinearMemory {
		return &sliceMemory{lim: lim, b: make([]byte, 0, min(capacity, lim.limit))}
	}))
}
