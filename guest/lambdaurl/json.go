package lambdaurl

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// The event and the response object, without encoding/json's reflection.
//
// In a Go guest compiled to WebAssembly, encoding/json decoding the 700
// bytes of a typical function URL event into an
// events.LambdaFunctionURLRequest takes some 170 µs of CPU (docs/
// PERFORMANCE.md, "HTTP trigger"): nearly all of a request's time in the
// guest. decodeEvent does the same work in a few loops. It only ever says
// yes to an event that encoding/json would decode to the same value, and
// leaves anything unusual (a null where a value is expected, a lone surrogate, a
// key that differs from a field's name only in case, a number that is not
// an integer, nesting deeper than maxDepth) to encoding/json, so that its
// results and errors stay exactly encoding/json's.

// maxDepth is the deepest nesting decodeEvent skips through; deeper JSON
// goes to encoding/json.
const maxDepth = 64

// decodeEvent decodes payload into ev, which must be zero, as json.Unmarshal
// would, and reports whether it could. When it reports false, ev may hold
// part of the event, and the caller decodes it with encoding/json instead.
func decodeEvent(payload []byte, ev *events.LambdaFunctionURLRequest) bool {
	d := decoder{b: payload}
	if !d.object(func(key string) bool { return d.eventField(key, ev) }) {
		return false
	}
	d.space()
	return d.i == len(d.b)
}

// decoder reads JSON from b, from index i on. Each method reports false
// for anything it does not handle, which ends the decoding.
type decoder struct {
	b     []byte
	i     int
	depth int
}

// space skips JSON whitespace.
func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (d *decoder) peek() byte {
	d.space()
	if d.i == len(d.b) {
		return 0
	}
	return d.b[d.i]
}

// expect consumes c, after whitespace.
func (d *decoder) expect(c byte) bool {
	if d.peek() != c {
		return false
	}
	d.i++
	return true
}

// literal consumes the literal word (true, false or null).
func (d *decoder) literal(word string) bool {
	d.space()
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return false
	}
	d.i += len(word)
	return true
}

// object reads an object, calling field for each key with the decoder at
// the key's value, which field must consume.
func (d *decoder) object(field func(key string) bool) bool {
	if !d.expect('{') {
		return false
	}
	d.depth++
	if d.depth > maxDepth {
		return false
	}
	if d.peek() == '}' {
		d.i++
		d.depth--
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.expect(':') || !field(key) {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			return true
		default:
			return false
		}
	}
}

// array reads an array, calling elem with the decoder at each element,
// which elem must consume.
func (d *decoder) array(elem func() bool) bool {
	if !d.expect('[') {
		return false
	}
	d.depth++
	if d.depth > maxDepth {
		return false
	}
	if d.peek() == ']' {
		d.i++
		d.depth--
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			d.depth--
			return true
		default:
			return false
		}
	}
}

// str reads a string. A control character, invalid UTF-8 or a \u escape
// of a lone surrogate ends the decoding.
func (d *decoder) str() (string, bool) {
	if !d.expect('"') {
		return "", false
	}
	start, escaped := d.i, false
	for {
		// Eight bytes at a time, up to the first that needs a look: in a
		// Go guest a loop's turn costs far more than its work.
		for d.i+8 <= len(d.b) {
			if m := special8(binary.LittleEndian.Uint64(d.b[d.i:])); m != 0 {
				d.i += bits.TrailingZeros64(m) / 8
				break
			}
			d.i += 8
		}
		if d.i >= len(d.b) {
			return "", false
		}
		switch c := d.b[d.i]; {
		case c == '"':
			raw := d.b[start:d.i]
			d.i++
			if !utf8.Valid(raw) {
				return "", false
			}
			if !escaped {
				return string(raw), true
			}
			return unescape(raw)
		case c == '\\':
			escaped = true
			d.i += 2 // the escaped byte is checked by unescape
		case c < 0x20:
			return "", false
		default:
			d.i++
		}
	}
}

// special8 returns a mask of the bytes of x that a string scan must look
// at: quotes, backslashes and control characters (below 0x20), as
// package guest's. Its lowest set bit marks the first of them.
func special8(x uint64) uint64 {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x | (q-ones)&^q | (b-ones)&^b) & high
}

// unescape is raw, a string's bytes with backslash escapes, unescaped.
func unescape(raw []byte) (string, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := unicodeEscape(raw[i-1:])
			if n == 0 {
				return "", false
			}
			out = utf8.AppendRune(out, r)
			i += n - 2
		default:
			return "", false
		}
	}
	return string(out), true
}

// unicodeEscape decodes the \uXXXX escape that b starts with, or a pair of
// them that encode a surrogate pair, and returns the rune and the number
// of bytes it took; 0 for anything else, a lone surrogate included.
func unicodeEscape(b []byte) (rune, int) {
	r := hex4(b)
	if r < 0 {
		return 0, 0
	}
	if !utf16.IsSurrogate(r) {
		return r, 6
	}
	if r2 := hex4(b[6:]); r2 >= 0 {
		if c := utf16.DecodeRune(r, r2); c != utf8.RuneError {
			return c, 12
		}
	}
	return 0, 0
}

// hex4 is the value of the \uXXXX escape that b starts with, or -1.
func hex4(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// strings reads an array of strings.
func (d *decoder) strings() ([]string, bool) {
	out := []string{}
	ok := d.array(func() bool {
		s, ok := d.str()
		out = append(out, s)
		return ok
	})
	return out, ok
}

// stringMap reads an object of strings into m, making it if it is nil, as
// encoding/json does.
func (d *decoder) stringMap(m *map[string]string) bool {
	if *m == nil {
		*m = map[string]string{}
	}
	return d.object(func(key string) bool {
		v, ok := d.str()
		(*m)[key] = v
		return ok
	})
}

// boolean reads true or false.
func (d *decoder) boolean() (bool, bool) {
	switch d.peek() {
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	}
	return false, false
}

// integer reads a number without a fraction or an exponent that fits an
// int64.
func (d *decoder) integer() (int64, bool) {
	d.space()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == digits || (d.b[digits] == '0' && d.i > digits+1) {
		return 0, false
	}
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 64)
	return n, err == nil
}

// number skips a number, checking its syntax.
func (d *decoder) number() bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == digits || (d.b[digits] == '0' && d.i > digits+1) {
		return false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if !d.digits() {
			return false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if !d.digits() {
			return false
		}
	}
	return true
}

// digits skips one or more digits.
func (d *decoder) digits() bool {
	start := d.i
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// skip skips any value, checking its syntax.
func (d *decoder) skip() bool {
	switch c := d.peek(); {
	case c == '{':
		return d.object(func(string) bool { return d.skip() })
	case c == '[':
		return d.array(d.skip)
	case c == '"':
		_, ok := d.str()
		return ok
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	default:
		return d.number()
	}
}

// unknown skips the value of a key that names no field, unless the key
// matches a field's name but for case, which encoding/json would decode.
func (d *decoder) unknown(key string, fields []string) bool {
	for _, f := range fields {
		if strings.EqualFold(key, f) {
			return false
		}
	}
	return d.skip()
}

// The field names of the event's structs, as encoding/json matches them.
var (
	eventFields   = []string{"version", "rawPath", "rawQueryString", "cookies", "headers", "queryStringParameters", "requestContext", "body", "isBase64Encoded"}
	contextFields = []string{"accountId", "requestId", "authorizer", "apiId", "domainName", "domainPrefix", "time", "timeEpoch", "http"}
	authFields    = []string{"iam"}
	iamFields     = []string{"accessKey", "accountId", "callerId", "userArn", "userId"}
	httpFields    = []string{"method", "path", "protocol", "sourceIp", "userAgent"}
)

// into reads a string into *s.
func (d *decoder) into(s *string) bool {
	v, ok := d.str()
	*s = v
	return ok
}

func (d *decoder) eventField(key string, ev *events.LambdaFunctionURLRequest) bool {
	switch key {
	case "version":
		return d.into(&ev.Version)
	case "rawPath":
		return d.into(&ev.RawPath)
	case "rawQueryString":
		return d.into(&ev.RawQueryString)
	case "body":
		return d.into(&ev.Body)
	case "cookies":
		var ok bool
		ev.Cookies, ok = d.strings()
		return ok
	case "headers":
		return d.stringMap(&ev.Headers)
	case "queryStringParameters":
		return d.stringMap(&ev.QueryStringParameters)
	case "isBase64Encoded":
		var ok bool
		ev.IsBase64Encoded, ok = d.boolean()
		return ok
	case "requestContext":
		rc := &ev.RequestContext
		return d.object(func(key string) bool { return d.contextField(key, rc) })
	}
	return d.unknown(key, eventFields)
}

func (d *decoder) contextField(key string, rc *events.LambdaFunctionURLRequestContext) bool {
	switch key {
	case "accountId":
		return d.into(&rc.AccountID)
	case "requestId":
		return d.into(&rc.RequestID)
	case "apiId":
		return d.into(&rc.APIID)
	case "domainName":
		return d.into(&rc.DomainName)
	case "domainPrefix":
		return d.into(&rc.DomainPrefix)
	case "time":
		return d.into(&rc.Time)
	case "timeEpoch":
		var ok bool
		rc.TimeEpoch, ok = d.integer()
		return ok
	case "http":
		h := &rc.HTTP
		return d.object(func(key string) bool { return d.httpField(key, h) })
	case "authorizer":
		if d.peek() == 'n' {
			rc.Authorizer = nil
			return d.literal("null")
		}
		if rc.Authorizer == nil {
			rc.Authorizer = new(events.LambdaFunctionURLRequestContextAuthorizerDescription)
		}
		a := rc.Authorizer
		return d.object(func(key string) bool { return d.authField(key, a) })
	}
	return d.unknown(key, contextFields)
}

func (d *decoder) authField(key string, a *events.LambdaFunctionURLRequestContextAuthorizerDescription) bool {
	if key != "iam" {
		return d.unknown(key, authFields)
	}
	if d.peek() == 'n' {
		a.IAM = nil
		return d.literal("null")
	}
	if a.IAM == nil {
		a.IAM = new(events.LambdaFunctionURLRequestContextAuthorizerIAMDescription)
	}
	iam := a.IAM
	return d.object(func(key string) bool {
		switch key {
		case "accessKey":
			return d.into(&iam.AccessKey)
		case "accountId":
			return d.into(&iam.AccountID)
		case "callerId":
			return d.into(&iam.CallerID)
		case "userArn":
			return d.into(&iam.UserARN)
		case "userId":
			return d.into(&iam.UserID)
		}
		return d.unknown(key, iamFields)
	})
}

func (d *decoder) httpField(key string, h *events.LambdaFunctionURLRequestContextHTTPDescription) bool {
	switch key {
	case "method":
		return d.into(&h.Method)
	case "path":
		return d.into(&h.Path)
	case "protocol":
		return d.into(&h.Protocol)
	case "sourceIp":
		return d.into(&h.SourceIP)
	case "userAgent":
		return d.into(&h.UserAgent)
	}
	return d.unknown(key, httpFields)
}

// encodeResponse is json.Marshal(r)'s bytes, without reflection.
func encodeResponse(r *events.LambdaFunctionURLResponse) []byte {
	b := make([]byte, 0, 128+len(r.Body))
	b = append(b, `{"statusCode":`...)
	b = strconv.AppendInt(b, int64(r.StatusCode), 10)
	b = append(b, `,"headers":`...)
	if r.Headers == nil {
		b = append(b, "null"...)
	} else {
		keys := make([]string, 0, len(r.Headers))
		for k := range r.Headers {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, r.Headers[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"body":`...)
	b = appendString(b, r.Body)
	b = append(b, `,"isBase64Encoded":`...)
	b = strconv.AppendBool(b, r.IsBase64Encoded)
	b = append(b, `,"cookies":`...)
	if r.Cookies == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, c := range r.Cookies {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, c)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendString appends s as encoding/json encodes a string: as it is when
// it is printable ASCII that needs no escape, and otherwise by
// encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
