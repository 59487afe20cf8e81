//go:build wasip1

package guest

import (
	"unsafe"

	"github.com/wasmlambda/lambda/internal/abi"
)

// The globals below keep what the host reads alive and in place: Go's
// garbage collector does not move objects, and these references keep it from
// freeing them.
var (
	// envelopeBuf is the buffer wasmlambda_v1_alloc hands out.
	envelopeBuf []byte
	// resultPayload is the payload of the last result record.
	resultPayload []byte
	// resultRecord is the last result record.
	resultRecord [abi.ResultSize]byte
)

// maxAlloc bounds wasmlambda_v1_alloc: a larger request gets 0, the ABI's
// "cannot", rather than a fatal out-of-memory error.
const maxAlloc = 1 << 31

// addr is the linear-memory address of b's first byte, or 0 if b has none.
func addr(b []byte) uint32 {
	if cap(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// wasmAlloc is the ABI v1 export wasmlambda_v1_alloc: it returns the address
// of a buffer of at least size bytes, valid until its next call, or 0 when it
// cannot provide one.
//
//go:wasmexport wasmlambda_v1_alloc
func wasmAlloc(size uint32) uint32 {
	if size >= maxAlloc {
		return 0
	}
	if uint32(cap(envelopeBuf)) < size || cap(envelopeBuf) == 0 {
		envelopeBuf = nil // let the collector reclaim the old buffer first
		envelopeBuf = make([]byte, max(size, 1))
	}
	return addr(envelopeBuf)
}

// wasmInvoke is the ABI v1 export wasmlambda_v1_invoke: it serves the
// request envelope at [ptr, ptr+n) and returns the address of the result
// record, which, with its payload, stays valid until the next call.
//
//go:wasmexport wasmlambda_v1_invoke
func wasmInvoke(ptr, n uint32) uint32 {
	var (
		status  abi.Status
		payload []byte
	)
	resultPayload = nil // the host has copied the previous result out
	if envelope, err := envelopeView(envelopeBuf, addr(envelopeBuf), ptr, n); err != nil {
		status, payload = sdkError(errTypeInvalidEnvelope, err.Error())
	} else {
		status, payload = invokeEnvelope(envelope)
	}
	resultPayload = payload
	abi.EncodeResult(resultRecord[:], status, addr(payload), uint32(len(payload)))
	return addr(resultRecord[:])
}

// wasmShutdown is the export wasmlambda_v1_shutdown, which the host calls
// when it closes a healthy warm instance: it runs the callbacks of
// WithEnableSIGTERM, as aws-lambda-go runs them on SIGTERM.
//
//go:wasmexport wasmlambda_v1_shutdown
func wasmShutdown() { runShutdownHooks() }
