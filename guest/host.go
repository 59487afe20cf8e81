package guest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"unsafe"

	"github.com/wasmlambda/lambda/internal/abi"
)

// HostFunc is a host function import, as a Go guest declares it: with
// //go:wasmimport, the host module and function names, and this one
// signature, which every host function has (docs/ABI.md):
//
//	//go:wasmimport acme lookup
//	func lookup(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32
//
// Call it with CallHost or CallHostJSON rather than directly. The function
// the guest's own package declares is what names the import, so that the
// host sees, when it deploys the module, which host modules the guest uses
// and refuses one the function is not granted (FunctionConfig.Capabilities).
type HostFunc func(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

// HostError is an error a host function returned, or the error of a host
// function that panicked, as the guest receives it: the message only.
type HostError struct {
	// Message is the host function's error message.
	Message string
}

// Error returns the message.
func (e *HostError) Error() string { return e.Message }

// hostBufSize is the size of hostBuf: an output that fits is copied out of
// it, and a larger one is fetched with host_result, into a buffer of its
// size.
const hostBufSize = 16 << 10

// hostBuf receives host functions' outputs. A guest runs one goroutine at a
// time, and CallHost does not yield between the call and its copy.
var hostBuf []byte

// CallHost calls the host function fn with in and returns its output, a
// slice of the caller's own. The host's error, or its panic, is a
// *HostError. CallHost may be called from the handler and from init
// functions.
func CallHost(fn HostFunc, in []byte) ([]byte, error) {
	if hostBuf == nil {
		hostBuf = make([]byte, hostBufSize)
	}
	var n uint32
	status := fn(unsafe.SliceData(in), uint32(len(in)), unsafe.SliceData(hostBuf), uint32(len(hostBuf)), &n)
	var out []byte
	if n <= uint32(len(hostBuf)) {
		out = slices.Clone(hostBuf[:n])
	} else {
		out = make([]byte, n)
		if got := hostResult(unsafe.SliceData(out), n); got < 0 || uint32(got) != n {
			return nil, fmt.Errorf("wasmlambda/guest: host_result returned %d for an output of %d bytes", got, n)
		}
	}
	switch status {
	case abi.HostOK:
		return out, nil
	case abi.HostError:
		return nil, &HostError{Message: string(out)}
	}
	return nil, fmt.Errorf("wasmlambda/guest: a host function returned the unknown status %d", status)
}

// CallHostJSON calls the host function fn with in encoded as JSON, and
// decodes its output, JSON, into an Out. An empty output leaves Out's zero
// value. Its errors are CallHost's, and those of encoding in and decoding
// the output.
func CallHostJSON[Out, In any](fn HostFunc, in In) (Out, error) {
	var out Out
	b, err := json.Marshal(in)
	if err != nil {
		return out, fmt.Errorf("encode the input of a host function: %w", err)
	}
	resp, err := CallHost(fn, b)
	if err != nil || len(resp) == 0 {
		return out, err
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return out, fmt.Errorf("decode the output of a host function as %T: %w", out, err)
	}
	return out, nil
}

// Setting returns the value of key in the function's settings
// (FunctionConfig.Settings), and whether it is set. The function must be
// granted the capability wasmlambda_settings (lambda.CapabilitySettings), or
// the module that calls Setting does not deploy.
func Setting(key string) (string, bool) {
	out, err := CallHost(settingsGet, []byte(key))
	if err != nil {
		return "", false
	}
	return string(out), true
}

// ErrNotStreamed is StreamResponse's error in an invocation whose caller
// takes no response stream (lambda.WithResponseStream), and outside
// wasmlambda: the guest then answers with its result alone.
var ErrNotStreamed = errors.New(abi.ErrNotStreamed)

// StreamResponse sends p to the invocation's response stream, where the
// host writes it out at once, before StreamResponse returns; the result
// the handler returns follows the chunks. In an invocation without a
// stream it returns ErrNotStreamed, and the guest answers as it would
// without one. Every function may call it: its import,
// wasmlambda_stream.write, is granted to all (docs/ABI.md).
//
// A Function URL in RESPONSE_STREAM mode takes, in a stream, the body of
// an HTTP response after a prelude (package guest/lambdaurl writes both):
// see trigger/httpfn.
func StreamResponse(p []byte) error {
	_, err := CallHost(streamWrite, p)
	var he *HostError
	if errors.As(err, &he) && he.Message == abi.ErrNotStreamed {
		return ErrNotStreamed
	}
	return err
}

// NewLogHandler returns a slog.Handler that sends each record to the host's
// logger (the runtime's Options.Logger), with its level, its message and its
// attributes, to which the host adds the function's name and version and
// the request ID. The function must be granted the capability
// wasmlambda_log (lambda.CapabilityLog), or the module that calls Handle
// does not deploy.
//
// Attribute values are sent as strings (slog.Value.String), and groups
// become dotted keys ("req.path"). The host stamps the time. Of opts, only
// Level is used; nil logs Info and above.
//
//	logger := slog.New(guest.NewLogHandler(nil))
//	logger.Warn("cache miss", "key", key)
func NewLogHandler(opts *slog.HandlerOptions) slog.Handler {
	h := &logHandler{level: slog.LevelInfo}
	if opts != nil && opts.Level != nil {
		h.level = opts.Level
	}
	return h
}

type logHandler struct {
	level  slog.Leveler
	attrs  [][2]string
	prefix string // the open groups, each followed by a dot
}

// Enabled reports whether level is at least the handler's.
func (h *logHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

// Handle sends r to the host.
func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := slices.Clip(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		attrs = appendAttr(attrs, h.prefix, a)
		return true
	})
	_, err := CallHost(logRecord, abi.EncodeLog(int32(r.Level), r.Message, attrs))
	return err
}

// WithAttrs returns a handler whose records carry attrs too.
func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = slices.Clip(h.attrs)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

// WithGroup returns a handler whose attributes are in the group name.
func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix += name + "."
	return &h2
}

// appendAttr appends a, flattened, as slog's handlers do: an empty attribute
// is dropped, and a group's attributes get its name as a prefix.
func appendAttr(attrs [][2]string, prefix string, a slog.Attr) [][2]string {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return attrs
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			attrs = appendAttr(attrs, prefix, g)
		}
		return attrs
	}
	return append(attrs, [2]string{prefix + a.Key, a.Value.String()})
}
