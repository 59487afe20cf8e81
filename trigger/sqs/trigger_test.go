package sqs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/sqs"
	"github.com/wasmlambda/lambda/trigger/sqs/internal/esmsuite"
)

// esRecQueue is an embedded queue that records what the trigger receives
// and deletes.
type esRecQueue struct {
	*esmsuite.RecQueue
	emb *sqs.EmbeddedQueue
}

func newESRecQueue(q *sqs.EmbeddedQueue) *esRecQueue {
	return &esRecQueue{RecQueue: esmsuite.NewRecQueue(q), emb: q}
}

// Len is the embedded queue's length, in flight included.
func (r *esRecQueue) Len() int { return r.emb.Len() }

// esFixture is a function running the sqsbatch guest, on a runtime in
// eu-west-1, and a set of embedded queues.
type esFixture struct {
	fn     *lambda.Function
	queues *sqs.Embedded
}

func newESFixture(t *testing.T, cfg lambda.FunctionConfig) *esFixture {
	t.Helper()
	rt := testkit.NewRuntime(t, lambda.Options{Region: "eu-west-1", AccountID: "111122223333"})
	if cfg.Name == "" {
		cfg.Name = "worker"
	}
	cfg.Code = testguest.Go(t, "sqsbatch")
	f := testkit.Deploy(t, rt, cfg)
	e := sqs.NewEmbedded(sqs.EmbeddedOptions{Region: "eu-west-1", Account: "111122223333"})
	t.Cleanup(func() { _ = e.Close() })
	return &esFixture{fn: f, queues: e}
}

func (fx *esFixture) queue(t *testing.T, name string, cfg sqs.QueueConfig) *esRecQueue {
	t.Helper()
	q, err := fx.queues.CreateQueue(name, cfg)
	require.NoError(t, err)
	return newESRecQueue(q)
}

// attach attaches es under name and detaches it when the test ends.
func (fx *esFixture) attach(t *testing.T, name string, es *sqs.EventSource) *lambda.Attachment {
	t.Helper()
	att, err := fx.fn.Attach(context.Background(), name, es)
	require.NoError(t, err)
	t.Cleanup(func() { _ = att.Detach(context.Background()) })
	return att
}

func esSend(t *testing.T, q sqs.Queue, entries ...sqs.SendEntry) {
	t.Helper()
	_, failed, err := q.Send(testkit.WaitCtx(t), entries)
	require.NoError(t, err)
	require.Empty(t, failed)
}

func esBodies(bs ...string) []sqs.SendEntry {
	out := make([]sqs.SendEntry, len(bs))
	for i, b := range bs {
		out[i] = sqs.SendEntry{Body: b}
	}
	return out
}

// eventually waits, generously, for cond.
func esEventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 60*time.Second, 10*time.Millisecond, msg)
}

// settled waits until the trigger has received n messages and is idle:
// every batch counted as done.
func esSettled(es *sqs.EventSource) func() bool {
	return func() bool {
		s := es.Stats()
		return s.Batches > 0 && s.Batches == s.Succeeded+s.Failed+s.Partial
	}
}

func TestEventSourceCutsBatchesToTheRequestLimit(t *testing.T) {
	t.Parallel()
	fx := newESFixture(t, lambda.FunctionConfig{MaxRequestBytes: 4096})
	q := fx.queue(t, "big", sqs.QueueConfig{})
	var msgs []string
	for i := range 6 {
		msgs = append(msgs, fmt.Sprintf("%d%s", i, strings.Repeat("x", 1000)))
	}
	esSend(t, q, esBodies(msgs...)...)
	es := &sqs.EventSource{Queue: q}
	att := fx.attach(t, "big", es)
	esEventually(t, func() bool { return q.Len() == 0 }, "every message is delivered")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	s := es.Stats()
	require.Equal(t, s.Batches, s.Succeeded, "no batch is refused as too large")
	require.GreaterOrEqual(t, s.Batches, int64(2))
	require.Positive(t, s.Returned, "messages cut off are handed back")
	require.ElementsMatch(t, msgs, q.Deleted())
}

// awsSQSEventKeys reads the JSON keys of a record of aws-lambda-go's own
// SQS test event.
func awsSQSEventKeys(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "events", "testdata", "sqs-event.json"))
	require.NoError(t, err)
	var ev struct{ Records []map[string]json.RawMessage }
	require.NoError(t, json.Unmarshal(b, &ev))
	var keys []string
	for k := range ev.Records[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestEventSourceEventShape(t *testing.T) {
	t.Parallel()
	fx := newESFixture(t, lambda.FunctionConfig{})
	q := fx.queue(t, "shape", sqs.QueueConfig{VisibilityTimeout: time.Hour})
	s := "blue"
	esSend(t, q, sqs.SendEntry{Body: "dump", MessageAttributes: map[string]events.SQSMessageAttribute{"colour": {DataType: "String", StringValue: &s}}})
	es := &sqs.EventSource{Queue: q}
	att := fx.attach(t, "shape", es)
	esEventually(t, esSettled(es), "the batch is done")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))

	// The guest failed with the event as its message.
	last := att.Stats().LastError
	raw := last[strings.Index(last, "{"):]
	var ev struct{ Records []map[string]json.RawMessage }
	require.NoError(t, json.Unmarshal([]byte(raw), &ev), last)
	require.Len(t, ev.Records, 1)
	var keys []string
	for k := range ev.Records[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	require.Equal(t, awsSQSEventKeys(t), keys)

	var typed events.SQSEvent
	require.NoError(t, json.Unmarshal([]byte(raw), &typed))
	r := typed.Records[0]
	m := q.Received()[0]
	require.Equal(t, m.MessageID, r.MessageId)
	require.Equal(t, m.ReceiptHandle, r.ReceiptHandle)
	require.Equal(t, "dump", r.Body)
	require.Equal(t, m.MD5OfBody, r.Md5OfBody)
	require.Equal(t, sqs.EventSourceSQS, r.EventSource)
	require.Equal(t, q.ARN(), r.EventSourceARN)
	require.Equal(t, "eu-west-1", r.AWSRegion)
	require.Equal(t, m.Attributes, r.Attributes)
	require.Equal(t, "blue", *r.MessageAttributes["colour"].StringValue)
	require.Regexp(t, "^[0-9a-f]{32}$", r.Md5OfMessageAttributes)
	require.JSONEq(t, `{"stringValue":"blue","stringListValues":[],"binaryListValues":[],"dataType":"String"}`, string(esField(t, ev.Records[0]["messageAttributes"], "colour")))
	require.Equal(t, raw, string(sqs.EventJSON([]sqs.Message{m}, q.ARN(), "eu-west-1")), "EventJSON renders the event the EventSource sends")
}

func esField(t *testing.T, raw json.RawMessage, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m[key]
}

func TestEventSourceValidation(t *testing.T) {
	e := sqs.NewEmbedded(sqs.EmbeddedOptions{})
	t.Cleanup(func() { _ = e.Close() })
	std, err := e.CreateQueue("std", sqs.QueueConfig{})
	require.NoError(t, err)
	fifo, err := e.CreateQueue("q.fifo", sqs.QueueConfig{FIFO: true})
	require.NoError(t, err)
	tests := []struct {
		name string
		es   *sqs.EventSource
		want string // "" for valid
	}{
		{"defaults", &sqs.EventSource{Queue: std}, ""},
		{"no queue", &sqs.EventSource{}, "Queue is required"},
		{"negative batch", &sqs.EventSource{Queue: std, BatchSize: -1}, "BatchSize"},
		{"batch 10 without window", &sqs.EventSource{Queue: std, BatchSize: 10}, ""},
		{"batch 11 without window", &sqs.EventSource{Queue: std, BatchSize: 11}, "MaximumBatchingWindow of at least 1s"},
		{"batch 10000 with window", &sqs.EventSource{Queue: std, BatchSize: 10000, MaximumBatchingWindow: time.Second}, ""},
		{"batch 10001", &sqs.EventSource{Queue: std, BatchSize: 10001, MaximumBatchingWindow: time.Second}, "BatchSize 10001 exceeds 10000"},
		{"fifo batch 10", &sqs.EventSource{Queue: fifo, BatchSize: 10}, ""},
		{"fifo batch 11", &sqs.EventSource{Queue: fifo, BatchSize: 11, MaximumBatchingWindow: time.Second}, "FIFO"},
		{"window 300s", &sqs.EventSource{Queue: std, MaximumBatchingWindow: 300 * time.Second}, ""},
		{"window 301s", &sqs.EventSource{Queue: std, MaximumBatchingWindow: 301 * time.Second}, "MaximumBatchingWindow"},
		{"negative window", &sqs.EventSource{Queue: std, MaximumBatchingWindow: -time.Second}, "MaximumBatchingWindow"},
		{"concurrency 1", &sqs.EventSource{Queue: std, MaximumConcurrency: 1}, "MaximumConcurrency 1"},
		{"concurrency 2", &sqs.EventSource{Queue: std, MaximumConcurrency: 2}, ""},
		{"concurrency 1000", &sqs.EventSource{Queue: std, MaximumConcurrency: 1000}, ""},
		{"concurrency 1001", &sqs.EventSource{Queue: std, MaximumConcurrency: 1001}, "MaximumConcurrency 1001"},
		{"five filters", &sqs.EventSource{Queue: std, FilterCriteria: []string{`{"body":["a"]}`, `{"body":["b"]}`, `{"body":["c"]}`, `{"body":["d"]}`, `{"body":["e"]}`}}, ""},
		{"six filters", &sqs.EventSource{Queue: std, FilterCriteria: []string{`{}`, `{}`, `{}`, `{}`, `{}`, `{}`}}, "FilterCriteria has 6 patterns"},
		{"bad filter", &sqs.EventSource{Queue: std, FilterCriteria: []string{`{"body":["a"]}`, `{"body":`}}, "FilterCriteria: filter 1"},
		{"visibility 13h", &sqs.EventSource{Queue: std, VisibilityTimeout: 13 * time.Hour}, "VisibilityTimeout"},
		{"heartbeat without visibility", &sqs.EventSource{Queue: std, Heartbeat: true}, "Heartbeat needs a VisibilityTimeout"},
		{"heartbeat", &sqs.EventSource{Queue: std, Heartbeat: true, VisibilityTimeout: 30 * time.Second}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.es.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.ErrorIs(t, err, lambda.ErrInvalidConfig)
		})
	}
}

func TestEventSourceBatchingWindow(t *testing.T) {
	t.Parallel()
	fx := newESFixture(t, lambda.FunctionConfig{MaxRequestBytes: 8192})
	t.Run("invokes when the window ends", func(t *testing.T) {
		q := fx.queue(t, "window", sqs.QueueConfig{})
		es := &sqs.EventSource{Queue: q, BatchSize: 10, MaximumBatchingWindow: time.Second}
		att := fx.attach(t, "window", es)
		esSend(t, q, esBodies("a", "b", "c")...)
		esEventually(t, func() bool { return q.Len() == 0 }, "every message is delivered")
		require.NoError(t, att.Detach(testkit.WaitCtx(t)))
		require.Equal(t, int64(1), es.Stats().Batches)
		require.ElementsMatch(t, []string{"a", "b", "c"}, q.Deleted())
	})
	t.Run("a batch that fills the request limit does not wait", func(t *testing.T) {
		q := fx.queue(t, "full", sqs.QueueConfig{})
		es := &sqs.EventSource{Queue: q, BatchSize: 100, MaximumBatchingWindow: sqs.MaxBatchingWindow}
		att := fx.attach(t, "full", es)
		esSend(t, q, esBodies(strings.Repeat("x", 9000))...)
		// The window is 5 minutes: this waits at most one.
		esEventually(t, func() bool { return es.Stats().Batches == 1 }, "invoked before the window ends")
		require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	})
}

func TestEventSourceStopHandsBackGatheredMessages(t *testing.T) {
	t.Parallel()
	fx := newESFixture(t, lambda.FunctionConfig{})
	q := fx.queue(t, "gathered", sqs.QueueConfig{VisibilityTimeout: time.Hour})
	// A batch of 3 waits for its 5-minute window when Stop comes.
	es := &sqs.EventSource{Queue: q, BatchSize: 10, MaximumBatchingWindow: sqs.MaxBatchingWindow}
	att := fx.attach(t, "gathered", es)
	esSend(t, q, esBodies("a", "b", "c")...)
	esEventually(t, func() bool { return es.Stats().Received == 3 }, "the messages are received")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))

	s := es.Stats()
	require.Zero(t, s.Batches)
	require.Equal(t, int64(3), s.Returned)
	visible, err := q.emb.Receive(testkit.WaitCtx(t), sqs.ReceiveOptions{MaxMessages: 10})
	require.NoError(t, err)
	require.Len(t, visible, 3, "visible again at once, not after the hour")
}

// esBrokenQueue fails the calls its fields say.
type esBrokenQueue struct {
	*esRecQueue
	receiveErr, visibilityErr error
}

func (b *esBrokenQueue) Receive(ctx context.Context, opts sqs.ReceiveOptions) ([]sqs.Message, error) {
	if b.receiveErr != nil {
		return nil, b.receiveErr
	}
	return b.esRecQueue.Receive(ctx, opts)
}

func (b *esBrokenQueue) ChangeVisibility(ctx context.Context, entries []sqs.VisibilityEntry) ([]sqs.EntryError, error) {
	if b.visibilityErr != nil {
		return nil, b.visibilityErr
	}
	return b.esRecQueue.ChangeVisibility(ctx, entries)
}

func TestEventSourceQueueErrors(t *testing.T) {
	t.Parallel()
	fx := newESFixture(t, lambda.FunctionConfig{})
	t.Run("receive", func(t *testing.T) {
		q := &esBrokenQueue{esRecQueue: fx.queue(t, "receive", sqs.QueueConfig{}), receiveErr: fmt.Errorf("endpoint down")}
		att := fx.attach(t, "receive", &sqs.EventSource{Queue: q})
		esEventually(t, func() bool { return att.Stats().Errors >= 2 }, "receive errors are reported, and polling goes on")
		require.Contains(t, att.Stats().LastError, "endpoint down")
		require.NoError(t, att.Detach(testkit.WaitCtx(t)), "Stop interrupts the backoff")
	})
	t.Run("hand back", func(t *testing.T) {
		q := &esBrokenQueue{esRecQueue: fx.queue(t, "handback", sqs.QueueConfig{}), visibilityErr: fmt.Errorf("endpoint down")}
		es := &sqs.EventSource{Queue: q, MaximumBatchingWindow: sqs.MaxBatchingWindow}
		att := fx.attach(t, "handback", es)
		esSend(t, q, esBodies("a")...)
		esEventually(t, func() bool { return es.Stats().Received == 1 }, "the message is received")
		id := q.Received()[0].MessageID
		err := att.Detach(testkit.WaitCtx(t))
		require.ErrorContains(t, err, "1 messages not handed back")
		require.ErrorContains(t, err, id)
		require.Zero(t, es.Stats().Returned)
	})
}
