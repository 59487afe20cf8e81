// Package awslog writes a lambda.Runtime's log records as AWS Lambda writes
// a function's logs to CloudWatch Logs, byte for byte, in AWS's Text or JSON
// format: a slog.Handler to set as the Runtime's Options.Logger.
//
// The runtime's records keep constant messages (START, END, REPORT) and
// carry their figures as attributes (request_id, duration_ms, …; see
// docs/AWS.md, "Logs"), so that any slog handler can use them. This handler
// renders them as AWS does:
//
//   - Text: "START RequestId: <id> Version: $LATEST", "END RequestId: <id>",
//     "REPORT RequestId: <id>\tDuration: 12.34 ms\tBilled Duration: 13 ms\t
//     Memory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 3.45 ms\t",
//     and the function's output as it wrote it.
//   - JSON: the platform.start, platform.runtimeDone and platform.report
//     records of AWS's Telemetry API ({"time","type","record"}), the
//     function's JSON lines as they are, and its other lines as
//     {"timestamp","level","message","requestId"}.
//
// A function's records name its format (the attribute log_format, set for
// a function whose LoggingConfig says JSON), so that one handler serves
// functions of both formats; Options.Format renders the rest. The runtime's
// other records are written as "LEVEL message key=value …" in Text, and as
// {"timestamp","level","message",…} in JSON.
//
// Each record is one Write of whole lines, so that lines of concurrent
// invocations do not mix.
package awslog

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"

	lambda "github.com/wasmlambda/lambda"
)

// Options configures a Handler. The zero value writes AWS's Text format.
type Options struct {
	// Format renders the records that do not name their format: those of
	// the runtime itself, and of functions in the Text format. Default
	// lambda.LogFormatText.
	Format lambda.LogFormat

	// Level is the lowest level written. Default lambda.LevelTrace, every
	// record: a function's LoggingConfig levels filter its records already.
	Level slog.Leveler

	// Prefix begins each line with "[function] ", or "[function/trigger] "
	// for a trigger's records, for a process that runs several functions.
	// AWS has no such prefix: each function has its own log group.
	Prefix bool
}

// Handler is a slog.Handler that writes AWS's log formats. It is safe for
// concurrent use.
type Handler struct {
	w      io.Writer
	mu     *sync.Mutex
	opts   Options
	attrs  []slog.Attr
	groups string
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler that writes to w. A nil opts is the zero
// Options.
func NewHandler(w io.Writer, opts *Options) *Handler {
	h := &Handler{w: w, mu: &sync.Mutex{}}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.Format == "" {
		h.opts.Format = lambda.LogFormatText
	}
	if h.opts.Level == nil {
		h.opts.Level = lambda.LevelTrace
	}
	return h
}

// Enabled reports whether l is at or above Options.Level.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.opts.Level.Level() }

// WithAttrs returns a Handler whose records carry attrs too.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), h.qualify(attrs)...)
	return &c
}

// WithGroup returns a Handler that qualifies the keys of later attributes
// with name, as "name.key".
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	if c.groups != "" {
		name = c.groups + "." + name
	}
	c.groups = name
	return &c
}

func (h *Handler) qualify(attrs []slog.Attr) []slog.Attr {
	if h.groups == "" {
		return attrs
	}
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = slog.Attr{Key: h.groups + "." + a.Key, Value: a.Value}
	}
	return out
}

// record is a slog.Record with its attributes gathered, resolved, last
// one of a key winning.
type record struct {
	slog.Record
	attrs []slog.Attr
}

func (r *record) value(key string) (slog.Value, bool) {
	for i := len(r.attrs) - 1; i >= 0; i-- {
		if r.attrs[i].Key == key {
			return r.attrs[i].Value, true
		}
	}
	return slog.Value{}, false
}

func (r *record) get(key string) string {
	v, _ := r.value(key)
	if v.Kind() == slog.KindAny && v.Any() == nil {
		return ""
	}
	return v.String()
}

func (r *record) has(key string) bool {
	_, ok := r.value(key)
	return ok
}

// Handle writes r as one or more lines, in one Write.
func (h *Handler) Handle(_ context.Context, sr slog.Record) error {
	r := &record{Record: sr, attrs: append([]slog.Attr(nil), h.attrs...)}
	sr.Attrs(func(a slog.Attr) bool {
		r.attrs = append(r.attrs, h.qualify([]slog.Attr{a})...)
		return true
	})
	for i, a := range r.attrs {
		r.attrs[i].Value = a.Value.Resolve()
	}
	format := h.opts.Format
	if f := r.get("log_format"); f != "" {
		format = lambda.LogFormat(f)
	}
	var text string
	if format == lambda.LogFormatJSON {
		text = jsonLine(r)
	} else {
		text = textLine(r)
	}
	pre := ""
	if h.opts.Prefix {
		if fn := r.get("function"); fn != "" {
			if tr := r.get("trigger"); tr != "" {
				fn += "/" + tr
			}
			pre = "[" + fn + "] "
		}
	}
	var out bytes.Buffer
	for l := range strings.SplitSeq(text, "\n") {
		out.WriteString(pre)
		out.WriteString(l)
		out.WriteByte('\n')
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(out.Bytes())
	return err
}

// skipped are the attributes no line shows: the function's, which its log
// group names on AWS, and the format.
var skipped = map[string]bool{"function": true, "version": true, "trigger": true, "log_format": true}
