package lambda

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wasmlambda/lambda/internal/abi"
)

// Sentinel errors, for use with errors.Is.
var (
	// ErrThrottled matches a *ServiceError with code TooManyRequestsException:
	// every sandbox the function may have is busy and the function throttles
	// rather than waits (see FunctionConfig.ThrottleWhenBusy).
	ErrThrottled = &ServiceError{Code: "TooManyRequestsException", StatusCode: 429, Message: "Rate Exceeded."}
	// ErrInvalidConfig matches a *ServiceError with code
	// InvalidParameterValueException: a configuration or argument AWS would
	// refuse.
	ErrInvalidConfig = &ServiceError{Code: "InvalidParameterValueException", StatusCode: 400}
	// ErrInvalidCode matches a *ServiceError with code
	// InvalidCodeException: malformed wasm, a missing handler export, or an
	// import the runtime does not provide.
	ErrInvalidCode = &ServiceError{Code: "InvalidCodeException", StatusCode: 400}
	// ErrConflict matches a *ServiceError with code ResourceConflictException,
	// such as deploying a name twice.
	ErrConflict = &ServiceError{Code: "ResourceConflictException", StatusCode: 409}
	// ErrClosed matches a *ServiceError with code ResourceNotFoundException:
	// the function or the runtime was closed.
	ErrClosed = &ServiceError{Code: "ResourceNotFoundException", StatusCode: 404}
	// ErrNotFound matches a *ServiceError with code
	// ResourceNotFoundException: a version or alias that does not exist.
	// As the code is ErrClosed's, each matches the other.
	ErrNotFound = &ServiceError{Code: "ResourceNotFoundException", StatusCode: 404}
	// ErrValidation matches a *ServiceError with code ValidationException:
	// a parameter outside the pattern or range AWS's API accepts.
	ErrValidation = &ServiceError{Code: "ValidationException", StatusCode: 400}
	// ErrQueueFull matches a *ServiceError with code
	// TooManyRequestsException and reason AsyncQueueFull: the function's
	// asynchronous queue holds AsyncConfig.QueueSize events already. It
	// also matches ErrThrottled, as it is a 429.
	ErrQueueFull = &ServiceError{Code: "TooManyRequestsException", StatusCode: 429, Reason: "AsyncQueueFull"}
	// ErrInvalidRequestContent matches a *ServiceError with code
	// InvalidRequestContentException: an asynchronous event that is not
	// JSON.
	ErrInvalidRequestContent = &ServiceError{Code: "InvalidRequestContentException", StatusCode: 400}
	// ErrPayloadTooLarge matches both a request over the function's request
	// limit (a *ServiceError with code RequestTooLargeException) and a
	// response over its response limit (a *FunctionError of type
	// Function.ResponseSizeTooLarge).
	ErrPayloadTooLarge = errors.New("payload too large")
	// ErrTimeout matches a *FunctionError of type Sandbox.Timedout: the
	// invocation ran past the function's timeout.
	ErrTimeout = errors.New("Sandbox.Timedout")
)

// Error types of the runtime's own function errors, as AWS Lambda names them
// where it has a name.
const (
	ErrorTypeTimeout          = "Sandbox.Timedout"
	ErrorTypeExit             = "Runtime.ExitError"
	ErrorTypeOutOfMemory      = "Runtime.OutOfMemory"
	ErrorTypeInit             = "Runtime.InitError"
	ErrorTypeResponseTooLarge = "Function.ResponseSizeTooLarge"
	ErrorTypeInvalidResult    = "Runtime.InvalidResult"
	ErrorTypeInvalidError     = "Runtime.InvalidErrorPayload"
)

const codeRequestTooLarge = "RequestTooLargeException"

// ServiceError is an error raised by the runtime rather than by the
// function, shaped like an AWS Lambda API error: a code, an HTTP status and
// a message. errors.Is matches two ServiceErrors with the same Code, so a
// call can be tested with errors.Is(err, ErrThrottled).
type ServiceError struct {
	// Code is AWS's error code, such as TooManyRequestsException.
	Code string
	// StatusCode is the HTTP status AWS answers with.
	StatusCode int
	// Reason refines Code where AWS does, as TooManyRequestsException does.
	Reason string
	// Message says what went wrong.
	Message string
}

// Error returns "Code: Message".
func (e *ServiceError) Error() string { return e.Code + ": " + e.Message }

// Is reports whether target is a ServiceError with the same code (and the
// same reason, when target has one), or ErrPayloadTooLarge for a
// RequestTooLargeException.
func (e *ServiceError) Is(target error) bool {
	if target == ErrPayloadTooLarge {
		return e.Code == codeRequestTooLarge
	}
	t, ok := target.(*ServiceError)
	return ok && t.Code == e.Code && (t.Reason == "" || t.Reason == e.Reason)
}

func serviceError(kind *ServiceError, format string, args ...any) *ServiceError {
	return &ServiceError{Code: kind.Code, StatusCode: kind.StatusCode, Reason: kind.Reason, Message: fmt.Sprintf(format, args...)}
}

func validationError(format string, args ...any) error {
	return serviceError(ErrValidation, format, args...)
}

func invalidConfig(format string, args ...any) error {
	return serviceError(ErrInvalidConfig, format, args...)
}

// FunctionError is an error raised by the function, or by its sandbox on its
// behalf, in AWS Lambda's shape. Its JSON (see Payload) is what AWS returns
// as the response payload of a failed invocation.
type FunctionError struct {
	// Type is the errorType, such as "errorString" for a Go errors.New, or
	// one of the ErrorType constants.
	Type string `json:"errorType"`
	// Message is the errorMessage.
	Message string `json:"errorMessage"`
	// StackTrace is the stackTrace, when the guest gave one.
	StackTrace []StackFrame `json:"stackTrace,omitempty"`
	// RequestID is the invocation's request ID.
	RequestID string `json:"-"`

	// reported: the guest reported the error, not the runtime on its
	// behalf.
	reported bool
}

// StackFrame is one frame of a function error's stack trace.
type StackFrame struct {
	// Path is the source file, as the guest reported it.
	Path string `json:"path,omitempty"`
	// Line is the line in Path.
	Line int32 `json:"line,omitempty"`
	// Label is the function, or the whole frame when the guest sent a
	// plain string.
	Label string `json:"label,omitempty"`
}

// String formats the frame as "label (path:line)".
func (f StackFrame) String() string {
	return abi.StackFrame(f).String()
}

// Error returns "Type: Message".
func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Is matches ErrTimeout for a timeout and ErrPayloadTooLarge for an
// oversize response.
func (e *FunctionError) Is(target error) bool {
	switch target {
	case ErrTimeout:
		return e.Type == ErrorTypeTimeout
	case ErrPayloadTooLarge:
		return e.Type == ErrorTypeResponseTooLarge
	}
	return false
}

// Payload is the error as AWS's JSON:
// {"errorMessage":…,"errorType":…,"stackTrace":[…]}.
func (e *FunctionError) Payload() []byte {
	b, _ := json.Marshal(struct {
		Message    string       `json:"errorMessage"`
		Type       string       `json:"errorType"`
		StackTrace []StackFrame `json:"stackTrace,omitempty"`
	}{e.Message, e.Type, e.StackTrace})
	return b
}

// parseFunctionError decodes a guest's error object.
func parseFunctionError(requestID string, payload []byte) *FunctionError {
	var p abi.ErrorPayload
	if err := json.Unmarshal(payload, &p); err != nil || (p.Type == "" && p.Message == "") {
		msg := truncateMessage(strings.TrimSpace(string(payload)))
		return &FunctionError{Type: ErrorTypeInvalidError, Message: msg, RequestID: requestID, reported: true}
	}
	fe := &FunctionError{Type: p.Type, Message: p.Message, RequestID: requestID, reported: true}
	for _, f := range p.StackTrace {
		fe.StackTrace = append(fe.StackTrace, StackFrame(f))
	}
	return fe
}

// UndeliveredError reports, from Close, dead letters and records whose
// target still failed when the function closed. The dead letters are in the
// undelivered file at Path, from which Function.Redrive can replay them.
type UndeliveredError struct {
	// Function is the function's name.
	Function string
	// DeadLetters counts dead letters written to Path.
	DeadLetters int
	// Records counts success records given up; they are logged.
	Records int
	// Path is the undelivered file.
	Path string
	// Err is set when the undelivered file could not be written either; the
	// dead letters are then logged in full.
	Err error
}

// Error says what was not delivered and where it went.
func (e *UndeliveredError) Error() string {
	msg := fmt.Sprintf("function %s closed with %d dead letters and %d success records undelivered", e.Function, e.DeadLetters, e.Records)
	if e.DeadLetters > 0 {
		msg += "; the dead letters are in " + e.Path
	}
	if e.Err != nil {
		msg += "; writing them failed: " + e.Err.Error()
	}
	return msg
}
