package lambdatest

import (
	"errors"
	"testing"

	lambda "github.com/wasmlambda/lambda"
)

// Invoke invokes fn synchronously with payload and returns the response. An
// error, a function error included, fails the test.
func Invoke(t testing.TB, fn *lambda.Function, payload []byte, opts ...lambda.InvokeOption) []byte {
	t.Helper()
	resp, err := fn.Invoke(t.Context(), payload, opts...)
	if err != nil {
		t.Fatalf("lambdatest: invoke %s: %v", fn.Name(), err)
	}
	return resp
}

// InvokeJSON invokes fn synchronously with in encoded as JSON, and returns
// the response decoded into an Out, as lambda.InvokeJSON does. An error, a
// function error included, or a response that does not decode fails the
// test.
func InvokeJSON[Out any](t testing.TB, fn *lambda.Function, in any, opts ...lambda.InvokeOption) Out {
	t.Helper()
	out, err := lambda.InvokeJSON[Out](t.Context(), fn, in, opts...)
	if err != nil {
		t.Fatalf("lambdatest: invoke %s: %v", fn.Name(), err)
	}
	return out
}

// InvokeAsync invokes fn asynchronously with payload and returns the
// request ID; an event that fn does not accept fails the test. Its outcome
// goes to the function's destinations and dead-letter sink: see RecordSink
// and WaitDeadLetters.
func InvokeAsync(t testing.TB, fn *lambda.Function, payload []byte, opts ...lambda.InvokeOption) string {
	t.Helper()
	id, err := fn.InvokeAsync(t.Context(), payload, opts...)
	if err != nil {
		t.Fatalf("lambdatest: invoke %s asynchronously: %v", fn.Name(), err)
	}
	return id
}

// RequireFunctionError fails the test unless err is a function error (a
// *lambda.FunctionError: one the handler returned or panicked with, or one
// the runtime raised on its behalf, such as a timeout) whose errorType is
// errorType, and returns it, for the test to check its message.
//
// The errorType of a Go handler's error is the name of its type, through
// one pointer, as aws-lambda-go names it: "errorString" for errors.New and
// fmt.Errorf without %w, "ValidationError" for a *ValidationError. The
// runtime's own are the lambda.ErrorType constants, such as
// lambda.ErrorTypeTimeout.
func RequireFunctionError(t testing.TB, err error, errorType string) *lambda.FunctionError {
	t.Helper()
	if err == nil {
		t.Fatalf("lambdatest: want a function error of type %q, got none", errorType)
	}
	var fe *lambda.FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("lambdatest: want a function error of type %q, got %T: %v", errorType, err, err)
	}
	if fe.Type != errorType {
		t.Fatalf("lambdatest: want a function error of type %q, got type %q: %s", errorType, fe.Type, fe.Message)
	}
	return fe
}
