package guest_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/wasmlambda/lambda/guest"
)

type greetRequest struct {
	Name string `json:"name"`
}

type greetResponse struct {
	Greeting string `json:"greeting"`
}

func greet(ctx context.Context, req greetRequest) (greetResponse, error) {
	if req.Name == "" {
		return greetResponse{}, fmt.Errorf("no name given")
	}
	return greetResponse{Greeting: "hello, " + strings.TrimSpace(req.Name)}, nil
}

// NewHandler wraps a typed handler in the raw Handler the runtime calls, so
// its JSON behaviour can be tried natively.
func ExampleNewHandler() {
	h, err := guest.NewHandler(greet)
	if err != nil {
		panic(err)
	}
	out, err := h.Invoke(context.Background(), []byte(`{"name":"world"}`))
	fmt.Println(string(out), err)

	_, err = h.Invoke(context.Background(), []byte(`{}`))
	fmt.Println(err)
	// Output:
	// {"greeting":"hello, world"} <nil>
	// no name given
}

// Start registers the handler. Call it from an init function, because a
// reactor built with -buildmode=c-shared never runs main:
//
//	func init() { guest.Start(greet) }
//
//	func main() {}
//
// and build with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o greet.wasm .
//
// (This example is not run: outside a reactor, Start serves one event from
// standard input and exits.)
func ExampleStart() {
	guest.Start(greet)
}
