package guest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/wasmlambda/lambda/internal/abi"
)

// Error types the SDK itself reports.
const (
	errTypeNoHandler       = "Runtime.NoHandler"
	errTypeInvalidEnvelope = "Runtime.InvalidEnvelope"
	errTypeInvalidContext  = "Runtime.InvalidContext"
	errTypeSerialization   = "Runtime.SerializationError"
)

// maxStackFrames bounds a panic's stack trace, as aws-lambda-go does.
const maxStackFrames = 32

// errorTypeName names an error or panic value's type the way aws-lambda-go
// does: the type's name, through one pointer, so that an unnamed type (a
// pointer to a struct literal, a func type) is "". A nil value, which
// aws-lambda-go never sees, is "nil".
func errorTypeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "nil"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// errorResponse turns a handler's error into a result. An error that is a
// messages.InvokeResponse_Error (not a pointer to one, and not wrapped, which
// is the test aws-lambda-go makes) is passed through with its own type and
// stack trace, and is fatal when it asks the runtime to exit.
func errorResponse(err error) (abi.Status, []byte) {
	if ire, ok := err.(messages.InvokeResponse_Error); ok {
		return invokeResponseError(ire)
	}
	return errorResult(abi.StatusError, abi.ErrorPayload{Message: err.Error(), Type: errorTypeName(err)})
}

// panicResponse turns a recovered panic value into a result, with the stack
// of the panicking goroutine. Call it from the deferred function that
// recovered. It is fatal: aws-lambda-go exits after a panic. As there, a
// panic with a messages.InvokeResponse_Error value is reported as that error
// and is fatal only if the error says so.
//
// It must not be inlined, so that the stack starts at its own frame, as
// aws-lambda-go's starts at lambdaPanicResponse.
//
//go:noinline
func panicResponse(v any) (abi.Status, []byte) {
	if ire, ok := v.(messages.InvokeResponse_Error); ok {
		return invokeResponseError(ire)
	}
	pcs := make([]uintptr, maxStackFrames)
	n := runtime.Callers(1, pcs)
	return errorResult(abi.StatusFatal, abi.ErrorPayload{
		Message:    fmt.Sprintf("%v", v),
		Type:       errorTypeName(v),
		StackTrace: stackFrames(pcs[:n]),
	})
}

func invokeResponseError(ire messages.InvokeResponse_Error) (abi.Status, []byte) {
	p := abi.ErrorPayload{Message: ire.Message, Type: ire.Type}
	for _, f := range ire.StackTrace {
		if f != nil {
			p.StackTrace = append(p.StackTrace, abi.StackFrame{Path: f.Path, Line: f.Line, Label: f.Label})
		}
	}
	status := abi.StatusError
	if ire.ShouldExit {
		status = abi.StatusFatal
	}
	return errorResult(status, p)
}

// errorBuffer is the buffer the last error payload was encoded into, kept
// for the next: the payload is valid until the next call.
var errorBuffer atomic.Pointer[outBuffer]

// errorResult encodes an error payload as json.Marshal does (aws-lambda-go
// marshals its error with it), into a buffer reused from call to call.
func errorResult(s abi.Status, p abi.ErrorPayload) (abi.Status, []byte) {
	buf := takeBuffer(&errorBuffer, true)
	defer keepBuffer(&errorBuffer, buf)
	if err := buf.enc.Encode(&p); err != nil {
		// Only strings, ints and slices of them: unreachable, but never
		// return an empty error payload.
		b, _ := json.Marshal(abi.ErrorPayload{Message: err.Error(), Type: errTypeSerialization})
		return s, b
	}
	b := buf.buf.Bytes()
	return s, b[:len(b)-1] // drop the encoder's newline
}

// sdkError is an error result of the SDK itself, not of the handler.
func sdkError(typ, msg string) (abi.Status, []byte) {
	return errorResult(abi.StatusError, abi.ErrorPayload{Message: msg, Type: typ})
}

// stackFrames turns program counters into a stack trace, as aws-lambda-go
// does: every frame, the runtime's and reflect's included. The stack of a
// panic is then, from the top, the SDK's frames that recovered it (as
// aws-lambda-go's are lambdaPanicResponse and its deferred function),
// runtime.gopanic, the frames of the handler that panicked, and those that
// called it.
func stackFrames(pcs []uintptr) []abi.StackFrame {
	out := make([]abi.StackFrame, 0, len(pcs))
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		out = append(out, stackFrame(f))
		if !more {
			return out
		}
	}
}

// stackFrame formats a frame as aws-lambda-go does: the path keeps as many
// trailing elements as the function's import path has, plus the file name
// (so a GOPATH or module cache prefix goes), and the label drops the import
// path and package name.
func stackFrame(f runtime.Frame) abi.StackFrame {
	path, label := f.File, f.Function
	keep := strings.Count(label, "/") + 2
	cut := len(path)
	for range keep {
		cut = strings.LastIndexByte(path[:cut], '/')
		if cut < 0 {
			break
		}
	}
	path = path[cut+1:]
	label = label[strings.LastIndexByte(label, '/')+1:]
	label = label[strings.IndexByte(label, '.')+1:]
	return abi.StackFrame{Path: path, Line: int32(f.Line), Label: label}
}
