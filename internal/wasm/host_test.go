package wasm

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/abi"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// hostModule compiles code with host as its one granted host module.
func hostModule(t *testing.T, code []byte, cfg Config) *Module {
	t.Helper()
	cache, err := testCache()
	require.NoError(t, err)
	cfg.Code, cfg.MemoryLimitPages, cfg.Cache = code, testMemoryPages, cache
	m, err := Compile(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

func acme(fn HostFunc) []HostModule {
	return []HostModule{{Name: "acme", Funcs: map[string]HostFunc{"lookup": fn}}}
}

func echoHost(_ context.Context, in []byte) ([]byte, error) { return in, nil }

func TestHostImportsChecked(t *testing.T) {
	code := testguest.WAT(t, "hostimport")
	badSig := wat(t, `(module
  (import "acme" "lookup" (func (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "wasmlambda_v1_alloc") (param i32) (result i32) (i32.const 0))
  (func (export "wasmlambda_v1_invoke") (param i32 i32) (result i32) (i32.const 0)))`)
	badABI := wat(t, `(module
  (import "wasmlambda_v1" "host_call" (func (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "wasmlambda_v1_alloc") (param i32) (result i32) (i32.const 0))
  (func (export "wasmlambda_v1_invoke") (param i32 i32) (result i32) (i32.const 0)))`)
	other := []HostModule{{Name: "acme", Funcs: map[string]HostFunc{"store": echoHost, "fetch": echoHost}}}
	tests := []struct {
		name      string
		code      []byte
		host      []HostModule
		ungranted []string
		err       string // what the error contains; empty: it compiles
		ungrant   bool   // the error is an *UngrantedError
	}{
		{name: "granted", code: code, host: acme(echoHost)},
		{name: "granted, others ungranted", code: code, host: acme(echoHost), ungranted: []string{"other", "wasmlambda_log"}},
		{name: "ungranted", code: code, ungranted: []string{"wasmlambda_log", "acme"}, err: "unsupported import acme.lookup: host module acme is not granted", ungrant: true},
		{name: "unknown module", code: code, ungranted: []string{"other"}, err: "unsupported import acme.lookup: no host module acme is registered"},
		{name: "unknown function", code: code, host: other, err: "unsupported import acme.lookup: host module acme has no function lookup (it has fetch, store)"},
		{name: "signature", code: badSig, host: acme(echoHost), err: "unsupported import acme.lookup: signature (i32, i32) -> (i32), want (i32, i32, i32, i32, i32) -> (i32)"},
		{name: "unknown ABI import", code: badABI, err: "unsupported import wasmlambda_v1.host_call: wasmlambda_v1 provides only host_result"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache, err := testCache()
			require.NoError(t, err)
			m, err := Compile(context.Background(), Config{Code: tt.code, MemoryLimitPages: testMemoryPages, Cache: cache, Host: tt.host, Ungranted: tt.ungranted})
			if tt.err == "" {
				require.NoError(t, err)
				require.True(t, m.hasHost)
				require.NoError(t, m.Close(context.Background()))
				return
			}
			require.ErrorContains(t, err, tt.err)
			var ue *UngrantedError
			require.Equal(t, tt.ungrant, errors.As(err, &ue))
			if tt.ungrant {
				require.Equal(t, UngrantedError{Module: "acme", Name: "lookup"}, *ue)
			}
		})
	}
}

type ctxKey struct{}

func TestHostCall(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 1000) // over the guest's 64-byte buffer
	type panicked struct {
		module, name string
		value        any
		stack        string
	}
	var (
		mu     sync.Mutex
		panics []panicked
	)
	lookup := func(ctx context.Context, in []byte) ([]byte, error) {
		switch string(in) {
		case "ctx":
			return []byte(ctx.Value(ctxKey{}).(string)), nil
		case "big":
			return big, nil
		case "empty":
			return nil, nil
		case "fail":
			return nil, errors.New("no such record")
		case "panic":
			panic("host bug")
		}
		in[0] = 'X' // the input is the host function's own copy
		return in, nil
	}
	tests := []struct {
		payload string
		status  abi.Status
		out     []byte
	}{
		{"hello", abi.StatusOK, []byte("Xello")},
		{"ctx", abi.StatusOK, []byte("tenant-7")},
		{"big", abi.StatusOK, big},
		{"empty", abi.StatusOK, []byte{}},
		{"fail", abi.StatusError, []byte("no such record")},
		{"panic", abi.StatusError, []byte("host function acme.lookup panicked")},
		{"hello again", abi.StatusOK, []byte("Xello again")}, // still warm after the panic
	}
	for _, inline := range []bool{false, true} {
		t.Run(map[bool]string{false: "goroutine", true: "inline"}[inline], func(t *testing.T) {
			panics = nil
			host := acme(lookup)
			host[0].Inline = inline
			m := hostModule(t, testguest.WAT(t, "hostimport"), Config{
				Host: host,
				HostPanic: func(_ context.Context, module, name string, v any, stack []byte) {
					mu.Lock()
					defer mu.Unlock()
					panics = append(panics, panicked{module, name, v, string(stack)})
				},
			})
			in, err := m.Instantiate(context.Background(), InstanceConfig{})
			require.NoError(t, err)
			defer in.Close(context.Background())
			for _, tt := range tests {
				t.Run(tt.payload, func(t *testing.T) {
					ctx := context.WithValue(context.Background(), ctxKey{}, "tenant-7")
					ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					defer cancel()
					status, out, _, err := in.Invoke(ctx, &abi.Request{RequestID: "r1", Payload: []byte(tt.payload)}, 1<<20)
					require.NoError(t, err)
					require.Equal(t, tt.status, status)
					require.Equal(t, tt.out, out)
				})
			}
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, panics, 1)
			require.Equal(t, "acme", panics[0].module)
			require.Equal(t, "lookup", panics[0].name)
			require.Equal(t, "host bug", panics[0].value)
			require.Contains(t, panics[0].stack, "host_test.go")
		})
	}
}

// TestHostCallInterrupted: a host function that ignores its context does
// not hold the guest past the context's end: the call faults, with the
// deadline or the cancellation, while the host function still runs.
func TestHostCallInterrupted(t *testing.T) {
	tests := []struct {
		name   string
		cancel bool
		kind   FaultKind
	}{
		{"deadline", false, FaultDeadline},
		{"canceled", true, FaultCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			entered := make(chan context.Context, 1)
			returned := make(chan struct{})
			m := hostModule(t, testguest.WAT(t, "hostimport"), Config{Host: acme(func(ctx context.Context, in []byte) ([]byte, error) {
				defer close(returned)
				entered <- ctx
				<-release // ignores ctx
				return in, nil
			})})
			in, err := m.Instantiate(context.Background(), InstanceConfig{})
			require.NoError(t, err)
			defer in.Close(context.Background())
			defer func() { close(release); <-returned }()

			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if tt.cancel {
				ctx, cancel = context.WithCancel(context.Background())
				defer cancel()
				go func() {
					<-entered
					cancel()
				}()
			}
			if !within(t, 10*time.Second, "Invoke", func() {
				_, _, _, err = in.Invoke(ctx, &abi.Request{Payload: []byte("x")}, 1<<20)
			}) {
				return
			}
			requireFault(t, err, tt.kind)
			select {
			case <-returned:
				t.Fatal("the host function returned before it was released")
			default:
			}
			if !tt.cancel {
				hctx := <-entered
				require.Error(t, hctx.Err(), "the host function's context ends with the call's")
			}
		})
	}
}

// TestHostCallOutsideMemory: a guest that hands a host function memory it
// does not have traps; the host function never runs.
func TestHostCallOutsideMemory(t *testing.T) {
	tests := []struct {
		name, args, detail string
	}{
		{"input", "(i32.const 0xFFFFFF00) (i32.const 1024) (i32.const 0) (i32.const 64) (i32.const 128)", "its input [0xffffff00, +1024) lies outside memory"},
		{"output", "(i32.const 0) (i32.const 4) (i32.const 0xFFFFFFF0) (i32.const 64) (i32.const 128)", "its output [0xfffffff0, +4) lies outside memory"},
		{"output length", "(i32.const 0) (i32.const 4) (i32.const 0) (i32.const 64) (i32.const 0xFFFFFFFE)", "its output length [0xfffffffe, +4) lies outside memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := wat(t, `(module
  (import "acme" "lookup" (func $lookup (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "wasmlambda_v1_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "wasmlambda_v1_invoke") (param i32 i32) (result i32)
    (drop (call $lookup `+tt.args+`))
    (i32.const 16)))`)
			calls := 0
			m := hostModule(t, code, Config{Host: acme(func(_ context.Context, in []byte) ([]byte, error) {
				calls++
				return in, nil
			})})
			in, err := m.Instantiate(context.Background(), InstanceConfig{})
			require.NoError(t, err)
			defer in.Close(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _, _, err = in.Invoke(ctx, &abi.Request{}, 1<<20)
			f := requireFault(t, err, FaultTrap)
			require.Equal(t, "host function acme.lookup: "+tt.detail, f.Detail)
			require.Equal(t, !strings.HasPrefix(tt.name, "input"), calls == 1)
		})
	}
}

// TestHostResultNothingHeld: host_result without a held output returns -1
// and copies nothing.
func TestHostResultNothingHeld(t *testing.T) {
	code := wat(t, `(module
  (import "wasmlambda_v1" "host_result" (func $host_result (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "wasmlambda_v1_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "wasmlambda_v1_invoke") (param i32 i32) (result i32)
    (i32.store (i32.const 32) (call $host_result (i32.const 64) (i32.const 100)))
    (i32.store (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 32))
    (i32.store (i32.const 24) (i32.const 4))
    (i32.const 16)))`)
	m := hostModule(t, code, Config{})
	in, err := m.Instantiate(context.Background(), InstanceConfig{})
	require.NoError(t, err)
	defer in.Close(context.Background())
	_, out, _, err := in.Invoke(context.Background(), &abi.Request{}, 1<<20)
	require.NoError(t, err)
	require.Equal(t, []byte{0xff, 0xff, 0xff, 0xff}, out)
}
