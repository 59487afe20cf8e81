package guest

import (
	"encoding/binary"
	"math/bits"
)

// A fast path for JSON that encoding/json would only copy: a json.RawMessage
// event or response. encoding/json validates and compacts such a value with
// its scanner, a function call per byte, which in a Go guest compiled to
// WebAssembly costs some 100 ns a byte (all but a few microseconds of a
// 1 KiB json.RawMessage echo). The loops below do the same work without a
// call per byte. They only ever say yes to JSON that encoding/json accepts,
// and give the bytes it would give; anything else (an error, trailing data,
// nesting deeper than they track) goes the way of encoding/json itself, so
// that errors and edge cases stay encoding/json's exactly.

// maxFastDepth is the deepest nesting the fast path tracks; deeper JSON
// (encoding/json allows 10,000 levels) takes encoding/json's path.
const maxFastDepth = 256

// The states of scanJSON: what may come next.
const (
	scanValue        = iota // a value
	scanValueOrClose        // a value or ']' (just after '[')
	scanKeyOrClose          // a key or '}' (just after '{')
	scanKey                 // a key (after ',' in an object)
	scanColon               // ':' after a key
	scanAfterValue          // ',', or the end of the enclosing array, object or input
)

// isSpace is encoding/json's whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// scanJSON reports whether src is exactly one JSON value, with optional
// whitespace around it, as encoding/json's scanner defines JSON (strings
// may hold any byte from 0x20 up, valid UTF-8 or not; numbers, escapes and
// literals are RFC 8259's), nested at most maxFastDepth deep. If compact,
// it also appends src to dst without the whitespace outside strings, as
// json.Compact does, and returns the result; otherwise dst is returned as
// it is.
func scanJSON(dst, src []byte, compact bool) ([]byte, bool) {
	var (
		stack [maxFastDepth / 64]uint64 // a 1 bit per open object, 0 per array
		depth int
		state = scanValue
		i, n  = 0, len(src)
		from  = 0 // the start of the bytes not yet appended to dst
	)
	for {
		if i < n && isSpace(src[i]) {
			if compact {
				dst = append(dst, src[from:i]...)
			}
			for i++; i < n && isSpace(src[i]); i++ {
			}
			from = i
		}
		if i == n {
			if compact {
				dst = append(dst, src[from:i]...)
			}
			return dst, state == scanAfterValue && depth == 0
		}
		c := src[i]
		switch state {
		case scanValue, scanValueOrClose:
			switch {
			case c == ']' && state == scanValueOrClose:
				depth--
				i++
				state = scanAfterValue
			case c == '{' || c == '[':
				if depth == maxFastDepth {
					return dst, false
				}
				if c == '{' {
					stack[depth/64] |= 1 << (depth % 64)
					state = scanKeyOrClose
				} else {
					stack[depth/64] &^= 1 << (depth % 64)
					state = scanValueOrClose
				}
				depth++
				i++
			case c == '"':
				if i = scanString(src, i+1); i < 0 {
					return dst, false
				}
				state = scanAfterValue
			case c == '-' || ('0' <= c && c <= '9'):
				if i = scanNumber(src, i); i < 0 {
					return dst, false
				}
				state = scanAfterValue
			case c == 't':
				if i = scanLiteral(src, i, "true"); i < 0 {
					return dst, false
				}
				state = scanAfterValue
			case c == 'f':
				if i = scanLiteral(src, i, "false"); i < 0 {
					return dst, false
				}
				state = scanAfterValue
			case c == 'n':
				if i = scanLiteral(src, i, "null"); i < 0 {
					return dst, false
				}
				state = scanAfterValue
			default:
				return dst, false
			}
		case scanKeyOrClose, scanKey:
			switch {
			case c == '}' && state == scanKeyOrClose:
				depth--
				i++
				state = scanAfterValue
			case c == '"':
				if i = scanString(src, i+1); i < 0 {
					return dst, false
				}
				state = scanColon
			default:
				return dst, false
			}
		case scanColon:
			if c != ':' {
				return dst, false
			}
			i++
			state = scanValue
		case scanAfterValue:
			if depth == 0 {
				return dst, false // something after the top-level value
			}
			inObject := stack[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			switch {
			case c == ',':
				i++
				if inObject {
					state = scanKey
				} else {
					state = scanValue
				}
			case c == '}' && inObject, c == ']' && !inObject:
				depth--
				i++
			default:
				return dst, false
			}
		}
	}
}

// scanString returns the index just past the string whose opening quote
// precedes src[i], or -1 if it is not a valid string.
func scanString(src []byte, i int) int {
	for {
		// Eight bytes at a time, up to the first that needs a look: in a
		// Go guest, a loop costs far more per turn than the few operations
		// in it.
		for i+8 <= len(src) {
			if m := special8(binary.LittleEndian.Uint64(src[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(src) {
			return -1
		}
		switch c := src[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i+1 == len(src) {
				return -1
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(src) || !isHex(src[i+2]) || !isHex(src[i+3]) || !isHex(src[i+4]) || !isHex(src[i+5]) {
					return -1
				}
				i += 6
			default:
				return -1
			}
		case c < 0x20:
			return -1
		default:
			i++
		}
	}
}

// special8 returns a mask of the bytes of x that a string scan must look
// at: quotes, backslashes and control characters (below 0x20). The mask has
// the high bit of such bytes set, and its lowest set bit is exact: it marks
// the first of them (a higher one may be marked wrongly, by a borrow). The
// tests are "has a byte below n" of
// https://graphics.stanford.edu/~seander/bithacks.html#HasLessInWord.
func special8(x uint64) uint64 {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x | (q-ones)&^q | (b-ones)&^b) & high
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber returns the index just past the number at src[i], or -1 if
// there is none: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. What
// follows it is scanJSON's affair ("01" is 0 followed by a stray 1).
func scanNumber(src []byte, i int) int {
	n := len(src)
	if src[i] == '-' {
		if i++; i == n {
			return -1
		}
	}
	switch {
	case src[i] == '0':
		i++
	case '1' <= src[i] && src[i] <= '9':
		for i++; i < n && isDigit(src[i]); i++ {
		}
	default:
		return -1
	}
	if i < n && src[i] == '.' {
		if i++; i == n || !isDigit(src[i]) {
			return -1
		}
		for i++; i < n && isDigit(src[i]); i++ {
		}
	}
	if i < n && (src[i] == 'e' || src[i] == 'E') {
		if i++; i < n && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i == n || !isDigit(src[i]) {
			return -1
		}
		for i++; i < n && isDigit(src[i]); i++ {
		}
	}
	return i
}

// scanLiteral returns the index just past lit at src[i], or -1.
func scanLiteral(src []byte, i int, lit string) int {
	if len(src)-i < len(lit) || string(src[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// trimSpace drops encoding/json's whitespace from both ends of b.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// isBase64 reports whether every byte of b is of the standard base64
// alphabet or its padding, so that the JSON string "b" unquotes to b.
func isBase64(b []byte) bool {
	for _, c := range b {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}
