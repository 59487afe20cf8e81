package abi

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// encode returns r encoded into a buffer of exactly r.Size() bytes.
func encode(t testing.TB, r *Request) []byte {
	t.Helper()
	b := make([]byte, r.Size())
	n := r.Encode(b)
	require.Equal(t, len(b), n, "Encode's count must match Size")
	return b
}

// requireSameRequest compares requests field by field, treating nil and
// empty byte slices alike (a decoded empty field is an empty, non-nil slice).
func requireSameRequest(t testing.TB, want, got Request) {
	t.Helper()
	require.Equal(t, want.DeadlineMs, got.DeadlineMs, "DeadlineMs")
	require.Equal(t, want.MemoryMB, got.MemoryMB, "MemoryMB")
	require.Equal(t, want.RequestID, got.RequestID, "RequestID")
	require.Equal(t, want.FunctionName, got.FunctionName, "FunctionName")
	require.Equal(t, want.FunctionVersion, got.FunctionVersion, "FunctionVersion")
	require.Equal(t, want.InvokedFunctionARN, got.InvokedFunctionARN, "InvokedFunctionARN")
	require.True(t, bytes.Equal(want.ClientContext, got.ClientContext), "ClientContext: want %q, got %q", want.ClientContext, got.ClientContext)
	require.True(t, bytes.Equal(want.Identity, got.Identity), "Identity: want %q, got %q", want.Identity, got.Identity)
	require.True(t, bytes.Equal(want.Payload, got.Payload), "Payload differs: want %d bytes, got %d", len(want.Payload), len(got.Payload))
	require.Equal(t, want.TraceID, got.TraceID, "TraceID")
}

func fullRequest() Request {
	return Request{
		DeadlineMs:         1_700_000_000_123,
		MemoryMB:           128,
		RequestID:          "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
		FunctionName:       "my-function",
		FunctionVersion:    "$LATEST",
		InvokedFunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:my-function",
		ClientContext:      []byte(`{"client":{"app_title":"t"}}`),
		Identity:           []byte(`{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}`),
		Payload:            []byte(`{"hello":"world"}`),
	}
}

func TestRequestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	big = append(big, 0, 0xff, '"')
	tests := []struct {
		name string
		req  Request
	}{
		{"all fields", fullRequest()},
		{"empty fields", Request{}},
		{"empty strings, nil bytes", Request{DeadlineMs: 1, MemoryMB: 1}},
		{"empty but non-nil bytes", Request{ClientContext: []byte{}, Identity: []byte{}, Payload: []byte{}}},
		{"big payload", func() Request { r := fullRequest(); r.Payload = big; return r }()},
		{"negative deadline", Request{DeadlineMs: -1, MemoryMB: math.MaxUint32}},
		{"extreme deadline", Request{DeadlineMs: math.MinInt64, Payload: []byte("x")}},
		{"non-UTF-8 and NUL bytes in strings", Request{RequestID: "\x00\xff\xfe", FunctionName: "ünïcødé", Payload: []byte{0}}},
		{"only payload", Request{Payload: []byte(`"event"`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encode(t, &tt.req)
			require.Equal(t, uint32(Version), binary.LittleEndian.Uint32(b[0:]), "version word")
			require.Zero(t, binary.LittleEndian.Uint32(b[4:]), "flags word")
			got, err := DecodeRequest(b)
			require.NoError(t, err)
			requireSameRequest(t, tt.req, got)
			// Re-encoding the decoded request gives the same bytes.
			require.Equal(t, b, encode(t, &got))
		})
	}
}

func TestRequestSize(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want int
	}{
		{"empty", Request{}, HeaderSize + 7*4},
		{"one byte per field", Request{
			RequestID: "a", FunctionName: "b", FunctionVersion: "c", InvokedFunctionARN: "d",
			ClientContext: []byte("e"), Identity: []byte("f"), Payload: []byte("g"),
		}, HeaderSize + 7*4 + 7},
		{"full", fullRequest(), 0},
		{"big payload", Request{Payload: make([]byte, 3<<20)}, HeaderSize + 7*4 + 3<<20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want != 0 {
				require.Equal(t, tt.want, tt.req.Size())
			}
			// Encode writes exactly Size bytes, even into a larger buffer,
			// and leaves the rest alone.
			dst := bytes.Repeat([]byte{0xAA}, tt.req.Size()+16)
			n := tt.req.Encode(dst)
			require.Equal(t, tt.req.Size(), n)
			require.Equal(t, bytes.Repeat([]byte{0xAA}, 16), dst[n:])
		})
	}
}

func TestDecodeRequestAliasing(t *testing.T) {
	r := fullRequest()
	b := encode(t, &r)
	got, err := DecodeRequest(b)
	require.NoError(t, err)

	// The byte slices alias the envelope...
	b[len(b)-1] = 'X'
	require.Equal(t, byte('X'), got.Payload[len(got.Payload)-1])
	// ...but are capped, so appending to one cannot overwrite the next field.
	identity := bytes.Clone(got.Identity)
	_ = append(got.ClientContext, "overwrite"...)
	require.Equal(t, identity, got.Identity)
	require.Equal(t, len(got.ClientContext), cap(got.ClientContext))
	// The strings are copies.
	id := got.RequestID
	copy(b[HeaderSize+4:], "zzzz")
	require.Equal(t, id, got.RequestID)
}

func TestDecodeRequestView(t *testing.T) {
	r := fullRequest()
	b := encode(t, &r)
	v, err := DecodeRequestView(b)
	require.NoError(t, err)
	require.Equal(t, r.DeadlineMs, v.DeadlineMs)
	require.Equal(t, r.MemoryMB, v.MemoryMB)
	for _, f := range []struct {
		name      string
		want, got []byte
	}{
		{"RequestID", []byte(r.RequestID), v.RequestID},
		{"FunctionName", []byte(r.FunctionName), v.FunctionName},
		{"FunctionVersion", []byte(r.FunctionVersion), v.FunctionVersion},
		{"InvokedFunctionARN", []byte(r.InvokedFunctionARN), v.InvokedFunctionARN},
		{"ClientContext", r.ClientContext, v.ClientContext},
		{"Identity", r.Identity, v.Identity},
		{"Payload", r.Payload, v.Payload},
	} {
		require.Equal(t, f.want, f.got, f.name)
		// Every field aliases the envelope and is capped.
		require.Equal(t, len(f.got), cap(f.got), f.name)
	}
	require.Same(t, &b[len(b)-len(r.Payload)], &v.Payload[0])
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = DecodeRequestView(b) }), "decoding allocates nothing")

	_, err = DecodeRequestView(b[:HeaderSize+3])
	require.ErrorIs(t, err, ErrMalformed)
}

func TestDecodeRequestIgnoresFlagsAndTrailingBytes(t *testing.T) {
	r := fullRequest()
	b := encode(t, &r)
	binary.LittleEndian.PutUint32(b[4:], 0xdeadbeef&^(FlagTraceID|FlagEnv)) // every flag it does not know
	b = append(b, "trailing garbage"...)
	got, err := DecodeRequest(b)
	require.NoError(t, err)
	requireSameRequest(t, r, got)
}

// TestRequestEnv: variables sent after the payload with FlagEnv, which a
// decoder that knows no flag skips.
func TestRequestEnv(t *testing.T) {
	r := fullRequest()
	r.Env = [][2]string{{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "secret"}, {"EMPTY", ""}}
	b := encode(t, &r)
	require.Equal(t, uint32(FlagEnv), binary.LittleEndian.Uint32(b[4:]))
	got, err := DecodeRequest(b)
	require.NoError(t, err)
	requireSameRequest(t, r, got)
	require.Equal(t, r.Env, got.Env)
	require.Equal(t, b, encode(t, &got))

	// The payload is the same as without the flag: a guest that knows
	// no flag reads what it always read.
	plain := fullRequest()
	v, err := DecodeRequestView(b)
	require.NoError(t, err)
	require.Equal(t, plain.Payload, v.Payload)

	_, err = DecodeRequest(append(encode(t, &plain)[:len(encode(t, &plain)):len(encode(t, &plain))], 5, 0, 0, 0))
	require.NoError(t, err, "no flag: trailing bytes are ignored")
	bad := encode(t, &plain)
	binary.LittleEndian.PutUint32(bad[4:], FlagEnv)
	_, err = DecodeRequest(append(bad, 5, 0, 0, 0))
	require.ErrorIs(t, err, ErrMalformed)
}

// header returns a valid 20-byte header followed by fields, each a 4-byte
// length then its bytes, as given.
func header(version uint32, rest ...[]byte) []byte {
	b := make([]byte, HeaderSize)
	binary.LittleEndian.PutUint32(b, version)
	for _, r := range rest {
		b = append(b, r...)
	}
	return b
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// field returns a length-prefixed field holding s.
func field(s string) []byte { return append(u32(uint32(len(s))), s...) }

func TestDecodeRequestMalformed(t *testing.T) {
	valid := encode(t, &Request{RequestID: "id", Payload: []byte("payload")})
	sixFields := bytes.Repeat(field(""), 6)
	tests := []struct {
		name string
		b    []byte
		want []string // substrings of the message
	}{
		{"nil", nil, []string{"0 bytes is shorter than the 20-byte header"}},
		{"empty", []byte{}, []string{"0 bytes is shorter than the 20-byte header"}},
		{"short header", []byte{1, 0, 0, 0, 0, 0, 0}, []string{"7 bytes is shorter than the 20-byte header"}},
		{"one byte short of a header", header(1)[:HeaderSize-1], []string{"19 bytes", "20-byte header"}},
		{"version 0", header(0, sixFields, field("")), []string{"version 0, want 1"}},
		{"version 2", header(2, sixFields, field("")), []string{"version 2, want 1"}},
		{"version all ones", header(math.MaxUint32, sixFields, field("")), []string{"version 4294967295, want 1"}},
		{"header only", header(1), []string{"truncated length at offset 20"}},
		{"length cut short", append(header(1), 0, 0), []string{"truncated length at offset 20"}},
		{"payload length missing", header(1, sixFields), []string{"truncated length at offset 44"}},
		{"payload length cut short", header(1, sixFields, []byte{1, 0, 0}), []string{"truncated length at offset 44"}},
		{"valid envelope truncated by one byte", valid[:len(valid)-1], []string{"field of 7 bytes at offset", "overruns the envelope"}},
		{"first field overruns", header(1, u32(5), []byte("abc")), []string{"field of 5 bytes at offset 24 overruns the envelope"}},
		{"payload overruns", header(1, sixFields, u32(100), []byte("short")), []string{"field of 100 bytes at offset 48 overruns the envelope"}},
		{"huge length", header(1, u32(math.MaxUint32)), []string{"field of 4294967295 bytes at offset 24 overruns"}},
		{"length with top bit set", header(1, sixFields, u32(1<<31)), []string{"field of 2147483648 bytes", "overruns"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRequest(tt.b)
			require.Error(t, err)
			require.ErrorIs(t, err, ErrMalformed)
			require.True(t, strings.HasPrefix(err.Error(), ErrMalformed.Error()+": "), "message %q should start with %q", err, ErrMalformed)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			// On error the request is the zero value, not half decoded.
			requireSameRequest(t, Request{}, got)
			require.Nil(t, got.Payload)
		})
	}
}

func TestResultRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		status Status
		ptr, n uint32
	}{
		{"ok", StatusOK, 1024, 17},
		{"error", StatusError, 64, 0},
		{"fatal", StatusFatal, 0, 0},
		{"unknown status survives", Status(7), 1, 2},
		{"extremes", Status(math.MaxUint32), math.MaxUint32, math.MaxUint32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := bytes.Repeat([]byte{0xAA}, ResultSize+4)
			EncodeResult(dst, tt.status, tt.ptr, tt.n)
			require.Equal(t, []byte{0xAA, 0xAA, 0xAA, 0xAA}, dst[ResultSize:], "EncodeResult writes exactly ResultSize bytes")
			le := binary.LittleEndian
			require.Equal(t, uint32(tt.status), le.Uint32(dst[0:]))
			require.Equal(t, tt.ptr, le.Uint32(dst[4:]))
			require.Equal(t, tt.n, le.Uint32(dst[8:]))
			s, ptr, n := DecodeResult(dst[:ResultSize])
			require.Equal(t, tt.status, s)
			require.Equal(t, tt.ptr, ptr)
			require.Equal(t, tt.n, n)
		})
	}
}

func TestStackFrameJSON(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    StackFrame
		wantErr bool
	}{
		{"object", `{"path":"main.go","line":12,"label":"main.handler"}`, StackFrame{Path: "main.go", Line: 12, Label: "main.handler"}, false},
		{"object, label only", `{"label":"f"}`, StackFrame{Label: "f"}, false},
		{"empty object", `{}`, StackFrame{}, false},
		{"object with unknown fields", `{"label":"f","column":3}`, StackFrame{Label: "f"}, false},
		{"plain string", `"  File \"/var/task/app.py\", line 3, in handler"`, StackFrame{Label: `  File "/var/task/app.py", line 3, in handler`}, false},
		{"empty string", `""`, StackFrame{}, false},
		{"escaped string", `"a\u00e9\n"`, StackFrame{Label: "aé\n"}, false},
		{"null", `null`, StackFrame{}, false},
		{"number", `42`, StackFrame{}, true},
		{"array", `["f"]`, StackFrame{}, true},
		{"line of the wrong type", `{"line":"12"}`, StackFrame{}, true},
		{"unterminated string", `"abc`, StackFrame{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f StackFrame
			err := json.Unmarshal([]byte(tt.json), &f)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, f)
		})
	}
}

func TestErrorPayloadJSON(t *testing.T) {
	// AWS runtimes other than Go write stack traces as strings; Go's as
	// objects. Both, and a mix, decode.
	in := `{"errorMessage":"boom","errorType":"Error","stackTrace":[
		{"path":"main.go","line":3,"label":"main.f"},
		"at g (index.js:1:2)",
		{"label":"h"}]}`
	var p ErrorPayload
	require.NoError(t, json.Unmarshal([]byte(in), &p))
	require.Equal(t, ErrorPayload{
		Message: "boom",
		Type:    "Error",
		StackTrace: []StackFrame{
			{Path: "main.go", Line: 3, Label: "main.f"},
			{Label: "at g (index.js:1:2)"},
			{Label: "h"},
		},
	}, p)

	// Encoding writes objects, omitting empty fields and an empty trace.
	out, err := json.Marshal(p)
	require.NoError(t, err)
	require.JSONEq(t, `{"errorMessage":"boom","errorType":"Error","stackTrace":[
		{"path":"main.go","line":3,"label":"main.f"},
		{"label":"at g (index.js:1:2)"},
		{"label":"h"}]}`, string(out))
	out, err = json.Marshal(ErrorPayload{Message: "m", Type: "T"})
	require.NoError(t, err)
	require.JSONEq(t, `{"errorMessage":"m","errorType":"T"}`, string(out))

	// What Marshal writes, Unmarshal reads back.
	var back ErrorPayload
	require.NoError(t, json.Unmarshal(out, &back))
	require.Equal(t, ErrorPayload{Message: "m", Type: "T"}, back)
}

func TestStackFrameString(t *testing.T) {
	tests := []struct {
		name string
		f    StackFrame
		want string
	}{
		{"full", StackFrame{Path: "main.go", Line: 12, Label: "main.handler"}, "main.handler (main.go:12)"},
		{"label only", StackFrame{Label: "at g (index.js:1:2)"}, "at g (index.js:1:2)"},
		{"line without path is dropped", StackFrame{Line: 7, Label: "f"}, "f"},
		{"path without line", StackFrame{Path: "a.go", Label: "f"}, "f (a.go:0)"},
		{"path without label", StackFrame{Path: "a.go", Line: 1}, " (a.go:1)"},
		{"zero", StackFrame{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.f.String())
		})
	}
}

func FuzzDecodeRequest(f *testing.F) {
	full := fullRequest()
	f.Add(encode(f, &full))
	f.Add(encode(f, &Request{}))
	f.Add(encode(f, &Request{Payload: []byte(`{"a":1}`)}))
	flagged := encode(f, &Request{RequestID: "r", Payload: []byte("p")})
	binary.LittleEndian.PutUint32(flagged[4:], 1)
	f.Add(flagged)
	f.Add(append(encode(f, &Request{Payload: []byte("x")}), "trailing"...))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0})
	f.Add(header(1))
	f.Add(header(2, bytes.Repeat(field(""), 7)))
	f.Add(header(1, u32(math.MaxUint32)))
	f.Add(header(1, u32(1<<31)))
	f.Add(header(1, bytes.Repeat(field(""), 6), u32(math.MaxInt32)))

	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		r, err := DecodeRequest(b)
		require.Equal(t, orig, b, "DecodeRequest must not modify its input")
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		// A successful decode read a v1 header and seven fields, all within b.
		require.GreaterOrEqual(t, len(b), HeaderSize+7*4)
		require.Equal(t, uint32(Version), binary.LittleEndian.Uint32(b))
		n := r.Size()
		require.LessOrEqual(t, n, len(b))

		// Re-encoding gives the envelope's first Size bytes back when its
		// flags are those Encode sets: FlagTraceID for a trace ID, FlagEnv
		// for variables, no other. (An empty trace ID or environment, or
		// an unknown flag, is dropped; bytes after the last field are
		// ignored.)
		enc := encode(t, &r)
		var canonical uint32
		if r.TraceID != "" {
			canonical |= FlagTraceID
		}
		if len(r.Env) > 0 {
			canonical |= FlagEnv
		}
		if binary.LittleEndian.Uint32(b[4:]) == canonical {
			require.Equal(t, b[:n], enc)
		}
		require.Equal(t, canonical, binary.LittleEndian.Uint32(enc[4:]))

		// And the re-encoded envelope decodes to the same request.
		r2, err := DecodeRequest(enc)
		require.NoError(t, err)
		requireSameRequest(t, r, r2)
	})
}

func TestLogRecord(t *testing.T) {
	attrs := [][2]string{{"user", "ada"}, {"", ""}, {"req.path", "/x"}}
	b := EncodeLog(-4, "héllo", attrs)
	level, msg, got, err := DecodeLog(b)
	require.NoError(t, err)
	require.Equal(t, int32(-4), level)
	require.Equal(t, "héllo", msg)
	require.Equal(t, attrs, got)

	level, msg, got, err = DecodeLog(EncodeLog(8, "", nil))
	require.NoError(t, err)
	require.Equal(t, int32(8), level)
	require.Empty(t, msg)
	require.Nil(t, got)

	for _, bad := range [][]byte{nil, {1, 0, 0}, {0, 0, 0, 0, 9, 0, 0, 0, 'x'}, append(EncodeLog(0, "m", nil), 1, 0, 0, 0, 'k')} {
		_, _, _, err := DecodeLog(bad)
		require.ErrorIs(t, err, ErrMalformed, "%q", bad)
	}
}

func TestHTTPRecords(t *testing.T) {
	t.Run("request", func(t *testing.T) {
		for _, r := range []HTTPRequest{
			{Method: "POST", URL: "https://example.com/a?b=c", Header: [][2]string{{"Content-Type", "text/plain"}, {"X-A", "1"}, {"X-A", "2"}}, Body: []byte("héllo")},
			{Method: "GET", URL: "http://127.0.0.1:8080/"},
		} {
			got, err := DecodeHTTPRequest(r.Encode())
			require.NoError(t, err)
			if len(r.Body) == 0 {
				require.Empty(t, got.Body)
				got.Body = r.Body
			}
			require.Equal(t, r, got)
		}
		wire := (&HTTPRequest{Method: "GET", URL: "u", Header: [][2]string{{"k", "v"}}, Body: []byte("b")}).Encode()
		require.Equal(t, []byte("\x03\x00\x00\x00GET\x01\x00\x00\x00u\x01\x00\x00\x00\x01\x00\x00\x00k\x01\x00\x00\x00v\x01\x00\x00\x00b"), wire)
		for _, bad := range [][]byte{nil, wire[:len(wire)-1], append(slices.Clone(wire), 0), []byte("\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff")} {
			_, err := DecodeHTTPRequest(bad)
			require.ErrorIs(t, err, ErrMalformed, "%q", bad)
		}
	})
	t.Run("response", func(t *testing.T) {
		for _, r := range []HTTPResponse{
			{Status: 404, Header: [][2]string{{"Content-Type", "text/plain"}}, Body: []byte("not found")},
			{Status: 204},
		} {
			got, err := DecodeHTTPResponse(r.Encode())
			require.NoError(t, err)
			if len(r.Body) == 0 {
				require.Empty(t, got.Body)
				got.Body = r.Body
			}
			require.Equal(t, r, got)
		}
		wire := (&HTTPResponse{Status: 200, Header: [][2]string{{"k", "v"}}, Body: []byte("b")}).Encode()
		require.Equal(t, []byte("\xc8\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00k\x01\x00\x00\x00v\x01\x00\x00\x00b"), wire)
		for _, bad := range [][]byte{nil, {200, 0, 0}, wire[:len(wire)-1], append(slices.Clone(wire), 0), []byte("\xc8\x00\x00\x00\x00\x00\x00\x10")} {
			_, err := DecodeHTTPResponse(bad)
			require.ErrorIs(t, err, ErrMalformed, "%q", bad)
		}
	})
}

// xrayTraceID is AWS's example of an X-Ray trace header.
const xrayTraceID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

func TestRequestTraceID(t *testing.T) {
	r := fullRequest()
	plain := encode(t, &r)
	r.TraceID = xrayTraceID
	b := encode(t, &r)

	// The trace ID is flagged and follows the payload: everything before
	// it, the flags word aside, is the envelope without it.
	require.Equal(t, uint32(FlagTraceID), binary.LittleEndian.Uint32(b[4:]), "flags word")
	require.Equal(t, plain[8:], b[8:len(plain)])
	require.Equal(t, field(xrayTraceID), b[len(plain):])
	require.Equal(t, len(plain)+4+len(xrayTraceID), r.Size())

	got, err := DecodeRequest(b)
	require.NoError(t, err)
	requireSameRequest(t, r, got)
	require.Equal(t, b, encode(t, &got))
	v, err := DecodeRequestView(b)
	require.NoError(t, err)
	require.Equal(t, []byte(xrayTraceID), v.TraceID)
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = DecodeRequestView(b) }), "decoding allocates nothing")

	// A decoder that predates the flag reads the same request without
	// the trace ID: it ignores the flags and the bytes past the payload.
	old := bytes.Clone(b)
	binary.LittleEndian.PutUint32(old[4:], 0)
	got, err = DecodeRequest(old)
	require.NoError(t, err)
	r.TraceID = ""
	requireSameRequest(t, r, got)

	// A flagged envelope without a whole trace ID field is malformed.
	for _, cut := range []int{len(plain), len(plain) + 2, len(b) - 1} {
		_, err := DecodeRequestView(b[:cut])
		require.ErrorIs(t, err, ErrMalformed, "cut at %d", cut)
	}
}

// TestRequestTraceIDAndEnv: with both flags, the trace ID comes right
// after the payload and the variables after it, and each side reads both.
func TestRequestTraceIDAndEnv(t *testing.T) {
	r := fullRequest()
	r.TraceID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	r.Env = [][2]string{{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SESSION_TOKEN", "token"}}
	b := encode(t, &r)
	require.Equal(t, uint32(FlagTraceID|FlagEnv), binary.LittleEndian.Uint32(b[4:]))
	got, err := DecodeRequest(b)
	require.NoError(t, err)
	requireSameRequest(t, r, got)
	require.Equal(t, r.TraceID, got.TraceID)
	require.Equal(t, r.Env, got.Env)
	require.Equal(t, b, encode(t, &got))

	v, err := DecodeRequestView(b)
	require.NoError(t, err)
	require.Equal(t, r.TraceID, string(v.TraceID))
	var env [][2]string
	require.NoError(t, EachEnv(v.Env, func(k, val []byte) { env = append(env, [2]string{string(k), string(val)}) }))
	require.Equal(t, r.Env, env)
}
