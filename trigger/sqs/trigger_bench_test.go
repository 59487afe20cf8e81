package sqs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// BenchmarkEventSource measures messages through the event source mapping
// on the embedded queue, into the sqsbatch guest: b.N messages are sent,
// then drained. It reports messages per second.
func BenchmarkEventSource(b *testing.B) {
	rt := testkit.NewRuntime(b, lambda.Options{})
	fn := testkit.Deploy(b, rt, lambda.FunctionConfig{Name: "worker", Code: testguest.Go(b, "sqsbatch")})
	for _, batch := range []int{1, 10} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			queues := sqs.NewEmbedded(sqs.EmbeddedOptions{})
			defer queues.Close()
			q, err := queues.CreateQueue("bench", sqs.QueueConfig{})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			entries := make([]sqs.SendEntry, b.N)
			for i := range entries {
				entries[i] = sqs.SendEntry{Body: fmt.Sprintf(`{"order":%d}`, i)}
			}
			if _, failed, err := q.Send(ctx, entries); err != nil || len(failed) > 0 {
				b.Fatal(err, failed)
			}
			b.ResetTimer()
			start := time.Now()
			es := &sqs.EventSource{Queue: q, BatchSize: batch, MaximumConcurrency: 2}
			att, err := fn.Attach(ctx, "bench", es)
			if err != nil {
				b.Fatal(err)
			}
			for es.Stats().Deleted < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if err := att.Detach(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
		})
	}
}
