package lambda_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The helpers the root's tests share with the trigger packages' tests.
var (
	newRuntime    = testkit.NewRuntime
	deploy        = testkit.Deploy
	fastAsync     = testkit.FastAsync
	newRecordSink = testkit.NewRecordSink
	waitCtx       = testkit.WaitCtx
)

// logRecorder is a slog handler that keeps every record, for assertions.
type logRecorder struct {
	mu      sync.Mutex
	records []logRecord
}

type logRecord struct {
	Msg   string
	Level slog.Level
	Attrs map[string]any
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{h, as}
}
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	return h.handle(r, nil)
}

func (h *logRecorder) handle(r slog.Record, base []slog.Attr) error {
	rec := logRecord{Msg: r.Message, Level: r.Level, Attrs: map[string]any{}}
	for _, a := range base {
		rec.Attrs[a.Key] = a.Value.Any()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.Any()
		return true
	})
	h.mu.Lock()
	h.records = append(h.records, rec)
	h.mu.Unlock()
	return nil
}

// find returns the records with the given message.
func (h *logRecorder) find(msg string) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range h.records {
		if r.Msg == msg {
			out = append(out, r)
		}
	}
	return out
}

type attrHandler struct {
	h     *logRecorder
	attrs []slog.Attr
}

func (a *attrHandler) Enabled(context.Context, slog.Level) bool { return true }
func (a *attrHandler) WithGroup(string) slog.Handler            { return a }
func (a *attrHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{a.h, append(append([]slog.Attr{}, a.attrs...), as...)}
}
func (a *attrHandler) Handle(_ context.Context, r slog.Record) error {
	return a.h.handle(r, a.attrs)
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// hammerGuest is the Go echo guest.
func hammerGuest(t testing.TB) []byte { return testguest.Go(t, "echo") }
