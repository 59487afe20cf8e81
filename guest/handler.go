package guest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync/atomic"
)

// Handler is a function's raw event handler: it takes the event as the caller
// gave it and returns the response bytes. It has the same method as
// aws-lambda-go's lambda.Handler, so a value written for that interface is a
// Handler too.
//
// The payload slice is only valid during the call: the guest reuses its memory
// for the next event, so an implementation must copy what it keeps.
type Handler interface {
	// Invoke handles one event. A non-nil error becomes a function error.
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

var (
	contextType    = reflect.TypeFor[context.Context]()
	errorType      = reflect.TypeFor[error]()
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	bytesType      = reflect.TypeFor[[]byte]()
)

// NewHandler validates handler and returns a Handler that JSON-decodes the
// event into the handler's argument, calls it, and JSON-encodes its result, as
// aws-lambda-go does.
//
// handler is either a value that already implements Handler, which is used as
// it is, or a function with one of these signatures, where TIn and TOut are
// types encoding/json can decode and encode:
//
//	func()
//	func(TIn)
//	func() error
//	func(TIn) error
//	func() (TOut, error)
//	func(TIn) (TOut, error)
//	func(context.Context)
//	func(context.Context) error
//	func(context.Context) (TOut, error)
//	func(context.Context, TIn)
//	func(context.Context, TIn) error
//	func(context.Context, TIn) (TOut, error)
//
// Any type that implements error may stand in for error; a nil value of a
// concrete such type (func() (T, *MyError)) is no error. The event is decoded
// with a json.Decoder (so an empty payload is an error, "EOF", for a handler
// that takes an event). The response is encoded with HTML escaping off and no
// trailing newline; a handler without a TOut responds null. A TOut that
// implements io.Reader and encodes to a JSON object without fields (as
// *bytes.Buffer and *strings.Reader do), or cannot be encoded at all, is read
// and its bytes returned as they are, and closed if it implements io.Closer.
// []byte is encoded as a base64 JSON string and json.RawMessage is copied
// through (compacted), as encoding/json does.
//
// An event of type json.RawMessage or []byte, or a response whose value is
// one, is checked, copied or compacted, and base64-decoded or encoded by
// the SDK itself, without encoding/json's scanner, when it is valid: the
// bytes, and the event the handler gets, are those encoding/json would
// give. Anything else (invalid JSON, data after the event's first value,
// nesting deeper than 256 levels) takes encoding/json's way, so that the
// errors are its own too.
//
// The response the returned Handler gives is valid until its next call,
// which reuses the buffer, as aws-lambda-go's lambda.NewHandler does.
//
// An invalid handler yields an error that names the problem.
func NewHandler(handler any) (Handler, error) {
	return newHandler(handler, nil)
}

// newHandler is NewHandler with options, nil for none.
func newHandler(handler any, opts *handlerOptions) (Handler, error) {
	if handler == nil {
		return nil, errors.New("wasmlambda/guest: handler is nil")
	}
	if h, ok := handler.(Handler); ok {
		return h, nil
	}
	t := reflect.TypeOf(handler)
	if t.Kind() != reflect.Func {
		return nil, fmt.Errorf("wasmlambda/guest: handler is a %s (%s), but it must be a func", t.Kind(), t)
	}
	takesContext, err := handlerTakesContext(t)
	if err != nil {
		return nil, fmt.Errorf("wasmlambda/guest: %w", err)
	}
	if err := validateReturns(t); err != nil {
		return nil, fmt.Errorf("wasmlambda/guest: %w", err)
	}
	rh := &reflectHandler{fn: reflect.ValueOf(handler), takesContext: takesContext}
	if opts != nil {
		rh.useNumber, rh.disallow = opts.useNumber, opts.disallow
		rh.escapeHTML, rh.indentPrefix, rh.indentValue = opts.escapeHTML, opts.indentPrefix, opts.indentValue
	}
	if n := t.NumIn(); n == 2 || (n == 1 && !takesContext) {
		rh.eventType = t.In(n - 1)
		switch rh.eventType {
		case rawMessageType:
			rh.eventKind = eventRawMessage
		case bytesType:
			rh.eventKind = eventBytes
		}
	}
	if n := t.NumOut(); n > 0 {
		rh.errType = t.Out(n - 1)
		rh.hasValue = n == 2
	}
	return rh, nil
}

// isContext reports whether t is an interface with exactly the method set of
// context.Context (context.Context itself, or an identical declaration).
func isContext(t reflect.Type) bool {
	return t.Kind() == reflect.Interface && contextType.Implements(t) && t.Implements(contextType)
}

// handlerTakesContext applies aws-lambda-go's argument rules.
func handlerTakesContext(t reflect.Type) (bool, error) {
	switch t.NumIn() {
	case 0:
		return false, nil
	case 1:
		in := t.In(0)
		// A non-interface event, or the empty interface (func(event any)), is
		// the event; any other interface must be context.Context.
		if in.Kind() != reflect.Interface || in.NumMethod() == 0 {
			return false, nil
		}
		if !isContext(in) {
			return false, fmt.Errorf("handler takes an interface, %s, but it is not context.Context", in)
		}
		return true, nil
	case 2:
		if in := t.In(0); !isContext(in) {
			return false, fmt.Errorf("handler takes two arguments, but the first is %s, not context.Context", in)
		}
		return true, nil
	default:
		return false, fmt.Errorf("handler takes %d arguments, but at most 2 are allowed", t.NumIn())
	}
}

// validateReturns applies aws-lambda-go's result rules.
func validateReturns(t reflect.Type) error {
	switch n := t.NumOut(); n {
	case 0:
		return nil
	case 1:
		if out := t.Out(0); !out.Implements(errorType) {
			return fmt.Errorf("handler returns a single value, %s, but it does not implement error", out)
		}
		return nil
	case 2:
		if out := t.Out(1); !out.Implements(errorType) {
			return fmt.Errorf("handler returns two values, but the second, %s, does not implement error", out)
		}
		return nil
	default:
		return fmt.Errorf("handler returns %d values, but at most 2 are allowed", n)
	}
}

// reflectHandler calls a validated handler function.
type reflectHandler struct {
	fn           reflect.Value
	takesContext bool
	eventType    reflect.Type // nil when the handler takes no event
	eventKind    eventKind
	errType      reflect.Type // nil when the handler returns nothing
	hasValue     bool         // the handler returns (TOut, error)

	// aws-lambda-go's options of the decoder and the encoder.
	useNumber, disallow, escapeHTML bool
	indentPrefix, indentValue       string

	// out is the buffer the last response was encoded into, kept for the
	// next: a response is valid until the next call, as aws-lambda-go's.
	out atomic.Pointer[outBuffer]
}

// eventKind picks how an event is decoded.
type eventKind int

const (
	eventJSON       eventKind = iota // encoding/json
	eventRawMessage                  // json.RawMessage: checked and copied
	eventBytes                       // []byte: a base64 JSON string
)

// outBuffer is a reusable buffer with its encoder.
type outBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
	// indent: the encoder indents (WithSetIndent), and the response keeps
	// its trailing newline, as aws-lambda-go's.
	indent bool
	// plain: the encoder neither escapes HTML nor indents, so that the
	// SDK's own encoding of a json.RawMessage or []byte gives its bytes.
	plain bool
}

// maxKeptBuffer bounds the buffer kept for the next response, so that one
// large response does not hold its memory for the instance's life.
const maxKeptBuffer = 1 << 20

func newOutBuffer(escapeHTML bool) *outBuffer {
	b := &outBuffer{}
	b.enc = json.NewEncoder(&b.buf)
	b.enc.SetEscapeHTML(escapeHTML)
	return b
}

// takeBuffer returns the kept buffer, emptied, or a new one.
func takeBuffer(p *atomic.Pointer[outBuffer], escapeHTML bool) *outBuffer {
	if b := p.Swap(nil); b != nil {
		b.buf.Reset()
		return b
	}
	return newOutBuffer(escapeHTML)
}

// takeBuffer returns the kept buffer, emptied, or a new one with the
// handler's encoder options.
func (h *reflectHandler) takeBuffer() *outBuffer {
	if b := h.out.Swap(nil); b != nil {
		b.buf.Reset()
		return b
	}
	b := newOutBuffer(h.escapeHTML)
	if h.indented() {
		b.enc.SetIndent(h.indentPrefix, h.indentValue)
		b.indent = true
	}
	return b
}

// indented reports whether WithSetIndent gave a prefix or an indent.
func (h *reflectHandler) indented() bool { return h.indentPrefix != "" || h.indentValue != "" }

// keepBuffer keeps b for the next takeBuffer, unless it has grown too big.
func keepBuffer(p *atomic.Pointer[outBuffer], b *outBuffer) {
	if b.buf.Cap() <= maxKeptBuffer {
		p.Store(b)
	}
}

// Invoke decodes the event, calls the function and encodes its result. A
// panic in the function is not recovered here.
func (h *reflectHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var args [2]reflect.Value
	n := 0
	if h.takesContext {
		if ctx == nil {
			ctx = context.Background()
		}
		args[n] = reflect.ValueOf(&ctx).Elem()
		n++
	}
	if h.eventType != nil {
		event, err := h.decodeEvent(payload)
		if err != nil {
			return nil, err
		}
		args[n] = event
		n++
	}

	out := h.fn.Call(args[:n])

	if h.errType != nil {
		if err := returnedError(out[len(out)-1]); err != nil {
			return nil, err
		}
	}
	var val any
	if h.hasValue {
		val = out[0].Interface()
	}
	b := h.takeBuffer()
	b.plain = !h.escapeHTML && !b.indent
	defer keepBuffer(&h.out, b)
	return encodeResponse(b, val)
}

// decodeEvent decodes the event as aws-lambda-go does, with a json.Decoder:
// the first JSON value of payload, whatever follows it.
//
// A payload that is exactly one JSON value, which is all but always the
// case, decodes the same with json.Unmarshal, without the Decoder's
// buffers; json.Unmarshal fails with a *json.SyntaxError, before it
// decodes anything, on any other, which then goes to the Decoder. (So an
// UnmarshalJSON method of the event that itself returns a
// *json.SyntaxError runs a second time.) A json.RawMessage or []byte event
// that is exactly one value is checked and copied without encoding/json.
func (h *reflectHandler) decodeEvent(payload []byte) (reflect.Value, error) {
	event := reflect.New(h.eventType)
	kind := h.eventKind
	if !fastJSON {
		kind = eventJSON
	}
	switch kind {
	case eventRawMessage:
		if _, ok := scanJSON(nil, payload, false); ok {
			*event.Interface().(*json.RawMessage) = bytes.Clone(trimSpace(payload))
			return event.Elem(), nil
		}
	case eventBytes:
		v := trimSpace(payload)
		if string(v) == "null" {
			return event.Elem(), nil
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && isBase64(v[1:len(v)-1]) {
			s := v[1 : len(v)-1]
			b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
			if n, err := base64.StdEncoding.Decode(b, s); err == nil {
				*event.Interface().(*[]byte) = b[:n]
				return event.Elem(), nil
			}
		}
	}
	if h.useNumber || h.disallow {
		// json.Unmarshal has neither option: the Decoder, as aws-lambda-go.
		dec := json.NewDecoder(bytes.NewReader(payload))
		if h.useNumber {
			dec.UseNumber()
		}
		if h.disallow {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(event.Interface()); err != nil {
			return reflect.Value{}, err
		}
		return event.Elem(), nil
	}
	err := json.Unmarshal(payload, event.Interface())
	if _, syntax := err.(*json.SyntaxError); syntax {
		event = reflect.New(h.eventType)
		err = json.NewDecoder(bytes.NewReader(payload)).Decode(event.Interface())
	}
	if err != nil {
		return reflect.Value{}, err
	}
	return event.Elem(), nil
}

// returnedError returns the handler's error result, or nil. A nil pointer (or
// map, slice, ...) of a concrete error type counts as no error, which is what
// the author of func() (T, *MyError) means; an error interface holding such a
// typed nil is an error, as it is anywhere in Go.
func returnedError(v reflect.Value) error {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		if v.IsNil() {
			return nil
		}
	}
	err, _ := v.Interface().(error)
	return err
}

// encodeResponse encodes a handler's result into b the way aws-lambda-go
// does. A json.RawMessage or a []byte is written without encoding/json,
// when it is valid, as encoding/json would write it.
func encodeResponse(b *outBuffer, val any) ([]byte, error) {
	if !fastJSON || !b.plain {
		return encodeJSON(b, val)
	}
	switch v := val.(type) {
	case json.RawMessage:
		if v == nil {
			break
		}
		if out, ok := scanJSON(b.buf.AvailableBuffer(), v, true); ok {
			b.buf.Write(out)
			return b.buf.Bytes(), nil
		}
	case []byte:
		if v == nil {
			break
		}
		out := append(b.buf.AvailableBuffer(), '"')
		out = base64.StdEncoding.AppendEncode(out, v)
		out = append(out, '"')
		b.buf.Write(out)
		return b.buf.Bytes(), nil
	}
	return encodeJSON(b, val)
}

// encodeJSON encodes a handler's result into b with encoding/json, as
// aws-lambda-go does.
func encodeJSON(b *outBuffer, val any) ([]byte, error) {
	if err := b.enc.Encode(val); err != nil {
		// Not JSON, but a reader: its bytes are the response.
		if r, ok := val.(io.Reader); ok {
			return readResponse(r)
		}
		return nil, err
	}
	// A reader that encodes to a JSON object without fields is a raw
	// response; one with exported fields is encoded as JSON.
	if r, ok := val.(io.Reader); ok && bytes.HasPrefix(b.buf.Bytes(), []byte("{}")) {
		return readResponse(r)
	}
	out := b.buf.Bytes()
	if b.indent {
		return out, nil // aws-lambda-go keeps the newline of an indented response
	}
	return out[:len(out)-1], nil // drop the encoder's newline
}

// readResponse reads a raw response and closes it if it is a Closer.
func readResponse(r io.Reader) ([]byte, error) {
	if c, ok := r.(io.Closer); ok {
		defer func() { _ = c.Close() }()
	}
	if b, ok := r.(*bytes.Buffer); ok {
		return b.Bytes(), nil
	}
	return io.ReadAll(r)
}
