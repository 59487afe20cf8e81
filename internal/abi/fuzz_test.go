package abi

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// within reports whether the slice s lies inside b (an empty slice
// anywhere does).
func within(b, s []byte) bool {
	if len(s) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	lo, p := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(b))
}

// FuzzDecodeRequestView holds the guest's zero-copy decoder to
// DecodeRequest: they accept the same envelopes, with the same fields, and
// every field of the view aliases the envelope, within its bounds.
func FuzzDecodeRequestView(f *testing.F) {
	full := fullRequest()
	f.Add(encode(f, &full))
	full.TraceID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	full.Env = [][2]string{{"AWS_ACCESS_KEY_ID", "AKIA"}, {"AWS_SESSION_TOKEN", ""}}
	f.Add(encode(f, &full))
	f.Add(encode(f, &Request{Env: [][2]string{{"", ""}}}))
	env := encode(f, &Request{Env: [][2]string{{"A", "1"}}})
	f.Add(env[:len(env)-1])
	f.Add(append(env[:len(env)-10:len(env)-10], u32(0xFFFFFFFF)...))
	f.Add(header(1, bytes.Repeat(field(""), 7)))
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		v, verr := DecodeRequestView(b)
		r, rerr := DecodeRequest(b)
		require.Equal(t, orig, b, "decoding must not modify its input")
		if verr != nil {
			require.ErrorIs(t, verr, ErrMalformed)
			require.Error(t, rerr, "DecodeRequest accepts what DecodeRequestView refuses")
			return
		}
		require.True(t, within(b, v.Env), "the environment lies outside the envelope")
		for _, s := range [][]byte{v.RequestID, v.FunctionName, v.FunctionVersion, v.InvokedFunctionARN, v.ClientContext, v.Identity, v.Payload, v.TraceID} {
			require.True(t, within(b, s), "a field of the view lies outside the envelope")
			require.Equal(t, len(s), cap(s), "appending to a field of the view would overwrite the next")
		}
		var pairs [][2]string
		var eerr error
		if v.Env != nil {
			eerr = EachEnv(v.Env, func(k, val []byte) {
				require.True(t, within(v.Env, k) && within(v.Env, val))
				pairs = append(pairs, [2]string{string(k), string(val)})
			})
		}
		if eerr != nil {
			require.ErrorIs(t, eerr, ErrMalformed)
			require.Error(t, rerr, "DecodeRequest accepts an environment EachEnv refuses")
			return
		}
		require.NoError(t, rerr)
		require.Equal(t, Request{
			DeadlineMs: v.DeadlineMs, MemoryMB: v.MemoryMB,
			RequestID: string(v.RequestID), FunctionName: string(v.FunctionName), FunctionVersion: string(v.FunctionVersion),
			InvokedFunctionARN: string(v.InvokedFunctionARN), ClientContext: v.ClientContext, Identity: v.Identity,
			Payload: v.Payload, TraceID: string(v.TraceID), Env: pairs,
		}, r)
	})
}

// FuzzRequestRoundTrip encodes a request built from fuzzed fields and
// decodes it again, both ways: the request comes back whole.
func FuzzRequestRoundTrip(f *testing.F) {
	f.Add(int64(1_700_000_000_123), uint32(128), "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "my-function", "$LATEST",
		"arn:aws:lambda:us-east-1:123456789012:function:my-function", []byte(`{"client":{}}`), []byte(`{"cognitoIdentityId":"id"}`),
		[]byte(`{"hello":"world"}`), "Root=1-5759e988-bd862e3fe1be46a994272793", []byte("AWS_REGION\x00us-east-1\x00X\x00"))
	f.Add(int64(-1), uint32(0), "", "", "", "", []byte(nil), []byte(nil), []byte(nil), "", []byte(nil))
	f.Fuzz(func(t *testing.T, deadline int64, mem uint32, id, name, version, arn string, cc, identity, payload []byte, trace string, envSpec []byte) {
		// envSpec is NUL-separated names and values.
		var env [][2]string
		parts := bytes.Split(envSpec, []byte{0})
		for i := 0; i+1 < len(parts); i += 2 {
			env = append(env, [2]string{string(parts[i]), string(parts[i+1])})
		}
		req := Request{DeadlineMs: deadline, MemoryMB: mem, RequestID: id, FunctionName: name, FunctionVersion: version,
			InvokedFunctionARN: arn, ClientContext: cc, Identity: identity, Payload: payload, TraceID: trace, Env: env}
		b := make([]byte, req.Size()+8)
		n := req.Encode(b)
		require.Equal(t, req.Size(), n)
		got, err := DecodeRequest(b[:n])
		require.NoError(t, err)
		requireSameRequest(t, req, got)
		require.Equal(t, req.Env, got.Env)
		v, err := DecodeRequestView(b[:n])
		require.NoError(t, err)
		require.Equal(t, trace, string(v.TraceID))
		require.Equal(t, len(env) > 0, v.Env != nil)
	})
}

// FuzzDecodeLog: a guest writes the log records the host decodes. What
// DecodeLog accepts, EncodeLog writes back byte for byte; anything else is
// ErrMalformed.
func FuzzDecodeLog(f *testing.F) {
	f.Add(EncodeLog(-4, "héllo", [][2]string{{"user", "ada"}, {"", ""}}))
	f.Add(EncodeLog(8, "", nil))
	f.Add([]byte{1, 0, 0})
	f.Add(append(EncodeLog(0, "m", nil), 0xFF, 0xFF, 0xFF, 0xFF))
	f.Fuzz(func(t *testing.T, b []byte) {
		level, msg, attrs, err := DecodeLog(b)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		require.Equal(t, b, EncodeLog(level, msg, attrs))
	})
}

// FuzzDecodeHTTP: a guest writes the HTTP requests the host makes for it,
// and the host the responses the guest decodes. What a decoder accepts,
// Encode writes back byte for byte; anything else is ErrMalformed.
func FuzzDecodeHTTP(f *testing.F) {
	req := HTTPRequest{Method: "POST", URL: "https://example.com/a?b=c", Header: [][2]string{{"Content-Type", "text/plain"}, {"X-A", "1"}}, Body: []byte("héllo")}
	f.Add(req.Encode())
	resp := HTTPResponse{Status: 200, Header: [][2]string{{"Content-Length", "2"}}, Body: []byte("ok")}
	f.Add(resp.Encode())
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Add(append(u32(200), u32(0x20000000)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeHTTPRequest(b); err != nil {
			require.ErrorIs(t, err, ErrMalformed)
		} else {
			require.Equal(t, b, r.Encode())
		}
		if r, err := DecodeHTTPResponse(b); err != nil {
			require.ErrorIs(t, err, ErrMalformed)
		} else {
			enc := r.Encode()
			require.Equal(t, b, enc)
			require.Equal(t, int(binary.LittleEndian.Uint32(b)), r.Status)
		}
	})
}
