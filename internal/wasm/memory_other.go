//go:build !linux

package wasm

import "context"

// withMemory leaves linear memory to wazero's default: a Go slice that grows
// by copying.
func withMemory(ctx context.Context) context.Context { return ctx }
