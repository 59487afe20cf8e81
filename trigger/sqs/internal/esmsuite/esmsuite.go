// Package esmsuite is the event source mapping's semantics suite: the
// sqs.EventSource runs the same checks on the embedded queue and on awssqs
// against an SQS-protocol server, so that what the trigger does with a
// queue holds on both.
package esmsuite

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/sqs"
	"github.com/wasmlambda/lambda/trigger/sqs/internal/suite"
)

// Target is a queue implementation the event source runs on.
type Target struct {
	// New makes queues, as for the queue semantics suite.
	New suite.Factory
	// Skip names checks this target does not pass, with the reason.
	Skip map[string]string
}

// Run runs every check of the suite as a subtest of t.
func Run(t *testing.T, target Target) {
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if why, ok := target.Skip[c.name]; ok {
				t.Skip(why)
			}
			t.Parallel()
			c.fn(t, target.New)
		})
	}
}

var checks = []struct {
	name string
	fn   func(*testing.T, suite.Factory)
}{
	{"DeletesSuccessfulBatches", testDeletesSuccessfulBatches},
	{"FunctionErrorRedrives", testFunctionErrorRedrives},
}

// bound is the generous limit on any wait of the suite.
const bound = 60 * time.Second

// recQueue records what the trigger receives and deletes.
type recQueue struct {
	sqs.Queue
	mu       sync.Mutex
	bodies   map[string]string // receipt handle → body
	received []sqs.Message
	deleted  []string // bodies, in order of deletion
}

func newRecQueue(q sqs.Queue) *recQueue {
	return &recQueue{Queue: q, bodies: map[string]string{}}
}

func (r *recQueue) Receive(ctx context.Context, opts sqs.ReceiveOptions) ([]sqs.Message, error) {
	ms, err := r.Queue.Receive(ctx, opts)
	r.mu.Lock()
	for _, m := range ms {
		r.bodies[m.ReceiptHandle] = m.Body
		r.received = append(r.received, m)
	}
	r.mu.Unlock()
	return ms, err
}

func (r *recQueue) Delete(ctx context.Context, entries []sqs.DeleteEntry) ([]sqs.EntryError, error) {
	failed, err := r.Queue.Delete(ctx, entries)
	if err == nil {
		bad := map[string]bool{}
		for _, f := range failed {
			bad[f.ID] = true
		}
		r.mu.Lock()
		for _, e := range entries {
			if !bad[e.ID] {
				r.deleted = append(r.deleted, r.bodies[e.ReceiptHandle])
			}
		}
		r.mu.Unlock()
	}
	return failed, err
}

func (r *recQueue) Received() []sqs.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.received)
}

func (r *recQueue) Deleted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.deleted)
}

// worker deploys the sqsbatch guest on a fresh runtime.
func worker(t *testing.T) *lambda.Function {
	t.Helper()
	rt := testkit.NewRuntime(t, lambda.Options{Region: "eu-west-1", AccountID: "111122223333"})
	return testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "worker", Code: testguest.Go(t, "sqsbatch")})
}

// attach attaches es under name and detaches it when the test ends.
func attach(t *testing.T, fn *lambda.Function, name string, es *sqs.EventSource) *lambda.Attachment {
	t.Helper()
	att, err := fn.Attach(context.Background(), name, es)
	require.NoError(t, err)
	t.Cleanup(func() { _ = att.Detach(context.Background()) })
	return att
}

func send(t *testing.T, q sqs.Queue, bodies ...string) {
	t.Helper()
	entries := make([]sqs.SendEntry, len(bodies))
	for i, b := range bodies {
		entries[i] = sqs.SendEntry{Body: b}
	}
	for len(entries) > 0 {
		n := min(len(entries), 10)
		_, failed, err := q.Send(testkit.WaitCtx(t), entries[:n])
		require.NoError(t, err)
		require.Empty(t, failed)
		entries = entries[n:]
	}
}

func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, bound, 10*time.Millisecond, msg)
}

func testDeletesSuccessfulBatches(t *testing.T, newQueue suite.Factory) {
	fn := worker(t)
	q := newRecQueue(newQueue(t, "orders", sqs.QueueConfig{}))
	var msgs []string
	for i := range 25 {
		msgs = append(msgs, fmt.Sprintf("order %d", i))
	}
	send(t, q, msgs...)
	es := &sqs.EventSource{Queue: q}
	att := attach(t, fn, "orders", es)

	eventually(t, func() bool { return es.Stats().Deleted == 25 }, "every message is deleted")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	require.ElementsMatch(t, msgs, q.Deleted())
	s := es.Stats()
	require.Equal(t, int64(25), s.Received)
	require.GreaterOrEqual(t, s.Batches, int64(3), "at most 10 a batch")
	require.Equal(t, s.Batches, s.Succeeded)
	require.Zero(t, s.Failed+s.Partial+s.FilteredOut)
	require.Equal(t, s.Batches, att.Stats().Events)
	got, err := q.Queue.Receive(testkit.WaitCtx(t), sqs.ReceiveOptions{MaxMessages: 10})
	require.NoError(t, err)
	require.Empty(t, got, "nothing is left on the queue")
}

func testFunctionErrorRedrives(t *testing.T, newQueue suite.Factory) {
	fn := worker(t)
	dlq := newQueue(t, "orders-dlq", sqs.QueueConfig{})
	q := newRecQueue(newQueue(t, "orders", sqs.QueueConfig{
		VisibilityTimeout: time.Second,
		RedrivePolicy:     &sqs.RedrivePolicy{DeadLetterQueue: "orders-dlq", MaxReceiveCount: 3},
	}))
	send(t, q, "error")
	es := &sqs.EventSource{Queue: q}
	att := attach(t, fn, "orders", es)

	ctx := testkit.WaitCtx(t)
	var got []sqs.Message
	eventually(t, func() bool {
		ms, err := dlq.Receive(ctx, sqs.ReceiveOptions{MaxMessages: 10, WaitTime: time.Second})
		got = append(got, ms...)
		return err == nil && len(got) > 0
	}, "the message reaches the DLQ")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	require.Len(t, got, 1)
	require.Equal(t, "error", got[0].Body)
	var counts []string
	for _, m := range q.Received() {
		counts = append(counts, m.Attributes[sqs.AttrApproximateReceiveCount])
	}
	require.Equal(t, []string{"1", "2", "3"}, counts, "redelivered after each visibility timeout, then redriven")
	require.Empty(t, q.Deleted())
	s := es.Stats()
	require.Equal(t, int64(3), s.Failed)
	require.Zero(t, s.Deleted)
	require.Equal(t, int64(3), att.Stats().Errors)
}
