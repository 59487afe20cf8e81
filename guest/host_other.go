//go:build !wasip1

package guest

import (
	"unsafe"

	"github.com/wasmlambda/lambda/internal/abi"
)

// Outside wasip1 there is no host: the built-in host functions fail, and
// hostResult has nothing to fetch. They are variables so that the SDK's own
// tests can stand in for the host.
var (
	settingsGet HostFunc = noHost
	logRecord   HostFunc = noHost
	streamWrite HostFunc = notStreamed
	hostResult           = func(out *byte, outCap uint32) int32 { return -1 }
)

// noHost is the host function a program that is not a wasmlambda guest
// calls: it fails.
func noHost(_ *byte, _ uint32, out *byte, outCap uint32, outLen *uint32) uint32 {
	const msg = "wasmlambda/guest: no host function: the program is not running in wasmlambda"
	*outLen = uint32(len(msg))
	if outCap >= uint32(len(msg)) {
		copy(unsafe.Slice(out, outCap), msg)
	}
	return abi.HostError
}

// notStreamed is wasmlambda_stream.write where there is no host: no
// invocation has a stream.
func notStreamed(_ *byte, _ uint32, out *byte, outCap uint32, outLen *uint32) uint32 {
	*outLen = uint32(len(abi.ErrNotStreamed))
	if outCap >= uint32(len(abi.ErrNotStreamed)) {
		copy(unsafe.Slice(out, outCap), abi.ErrNotStreamed)
	}
	return abi.HostError
}
