// Command bare is the floor of a Go echo through ABI v1: the two exports
// written by hand with //go:wasmexport, no SDK, no context, no JSON. It
// finds the payload, the envelope's last field, copies it into a slice it
// allocates, as any handler that builds its response does, and returns it.
// The benchmarks call it through raw wazero, beside the SDK's guests.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bare.wasm ./testdata/guests/go/bare
package main

import (
	"encoding/binary"
	"unsafe"
)

var (
	// buf is the envelope buffer wasmlambda_v1_alloc hands out.
	buf []byte
	// out is the last response, kept alive until the host has copied it.
	out []byte
	// record is the result record.
	record [12]byte
)

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

//go:wasmexport wasmlambda_v1_alloc
func alloc(size uint32) uint32 {
	if uint32(cap(buf)) < size || cap(buf) == 0 {
		buf = make([]byte, max(size, 1))
	}
	return addr(buf)
}

//go:wasmexport wasmlambda_v1_invoke
func invoke(ptr, n uint32) uint32 {
	le := binary.LittleEndian
	env := buf[ptr-addr(buf) : ptr-addr(buf)+n]
	off := uint32(20) // the header
	for range 6 {     // request ID to identity
		off += 4 + le.Uint32(env[off:])
	}
	size := le.Uint32(env[off:])
	out = make([]byte, size)
	copy(out, env[off+4:])
	le.PutUint32(record[0:], 0)
	le.PutUint32(record[4:], addr(out))
	le.PutUint32(record[8:], size)
	return addr(record[:])
}

func main() {}
