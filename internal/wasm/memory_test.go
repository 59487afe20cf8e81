package wasm

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/abi"
)

// limitPages is the memory limit of these tests: 4 MiB.
const limitPages = 64

// reactor is an ABI v1 module of one page whose invoke runs body and then
// returns status 0 with an empty payload. $n counts the calls, from 1.
func reactor(t *testing.T, body string) *Module {
	t.Helper()
	src := fmt.Sprintf(`(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $n (mut i32) (i32.const 0))
  (func (export "wasmlambda_v1_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "wasmlambda_v1_invoke") (param i32 i32) (result i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    %s
    (i32.const 0)))`, body)
	m, err := Compile(context.Background(), Config{Code: wat(t, src), MemoryLimitPages: limitPages})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// TestOutOfMemoryIsARefusedGrow: a trap is out of memory when the limit
// refused a grow during the call, however far below the limit the memory
// still is, and only then: memory at the limit, all of it granted, is not.
func TestOutOfMemoryIsARefusedGrow(t *testing.T) {
	tests := []struct {
		name string
		body string
		kind FaultKind // 0: no fault
		// pages is the memory's size after the call.
		pages uint64
	}{
		{"a large grow refused, then a trap", `(drop (memory.grow (i32.const 100))) unreachable`, FaultOutOfMemory, 1},
		{"grown to the limit, then refused", `(drop (memory.grow (i32.const 63))) (drop (memory.grow (i32.const 1))) unreachable`, FaultOutOfMemory, limitPages},
		{"grown to the limit, then a trap", `(drop (memory.grow (i32.const 63))) unreachable`, FaultTrap, limitPages},
		{"grown to the limit", `(if (i32.eq (memory.grow (i32.const 63)) (i32.const -1)) (then unreachable))`, 0, limitPages},
		{"a refused grow the guest handles", `(if (i32.ne (memory.grow (i32.const 100)) (i32.const -1)) (then unreachable))`, 0, 1},
		{"an exit after a refused grow", `(drop (memory.grow (i32.const 100))) (call $exit (i32.const 2))`, FaultOutOfMemory, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := reactor(t, tt.body)
			in, err := m.Instantiate(context.Background(), InstanceConfig{})
			require.NoError(t, err)
			defer in.Close(context.Background())
			_, _, _, err = in.Invoke(context.Background(), &abi.Request{RequestID: "r1"}, 1<<20)
			if tt.kind == 0 {
				require.NoError(t, err)
			} else {
				requireFault(t, err, tt.kind)
			}
			require.Equal(t, tt.pages*PageSize, in.MemoryBytes())
		})
	}
}

// TestRefusedGrowIsPerInvocation: a refused grow the guest handled does not
// make a later invocation's trap out of memory.
func TestRefusedGrowIsPerInvocation(t *testing.T) {
	m := reactor(t, `(if (i32.eq (global.get $n) (i32.const 1))
      (then (drop (memory.grow (i32.const 100))))
      (else unreachable))`)
	in, err := m.Instantiate(context.Background(), InstanceConfig{})
	require.NoError(t, err)
	defer in.Close(context.Background())
	_, _, _, err = in.Invoke(context.Background(), &abi.Request{RequestID: "r1"}, 1<<20)
	require.NoError(t, err)
	_, _, _, err = in.Invoke(context.Background(), &abi.Request{RequestID: "r2"}, 1<<20)
	requireFault(t, err, FaultTrap)
}

// TestRunCommandMemory: a command's refused grow is out of memory too, and
// RunCommand reports the memory the command used.
func TestRunCommandMemory(t *testing.T) {
	tests := []struct {
		name  string
		start string
		kind  FaultKind
		code  uint32
		pages uint64
	}{
		{"grows and returns", `(drop (memory.grow (i32.const 10)))`, 0, 0, 11},
		{"grows and exits 3", `(drop (memory.grow (i32.const 10))) (call $exit (i32.const 3))`, 0, 3, 11},
		{"refused, then a trap", `(drop (memory.grow (i32.const 10))) (drop (memory.grow (i32.const 100))) unreachable`, FaultOutOfMemory, 0, 11},
		{"refused, then exits 2", `(drop (memory.grow (i32.const 100))) (call $exit (i32.const 2))`, FaultOutOfMemory, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := fmt.Sprintf(`(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") %s))`, tt.start)
			m, err := Compile(context.Background(), Config{Code: wat(t, src), MemoryLimitPages: limitPages})
			require.NoError(t, err)
			defer m.Close(context.Background())
			code, size, err := m.RunCommand(context.Background(), InstanceConfig{})
			if tt.kind == 0 {
				require.NoError(t, err)
			} else {
				requireFault(t, err, tt.kind)
			}
			require.Equal(t, tt.code, code)
			require.Equal(t, tt.pages*PageSize, size)
		})
	}
}

// TestMemoryAt4GiB: with a limit of 4 GiB or more, wazero's own maximum
// refuses a grow, out of the allocator's sight; memory within 1 MiB of it
// is then taken as out of memory. Growing costs nothing here: the pages are
// reserved, never touched.
func TestMemoryAt4GiB(t *testing.T) {
	src := `(module
  (memory (export "memory") 1)
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 65535)) (i32.const -1)) (then unreachable))
    (if (i32.ne (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
    unreachable))`
	m, err := Compile(context.Background(), Config{Code: wat(t, src), MemoryLimitPages: 2 * maxPages})
	require.NoError(t, err)
	defer m.Close(context.Background())
	_, size, err := m.RunCommand(context.Background(), InstanceConfig{})
	requireFault(t, err, FaultOutOfMemory)
	require.Equal(t, uint64(1)<<32, size)
}

// TestMemoryStartingOverTheLimit: a module whose memory starts above the
// limit is refused at compile time.
func TestMemoryStartingOverTheLimit(t *testing.T) {
	code := wat(t, `(module (memory (export "memory") 65) (func (export "_start")))`)
	_, err := Compile(context.Background(), Config{Code: code, MemoryLimitPages: limitPages})
	require.EqualError(t, err, "the module's memory starts at 65 pages of 64 KiB, over the limit of 64 pages (4 MiB)")
	m, err := Compile(context.Background(), Config{Code: code, MemoryLimitPages: 65})
	require.NoError(t, err)
	require.NoError(t, m.Close(context.Background()))
}

// TestSliceMemoryLimit: the fallback memory, a Go slice, keeps the limit.
func TestSliceMemoryLimit(t *testing.T) {
	lim := &limiter{limit: 4 * PageSize}
	m := &sliceMemory{lim: lim}
	require.Len(t, m.Reallocate(PageSize), PageSize)
	require.Len(t, m.Reallocate(4*PageSize), 4*PageSize)
	require.False(t, lim.refused)
	require.Nil(t, m.Reallocate(5*PageSize))
	require.True(t, lim.refused)
}
