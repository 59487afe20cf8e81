package sqs_test

import (
	"context"
	"fmt"
	"time"

	"github.com/wasmlambda/lambda/trigger/sqs"
)

// The embedded queue: send, receive with a visibility timeout, delete.
func Example() {
	ctx := context.Background()
	e := sqs.NewEmbedded(sqs.EmbeddedOptions{})
	defer e.Close()
	dlq, _ := e.CreateQueue("orders-dlq", sqs.QueueConfig{})
	q, err := e.CreateQueue("orders", sqs.QueueConfig{
		VisibilityTimeout: time.Minute,
		RedrivePolicy:     &sqs.RedrivePolicy{DeadLetterQueue: dlq.Name(), MaxReceiveCount: 5},
	})
	if err != nil {
		panic(err)
	}
	if _, _, err := q.Send(ctx, []sqs.SendEntry{{Body: `{"order":1}`}}); err != nil {
		panic(err)
	}
	ms, err := q.Receive(ctx, sqs.ReceiveOptions{MaxMessages: 10, WaitTime: time.Second})
	if err != nil {
		panic(err)
	}
	for _, m := range ms {
		fmt.Println(m.Body, m.Attributes[sqs.AttrApproximateReceiveCount])
		failed, err := q.Delete(ctx, []sqs.DeleteEntry{{ReceiptHandle: m.ReceiptHandle}})
		fmt.Println(len(failed), err)
	}
	fmt.Println(q.ARN())
	// Output:
	// {"order":1} 1
	// 0 <nil>
	// arn:aws:sqs:us-east-1:123456789012:orders
}
