// The sqs-worker guest: an AWS Lambda handler in Go for an SQS event
// source mapping with ReportBatchItemFailures, compiled to WebAssembly.
//
// Build it from the repository root with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o worker.wasm ./examples/sqs-worker/guest
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wasmlambda/lambda/guest"
)

// Order is a message body.
type Order struct {
	ID     int `json:"id"`
	Amount int `json:"amount"`
}

// handler processes each order of the batch and names the ones it could
// not process, so that only those are retried.
func handler(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, r := range ev.Records {
		var o Order
		if err := json.Unmarshal([]byte(r.Body), &o); err != nil || o.Amount <= 0 {
			fmt.Printf("order %s rejected (receive %s)\n", r.Body, r.Attributes["ApproximateReceiveCount"])
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			continue
		}
		fmt.Printf("order %d: %d cents\n", o.ID, o.Amount)
	}
	return resp, nil
}

// A reactor never runs main: register the handler in init.
func init() { guest.Start(handler) }

func main() {}
