//go:build wasip1

package hosthttp

// The built-in host function that makes a request (docs/ABI.md).
//
//go:wasmimport wasmlambda_http request
func request(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32
