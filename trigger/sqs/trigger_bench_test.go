package sqs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/sqs"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/sqs"
	"github.com/wasmlambda/lambda/trigger/sqs/awssqs"
)

// benchMessages is the number of messages one benchmark iteration sends,
// before its timer starts, and then drains.
const benchMessages = 1000

// benchConcurrency is the EventSource's MaximumConcurrency in the
// benchmarks, and the baseline's number of pollers.
const benchConcurrency = 8

// BenchmarkSQS measures messages per second end to end: an iteration sends
// benchMessages messages to a new queue with its timer stopped, then times
// their receive, handling and delete. A new queue each iteration, because a
// long poll that the client gave up on may still take messages on the
// server, hiding them for their visibility timeout. Each backend (the embedded queue; fauxqs through
// awssqs when WASMLAMBDA_SQS_ENDPOINT is set) runs two cases on the same
// queue with the same batch size and concurrency:
//
//   - wasm: an EventSource attached to a function of the sqsbatch guest.
//   - native: the baseline, a loop of benchConcurrency pollers that receive
//     a batch, encode it as an SQS event, hand it to a native Go handler
//     doing what the guest does, and delete the batch. EventSource can only
//     invoke a lambda.Function, so the baseline is this loop rather than the
//     EventSource with its function replaced.
//   - queue-only: the same pollers, receiving and deleting without
//     handling: what the queue alone costs.
//
// It reports msgs/s and ns/msg.
func BenchmarkSQS(b *testing.B) {
	rt := testkit.NewRuntime(b, lambda.Options{})
	fn := testkit.Deploy(b, rt, lambda.FunctionConfig{Name: "worker", Code: testguest.Go(b, "sqsbatch")})

	embedded := sqs.NewEmbedded(sqs.EmbeddedOptions{})
	defer embedded.Close()
	var n atomic.Int64
	backends := []struct {
		name     string
		newQueue func(b *testing.B) sqs.Queue
	}{
		{"embedded", func(b *testing.B) sqs.Queue {
			q, err := embedded.CreateQueue(fmt.Sprintf("bench-%d", n.Add(1)), sqs.QueueConfig{})
			if err != nil {
				b.Fatal(err)
			}
			return q
		}},
		{"fauxqs", func(b *testing.B) sqs.Queue {
			return fauxqsQueue(b, fmt.Sprintf("wl-bench-%d-%d", time.Now().UnixNano()%1e9, n.Add(1)))
		}},
	}
	cases := []struct {
		name  string
		batch int
		run   func(b *testing.B, newQueue func(*testing.B) sqs.Queue, batch int)
	}{
		{"wasm", 10, func(b *testing.B, newQueue func(*testing.B) sqs.Queue, batch int) {
			benchEventSource(b, fn, newQueue, batch)
		}},
		{"native", 10, benchNative},
		{"wasm-batch1", 1, func(b *testing.B, newQueue func(*testing.B) sqs.Queue, batch int) {
			benchEventSource(b, fn, newQueue, batch)
		}},
		{"native-batch1", 1, benchNative},
		{"queue-only", 10, func(b *testing.B, newQueue func(*testing.B) sqs.Queue, batch int) {
			benchPollers(b, newQueue, batch, false)
		}},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					c.run(b, be.newQueue, c.batch)
				})
			}
		})
	}
}

// fauxqsQueue creates a standard queue named name on the server at
// $WASMLAMBDA_SQS_ENDPOINT, or skips b without one.
func fauxqsQueue(b *testing.B, name string) sqs.Queue {
	endpoint := os.Getenv("WASMLAMBDA_SQS_ENDPOINT")
	if endpoint == "" {
		b.Skip("no SQS server: set WASMLAMBDA_SQS_ENDPOINT (.ci/run starts fauxqs)")
	}
	ctx := context.Background()
	c := sdk.New(sdk.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchConcurrency}},
	})
	out, err := c.CreateQueue(ctx, &sdk.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		b.Skipf("the SQS server at %s: %v", endpoint, err)
	}
	b.Cleanup(func() {
		_, _ = c.DeleteQueue(context.Background(), &sdk.DeleteQueueInput{QueueUrl: out.QueueUrl})
		c.Options().HTTPClient.(*http.Client).CloseIdleConnections()
	})
	q, err := awssqs.New(ctx, c, *out.QueueUrl)
	if err != nil {
		b.Fatal(err)
	}
	return q
}

// fill sends n small JSON messages to q, in batches of 10.
func fill(b *testing.B, q sqs.Queue, n, from int) {
	ctx := context.Background()
	for lo := 0; lo < n; lo += 10 {
		entries := make([]sqs.SendEntry, min(10, n-lo))
		for i := range entries {
			entries[i] = sqs.SendEntry{ID: fmt.Sprint(i), Body: fmt.Sprintf(`{"order":%d}`, from+lo+i)}
		}
		if _, failed, err := q.Send(ctx, entries); err != nil || len(failed) > 0 {
			b.Fatal(err, failed)
		}
	}
}

// report reports msgs/s and ns/msg for b.N iterations of benchMessages
// messages that took elapsed in all.
func report(b *testing.B, elapsed time.Duration) {
	msgs := float64(b.N) * benchMessages
	b.ReportMetric(msgs/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/msgs, "ns/msg")
}

// benchEventSource runs the wasm case: per iteration, benchMessages
// messages drained by an EventSource attached to fn.
func benchEventSource(b *testing.B, fn *lambda.Function, newQueue func(*testing.B) sqs.Queue, batch int) {
	ctx := context.Background()
	iteration := func(i int) time.Duration {
		q := newQueue(b)
		fill(b, q, benchMessages, i*benchMessages)
		es := &sqs.EventSource{Queue: q, BatchSize: batch, MaximumConcurrency: benchConcurrency}
		b.StartTimer()
		start := time.Now()
		att, err := fn.Attach(ctx, "bench", es)
		if err != nil {
			b.Fatal(err)
		}
		for es.Stats().Deleted < benchMessages {
			time.Sleep(50 * time.Microsecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		if err := att.Detach(ctx); err != nil {
			b.Fatal(err)
		}
		if st := es.Stats(); st.Deleted != benchMessages || st.Failed != 0 {
			b.Fatalf("stats %+v", st)
		}
		return elapsed
	}
	iteration(-1) // warm the function's sandboxes
	b.ResetTimer()
	b.StopTimer() // each iteration times only its drain
	var elapsed time.Duration
	for i := range b.N {
		elapsed += iteration(i)
	}
	report(b, elapsed)
}

// handleNative encodes msgs as the SQS event an EventSource would send and
// gives it to nativeHandler.
func handleNative(ctx context.Context, q sqs.Queue, msgs []sqs.Message) error {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		ev.Records[i] = events.SQSMessage{MessageId: m.MessageID, ReceiptHandle: m.ReceiptHandle, Body: m.Body,
			Md5OfBody: m.MD5OfBody, Attributes: m.Attributes, MessageAttributes: m.MessageAttributes,
			EventSource: "aws:sqs", EventSourceARN: q.ARN(), AWSRegion: "us-east-1"}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = nativeHandler(ctx, payload)
	return err
}

// nativeHandler does what the sqsbatch guest does with bodies that ask
// nothing of it: decode the event and answer an empty batch response.
func nativeHandler(_ context.Context, payload []byte) ([]byte, error) {
	var ev struct {
		Records []struct {
			MessageID string `json:"messageId"`
			Body      string `json:"body"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	type failure struct {
		ItemIdentifier string `json:"itemIdentifier"`
	}
	return json.Marshal(struct {
		BatchItemFailures []failure `json:"batchItemFailures"`
	}{[]failure{}})
}

// benchNative runs the baseline: per iteration, benchMessages messages
// drained by benchConcurrency native pollers, each receiving up to batch
// messages with SQS's longest wait, as the EventSource does.
func benchNative(b *testing.B, newQueue func(*testing.B) sqs.Queue, batch int) {
	benchPollers(b, newQueue, batch, true)
}

// benchPollers drains benchMessages messages per iteration with
// benchConcurrency pollers. With handle, each batch is encoded as an SQS
// event and given to nativeHandler; without, it is only received and
// deleted, which measures the queue alone.
func benchPollers(b *testing.B, newQueue func(*testing.B) sqs.Queue, batch int, handle bool) {
	iteration := func(i int) time.Duration {
		q := newQueue(b)
		fill(b, q, benchMessages, i*benchMessages)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b.StartTimer()
		start := time.Now()
		var deleted atomic.Int64
		var end time.Time
		var endOnce sync.Once
		var wg sync.WaitGroup
		for range benchConcurrency {
			wg.Go(func() {
				for ctx.Err() == nil {
					msgs, err := q.Receive(ctx, sqs.ReceiveOptions{MaxMessages: batch, WaitTime: sqs.MaxWaitTime})
					if ctx.Err() != nil {
						return
					}
					if err != nil {
						b.Error(err)
						return
					}
					if len(msgs) == 0 {
						continue
					}
					del := make([]sqs.DeleteEntry, len(msgs))
					for i, m := range msgs {
						del[i] = sqs.DeleteEntry{ID: strconv.Itoa(i), ReceiptHandle: m.ReceiptHandle}
					}
					if handle {
						if err := handleNative(ctx, q, msgs); err != nil {
							b.Error(err)
							return
						}
					}
					if failed, err := q.Delete(ctx, del); err != nil || len(failed) > 0 {
						b.Error(err, failed)
						return
					}
					if deleted.Add(int64(len(msgs))) >= benchMessages {
						endOnce.Do(func() { end = time.Now(); cancel() })
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		if deleted.Load() != benchMessages {
			b.Fatalf("deleted %d of %d", deleted.Load(), benchMessages)
		}
		return end.Sub(start)
	}
	iteration(-1)
	b.ResetTimer()
	b.StopTimer() // each iteration times only its drain
	var elapsed time.Duration
	for i := range b.N {
		elapsed += iteration(i)
	}
	report(b, elapsed)
}
