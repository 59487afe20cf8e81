package guest

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/wasmlambda/lambda/internal/abi"
)

// Start validates handler once and serves it. handler may have any signature
// NewHandler accepts; an invalid one makes Start panic with a message that
// names the problem, which in a reactor fails _initialize and reaches the
// host through standard error.
//
// In a reactor (-buildmode=c-shared), call Start from an init function: it
// registers the handler and returns, and the host then invokes it through
// the ABI v1 exports for as long as the instance lives.
//
// In any other build (a WASI command, or a native program), Start serves
// exactly one event and does not return: it reads the event from standard
// input and the invocation context from the WASMLAMBDA_* environment
// variables, writes the response to standard output and exits with status 0;
// after a function error or a panic it writes the error object to standard
// output and exits with status 1.
//
// Start may be called only once.
func Start(handler any) {
	h, err := NewHandler(handler)
	if err != nil {
		panic(err)
	}
	start(h)
}

// start registers h, in a reactor, or serves one event with it.
func start(h Handler) {
	if registered != nil {
		panic("wasmlambda/guest: Start called more than once; a guest serves one handler")
	}
	if isReactor() {
		registered = h
		return
	}
	os.Exit(runCommand(h, os.Stdin, os.Stdout, os.Getenv))
}

// isReactor reports whether the program was built with -buildmode=c-shared.
// Without build information (which the go command always records), it
// assumes a reactor on wasip1, where exiting during _initialize would be
// worse than a command that serves nothing.
func isReactor() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-buildmode" {
				return s.Value == "c-shared"
			}
		}
	}
	return runtime.GOOS == "wasip1"
}

// runCommand serves one event in compatibility mode and returns the exit
// status: the event is stdin, the context comes from getenv, and the response
// or error object goes to stdout.
func runCommand(h Handler, stdin io.Reader, stdout io.Writer, getenv func(string) string) int {
	status, out := commandResult(h, stdin, getenv)
	if len(out) > 0 {
		if _, err := stdout.Write(out); err != nil {
			return 1
		}
	}
	if status != abi.StatusOK {
		return 1
	}
	return 0
}

func commandResult(h Handler, stdin io.Reader, getenv func(string) string) (abi.Status, []byte) {
	req, err := commandRequest(getenv)
	if err != nil {
		return sdkError(errTypeInvalidContext, err.Error())
	}
	if req.Payload, err = io.ReadAll(stdin); err != nil {
		return errorResponse(fmt.Errorf("wasmlambda/guest: reading the event from standard input: %w", err))
	}
	return serve(h, &req)
}

// commandRequest builds a request, without its payload, from the
// compatibility-mode environment variables. A missing deadline means none.
func commandRequest(getenv func(string) string) (abi.Request, error) {
	req := abi.Request{
		RequestID:          getenv(abi.EnvRequestID),
		InvokedFunctionARN: getenv(abi.EnvInvokedFunctionARN),
		ClientContext:      []byte(getenv(abi.EnvClientContext)),
		Identity:           []byte(getenv(abi.EnvIdentity)),
		TraceID:            getenv(abi.EnvTraceID),
	}
	if s := getenv(abi.EnvDeadlineMs); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return abi.Request{}, fmt.Errorf("failed to parse deadline: %v", err)
		}
		req.DeadlineMs = ms
	}
	return req, nil
}
