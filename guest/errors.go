package guest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"

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
// does: the type's name, through one pointer. An unnamed type falls back to
// its literal so that errorType is never empty.
func errorTypeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "nil"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if name := t.Name(); name != "" {
		return name
	}
	return t.String()
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

// panicResponse turns a recovered panic value and the frames of the panicking
// goroutine into a result. It is fatal: aws-lambda-go exits after a panic.
// As there, a panic with a messages.InvokeResponse_Error value is reported as
// that error and is fatal only if the error says so.
func panicResponse(v any, stack []uintptr) (abi.Status, []byte) {
	if ire, ok := v.(messages.InvokeResponse_Error); ok {
		return invokeResponseError(ire)
	}
	return errorResult(abi.StatusFatal, abi.ErrorPayload{
		Message:    fmt.Sprintf("%v", v),
		Type:       errorTypeName(v),
		StackTrace: stackFrames(stack),
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

// errorResult encodes an error payload.
func errorResult(s abi.Status, p abi.ErrorPayload) (abi.Status, []byte) {
	b, err := json.Marshal(p)
	if err != nil {
		// Only strings, ints and slices of them: unreachable, but never
		// return an empty error payload.
		b, _ = json.Marshal(abi.ErrorPayload{Message: err.Error(), Type: errTypeSerialization})
	}
	return s, b
}

// sdkError is an error result of the SDK itself, not of the handler.
func sdkError(typ, msg string) (abi.Status, []byte) {
	return errorResult(abi.StatusError, abi.ErrorPayload{Message: msg, Type: typ})
}

// Function names where the frames of a handler end: callHandler calls every
// Handler, and reflectHandler.Invoke calls a handler function through reflect.
// They are set in init, as callHandler refers to stackFrames, which uses them.
var callHandlerName, reflectInvokeName string

func init() {
	if fn := runtime.FuncForPC(reflect.ValueOf(callHandler).Pointer()); fn != nil {
		callHandlerName = fn.Name()
		reflectInvokeName = strings.TrimSuffix(callHandlerName, "callHandler") + "(*reflectHandler).Invoke"
	}
}

// stackFrames turns the program counters of a panicking goroutine, captured
// in a deferred function, into the handler's part of the stack: the frames
// from the one that panicked up to, not including, the SDK's and reflect's
// frames that called the handler.
func stackFrames(pcs []uintptr) []abi.StackFrame {
	var all []runtime.Frame
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		all = append(all, f)
		if !more {
			break
		}
	}
	// Start after the runtime's panic machinery.
	start := 0
	for i, f := range all {
		if f.Function == "runtime.gopanic" {
			start = i + 1
			break
		}
	}
	for start < len(all) && strings.HasPrefix(all[start].Function, "runtime.") {
		start++ // runtime.panicmem, runtime.sigpanic, runtime.goPanicIndex, ...
	}
	// End where the SDK called the handler.
	end := len(all)
	for i := start; i < len(all); i++ {
		if all[i].Function == callHandlerName {
			end = i
			break
		}
	}
	for end > start {
		fn := all[end-1].Function
		if !strings.HasPrefix(fn, "reflect.") && fn != reflectInvokeName {
			break
		}
		end--
	}
	if start >= end { // the panic came from somewhere unexpected: keep it all
		start, end = 0, len(all)
	}
	if end-start > maxStackFrames {
		end = start + maxStackFrames
	}
	out := make([]abi.StackFrame, 0, end-start)
	for _, f := range all[start:end] {
		out = append(out, stackFrame(f))
	}
	return out
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
