//go:build !wasip1

package hosthttp

import (
	"unsafe"

	"github.com/wasmlambda/lambda/internal/abi"
)

// Outside wasip1 there is no host: request fails. It is a variable so that
// the package's tests can stand in for the host.
var request = noHost

// noHost is the host function a program that is not a wasmlambda guest
// calls: it fails.
func noHost(_ *byte, _ uint32, out *byte, outCap uint32, outLen *uint32) uint32 {
	const msg = "wasmlambda/guest/hosthttp: no host: the program is not running in wasmlambda"
	*outLen = uint32(len(msg))
	if outCap >= uint32(len(msg)) {
		copy(unsafe.Slice(out, outCap), msg)
	}
	return abi.HostError
}
