package guest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strings"
	"testing"
)

// FuzzScanJSON: whatever scanJSON accepts, encoding/json accepts, and
// scanJSON compacts it as json.Compact does; what encoding/json accepts,
// scanJSON accepts too unless it nests deeper than it tracks.
func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{
		`"x"`, ` {"a": [1, 2], "b": null} `, `[]`, `{}`, `null`, `true`, `false`, `-0`, `1.5e10`, `-1E-2`, `01`, `1.`,
		`"<b>&</b>"`, "\"\u2028\"", "\"\xff\"", "\"a\x01b\"", `"\u12g4"`, `"\/\b\f\n\r\t\"\\"`, ``, `{"a":1} x`, `[1,]`,
		`{"a":1,}`, `{"a"}`, strings.Repeat("[", 300) + strings.Repeat("]", 300), `[{"a":[{"b":{}}]},[[]]]`,
	} {
		f.Add([]byte(s))
	}
	if !fastJSON {
		f.Skip("GOEXPERIMENT=jsonv2: the SDK leaves JSON to encoding/json, whose json.Compact differs")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := scanJSON([]byte("prefix"), b, true)
		_, okValid := scanJSON(nil, b, false)
		if ok != okValid {
			t.Fatalf("compacting says %v, validating %v", ok, okValid)
		}
		valid := json.Valid(b)
		if ok {
			if !valid {
				t.Fatalf("scanJSON accepts %q, encoding/json does not", b)
			}
			var want bytes.Buffer
			want.WriteString("prefix")
			if err := json.Compact(&want, b); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("compact %q: got %q, want %q", b, got, want.Bytes())
			}
		} else if valid && bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")) <= maxFastDepth {
			t.Fatalf("scanJSON refuses %q, which encoding/json accepts", b)
		}
	})
}

func TestSpecial8(t *testing.T) {
	// Every position, every byte value: the lowest marked byte is the
	// first special one.
	for pos := range 8 {
		for c := range 256 {
			var word [8]byte
			for i := range word {
				word[i] = 'a'
			}
			word[pos] = byte(c)
			word[7] = byte(255 - c) // another byte above, special or not
			first := -1
			for i, b := range word {
				if b == '"' || b == '\\' || b < 0x20 {
					first = i
					break
				}
			}
			m := special8(binary.LittleEndian.Uint64(word[:]))
			if first < 0 {
				if m != 0 {
					t.Fatalf("%q: mask %#x, but nothing is special", word, m)
				}
				continue
			}
			if got := bits.TrailingZeros64(m) / 8; got != first {
				t.Fatalf("%q: first marked byte %d, want %d", word, got, first)
			}
		}
	}
}
