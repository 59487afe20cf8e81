package sqs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

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

// BenchmarkNativeHandler is the baseline of BenchmarkEventSource: two
// pollers receive batches of 10 from the embedded queue, encode them as an
// SQS event, hand it to a native Go handler that decodes it, and delete
// them, without a sandbox.
func BenchmarkNativeHandler(b *testing.B) {
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
	handler := func(ctx context.Context, payload []byte) ([]byte, error) {
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		return []byte(`{"batchItemFailures":[]}`), nil
	}
	b.ResetTimer()
	start := time.Now()
	var deleted atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for deleted.Load() < int64(b.N) {
				msgs, err := q.Receive(ctx, sqs.ReceiveOptions{MaxMessages: 10, WaitTime: 10 * time.Millisecond})
				if err != nil {
					b.Error(err)
					return
				}
				if len(msgs) == 0 {
					continue
				}
				ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
				del := make([]sqs.DeleteEntry, len(msgs))
				for i, m := range msgs {
					ev.Records[i] = events.SQSMessage{MessageId: m.MessageID, ReceiptHandle: m.ReceiptHandle, Body: m.Body,
						Md5OfBody: m.MD5OfBody, Attributes: m.Attributes, EventSource: "aws:sqs", EventSourceARN: q.ARN(), AWSRegion: "us-east-1"}
					del[i] = sqs.DeleteEntry{ReceiptHandle: m.ReceiptHandle}
				}
				payload, _ := json.Marshal(ev)
				if _, err := handler(ctx, payload); err != nil {
					b.Error(err)
					return
				}
				if _, err := q.Delete(ctx, del); err != nil {
					b.Error(err)
					return
				}
				deleted.Add(int64(len(msgs)))
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
