// Package abi is the one codec of wasmlambda's guest ABI v1. The host and the
// Go guest SDK both import it, so the two sides cannot drift apart.
//
// docs/ABI.md is the contract for other languages; this package is its Go
// implementation. All integers are little-endian.
package abi

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Version is the ABI version this package implements.
const Version = 1

// Names of the exports a v1 guest provides.
const (
	// ExportAlloc is `wasmlambda_v1_alloc(size i32) -> i32`: it returns the
	// address of a guest-owned buffer of at least size bytes, valid until the
	// next call to it, or 0 when it cannot.
	ExportAlloc = "wasmlambda_v1_alloc"
	// ExportInvoke is `wasmlambda_v1_invoke(ptr i32, len i32) -> i32`: it
	// handles the request envelope at ptr and returns the address of a
	// 12-byte result record.
	ExportInvoke = "wasmlambda_v1_invoke"
	// ExportShutdown is the optional `wasmlambda_v1_shutdown() -> ()`: the
	// host calls it when it closes a healthy warm instance, as AWS sends
	// SIGTERM, so that the guest runs its shutdown hooks.
	ExportShutdown = "wasmlambda_v1_shutdown"
	// ExportInitialize is the WASI reactor initialiser, called once if present.
	ExportInitialize = "_initialize"
	// ExportStart is the WASI command entry point (compatibility mode).
	ExportStart = "_start"
	// ExportMemory is the linear memory the envelope travels through.
	ExportMemory = "memory"
)

// Environment variables that carry the invocation context to a WASI command
// in compatibility mode, where there is no envelope.
const (
	EnvRequestID          = "WASMLAMBDA_REQUEST_ID"
	EnvDeadlineMs         = "WASMLAMBDA_DEADLINE_MS"
	EnvInvokedFunctionARN = "WASMLAMBDA_INVOKED_FUNCTION_ARN"
	EnvClientContext      = "WASMLAMBDA_CLIENT_CONTEXT"
	EnvIdentity           = "WASMLAMBDA_IDENTITY"
	// EnvTraceID is AWS's variable for the X-Ray trace ID, which a
	// command sees as a reactor's guest SDK sets it.
	EnvTraceID = "_X_AMZN_TRACE_ID"
)

// FlagTraceID, in the envelope's flags word, says that a trace ID field
// follows the payload. A guest that predates it ignores the flags and
// the bytes past the payload, so a host sends it to every guest.
const FlagTraceID = 1 << 0

// HeaderSize is the size of the fixed part of a request envelope.
const HeaderSize = 20

// FlagEnv is the flag of a request envelope followed, after its payload,
// (and after the trace ID, when FlagTraceID is set too) by environment
// variables to set before the handler runs: a u32 count,
// then that many pairs of fields, a name and a value. The host sends them
// when the execution role's credentials have changed since the instance
// last saw them. A guest that does not know the flag ignores what follows
// the payload.
const FlagEnv = 1 << 1

// Request is the request envelope: the invocation context and the event.
type Request struct {
	// DeadlineMs is the deadline in milliseconds since the Unix epoch.
	DeadlineMs int64
	// MemoryMB is the function's memory limit.
	MemoryMB uint32

	RequestID          string
	FunctionName       string
	FunctionVersion    string
	InvokedFunctionARN string
	// ClientContext is the JSON client context, or empty.
	ClientContext []byte
	// Identity is the JSON Cognito identity, or empty.
	Identity []byte
	// Payload is the event, as given by the caller.
	Payload []byte
	// TraceID is the AWS X-Ray trace ID ("Root=…;Parent=…;Sampled=…"), or
	// empty. It travels after the payload, flagged by FlagTraceID.
	TraceID string
	// Env are environment variables to set before the handler runs,
	// sent after the payload with FlagEnv; none: the flag is clear.
	Env [][2]string
}

// Size is the encoded size of r in bytes.
func (r *Request) Size() int {
	n := HeaderSize + 7*4 + len(r.RequestID) + len(r.FunctionName) + len(r.FunctionVersion) +
		len(r.InvokedFunctionARN) + len(r.ClientContext) + len(r.Identity) + len(r.Payload)
	if r.TraceID != "" {
		n += 4 + len(r.TraceID)
	}
	if len(r.Env) > 0 {
		n += headerSize(r.Env)
	}
	return n
}

// Encode writes r into dst, which must hold at least r.Size() bytes, and
// returns the number of bytes written. It is the host's one copy of the
// event into guest memory.
func (r *Request) Encode(dst []byte) int {
	le := binary.LittleEndian
	le.PutUint32(dst[0:], Version)
	var flags uint32
	if r.TraceID != "" {
		flags |= FlagTraceID
	}
	if len(r.Env) > 0 {
		flags |= FlagEnv
	}
	le.PutUint32(dst[4:], flags)
	le.PutUint64(dst[8:], uint64(r.DeadlineMs))
	le.PutUint32(dst[16:], r.MemoryMB)
	n := HeaderSize
	n += putString(dst[n:], r.RequestID)
	n += putString(dst[n:], r.FunctionName)
	n += putString(dst[n:], r.FunctionVersion)
	n += putString(dst[n:], r.InvokedFunctionARN)
	n += putBytes(dst[n:], r.ClientContext)
	n += putBytes(dst[n:], r.Identity)
	n += putBytes(dst[n:], r.Payload)
	if r.TraceID != "" {
		n += putString(dst[n:], r.TraceID)
	}
	if len(r.Env) > 0 {
		n += putHeader(dst[n:], r.Env)
	}
	return n
}

func putString(dst []byte, s string) int {
	binary.LittleEndian.PutUint32(dst, uint32(len(s)))
	return 4 + copy(dst[4:], s)
}

func putBytes(dst []byte, b []byte) int {
	binary.LittleEndian.PutUint32(dst, uint32(len(b)))
	return 4 + copy(dst[4:], b)
}

// ErrMalformed reports an envelope that does not follow ABI v1.
var ErrMalformed = errors.New("abi: malformed envelope")

// DecodeRequest decodes a request envelope. The byte slices of the result
// alias b; the strings are copies.
func DecodeRequest(b []byte) (Request, error) {
	v, err := DecodeRequestView(b)
	if err != nil {
		return Request{}, err
	}
	var env [][2]string
	if v.Env != nil {
		if err := EachEnv(v.Env, func(k, val []byte) { env = append(env, [2]string{string(k), string(val)}) }); err != nil {
			return Request{}, err
		}
	}
	return Request{
		Env:                env,
		DeadlineMs:         v.DeadlineMs,
		MemoryMB:           v.MemoryMB,
		RequestID:          string(v.RequestID),
		FunctionName:       string(v.FunctionName),
		FunctionVersion:    string(v.FunctionVersion),
		InvokedFunctionARN: string(v.InvokedFunctionARN),
		ClientContext:      v.ClientContext,
		Identity:           v.Identity,
		Payload:            v.Payload,
		TraceID:            string(v.TraceID),
	}, nil
}

// RequestView is a request envelope decoded without a copy: every field
// aliases the envelope. The guest decodes this way, and copies only the
// fields it keeps.
type RequestView struct {
	DeadlineMs int64
	MemoryMB   uint32

	RequestID          []byte
	FunctionName       []byte
	FunctionVersion    []byte
	InvokedFunctionARN []byte
	ClientContext      []byte
	Identity           []byte
	Payload            []byte
	TraceID            []byte // empty without FlagTraceID
	// Env is what follows the payload when the envelope has FlagEnv: the
	// variables to set, encoded; EachEnv reads them.
	Env []byte
}

// EachEnv calls fn with each variable of env, a RequestView's Env, which
// alias it, and reports whether env is well formed.
func EachEnv(env []byte, fn func(name, value []byte)) error {
	d := decoder{b: env}
	if len(env) < 4 {
		return fmt.Errorf("%w: truncated environment count", ErrMalformed)
	}
	n := binary.LittleEndian.Uint32(env)
	d.off = 4
	for i := uint32(0); i < n && d.err == nil; i++ {
		k, v := d.field(), d.field()
		if d.err == nil {
			fn(k, v)
		}
	}
	return d.err
}

// DecodeRequestView decodes a request envelope without allocating (except
// for the error of a malformed one).
func DecodeRequestView(b []byte) (RequestView, error) {
	var r RequestView
	if len(b) < HeaderSize {
		return r, fmt.Errorf("%w: %d bytes is shorter than the %d-byte header", ErrMalformed, len(b), HeaderSize)
	}
	le := binary.LittleEndian
	if v := le.Uint32(b); v != Version {
		return r, fmt.Errorf("%w: version %d, want %d", ErrMalformed, v, Version)
	}
	r.DeadlineMs = int64(le.Uint64(b[8:]))
	r.MemoryMB = le.Uint32(b[16:])
	d := decoder{b: b, off: HeaderSize}
	r.RequestID = d.field()
	r.FunctionName = d.field()
	r.FunctionVersion = d.field()
	r.InvokedFunctionARN = d.field()
	r.ClientContext = d.field()
	r.Identity = d.field()
	r.Payload = d.field()
	if le.Uint32(b[4:])&FlagTraceID != 0 {
		r.TraceID = d.field()
	}
	if d.err != nil {
		return RequestView{}, d.err
	}
	if le.Uint32(b[4:])&FlagEnv != 0 {
		r.Env = b[d.off:]
	}
	return r, nil
}

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) field() []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b)-d.off < 4 {
		d.err = fmt.Errorf("%w: truncated length at offset %d", ErrMalformed, d.off)
		return nil
	}
	n32 := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	if uint64(n32) > uint64(len(d.b)-d.off) {
		d.err = fmt.Errorf("%w: field of %d bytes at offset %d overruns the envelope", ErrMalformed, n32, d.off)
		return nil
	}
	n := int(n32)
	f := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return f
}

// Status is the first word of a result record.
type Status uint32

const (
	// StatusOK: the payload is the handler's response.
	StatusOK Status = 0
	// StatusError: the payload is an ErrorPayload; the instance stays warm.
	StatusError Status = 1
	// StatusFatal: the payload is an ErrorPayload and the guest asks to be
	// discarded (a recovered panic, as aws-lambda-go exits after one).
	StatusFatal Status = 2
)

// ResultSize is the size of a result record: status, address, length.
const ResultSize = 12

// EncodeResult writes a result record into dst.
func EncodeResult(dst []byte, s Status, ptr, n uint32) {
	le := binary.LittleEndian
	le.PutUint32(dst[0:], uint32(s))
	le.PutUint32(dst[4:], ptr)
	le.PutUint32(dst[8:], n)
}

// DecodeResult reads a result record.
func DecodeResult(b []byte) (s Status, ptr, n uint32) {
	le := binary.LittleEndian
	return Status(le.Uint32(b[0:])), le.Uint32(b[4:]), le.Uint32(b[8:])
}

// ErrorPayload is AWS Lambda's error shape.
type ErrorPayload struct {
	Message    string       `json:"errorMessage"`
	Type       string       `json:"errorType"`
	StackTrace []StackFrame `json:"stackTrace,omitempty"`
}

// StackFrame is one frame of a stack trace, as aws-lambda-go writes it.
type StackFrame struct {
	Path  string `json:"path,omitempty"`
	Line  int32  `json:"line,omitempty"`
	Label string `json:"label,omitempty"`
}

// UnmarshalJSON accepts a frame object or, as other runtimes write them, a
// plain string, which becomes the label.
func (f *StackFrame) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &f.Label)
	}
	type frame StackFrame
	return json.Unmarshal(b, (*frame)(f))
}

// String formats a frame as "label (path:line)".
func (f StackFrame) String() string {
	var sb strings.Builder
	sb.WriteString(f.Label)
	if f.Path != "" {
		fmt.Fprintf(&sb, " (%s:%d)", f.Path, f.Line)
	}
	return sb.String()
}

// Host functions. A guest calls a host function by importing it as
// `MODULE.NAME` with the one signature every host function has,
// `(in_ptr, in_len, out_ptr, out_cap, out_len_ptr i32) -> (status i32)`: the
// host reads the input at [in_ptr, in_ptr+in_len), writes the output's length
// at out_len_ptr and, when it fits in out_cap bytes, the output at out_ptr.
// An output that does not fit is held for ImportHostResult.
const (
	// ImportModule is the module of the ABI's own imports.
	ImportModule = "wasmlambda_v1"
	// ImportHostResult is `wasmlambda_v1.host_result(out_ptr, out_cap i32)
	// -> (n i32)`: it copies the output the last host call held back, for
	// want of room, into [out_ptr, out_ptr+out_cap), and returns its length;
	// or -1, copying nothing, when there is none or it does not fit.
	ImportHostResult = "host_result"
)

// Statuses a host function call returns.
const (
	// HostOK: the output is the host function's result.
	HostOK uint32 = 0
	// HostError: the host function failed; the output is its error
	// message, UTF-8 text.
	HostError uint32 = 1
)

// ErrNotStreamed is the error message of wasmlambda_stream.write in an
// invocation that has no response stream: the guest then answers with its
// result alone.
const ErrNotStreamed = "wasmlambda_stream: the invocation has no response stream"

// EncodeLog encodes a record for the built-in log host function: level as
// an i32 (log/slog's levels: -4 debug, 0 info, 4 warn, 8 error), the message
// as a field, then each attribute as a key field and a value field.
func EncodeLog(level int32, msg string, attrs [][2]string) []byte {
	n := 4 + 4 + len(msg)
	for _, a := range attrs {
		n += 8 + len(a[0]) + len(a[1])
	}
	b := make([]byte, n)
	binary.LittleEndian.PutUint32(b, uint32(level))
	off := 4 + putString(b[4:], msg)
	for _, a := range attrs {
		off += putString(b[off:], a[0])
		off += putString(b[off:], a[1])
	}
	return b
}

// DecodeLog decodes a record EncodeLog made.
func DecodeLog(b []byte) (level int32, msg string, attrs [][2]string, err error) {
	if len(b) < 4 {
		return 0, "", nil, fmt.Errorf("%w: a log record of %d bytes is shorter than its level", ErrMalformed, len(b))
	}
	level = int32(binary.LittleEndian.Uint32(b))
	d := decoder{b: b, off: 4}
	msg = string(d.field())
	for d.err == nil && d.off < len(b) {
		k := string(d.field())
		v := string(d.field())
		attrs = append(attrs, [2]string{k, v})
	}
	if d.err != nil {
		return 0, "", nil, d.err
	}
	return level, msg, attrs, nil
}

// HTTPRequest is the input of the built-in host function
// wasmlambda_http.request: a request the host makes for the guest.
type HTTPRequest struct {
	Method string
	URL    string
	// Header holds the header fields in order, a name and a value each; a
	// name may repeat.
	Header [][2]string
	Body   []byte
}

// Encode encodes r: the method and the URL as fields, the number of header
// fields as a u32, each header field as a name field and a value field,
// then the body as a field.
func (r *HTTPRequest) Encode() []byte {
	n := 4 + len(r.Method) + 4 + len(r.URL) + headerSize(r.Header) + 4 + len(r.Body)
	b := make([]byte, n)
	off := putString(b, r.Method)
	off += putString(b[off:], r.URL)
	off += putHeader(b[off:], r.Header)
	putBytes(b[off:], r.Body)
	return b
}

// DecodeHTTPRequest decodes a request Encode made. The body aliases b.
func DecodeHTTPRequest(b []byte) (HTTPRequest, error) {
	d := decoder{b: b}
	var r HTTPRequest
	r.Method = string(d.field())
	r.URL = string(d.field())
	r.Header = d.header()
	r.Body = d.field()
	if err := d.end("an HTTP request"); err != nil {
		return HTTPRequest{}, err
	}
	return r, nil
}

// HTTPResponse is the output of wasmlambda_http.request: the response the
// host received.
type HTTPResponse struct {
	// Status is the status code, such as 200.
	Status int
	// Header holds the header fields, as HTTPRequest's.
	Header [][2]string
	Body   []byte
}

// Encode encodes r: the status code as a u32, the header fields as
// HTTPRequest's, then the body as a field.
func (r *HTTPResponse) Encode() []byte {
	b := make([]byte, 4+headerSize(r.Header)+4+len(r.Body))
	binary.LittleEndian.PutUint32(b, uint32(r.Status))
	off := 4 + putHeader(b[4:], r.Header)
	putBytes(b[off:], r.Body)
	return b
}

// DecodeHTTPResponse decodes a response Encode made. The body aliases b.
func DecodeHTTPResponse(b []byte) (HTTPResponse, error) {
	if len(b) < 4 {
		return HTTPResponse{}, fmt.Errorf("%w: an HTTP response of %d bytes is shorter than its status", ErrMalformed, len(b))
	}
	r := HTTPResponse{Status: int(binary.LittleEndian.Uint32(b))}
	d := decoder{b: b, off: 4}
	r.Header = d.header()
	r.Body = d.field()
	if err := d.end("an HTTP response"); err != nil {
		return HTTPResponse{}, err
	}
	return r, nil
}

func headerSize(h [][2]string) int {
	n := 4
	for _, kv := range h {
		n += 8 + len(kv[0]) + len(kv[1])
	}
	return n
}

func putHeader(dst []byte, h [][2]string) int {
	binary.LittleEndian.PutUint32(dst, uint32(len(h)))
	off := 4
	for _, kv := range h {
		off += putString(dst[off:], kv[0])
		off += putString(dst[off:], kv[1])
	}
	return off
}

// header reads a u32 count of header fields, then each name and value.
func (d *decoder) header() [][2]string {
	if d.err != nil {
		return nil
	}
	if len(d.b)-d.off < 4 {
		d.err = fmt.Errorf("%w: truncated header count at offset %d", ErrMalformed, d.off)
		return nil
	}
	n := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	// Each field takes at least 8 bytes: a count past that is malformed,
	// and is not allowed to size an allocation.
	if uint64(n)*8 > uint64(len(d.b)-d.off) {
		d.err = fmt.Errorf("%w: %d header fields at offset %d overrun the record", ErrMalformed, n, d.off)
		return nil
	}
	var h [][2]string
	if n > 0 {
		h = make([][2]string, 0, n)
	}
	for range n {
		k := string(d.field())
		v := string(d.field())
		if d.err != nil {
			return nil
		}
		h = append(h, [2]string{k, v})
	}
	return h
}

// end reports d's error, or bytes left after the last field of what.
func (d *decoder) end(what string) error {
	if d.err != nil {
		return d.err
	}
	if d.off != len(d.b) {
		return fmt.Errorf("%w: %d bytes after the end of %s", ErrMalformed, len(d.b)-d.off, what)
	}
	return nil
}
