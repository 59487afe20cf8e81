// Package uuid makes random UUIDs (version 4, RFC 9562), the form of AWS's
// request IDs, event IDs and message IDs.
package uuid

import (
	"encoding/hex"
	"math/rand/v2"
)

// New returns a random UUID (version 4) in its 36-character text form. Its
// randomness is math/rand/v2's, seeded from the system: unique, not secret.
func New() string {
	var b [16]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		b[i], b[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
