package s3_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/trigger/s3"
)

// encodeCases are object keys and their form in S3's notifications: a space
// is "+", "/" stays, and every other byte but letters, digits and "-_.~" is
// %XX in upper case, UTF-8 letters byte by byte.
var encodeCases = []struct{ name, key, encoded string }{
	{"plain", "photos/2026/cat.jpg", "photos/2026/cat.jpg"},
	{"space", "Happy Face.jpg", "Happy+Face.jpg"},
	{"spaces and a plus", "this im + age blah.txt", "this+im+%2B+age+blah.txt"},
	{"plus", "c++/notes.txt", "c%2B%2B/notes.txt"},
	{"percent", "100%/done.txt", "100%25/done.txt"},
	{"percent that looks encoded", "a%20b", "a%2520b"},
	{"a literal %2F", "a%2Fb", "a%252Fb"},
	{"equals", "logs/dt=2026-05-04/_SUCCESS", "logs/dt%3D2026-05-04/_SUCCESS"},
	{"ampersand", "Tom & Jerry.mp4", "Tom+%26+Jerry.mp4"},
	{"parentheses", "Book (1) copy.pdf", "Book+%281%29+copy.pdf"},
	{"colons", "test/10:47:07.log", "test/10%3A47%3A07.log"},
	{"accents", "café/naïve résumé.txt", "caf%C3%A9/na%C3%AFve+r%C3%A9sum%C3%A9.txt"},
	{"CJK", "日本/写真.png", "%E6%97%A5%E6%9C%AC/%E5%86%99%E7%9C%9F.png"},
	{"emoji", "🐱.gif", "%F0%9F%90%B1.gif"},
	{"unreserved", "a-b_c.d~e", "a-b_c.d~e"},
	{"slashes and dots", "a//b/../c/", "a//b/../c/"},
	{"others", `!#$'*,;<>?@[\]^{|}"`, "%21%23%24%27%2A%2C%3B%3C%3E%3F%40%5B%5C%5D%5E%7B%7C%7D%22"},
	{"control", "a\tb\nc", "a%09b%0Ac"},
	{"empty", "", ""},
}

func TestEncodeKey(t *testing.T) {
	t.Parallel()
	for _, tc := range encodeCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.encoded, s3.EncodeKey(tc.key))
			back, err := s3.DecodeKey(tc.encoded)
			require.NoError(t, err)
			require.Equal(t, tc.key, back)

			// aws-lambda-go's S3Object decodes it back too.
			var o events.S3Object
			raw, err := json.Marshal(map[string]string{"key": tc.encoded})
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, &o))
			require.Equal(t, tc.key, o.URLDecodedKey)
		})
	}
}

func TestDecodeKeyRefusesABadEscape(t *testing.T) {
	t.Parallel()
	_, err := s3.DecodeKey("100%")
	require.Error(t, err)
	_, err = s3.DecodeKey("a%zzb")
	require.Error(t, err)
}

// FuzzEncodeKey checks, for any key, that the encoding decodes back to it,
// keeps "/" and uses no other character than the letters, the digits,
// "-_.~", "+", "%" and "/".
func FuzzEncodeKey(f *testing.F) {
	for _, tc := range encodeCases {
		f.Add(tc.key)
	}
	f.Add("\xff\xfe not UTF-8")
	f.Fuzz(func(t *testing.T, key string) {
		enc := s3.EncodeKey(key)
		back, err := s3.DecodeKey(enc)
		if err != nil || back != key {
			t.Fatalf("EncodeKey(%q) = %q, which decodes to %q, %v", key, enc, back, err)
		}
		if strings.Count(enc, "/") != strings.Count(key, "/") {
			t.Fatalf("EncodeKey(%q) = %q: the slashes changed", key, enc)
		}
		for _, r := range enc {
			if !(r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.~+%/", r))) {
				t.Fatalf("EncodeKey(%q) = %q: has %q", key, enc, r)
			}
		}
	})
}
