// Command hostcall is the Go test guest of host functions: it calls those
// of the test host module "test" (echo, whoami, fail, panic, block, add)
// and the built-in capabilities, as its event's op says. Its init calls
// test.whoami, whose answer op initwhoami returns, and logs "initialising".
//
// Build from the repository root:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hostcall.wasm ./testdata/guests/go/hostcall
package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wasmlambda/lambda/guest"
)

//go:wasmimport test echo
func hostEcho(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

//go:wasmimport test whoami
func hostWhoami(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

//go:wasmimport test fail
func hostFail(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

//go:wasmimport test panic
func hostPanic(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

//go:wasmimport test block
func hostBlock(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

//go:wasmimport test add
func hostAdd(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

type request struct {
	Op   string `json:"op"`
	Data string `json:"data"`
	N    int    `json:"n"`
	Size int    `json:"size"`
	Key  string `json:"key"`
	A    int    `json:"a"`
	B    int    `json:"b"`
}

type response struct {
	Out       string `json:"out,omitempty"`
	Error     string `json:"error,omitempty"`
	ErrorType string `json:"errorType,omitempty"`
	Len       int    `json:"len,omitempty"`
	Same      bool   `json:"same,omitempty"`
	Sum       int    `json:"sum,omitempty"`
	Value     string `json:"value,omitempty"`
	OK        bool   `json:"ok,omitempty"`
	Calls     int    `json:"calls,omitempty"`
}

var calls int // warm state: host calls this instance made

// initWhoami is what test.whoami answered during initialisation.
var initWhoami response

func call(fn guest.HostFunc, in []byte) response {
	calls++
	out, err := guest.CallHost(fn, in)
	if err != nil {
		return response{Error: err.Error(), ErrorType: fmt.Sprintf("%T", err), Calls: calls}
	}
	return response{Out: string(out), Calls: calls}
}

func handler(ctx context.Context, req request) (response, error) {
	switch req.Op {
	case "noop":
		return response{Len: len(req.Data)}, nil
	case "echo":
		var r response
		for range max(req.N, 1) {
			r = call(hostEcho, []byte(req.Data))
		}
		return r, nil
	case "whoami":
		return call(hostWhoami, nil), nil
	case "initwhoami":
		return initWhoami, nil
	case "fail":
		return call(hostFail, []byte(req.Data)), nil
	case "panic":
		return call(hostPanic, nil), nil
	case "block":
		return call(hostBlock, nil), nil
	case "big":
		in := bytes.Repeat([]byte("0123456789abcdef"), req.Size/16)
		out, err := guest.CallHost(hostEcho, in)
		if err != nil {
			return response{}, err
		}
		return response{Len: len(out), Same: bytes.Equal(in, out)}, nil
	case "add":
		type sum struct {
			Sum int `json:"sum"`
		}
		s, err := guest.CallHostJSON[sum](hostAdd, map[string]int{"a": req.A, "b": req.B})
		if err != nil {
			return response{}, err
		}
		return response{Sum: s.Sum}, nil
	case "setting":
		v, ok := guest.Setting(req.Key)
		return response{Value: v, OK: ok}, nil
	case "log":
		logger := slog.New(guest.NewLogHandler(&slog.HandlerOptions{Level: slog.LevelDebug}))
		logger.Debug("debugging", "step", 1)
		logger.With("user", "ada").WithGroup("req").Info("hello from the guest", "path", "/x")
		logger.Warn("careful")
		if err := logger.Handler().Handle(ctx, slog.NewRecord(time.Time{}, slog.LevelError, "broken", 0)); err != nil {
			return response{}, err
		}
		return response{OK: true}, nil
	}
	return response{}, fmt.Errorf("unknown op %q", req.Op)
}

// A reactor never runs main: register the handler in init, after calling
// host functions there too.
func init() {
	initWhoami = call(hostWhoami, nil)
	calls = 0
	slog.New(guest.NewLogHandler(nil)).Info("initialising")
	guest.Start(handler)
}

func main() {}
