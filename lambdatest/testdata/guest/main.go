// Command guest is the test guest of package lambdatest's own tests, built
// by lambdatest.Build as a user's handler would be. It returns its event,
// except for {"fail": MESSAGE}, which fails with a *ValidationError.
//
// Build from the repository root with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o guest.wasm ./lambdatest/testdata/guest
package main

import (
	"context"
	"encoding/json"

	"github.com/wasmlambda/lambda/guest"
)

// ValidationError is the error of an event that asks to fail: its
// errorType is "ValidationError".
type ValidationError struct{ Reason string }

func (e *ValidationError) Error() string { return "invalid: " + e.Reason }

func handler(_ context.Context, event json.RawMessage) (json.RawMessage, error) {
	var ask struct {
		Fail *string `json:"fail"`
	}
	if json.Unmarshal(event, &ask) == nil && ask.Fail != nil {
		return nil, &ValidationError{Reason: *ask.Fail}
	}
	return event, nil
}

func init() { guest.Start(handler) }

func main() {}
