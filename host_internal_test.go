package lambda

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/abi"
)

// countHandler counts the records it is given.
type countHandler struct{ n int }

func (h *countHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (h *countHandler) Handle(context.Context, slog.Record) error { h.n++; return nil }
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler        { return h }
func (h *countHandler) WithGroup(string) slog.Handler             { return h }

func TestLogRecordMalformed(t *testing.T) {
	h := &countHandler{}
	f := &Function{cfg: FunctionConfig{MaxLogBytes: 1 << 10}, logger: slog.New(h)}
	tests := []struct {
		name string
		rec  []byte
		err  string
	}{
		{"empty", nil, "wasmlambda_log.log: malformed log record: a log record of 0 bytes is shorter than its level"},
		{"message overruns", []byte{0, 0, 0, 0, 9, 0, 0, 0, 'x'}, "wasmlambda_log.log: malformed log record: field of 9 bytes at offset 8"},
		{"key without value", append(abi.EncodeLog(0, "m", nil), 1, 0, 0, 0, 'k'), "wasmlambda_log.log: malformed log record: truncated length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.logRecord(context.Background(), tt.rec)
			require.Nil(t, out)
			require.ErrorContains(t, err, tt.err)
		})
	}
	require.Zero(t, h.n)

	out, err := f.logRecord(context.Background(), abi.EncodeLog(0, "fine", nil))
	require.NoError(t, err)
	require.Nil(t, out)
	require.Equal(t, 1, h.n)

	f.logger = nil // no logger: dropped, not an error
	_, err = f.logRecord(context.Background(), abi.EncodeLog(0, "fine", nil))
	require.NoError(t, err)
}
