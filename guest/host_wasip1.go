//go:build wasip1

package guest

// The ABI's own import: it fetches an output too large for the buffer
// CallHost gave.
//
//go:wasmimport wasmlambda_v1 host_result
func hostResult(out *byte, outCap uint32) int32

// The built-in host functions. The linker keeps an import only when the
// program can call it, so a guest imports them only when it uses them.

//go:wasmimport wasmlambda_settings get
func settingsGet(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

//go:wasmimport wasmlambda_log log
func logRecord(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

//go:wasmimport wasmlambda_stream write
func streamWrite(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32
