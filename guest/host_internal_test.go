//go:build !wasip1

package guest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/abi"
)

// fakeHost stands in for the host: its HostFunc answers with status and
// out, as the host's import does, holding back an output that does not fit
// for hostResult.
type fakeHost struct {
	status uint32
	out    []byte
	in     []byte // the last input
	held   []byte
}

func (h *fakeHost) fn(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32 {
	h.in = bytes.Clone(unsafe.Slice(in, inLen))
	*outLen = uint32(len(h.out))
	if uint32(len(h.out)) <= outCap {
		copy(unsafe.Slice(out, outCap), h.out)
	} else {
		h.held = h.out
	}
	return h.status
}

func (h *fakeHost) result(out *byte, outCap uint32) int32 {
	if h.held == nil || uint32(len(h.held)) > outCap {
		return -1
	}
	n := copy(unsafe.Slice(out, outCap), h.held)
	h.held = nil
	return int32(n)
}

func withFakeHost(t *testing.T, h *fakeHost) {
	saved := hostResult
	hostResult = h.result
	t.Cleanup(func() { hostResult = saved })
}

func TestCallHost(t *testing.T) {
	big := bytes.Repeat([]byte("z"), hostBufSize+1)
	tests := []struct {
		name   string
		host   fakeHost
		in     []byte
		out    []byte
		err    error
		errMsg string
	}{
		{name: "ok", host: fakeHost{out: []byte("pong")}, in: []byte("ping"), out: []byte("pong")},
		{name: "empty", host: fakeHost{}, out: []byte{}},
		{name: "fills the buffer", host: fakeHost{out: big[:hostBufSize]}, out: big[:hostBufSize]},
		{name: "past the buffer", host: fakeHost{out: big}, out: big},
		{name: "error", host: fakeHost{status: abi.HostError, out: []byte("denied")}, err: &HostError{Message: "denied"}},
		{name: "long error", host: fakeHost{status: abi.HostError, out: big}, err: &HostError{Message: string(big)}},
		{name: "unknown status", host: fakeHost{status: 7}, errMsg: "unknown status 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.host
			withFakeHost(t, &h)
			out, err := CallHost(h.fn, tt.in)
			switch {
			case tt.err != nil:
				require.Equal(t, tt.err, err)
			case tt.errMsg != "":
				require.ErrorContains(t, err, tt.errMsg)
			default:
				require.NoError(t, err)
				require.Equal(t, tt.out, out)
				require.Equal(t, bytes.Clone(tt.in), h.in)
			}
			if len(out) > 0 && len(out) <= hostBufSize {
				out[0] = '!' // the caller's own: not the SDK's buffer
				require.NotEqual(t, byte('!'), hostBuf[0])
			}
		})
	}
	t.Run("nothing held", func(t *testing.T) {
		h := &fakeHost{out: big}
		withFakeHost(t, &fakeHost{}) // a host_result that has nothing
		_, err := CallHost(h.fn, nil)
		require.ErrorContains(t, err, "host_result returned -1")
	})
}

func TestCallHostJSON(t *testing.T) {
	type sum struct {
		Sum int `json:"sum"`
	}
	h := &fakeHost{out: []byte(`{"sum":3}`)}
	withFakeHost(t, h)
	got, err := CallHostJSON[sum](h.fn, map[string]int{"a": 1, "b": 2})
	require.NoError(t, err)
	require.Equal(t, sum{3}, got)
	require.JSONEq(t, `{"a":1,"b":2}`, string(h.in))

	h.out = []byte("not json")
	_, err = CallHostJSON[sum](h.fn, 1)
	require.ErrorContains(t, err, "decode the output of a host function as guest.sum")

	_, err = CallHostJSON[sum](h.fn, make(chan int))
	require.ErrorContains(t, err, "encode the input of a host function")

	h.status, h.out = abi.HostError, []byte("nope")
	_, err = CallHostJSON[sum](h.fn, 1)
	var he *HostError
	require.True(t, errors.As(err, &he))
}

func TestNoHost(t *testing.T) {
	_, ok := Setting("k")
	require.False(t, ok)
	err := slog.New(NewLogHandler(nil)).Handler().Handle(context.Background(), slog.Record{Message: "m"})
	require.ErrorContains(t, err, "not running in wasmlambda")
}

func TestLogHandler(t *testing.T) {
	h := &fakeHost{}
	withFakeHost(t, h)
	saved := logRecord
	logRecord = h.fn
	t.Cleanup(func() { logRecord = saved })

	type record struct {
		level int32
		msg   string
		attrs [][2]string
	}
	decode := func() record {
		level, msg, attrs, err := abi.DecodeLog(h.in)
		require.NoError(t, err)
		return record{level, msg, attrs}
	}
	logger := slog.New(NewLogHandler(&slog.HandlerOptions{Level: slog.LevelWarn}))
	h.in = nil
	logger.Info("quiet")
	require.Nil(t, h.in, "below the level")

	logger.With("user", "ada", slog.Group("", slog.Int("inline", 1))).WithGroup("req").
		Warn("loud", "path", "/x", slog.Group("g", "k", true), slog.Attr{}, slog.Group("empty"))
	require.Equal(t, record{int32(slog.LevelWarn), "loud", [][2]string{
		{"user", "ada"}, {"inline", "1"}, {"req.path", "/x"}, {"req.g.k", "true"},
	}}, decode())

	logger.Error("plain")
	require.Equal(t, record{int32(slog.LevelError), "plain", nil}, decode())

	h.status, h.out = abi.HostError, []byte("denied")
	require.Equal(t, &HostError{Message: "denied"}, logger.Handler().Handle(context.Background(), slog.Record{Level: slog.LevelError}))
}
