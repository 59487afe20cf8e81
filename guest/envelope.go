package guest

import "fmt"

// envelopeView returns the n bytes at address ptr, which must lie within buf,
// the buffer wasmlambda_v1_alloc handed out, found at address base. The host
// writes every envelope there, so the guest never reads memory it does not
// own.
func envelopeView(buf []byte, base, ptr, n uint32) ([]byte, error) {
	buf = buf[:cap(buf)]
	off := uint64(ptr) - uint64(base)
	if ptr < base || off+uint64(n) > uint64(len(buf)) {
		return nil, fmt.Errorf("envelope [%#x, %#x) lies outside the %d-byte buffer at %#x from wasmlambda_v1_alloc",
			ptr, uint64(ptr)+uint64(n), len(buf), base)
	}
	return buf[off : off+uint64(n) : off+uint64(n)], nil
}
