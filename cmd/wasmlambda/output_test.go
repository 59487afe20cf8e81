package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the progress's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogHandler(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	fn := newLogger(&out, false, slog.LevelInfo).With(slog.String("function", "orders"), slog.String("version", "$LATEST"))
	ctx := context.Background()
	fn.Info("START", "request_id", "r-1")
	fn.Info("order o-1 accepted", "stream", "stdout", "request_id", "r-1")
	fn.Error(`{"errorMessage":"boom","errorType":"errorString"}`, "request_id", "r-1", "error_type", "errorString")
	fn.Info("END", "request_id", "r-1")
	fn.LogAttrs(ctx, slog.LevelInfo, "REPORT", slog.String("request_id", "r-1"), slog.Float64("duration_ms", 1.5),
		slog.Int64("billed_duration_ms", 12), slog.Int("memory_size_mb", 128), slog.Uint64("max_memory_used_mb", 6),
		slog.Float64("init_duration_ms", 9.371), slog.String("error_type", "errorString"), slog.String("status", "error"))
	fn.Warn("log output truncated", "request_id", "r-1", "dropped_bytes", 10, "note", "two words")
	fn.Debug("not shown")
	require.Equal(t, `START RequestId: r-1 Version: $LATEST
order o-1 accepted
{"errorMessage":"boom","errorType":"errorString"}
END RequestId: r-1
REPORT RequestId: r-1	Duration: 1.50 ms	Billed Duration: 12 ms	Memory Size: 128 MB	Max Memory Used: 6 MB	Init Duration: 9.37 ms	Status: error	Error Type: errorString
WARN log output truncated request_id=r-1 dropped_bytes=10 note="two words"
`, out.String())

	// With prefixes, for run: the function, and the trigger.
	out.Reset()
	fn = newLogger(&out, true, slog.LevelInfo).With(slog.String("function", "orders"), slog.String("version", "$LATEST"))
	fn.Info("line one\nline two", "stream", "stdout", "request_id", "r-2")
	fn.With(slog.String("trigger", "sqs-orders")).Error("trigger error", "error", "queue closed")
	newLogger(&out, true, slog.LevelInfo).Info("no function")
	require.Equal(t, `[orders] line one
[orders] line two
[orders/sqs-orders] ERROR trigger error error="queue closed"
INFO no function
`, out.String())
}

func TestProgress(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	p := newProgress(&out)
	require.False(t, p.tty, "a buffer is no terminal")

	s := p.Start("compiling orders, 3.7 MiB", 0)
	require.Equal(t, "wasmlambda: compiling orders, 3.7 MiB...\n", out.String(), "shown at once")
	_, err := p.Write([]byte("[orders] a log line\n"))
	require.NoError(t, err)
	s.Done("orders ready in 1s", false)
	require.Equal(t, "wasmlambda: compiling orders, 3.7 MiB...\n[orders] a log line\nwasmlambda: orders ready in 1s\n", out.String())

	// A quick step with a delay shows nothing, unless its end always does.
	out.mu.Lock()
	out.b.Reset()
	out.mu.Unlock()
	p.Start("compiling cached", time.Hour).Done("cached ready", false)
	require.Empty(t, out.String())
	p.Start("compiling cached", time.Hour).Done("cached ready", true)
	require.Equal(t, "wasmlambda: cached ready\n", out.String())

	// A slow one shows once its delay has passed, and says it runs on.
	slow := p.Start("compiling slow", 10*time.Millisecond)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "wasmlambda: compiling slow...\n") }, time.Minute, 5*time.Millisecond)
	slow.Done("slow ready", false)
	require.True(t, strings.HasSuffix(out.String(), "wasmlambda: slow ready\n"), out.String())
	p.Close()
	p.Close()
}

func TestProgressTerminal(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	p := &progress{w: &out, tty: true, done: make(chan struct{})}
	p.ticker = time.NewTicker(time.Hour)
	p.wg.Add(1)
	go p.loop()

	s := p.Start("compiling orders", 0)
	require.Regexp(t, `^. compiling orders 0s$`, out.String(), "a status line, no newline")
	_, err := p.Write([]byte("a log line\n"))
	require.NoError(t, err)
	require.Regexp(t, `^. compiling orders 0s\r\x1b\[Ka log line\n. compiling orders 0s$`, out.String(), "the status line is cleared for the line above it, and drawn again")
	s.Done("orders ready", false)
	require.True(t, strings.HasSuffix(out.String(), "\r\x1b[Kwasmlambda: orders ready\n"), "%q", out.String())
	p.Start(strings.Repeat("x", 200), 0)
	last := out.String()[strings.LastIndex(out.String(), "\n")+1:]
	require.LessOrEqual(t, len([]rune(last)), maxStatus+2, "the status line fits a terminal")
	p.Close()
	require.True(t, strings.HasSuffix(out.String(), "\r\x1b[K"), "Close clears the status line")
}
