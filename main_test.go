package lambda_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newRuntime returns a runtime on the shared compilation cache, closed when
// the test ends.
func newRuntime(t testing.TB, opts lambda.Options) *lambda.Runtime {
	t.Helper()
	opts.CacheDir = testguest.CacheDir()
	rt, err := lambda.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close(context.Background())) })
	return rt
}

func deploy(t testing.TB, rt *lambda.Runtime, cfg lambda.FunctionConfig) *lambda.Function {
	t.Helper()
	f, err := rt.Deploy(context.Background(), cfg)
	require.NoError(t, err)
	return f
}

// logRecorder is a slog handler that keeps every record, for assertions.
type logRecorder struct {
	mu      sync.Mutex
	records []logRecord
}

type logRecord struct {
	Msg   string
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
	rec := logRecord{Msg: r.Message, Attrs: map[string]any{}}
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
