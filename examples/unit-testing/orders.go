// Command unit-testing is an AWS Lambda function in Go that runs unchanged
// on AWS Lambda and on wasmlambda, and whose tests run here, against its
// WebAssembly build, with package lambdatest.
//
// The handler, Handle, is in this file and knows nothing of where it runs.
// Two files start it: main_lambda.go with aws-lambda-go's lambda.Start, for
// AWS Lambda, and main_wasm.go with wasmlambda's guest.Start, for
// GOOS=wasip1. The build constraints pick one:
//
//	# AWS Lambda (provided.al2023, arm64)
//	GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -o bootstrap .
//	# wasmlambda
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o orders.wasm .
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// Order is the body of each message.
type Order struct {
	ID    string `json:"id"`
	Cents int    `json:"cents"`
}

// ValidationError is the function error of a message whose body is not an
// order at all: the whole batch fails, as no retry can mend it. Its
// errorType is "ValidationError".
type ValidationError struct {
	MessageID string
	Reason    string
}

// Error names the message and what is wrong with it.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("message %s: %s", e.MessageID, e.Reason)
}

// Handle takes a batch of orders from an SQS queue whose event source
// mapping reports batch item failures: it accepts the valid orders and names
// the invalid ones (no ID, or no positive amount) in batchItemFailures, so
// that only they go back to the queue.
func Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, m := range ev.Records {
		var o Order
		if err := json.Unmarshal([]byte(m.Body), &o); err != nil {
			return events.SQSEventResponse{}, &ValidationError{MessageID: m.MessageId, Reason: "not an order: " + err.Error()}
		}
		if o.ID == "" || o.Cents <= 0 {
			fmt.Printf("order %q rejected: %d cents\n", o.ID, o.Cents)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			continue
		}
		fmt.Printf("order %s accepted: %d cents\n", o.ID, o.Cents)
	}
	return resp, nil
}
