// Command echo is the minimal Go test guest: it returns its event unchanged
// (compacted, as encoding/json copies a json.RawMessage).
//
// Build from the repository root:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o echo.wasm ./testdata/guests/go/echo
package main

import (
	"context"
	"encoding/json"

	"github.com/wasmlambda/lambda/guest"
)

func handler(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
	return in, nil
}

// A reactor never runs main: register the handler in init.
func init() { guest.Start(handler) }

func main() {}
