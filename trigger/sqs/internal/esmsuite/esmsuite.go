// Package esmsuite is the event source mapping's semantics suite: the
// sqs.EventSource runs the same checks on the embedded queue and on awssqs
// against an SQS-protocol server, so that what the trigger does with a
// queue holds on both.
package esmsuite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/sqs"
	"github.com/wasmlambda/lambda/trigger/sqs/internal/suite"
)

// Run runs every check of the suite as a subtest of t, on target's queues.
func Run(t *testing.T, target suite.Target) { suite.RunChecks(t, target, checks) }

var checks = []suite.Check{
	{Name: "DeletesSuccessfulBatches", Fn: testDeletesSuccessfulBatches},
	{Name: "FunctionErrorRedrives", Fn: testFunctionErrorRedrives},
	{Name: "ReportBatchItemFailures", Fn: testReportBatchItemFailures},
	{Name: "FilterCriteria", Fn: testFilterCriteria},
	{Name: "FIFOOrder", Fn: testFIFOOrder},
	{Name: "FIFOPartialFailureKeepsTheGroupBehind", Fn: testFIFOPartialFailure},
	{Name: "Heartbeat", Fn: testHeartbeat},
	{Name: "StopLosesNothing", Fn: testStopLosesNothing},
	{Name: "CutsBatchesToTheRequestLimit", Fn: testCutsBatchesToTheRequestLimit},
	{Name: "EventShape", Fn: testEventShape},
	{Name: "BatchingWindow", Fn: testBatchingWindow},
	{Name: "StopHandsBackGatheredMessages", Fn: testStopHandsBackGatheredMessages},
	{Name: "QueueErrors", Fn: testQueueErrors},
}

// bound is the generous limit on any wait of the suite.
const bound = 60 * time.Second

// RecQueue is a queue that records what the trigger receives and deletes,
// for the checks here and for the event source's other tests. It is safe
// for concurrent use.
type RecQueue struct {
	sqs.Queue
	mu       sync.Mutex
	bodies   map[string]string // receipt handle → body
	received []sqs.Message
	deleted  []string // bodies, in order of deletion
}

// NewRecQueue wraps q.
func NewRecQueue(q sqs.Queue) *RecQueue {
	return &RecQueue{Queue: q, bodies: map[string]string{}}
}

// Receive receives from the queue and records what it got.
func (r *RecQueue) Receive(ctx context.Context, opts sqs.ReceiveOptions) ([]sqs.Message, error) {
	ms, err := r.Queue.Receive(ctx, opts)
	r.mu.Lock()
	for _, m := range ms {
		r.bodies[m.ReceiptHandle] = m.Body
		r.received = append(r.received, m)
	}
	r.mu.Unlock()
	return ms, err
}

// Delete deletes from the queue and records what it deleted.
func (r *RecQueue) Delete(ctx context.Context, entries []sqs.DeleteEntry) ([]sqs.EntryError, error) {
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

// Received returns the messages received so far.
func (r *RecQueue) Received() []sqs.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.received)
}

// Deleted returns the bodies of the messages deleted so far, in order.
func (r *RecQueue) Deleted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.deleted)
}

// worker deploys the sqsbatch guest on a fresh runtime.
func worker(t *testing.T) *lambda.Function {
	t.Helper()
	return deploy(t, lambda.FunctionConfig{})
}

// deploy deploys the sqsbatch guest, as "worker" unless cfg names it, with
// the rest of cfg, on a fresh runtime in eu-west-1.
func deploy(t *testing.T, cfg lambda.FunctionConfig) *lambda.Function {
	t.Helper()
	rt := testkit.NewRuntime(t, lambda.Options{Region: "eu-west-1", AccountID: "111122223333"})
	if cfg.Name == "" {
		cfg.Name = "worker"
	}
	cfg.Code = testguest.Go(t, "sqsbatch")
	return testkit.Deploy(t, rt, cfg)
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
	q := NewRecQueue(newQueue(t, "orders", sqs.QueueConfig{}))
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
	q := NewRecQueue(newQueue(t, "orders", sqs.QueueConfig{
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

// settled reports whether the trigger has had a batch and is idle: every
// batch counted as done.
func settled(es *sqs.EventSource) func() bool {
	return func() bool {
		s := es.Stats()
		return s.Batches > 0 && s.Batches == s.Succeeded+s.Failed+s.Partial
	}
}

// drain receives every visible message of q and returns how many there
// were. They stay in flight for q's visibility timeout.
func drain(t *testing.T, q sqs.Queue) int {
	t.Helper()
	ctx := testkit.WaitCtx(t)
	n := 0
	for {
		ms, err := q.Receive(ctx, sqs.ReceiveOptions{MaxMessages: 10, WaitTime: time.Second})
		require.NoError(t, err)
		if len(ms) == 0 {
			return n
		}
		n += len(ms)
	}
}

func testReportBatchItemFailures(t *testing.T, newQueue suite.Factory) {
	fn := worker(t)
	tests := []struct {
		name       string
		bodies     []string
		left       []string // bodies left in the queue
		partial    bool
		failed     bool
		errContain string
	}{
		{name: "all succeed", bodies: []string{"a", "b"}},
		{name: "named failures", bodies: []string{"a", "fail", "b"}, left: []string{"fail"}, partial: true},
		{name: "all named", bodies: []string{"fail", "fail"}, left: []string{"fail", "fail"}, failed: true},
		{name: "empty list", bodies: []string{"a", `respond:{"batchItemFailures":[]}`}},
		{name: "null", bodies: []string{"a", `respond:null`}},
		{name: "invalid JSON", bodies: []string{"a", `respond:{"batchItemFailures":`}, left: []string{"a", `respond:{"batchItemFailures":`}, failed: true, errContain: "not valid JSON"},
		{name: "empty identifier", bodies: []string{"a", `respond:{"batchItemFailures":[{"itemIdentifier":""}]}`}, left: []string{"a", `respond:{"batchItemFailures":[{"itemIdentifier":""}]}`}, failed: true, errContain: "empty"},
		{name: "unknown identifier", bodies: []string{"a", `respond:{"batchItemFailures":[{"itemIdentifier":"nope"}]}`}, left: []string{"a", `respond:{"batchItemFailures":[{"itemIdentifier":"nope"}]}`}, failed: true, errContain: "not a message of the batch"},
		{name: "missing identifier", bodies: []string{"a", `respond:{"batchItemFailures":[{}]}`}, left: []string{"a", `respond:{"batchItemFailures":[{}]}`}, failed: true, errContain: "no itemIdentifier"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A long visibility timeout: what is left stays in flight.
			q := NewRecQueue(newQueue(t, fmt.Sprintf("q%d", i), sqs.QueueConfig{VisibilityTimeout: time.Hour}))
			send(t, q, tt.bodies...) // one receive takes them all: one batch
			es := &sqs.EventSource{Queue: q, ReportBatchItemFailures: true}
			att := attach(t, fn, tt.name, es)
			eventually(t, settled(es), "the batch is done")
			require.NoError(t, att.Detach(testkit.WaitCtx(t)))

			s := es.Stats()
			require.Equal(t, int64(1), s.Batches)
			require.Equal(t, tt.partial, s.Partial == 1, "partial")
			require.Equal(t, tt.failed, s.Failed == 1, "failed")
			var want []string
			for _, b := range tt.bodies {
				if !slices.Contains(tt.left, b) {
					want = append(want, b)
				}
			}
			require.ElementsMatch(t, want, q.Deleted())
			require.Equal(t, int64(len(want)), s.Deleted)
			checkLen(t, q.Queue, len(tt.left))
			if tt.errContain != "" {
				require.Contains(t, att.Stats().LastError, tt.errContain)
			}
		})
	}
}

func testFilterCriteria(t *testing.T, newQueue suite.Factory) {
	fn := worker(t)
	q := NewRecQueue(newQueue(t, "orders", sqs.QueueConfig{}))
	send(t, q, `{"kind":"keep","n":1}`, `{"kind":"drop"}`, "plain text", `{"kind":"keep","n":2}`)
	es := &sqs.EventSource{Queue: q, FilterCriteria: []string{`{"body":{"kind":["keep"]}}`}}
	att := attach(t, fn, "orders", es)

	eventually(t, func() bool { return len(q.Deleted()) == 4 }, "every message is deleted")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	s := es.Stats()
	require.Equal(t, int64(2), s.FilteredOut)
	require.Equal(t, int64(2), s.Deleted, "only the matching messages were invoked")
	require.Equal(t, s.Batches, att.Stats().Events)
	require.Zero(t, drain(t, q.Queue), "nothing is left on the queue")
}

func testFIFOOrder(t *testing.T, newQueue suite.Factory) {
	fn := worker(t)
	q := NewRecQueue(newQueue(t, "orders.fifo", sqs.QueueConfig{FIFO: true, ContentBasedDeduplication: true}))
	var entries []sqs.SendEntry
	for i := range 12 {
		for _, g := range []string{"a", "b", "c"} {
			entries = append(entries, sqs.SendEntry{Body: fmt.Sprintf("%s-%02d", g, i), MessageGroupID: g})
		}
	}
	for len(entries) > 0 {
		n := min(len(entries), 10)
		_, failed, err := q.Send(testkit.WaitCtx(t), entries[:n])
		require.NoError(t, err)
		require.Empty(t, failed)
		entries = entries[n:]
	}
	es := &sqs.EventSource{Queue: q, BatchSize: 4, MaximumConcurrency: 3}
	att := attach(t, fn, "orders", es)

	eventually(t, func() bool { return es.Stats().Deleted == 36 }, "every message is deleted")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	require.Len(t, q.Deleted(), 36)
	// The order of receipt, not of deletion: the recorder notes a delete
	// once the call returns, after the queue has let the group's next
	// message go, while a receive is noted before its batch is invoked.
	byGroup := map[string][]string{}
	for _, m := range q.Received() {
		byGroup[m.Body[:1]] = append(byGroup[m.Body[:1]], m.Body)
	}
	require.Len(t, byGroup, 3)
	for g, got := range byGroup {
		require.True(t, sort.StringsAreSorted(got), "group %s received in order: %v", g, got)
		require.Len(t, got, 12, "each message of group %s received once", g)
	}
}

func testHeartbeat(t *testing.T, newQueue suite.Factory) {
	rt := testkit.NewRuntime(t, lambda.Options{Region: "eu-west-1", AccountID: "111122223333"})
	fn := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "worker", Code: testguest.Go(t, "sqsbatch"), Timeout: 30 * time.Second})
	for _, heartbeat := range []bool{true, false} {
		t.Run(fmt.Sprintf("heartbeat=%v", heartbeat), func(t *testing.T) {
			t.Parallel()
			q := NewRecQueue(newQueue(t, fmt.Sprintf("slow-%v", heartbeat), sqs.QueueConfig{}))
			// The invoke outlasts the 2 s visibility timeout twice over.
			send(t, q, "sleep:5000")
			es := &sqs.EventSource{Queue: q, VisibilityTimeout: 2 * time.Second, Heartbeat: heartbeat, MaximumConcurrency: 2}
			att := attach(t, fn, t.Name(), es)
			if heartbeat {
				eventually(t, func() bool { return es.Stats().Deleted == 1 }, "the message is deleted")
			} else {
				eventually(t, func() bool { return es.Stats().Received >= 2 }, "the message is received again")
			}
			require.NoError(t, att.Detach(testkit.WaitCtx(t)))
			s := es.Stats()
			if heartbeat {
				require.Equal(t, int64(1), s.Received, "delivered once")
				require.Equal(t, int64(1), s.Batches)
				require.GreaterOrEqual(t, s.Extended, int64(2))
				require.Equal(t, []string{"sleep:5000"}, q.Deleted())
			} else {
				// Without it, the second poller receives the message again
				// while the first invoke runs: what the heartbeat prevents.
				require.Zero(t, s.Extended)
			}
		})
	}
}

func testStopLosesNothing(t *testing.T, newQueue suite.Factory) {
	rt := testkit.NewRuntime(t, lambda.Options{Region: "eu-west-1", AccountID: "111122223333"})
	fn := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "worker", Code: testguest.Go(t, "sqsbatch"), Timeout: 30 * time.Second})
	tests := []struct {
		name    string
		body    string
		stopCtx time.Duration // how long Stop may wait for batches in flight
	}{
		{"batches finish", "sleep:300", time.Minute},
		{"batches cut short", "sleep:20000", 200 * time.Millisecond},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := NewRecQueue(newQueue(t, fmt.Sprintf("stop%d", i), sqs.QueueConfig{VisibilityTimeout: time.Hour}))
			var bodies []string
			for range 40 {
				bodies = append(bodies, tt.body)
			}
			send(t, q, bodies...)
			es := &sqs.EventSource{Queue: q, BatchSize: 5, MaximumConcurrency: 2}
			att := attach(t, fn, "stop", es)
			eventually(t, func() bool { return es.Stats().Batches >= 2 }, "batches in flight")

			ctx, cancel := context.WithTimeout(context.Background(), tt.stopCtx)
			defer cancel()
			require.NoError(t, att.Detach(ctx))

			// Every message is deleted or visible in the queue again: none
			// is left in flight for the hour.
			require.Equal(t, 40, int(es.Stats().Deleted)+drain(t, q.Queue))
		})
	}
}

// checkLen checks, where the queue can tell, that it holds n messages,
// visible or in flight.
func checkLen(t *testing.T, q sqs.Queue, n int) {
	t.Helper()
	if l, ok := q.(interface{ Len() int }); ok {
		require.Equal(t, n, l.Len(), "messages left in the queue")
	}
}

func testFIFOPartialFailure(t *testing.T, newQueue suite.Factory) {
	fn := worker(t)
	q := NewRecQueue(newQueue(t, "orders.fifo", sqs.QueueConfig{FIFO: true, ContentBasedDeduplication: true, VisibilityTimeout: time.Hour}))
	_, failed, err := q.Send(testkit.WaitCtx(t), []sqs.SendEntry{
		{Body: "fail", MessageGroupID: "a"},
		{Body: "a-after", MessageGroupID: "a"},
		{Body: "b-ok", MessageGroupID: "b"},
	})
	require.NoError(t, err)
	require.Empty(t, failed)
	es := &sqs.EventSource{Queue: q, ReportBatchItemFailures: true}
	att := attach(t, fn, "orders", es)
	eventually(t, func() bool { return es.Stats().Deleted == 1 && settled(es)() }, "the batch is done")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	require.Equal(t, []string{"b-ok"}, q.Deleted(), "a-after stays behind the failed message of its group")
	checkLen(t, q.Queue, 2)
	require.Equal(t, int64(1), es.Stats().Partial)
}

func testCutsBatchesToTheRequestLimit(t *testing.T, newQueue suite.Factory) {
	fn := deploy(t, lambda.FunctionConfig{MaxRequestBytes: 4096})
	q := NewRecQueue(newQueue(t, "big", sqs.QueueConfig{}))
	var msgs []string
	for i := range 6 {
		msgs = append(msgs, fmt.Sprintf("%d%s", i, strings.Repeat("x", 1000)))
	}
	send(t, q, msgs...) // one receive takes them all: more than fit an event
	es := &sqs.EventSource{Queue: q}
	att := attach(t, fn, "big", es)
	eventually(t, func() bool { return es.Stats().Deleted == 6 }, "every message is delivered")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	s := es.Stats()
	require.Equal(t, s.Batches, s.Succeeded, "no batch is refused as too large")
	require.GreaterOrEqual(t, s.Batches, int64(2))
	require.Positive(t, s.Returned, "messages cut off are handed back")
	require.ElementsMatch(t, msgs, q.Deleted())
	require.Zero(t, drain(t, q.Queue), "nothing is left on the queue")
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
	return sortedKeys(ev.Records[0])
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func testEventShape(t *testing.T, newQueue suite.Factory) {
	fn := worker(t)
	q := NewRecQueue(newQueue(t, "shape", sqs.QueueConfig{VisibilityTimeout: time.Hour}))
	blue := "blue"
	_, failed, err := q.Send(testkit.WaitCtx(t), []sqs.SendEntry{{Body: "dump", MessageAttributes: map[string]events.SQSMessageAttribute{"colour": {DataType: "String", StringValue: &blue}}}})
	require.NoError(t, err)
	require.Empty(t, failed)
	es := &sqs.EventSource{Queue: q}
	att := attach(t, fn, "shape", es)
	eventually(t, settled(es), "the batch is done")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))

	// The guest failed with the event as its message.
	last := att.Stats().LastError
	raw := last[strings.Index(last, "{"):]
	var ev struct{ Records []map[string]json.RawMessage }
	require.NoError(t, json.Unmarshal([]byte(raw), &ev), last)
	require.Len(t, ev.Records, 1)
	require.Equal(t, awsSQSEventKeys(t), sortedKeys(ev.Records[0]))

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
	var attrs map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(ev.Records[0]["messageAttributes"], &attrs))
	require.JSONEq(t, `{"stringValue":"blue","stringListValues":[],"binaryListValues":[],"dataType":"String"}`, string(attrs["colour"]))
	require.Equal(t, raw, string(sqs.EventJSON([]sqs.Message{m}, q.ARN(), "eu-west-1")), "EventJSON renders the event the EventSource sends")
}

func testBatchingWindow(t *testing.T, newQueue suite.Factory) {
	fn := deploy(t, lambda.FunctionConfig{MaxRequestBytes: 8192})
	t.Run("invokes when the window ends", func(t *testing.T) {
		q := NewRecQueue(newQueue(t, "window", sqs.QueueConfig{}))
		es := &sqs.EventSource{Queue: q, BatchSize: 10, MaximumBatchingWindow: time.Second}
		att := attach(t, fn, "window", es)
		send(t, q, "a", "b", "c")
		eventually(t, func() bool { return len(q.Deleted()) == 3 }, "every message is delivered")
		require.NoError(t, att.Detach(testkit.WaitCtx(t)))
		require.Equal(t, int64(1), es.Stats().Batches)
		require.ElementsMatch(t, []string{"a", "b", "c"}, q.Deleted())
	})
	t.Run("a batch that fills the request limit does not wait", func(t *testing.T) {
		q := newQueue(t, "full", sqs.QueueConfig{})
		es := &sqs.EventSource{Queue: q, BatchSize: 100, MaximumBatchingWindow: sqs.MaxBatchingWindow}
		att := attach(t, fn, "full", es)
		send(t, q, strings.Repeat("x", 9000))
		// The window is 5 minutes: this waits at most one.
		eventually(t, func() bool { return es.Stats().Batches == 1 }, "invoked before the window ends")
		require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	})
}

// shortPolls is a queue whose receives leave no request waiting on the
// server: it makes a long poll a run of short ones, and reads each to its
// end even when ctx ends, returning what it got. A server that keeps a long
// poll whose client has gone hands it the next messages to become visible
// (fauxqs does), and they stay in flight, seen by no one, for their
// visibility timeout: a check of what Stop makes visible again must leave
// no such poll behind when it stops the receives.
type shortPolls struct{ sqs.Queue }

// Receive receives with short polls until a message comes, a poll fails,
// opts.WaitTime passes or ctx ends.
func (q shortPolls) Receive(ctx context.Context, opts sqs.ReceiveOptions) ([]sqs.Message, error) {
	end := time.Now().Add(opts.WaitTime)
	opts.WaitTime = 0 // the queue's own: none
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
		ms, err := q.Queue.Receive(pctx, opts)
		cancel()
		if len(ms) > 0 || err != nil || !time.Now().Before(end) {
			return ms, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func testStopHandsBackGatheredMessages(t *testing.T, newQueue suite.Factory) {
	fn := worker(t)
	raw := newQueue(t, "gathered", sqs.QueueConfig{VisibilityTimeout: time.Hour})
	// A batch of 3 waits for its 5-minute window when Stop comes.
	es := &sqs.EventSource{Queue: shortPolls{raw}, BatchSize: 10, MaximumBatchingWindow: sqs.MaxBatchingWindow}
	att := attach(t, fn, "gathered", es)
	send(t, raw, "a", "b", "c")
	eventually(t, func() bool { return es.Stats().Received == 3 }, "the messages are received")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))

	s := es.Stats()
	require.Zero(t, s.Batches)
	require.Equal(t, int64(3), s.Returned)
	require.Equal(t, 3, drain(t, raw), "visible again at once, not after the hour")
}

// faultQueue is a queue that fails the calls its fields say: the errors
// no server makes on demand.
type faultQueue struct {
	sqs.Queue
	receiveErr, visibilityErr error
}

// Receive fails with receiveErr if set.
func (f *faultQueue) Receive(ctx context.Context, opts sqs.ReceiveOptions) ([]sqs.Message, error) {
	if f.receiveErr != nil {
		return nil, f.receiveErr
	}
	return f.Queue.Receive(ctx, opts)
}

// ChangeVisibility fails with visibilityErr if set.
func (f *faultQueue) ChangeVisibility(ctx context.Context, entries []sqs.VisibilityEntry) ([]sqs.EntryError, error) {
	if f.visibilityErr != nil {
		return nil, f.visibilityErr
	}
	return f.Queue.ChangeVisibility(ctx, entries)
}

func testQueueErrors(t *testing.T, newQueue suite.Factory) {
	fn := worker(t)
	down := errors.New("endpoint down")
	t.Run("receive", func(t *testing.T) {
		q := &faultQueue{Queue: newQueue(t, "receive", sqs.QueueConfig{}), receiveErr: down}
		att := attach(t, fn, "receive", &sqs.EventSource{Queue: q, MaximumConcurrency: 2})
		// A third error: a poller polled again after its first.
		eventually(t, func() bool { return att.Stats().Errors >= 3 }, "receive errors are reported, and polling goes on")
		require.Contains(t, att.Stats().LastError, "endpoint down")
		require.NoError(t, att.Detach(testkit.WaitCtx(t)), "Stop interrupts the backoff")
	})
	t.Run("hand back", func(t *testing.T) {
		rec := NewRecQueue(newQueue(t, "handback", sqs.QueueConfig{}))
		q := &faultQueue{Queue: rec, visibilityErr: down}
		es := &sqs.EventSource{Queue: q, MaximumBatchingWindow: sqs.MaxBatchingWindow}
		att := attach(t, fn, "handback", es)
		send(t, q, "a")
		eventually(t, func() bool { return es.Stats().Received == 1 }, "the message is received")
		id := rec.Received()[0].MessageID
		err := att.Detach(testkit.WaitCtx(t))
		require.ErrorContains(t, err, "1 messages not handed back")
		require.ErrorContains(t, err, id)
		require.Zero(t, es.Stats().Returned)
	})
}
