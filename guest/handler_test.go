package guest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/guest"
)

// myContext has exactly context.Context's methods.
type myContext interface {
	Deadline() (deadline time.Time, ok bool)
	Done() <-chan struct{}
	Err() error
	Value(key any) any
}

// valuer has a subset of context.Context's methods.
type valuer interface {
	Value(key any) any
}

// customContext has a superset of context.Context's methods.
type customContext interface {
	context.Context
	Custom()
}

type ctxKey struct{}

func TestNewHandlerValidSignatures(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, "marker")
	var gotCtx, gotEvent any
	reset := func() { gotCtx, gotEvent = nil, nil }
	boom := errors.New("boom")

	tests := []struct {
		name    string
		handler any
		want    string // the response, or the error text
		wantErr bool
		ctx     bool // the handler sees the context
		event   bool // the handler sees the event
	}{
		{name: "func()", handler: func() {}, want: "null"},
		{name: "func(TIn)", handler: func(s string) { gotEvent = s }, want: "null", event: true},
		{name: "func() error", handler: func() error { return nil }, want: "null"},
		{name: "func() error failing", handler: func() error { return boom }, want: "boom", wantErr: true},
		{name: "func(TIn) error", handler: func(s string) error { gotEvent = s; return nil }, want: "null", event: true},
		{name: "func() (TOut, error)", handler: func() (int, error) { return 7, nil }, want: "7"},
		{
			name:    "func(TIn) (TOut, error)",
			handler: func(s string) (string, error) { gotEvent = s; return "hi " + s, nil },
			want:    `"hi world"`, event: true,
		},
		{name: "func(context.Context)", handler: func(c context.Context) { gotCtx = c.Value(ctxKey{}) }, want: "null", ctx: true},
		{
			name:    "func(context.Context) error",
			handler: func(c context.Context) error { gotCtx = c.Value(ctxKey{}); return nil },
			want:    "null", ctx: true,
		},
		{
			name:    "func(context.Context) (TOut, error)",
			handler: func(c context.Context) (bool, error) { gotCtx = c.Value(ctxKey{}); return true, nil },
			want:    "true", ctx: true,
		},
		{
			name:    "func(context.Context, TIn)",
			handler: func(c context.Context, s string) { gotCtx, gotEvent = c.Value(ctxKey{}), s },
			want:    "null", ctx: true, event: true,
		},
		{
			name:    "func(context.Context, TIn) error",
			handler: func(c context.Context, s string) error { gotCtx, gotEvent = c.Value(ctxKey{}), s; return nil },
			want:    "null", ctx: true, event: true,
		},
		{
			name: "func(context.Context, TIn) (TOut, error)",
			handler: func(c context.Context, s string) (string, error) {
				gotCtx, gotEvent = c.Value(ctxKey{}), s
				return "hi " + s, nil
			},
			want: `"hi world"`, ctx: true, event: true,
		},
		{
			name:    "func(context.Context, TIn) (TOut, error) failing",
			handler: func(c context.Context, s string) (string, error) { return "ignored", boom },
			want:    "boom", wantErr: true,
		},
		{name: "func(any) takes the event", handler: func(v any) { gotEvent = v }, want: "null", event: true},
		{
			name:    "an interface identical to context.Context is the context",
			handler: func(c myContext) { gotCtx = c.Value(ctxKey{}) },
			want:    "null", ctx: true,
		},
		{
			name:    "two arguments, the first identical to context.Context",
			handler: func(c myContext, s string) { gotCtx, gotEvent = c.Value(ctxKey{}), s },
			want:    "null", ctx: true, event: true,
		},
		{
			name:    "a concrete error type",
			handler: func() (string, *myError) { return "fine", nil },
			want:    `"fine"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reset()
			h, err := guest.NewHandler(tt.handler)
			require.NoError(t, err)
			out, err := h.Invoke(ctx, []byte(`"world"`))
			if tt.wantErr {
				require.EqualError(t, err, tt.want)
				require.Nil(t, out)
			} else {
				require.NoError(t, err)
				require.Equal(t, tt.want, string(out))
			}
			if tt.ctx {
				require.Equal(t, "marker", gotCtx)
			}
			if tt.event {
				require.Equal(t, "world", gotEvent)
			}
		})
	}
}

func TestNewHandlerInvalid(t *testing.T) {
	tests := []struct {
		name    string
		handler any
		want    string
	}{
		{"nil", nil, "wasmlambda/guest: handler is nil"},
		{"not a function", struct{}{}, "wasmlambda/guest: handler is a struct (struct {}), but it must be a func"},
		{"a string", "handler", "wasmlambda/guest: handler is a string (string), but it must be a func"},
		{
			"three arguments",
			func(context.Context, string, string) error { return nil },
			"wasmlambda/guest: handler takes 3 arguments, but at most 2 are allowed",
		},
		{
			"two arguments, the first not a context",
			func(string, context.Context) error { return nil },
			"wasmlambda/guest: handler takes two arguments, but the first is string, not context.Context",
		},
		{
			"two arguments, the first a subset of context.Context",
			func(valuer, any) {},
			"wasmlambda/guest: handler takes two arguments, but the first is guest_test.valuer, not context.Context",
		},
		{
			"two arguments, the first a superset of context.Context",
			func(customContext, any) {},
			"wasmlambda/guest: handler takes two arguments, but the first is guest_test.customContext, not context.Context",
		},
		{
			"one interface argument that is not a context",
			func(valuer) {},
			"wasmlambda/guest: handler takes an interface, guest_test.valuer, but it is not context.Context",
		},
		{
			"one interface argument that extends context",
			func(customContext) {},
			"wasmlambda/guest: handler takes an interface, guest_test.customContext, but it is not context.Context",
		},
		{
			"three results",
			func() (int, int, error) { return 0, 0, nil },
			"wasmlambda/guest: handler returns 3 values, but at most 2 are allowed",
		},
		{
			"two results, the second not an error",
			//lint:ignore ST1008 the signature under test is deliberately wrong
			func() (error, string) { return nil, "" },
			"wasmlambda/guest: handler returns two values, but the second, string, does not implement error",
		},
		{
			"one result that is not an error",
			func() string { return "" },
			"wasmlambda/guest: handler returns a single value, string, but it does not implement error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := guest.NewHandler(tt.handler)
			require.EqualError(t, err, tt.want)
			require.Nil(t, h)
			require.PanicsWithError(t, tt.want, func() { guest.Start(tt.handler) })
		})
	}
}

type myError struct{ msg string }

func (e *myError) Error() string { return e.msg }

type person struct {
	Name string `json:"name"`
	Age  int    `json:"age,omitempty"`
}

// closingReader records that it was closed. Without exported fields it
// encodes as {}, so it is a raw response.
type closingReader struct {
	r      io.Reader
	closed *bool
}

func (r closingReader) Read(p []byte) (int, error) { return r.r.Read(p) }
func (r closingReader) Close() error               { *r.closed = true; return nil }

// unencodable fails to encode as JSON.
type unencodable struct{}

func (unencodable) MarshalJSON() ([]byte, error) { return nil, errors.New("barf") }

// rawHandler implements guest.Handler directly.
type rawHandler struct{}

func (rawHandler) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	return append([]byte("raw:"), payload...), nil
}

func TestHandlerJSON(t *testing.T) {
	var closed bool
	tests := []struct {
		name    string
		handler any
		input   string
		want    string
		wantErr string
	}{
		{
			name:    "struct in and out",
			handler: func(p person) (person, error) { p.Age++; return p, nil },
			input:   `{"name":"Ada","age":36,"unknown":true}`,
			want:    `{"name":"Ada","age":37}`,
		},
		{
			name:    "pointers in and out",
			handler: func(p *person) (*person, error) { return &person{Name: strings.ToUpper(p.Name)}, nil },
			input:   `{"name":"ada"}`,
			want:    `{"name":"ADA"}`,
		},
		{
			name:    "a nil pointer result is null",
			handler: func() (*person, error) { return nil, nil },
			want:    `null`,
		},
		{
			name:    "numbers decode into any as float64",
			handler: func(v any) (string, error) { _, ok := v.(float64); return map[bool]string{true: "float64"}[ok], nil },
			input:   `19.99`,
			want:    `"float64"`,
		},
		{
			name:    "only the first JSON value is read",
			handler: func(n int) (int, error) { return n, nil },
			input:   `1 2`,
			want:    `1`,
		},
		{
			name:    "HTML is not escaped",
			handler: func() (string, error) { return "<b>&</b>", nil },
			want:    `"<b>&</b>"`,
		},
		{
			name:    "bytes are base64 strings",
			handler: func(b []byte) ([]byte, error) { return append(b, "yolo"...), nil },
			input:   `"aGVsbG8="`,
			want:    `"aGVsbG95b2xv"`,
		},
		{
			name:    "json.RawMessage passes through, compacted",
			handler: func(m json.RawMessage) (json.RawMessage, error) { return m, nil },
			input:   "{\"a\": [1, 2],\n \"b\": null}",
			want:    `{"a":[1,2],"b":null}`,
		},
		{
			name:    "an io.Reader result is raw",
			handler: func() (io.Reader, error) { return strings.NewReader("<xml/>"), nil },
			want:    `<xml/>`,
		},
		{
			name:    "a *bytes.Buffer result is raw",
			handler: func() (*bytes.Buffer, error) { return bytes.NewBufferString("raw bytes"), nil },
			want:    `raw bytes`,
		},
		{
			name: "a reader that is also a JSON object with fields is JSON",
			handler: func() (io.Reader, error) {
				return struct {
					io.Reader `json:"-"`
					Field     string
				}{strings.NewReader("raw"), "json"}, nil
			},
			want: `{"Field":"json"}`,
		},
		{
			name: "a reader that cannot be encoded is raw",
			handler: func() (any, error) {
				return struct {
					unencodable
					io.Reader
				}{Reader: strings.NewReader("wat")}, nil
			},
			want: `wat`,
		},
		{
			name: "a raw reader is closed",
			handler: func() (io.Reader, error) {
				return closingReader{strings.NewReader("closed"), &closed}, nil
			},
			want: `closed`,
		},
		{
			name:    "a result that cannot be encoded is an error",
			handler: func() (any, error) { return unencodable{}, nil },
			wantErr: "json: error calling MarshalJSON for type guest_test.unencodable: barf",
		},
		{
			name:    "invalid JSON input",
			handler: func(s string) error { return nil },
			input:   `{"invalid json`,
			wantErr: "unexpected EOF",
		},
		{
			name:    "an empty payload for a handler that takes an event",
			handler: func(s string) error { return nil },
			input:   ``,
			wantErr: "EOF",
		},
		{
			name:    "an empty payload for a handler that takes none",
			handler: func() (string, error) { return "ok", nil },
			input:   ``,
			want:    `"ok"`,
		},
		{
			name:    "a type mismatch",
			handler: func(p person) error { return nil },
			input:   `[1]`,
			wantErr: "json: cannot unmarshal array into Go value of type guest_test.person",
		},
		{
			name:    "a Handler is used as it is",
			handler: rawHandler{},
			input:   `not json`,
			want:    `raw:not json`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := guest.NewHandler(tt.handler)
			require.NoError(t, err)
			out, err := h.Invoke(context.Background(), []byte(tt.input))
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, string(out))
		})
	}
	require.True(t, closed, "the raw reader was closed")
}

func TestHandlerTypedNilError(t *testing.T) {
	t.Run("a nil concrete error result is no error", func(t *testing.T) {
		h, err := guest.NewHandler(func() *myError { return nil })
		require.NoError(t, err)
		out, err := h.Invoke(context.Background(), nil)
		require.NoError(t, err)
		require.Equal(t, "null", string(out))
	})
	t.Run("an error interface holding a typed nil is an error, as in Go", func(t *testing.T) {
		h, err := guest.NewHandler(func() error { var e *myError; return e })
		require.NoError(t, err)
		out, err := h.Invoke(context.Background(), nil)
		require.Nil(t, out)
		require.IsType(t, (*myError)(nil), err)
	})
}
