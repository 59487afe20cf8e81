package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// logHandler writes a runtime's log records as CloudWatch Logs shows a
// function's log stream: START, the guest's output line by line as it
// wrote it, END and REPORT in AWS's words, and the runtime's other records
// as "LEVEL message key=value". With prefix set, each line begins with
// "[function] " (or "[function/trigger] "), for a process that runs
// several functions.
//
// Each record is one Write of whole lines, so that lines from concurrent
// invocations do not mix.
type logHandler struct {
	w      io.Writer
	prefix bool
	level  slog.Level
	attrs  []slog.Attr
	group  string
}

// newLogger returns a logger that writes through a logHandler.
func newLogger(w io.Writer, prefix bool, level slog.Level) *slog.Logger {
	return slog.New(&logHandler{w: w, prefix: prefix, level: level})
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), h.qualify(attrs)...)
	return &c
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}

// qualify prefixes the attributes' keys with the handler's group.
func (h *logHandler) qualify(attrs []slog.Attr) []slog.Attr {
	if h.group == "" {
		return attrs
	}
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = slog.Attr{Key: h.group + "." + a.Key, Value: a.Value}
	}
	return out
}

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := append([]slog.Attr(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, h.qualify([]slog.Attr{a})...)
		return true
	})
	get := func(key string) string {
		for i := len(attrs) - 1; i >= 0; i-- {
			if attrs[i].Key == key {
				return attrs[i].Value.Resolve().String()
			}
		}
		return ""
	}
	has := func(key string) bool {
		for _, a := range attrs {
			if a.Key == key {
				return true
			}
		}
		return false
	}

	var line string
	switch {
	case r.Message == "START" && has("request_id"):
		line = "START RequestId: " + get("request_id") + " Version: " + or(get("version"), "$LATEST")
	case r.Message == "END" && has("request_id"):
		line = "END RequestId: " + get("request_id")
	case r.Message == "REPORT" && has("request_id"):
		line = reportLine(get)
	case has("stream"):
		// The guest's own output, as it wrote it.
		line = r.Message
	case r.Level == slog.LevelError && has("error_type") && strings.HasPrefix(r.Message, "{"):
		// The error a guest reported, as AWS's runtimes log it.
		line = r.Message
	case strings.HasPrefix(r.Message, "Task timed out after"):
		line = r.Message
	default:
		var b strings.Builder
		b.WriteString(r.Level.String())
		b.WriteByte(' ')
		b.WriteString(r.Message)
		for _, a := range attrs {
			switch a.Key {
			case "function", "version", "trigger":
				continue
			}
			fmt.Fprintf(&b, " %s=%s", a.Key, quoteValue(a.Value.Resolve().String()))
		}
		line = b.String()
	}

	pre := ""
	if h.prefix {
		if fn := get("function"); fn != "" {
			if tr := get("trigger"); tr != "" {
				fn += "/" + tr
			}
			pre = "[" + fn + "] "
		}
	}
	var out bytes.Buffer
	for l := range strings.SplitSeq(line, "\n") {
		out.WriteString(pre)
		out.WriteString(l)
		out.WriteByte('\n')
	}
	_, err := h.w.Write(out.Bytes())
	return err
}

// reportLine is AWS's REPORT line: tab-separated, durations in ms with two
// decimals, the status and error type last when the invocation failed.
func reportLine(get func(string) string) string {
	ms := func(key string) string {
		f, err := strconv.ParseFloat(get(key), 64)
		if err != nil {
			return get(key)
		}
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	parts := []string{
		"REPORT RequestId: " + get("request_id"),
		"Duration: " + ms("duration_ms") + " ms",
		"Billed Duration: " + get("billed_duration_ms") + " ms",
		"Memory Size: " + get("memory_size_mb") + " MB",
		"Max Memory Used: " + get("max_memory_used_mb") + " MB",
	}
	if get("init_duration_ms") != "" {
		parts = append(parts, "Init Duration: "+ms("init_duration_ms")+" ms")
	}
	if s := get("status"); s != "" {
		parts = append(parts, "Status: "+s)
	}
	if t := get("error_type"); t != "" {
		parts = append(parts, "Error Type: "+t)
	}
	return strings.Join(parts, "\t")
}

// quoteValue quotes a log value that would not read as one word.
func quoteValue(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return strconv.Quote(s)
	}
	return s
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// formatDuration rounds d for a person: 1.2s, 350ms.
func formatDuration(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

// formatSize writes n bytes for a person: 3.7 MiB, 12 KiB.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
