// Command typed shows a handler written for aws-lambda-go moving over with
// only its wiring changed: on AWS Lambda the program would end in
//
//	func main() { lambda.Start(handler) }
//
// and here it registers the same handler from init instead.
//
// Build from the repository root:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o typed.wasm ./testdata/guests/go/typed
package main

import (
	"context"
	"errors"

	"github.com/wasmlambda/lambda/guest"
)

// Req is the event.
type Req struct {
	Name string `json:"name"`
}

// Resp is the response.
type Resp struct {
	Greeting string `json:"greeting"`
}

// ErrNoName is returned for an event without a name.
var ErrNoName = errors.New("typed: no name given")

func handler(ctx context.Context, in Req) (Resp, error) {
	if in.Name == "" {
		return Resp{}, ErrNoName
	}
	return Resp{Greeting: "hello, " + in.Name}, nil
}

func init() { guest.Start(handler) }

func main() {}
