package sqs_test

import (
	"context"
	"testing"
	"time"

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
