// Command native-echo is the native baseline of the benchmark of
// wasmlambda invoke in docs/PERFORMANCE.md: the handler of the echo test
// guest (testdata/guests/go/echo), called through aws-lambda-go's
// lambda.NewHandler, as AWS's runtime calls it, on the event in the file its
// argument names, once, as a process of its own. It prints the response.
//
//	go build -o native-echo ./cmd/wasmlambda/testdata/native-echo
//	./native-echo event.json
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func handler(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
	return in, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: native-echo EVENT_FILE")
		os.Exit(2)
	}
	event, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	resp, err := lambda.NewHandler(handler).Invoke(context.Background(), event)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s\n", resp)
}
