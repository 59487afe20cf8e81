package sqs_test

import (
	"context"
	"fmt"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// An EventSource feeds a function from a queue: here an embedded queue
// with a dead-letter queue, batches of up to 10 messages, and partial
// batch failures. The function (the sqsbatch test guest) names the message
// whose body is "fail" in its batchItemFailures, so that message stays in
// the queue and the others are deleted.
func ExampleEventSource() {
	ctx := context.Background()
	rt, _ := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
	defer rt.Close(ctx)
	fn, _ := rt.Deploy(ctx, lambda.FunctionConfig{Name: "worker", Code: testguest.MustGo("sqsbatch")})

	queues := sqs.NewEmbedded(sqs.EmbeddedOptions{})
	defer queues.Close()
	_, _ = queues.CreateQueue("orders-dlq", sqs.QueueConfig{})
	q, _ := queues.CreateQueue("orders", sqs.QueueConfig{
		VisibilityTimeout: time.Minute,
		RedrivePolicy:     &sqs.RedrivePolicy{DeadLetterQueue: "orders-dlq", MaxReceiveCount: 5},
	})
	_, _, _ = q.Send(ctx, []sqs.SendEntry{{Body: "a"}, {Body: "fail"}, {Body: "b"}})

	es := &sqs.EventSource{Queue: q, BatchSize: 10, ReportBatchItemFailures: true}
	att, err := fn.Attach(ctx, "orders", es)
	if err != nil {
		panic(err)
	}
	for es.Stats().Batches == 0 || es.Stats().Partial+es.Stats().Succeeded+es.Stats().Failed == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	_ = att.Detach(ctx)
	s := es.Stats()
	fmt.Printf("batches %d, partial %d, deleted %d, left in the queue %d\n", s.Batches, s.Partial, s.Deleted, q.Len())
	// Output:
	// batches 1, partial 1, deleted 2, left in the queue 1
}
