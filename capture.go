package lambda

import (
	"bytes"
	"context"
	"io"
	"log/slog"
)

type streamID uint8

const (
	streamStdout streamID = iota
	streamStderr
)

func (s streamID) String() string {
	if s == streamStderr {
		return "stderr"
	}
	return "stdout"
}

// capture collects one sandbox's output during an invocation, bounded, so
// that it can go to the logger a line at a time with the request ID. It
// always keeps the tail of stderr, for init errors, and watches stderr for
// an out-of-memory message. A sandbox serves one invocation at a time, so a
// capture needs no lock.
type capture struct {
	logging bool
	// policy is the function's LoggingConfig: with the JSON format, a
	// line's level is read from it, and lines below ApplicationLogLevel
	// are dropped.
	policy  logPolicy
	limit   int
	buf     []byte
	chunks  []chunk
	dropped int
	tail    []byte
	// oom is set when stderr said, since the last newInvocation, that
	// memory ran out; carry is the end of stderr so far, for a message
	// split across writes.
	oom   bool
	carry []byte
}

// oomMessages are what the Go runtime writes when memory runs out, before a
// goroutine dump of any length: "runtime: out of memory: cannot allocate
// …", then "fatal error: out of memory".
var oomMessages = [][]byte{[]byte("fatal error: out of memory"), []byte("runtime: out of memory")}

// oomCarry is how much of stderr a message split across writes can have
// left in the earlier ones.
const oomCarry = len("fatal error: out of memory") - 1

type chunk struct {
	stream streamID
	end    int
}

const tailSize = 1024

func newCapture(limit int, logging bool) *capture {
	return &capture{limit: limit, logging: logging}
}

type captureWriter struct {
	c *capture
	s streamID
}

func (c *capture) stream(s streamID) io.Writer { return captureWriter{c, s} }

func (w captureWriter) Write(p []byte) (int, error) {
	c := w.c
	if w.s == streamStderr {
		c.tail = append(c.tail, p...)
		if len(c.tail) > tailSize {
			c.tail = append(c.tail[:0], c.tail[len(c.tail)-tailSize:]...)
		}
		c.scan(p)
	}
	if !c.logging {
		return len(p), nil
	}
	n := len(p)
	if room := c.limit - len(c.buf); n > room {
		c.dropped += n - max(room, 0)
		n = max(room, 0)
	}
	if n > 0 {
		c.buf = append(c.buf, p[:n]...)
		if k := len(c.chunks); k > 0 && c.chunks[k-1].stream == w.s {
			c.chunks[k-1].end = len(c.buf)
		} else {
			c.chunks = append(c.chunks, chunk{w.s, len(c.buf)})
		}
	}
	return len(p), nil
}

// scan looks for an out-of-memory message in p, the next bytes of stderr,
// and in a message begun by earlier writes.
func (c *capture) scan(p []byte) {
	if c.oom {
		return
	}
	c.carry = append(c.carry, p[:min(len(p), oomCarry)]...)
	if hasOOMMessage(c.carry) || hasOOMMessage(p) {
		c.oom = true
		return
	}
	if len(p) >= oomCarry {
		c.carry = append(c.carry[:0], p[len(p)-oomCarry:]...)
	} else if n := len(c.carry); n > oomCarry {
		c.carry = append(c.carry[:0], c.carry[n-oomCarry:]...)
	}
}

func hasOOMMessage(b []byte) bool {
	for _, m := range oomMessages {
		if bytes.Contains(b, m) {
			return true
		}
	}
	return false
}

// newInvocation forgets what stderr said about memory before.
func (c *capture) newInvocation() {
	c.oom = false
	c.carry = c.carry[:0]
}

// stderrTail returns the last line or so of stderr and forgets it.
func (c *capture) stderrTail() string {
	t := bytes.TrimSpace(c.tail)
	c.tail = c.tail[:0]
	return string(t)
}

// flush logs the captured output, a record per line, and resets.
func (c *capture) flush(ctx context.Context, logger *slog.Logger, requestID string) {
	if len(c.buf) == 0 && c.dropped == 0 {
		return
	}
	var partial [2][]byte
	start := 0
	for _, ch := range c.chunks {
		data := c.buf[start:ch.end]
		start = ch.end
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				partial[ch.stream] = append(partial[ch.stream], data...)
				break
			}
			line := data[:i]
			if p := partial[ch.stream]; len(p) > 0 {
				line = append(p, line...)
				partial[ch.stream] = p[:0]
			}
			c.logLine(ctx, logger, requestID, ch.stream, line)
			data = data[i+1:]
		}
	}
	for s, p := range partial {
		if len(p) > 0 {
			c.logLine(ctx, logger, requestID, streamID(s), p)
		}
	}
	if c.dropped > 0 {
		logger.LogAttrs(ctx, slog.LevelWarn, "log output truncated",
			slog.String("request_id", requestID), slog.Int("dropped_bytes", c.dropped), slog.Int("limit_bytes", c.limit))
	}
	c.buf, c.chunks, c.dropped = c.buf[:0], c.chunks[:0], 0
}

// logLine logs one line the guest wrote: at INFO, or with the JSON format
// at the level AWS reads from it (lineLevel), unless ApplicationLogLevel
// drops it.
func (c *capture) logLine(ctx context.Context, logger *slog.Logger, requestID string, s streamID, line []byte) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	level := slog.LevelInfo
	if c.policy.json {
		if level = lineLevel(line); !c.policy.application(level) {
			return
		}
	}
	attrs := []slog.Attr{slog.String("stream", s.String())}
	if requestID != "" {
		attrs = append(attrs, slog.String("request_id", requestID))
	} else {
		attrs = append(attrs, slog.String("phase", "init"))
	}
	logger.LogAttrs(ctx, level, string(line), attrs...)
}
