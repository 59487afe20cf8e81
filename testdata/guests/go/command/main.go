// Command command is a Go test guest built as a WASI command, which the host
// runs in compatibility mode: a fresh instance per event, the event on
// standard input, the response on standard output. Its handler upper-cases a
// JSON string; the input "fail" returns a ShoutError (exit status 1, and the
// error object {"errorMessage":"cannot shout \"fail\"","errorType":"ShoutError"}
// on standard output).
//
// Build from the repository root, without -buildmode=c-shared:
//
//	GOOS=wasip1 GOARCH=wasm go build -o command.wasm ./testdata/guests/go/command
package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/wasmlambda/lambda/guest"
)

// ShoutError is the error the handler returns for the input "fail".
type ShoutError struct {
	Input string
}

func (e *ShoutError) Error() string { return fmt.Sprintf("cannot shout %q", e.Input) }

func handler(ctx context.Context, in string) (string, error) {
	if in == "fail" {
		return "", &ShoutError{Input: in}
	}
	return strings.ToUpper(in), nil
}

// In a command, main runs, and Start serves one event and exits.
func main() { guest.Start(handler) }
