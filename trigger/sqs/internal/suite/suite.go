// Package suite is the semantics suite every sqs.Queue must pass: the
// embedded queue and awssqs against an SQS-protocol server run the same
// checks, so that the embedded queue stays true to SQS.
package suite

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// Factory makes the queues of one test. Names are unique within a test;
// a RedrivePolicy names a queue the same test made earlier. The factory
// maps them to names unique on its server and removes the queues when t
// ends.
type Factory func(t *testing.T, name string, cfg sqs.QueueConfig) sqs.Queue

// Target is a queue implementation under test.
type Target struct {
	// New makes queues.
	New Factory
	// Skip names checks this target does not pass, with the reason: the
	// places where it differs from Amazon SQS.
	Skip map[string]string
}

// Run runs every check of the suite as a subtest of t.
func Run(t *testing.T, target Target) { RunChecks(t, target, checks) }

// Check is one named check of a suite run on a Target.
type Check struct {
	Name string
	Fn   func(*testing.T, Factory)
}

// RunChecks runs each check as a parallel subtest of t, on target's queues,
// skipping those target.Skip names. Other suites over queues (the event
// source's) run their checks with it too.
func RunChecks(t *testing.T, target Target, checks []Check) {
	for _, c := range checks {
		t.Run(c.Name, func(t *testing.T) {
			if why, ok := target.Skip[c.Name]; ok {
				t.Skip(why)
			}
			t.Parallel()
			c.Fn(t, target.New)
		})
	}
}

var checks = []Check{
	{"SendReceiveDelete", testSendReceiveDelete},
	{"QueueSender", testQueueSender},
	{"VisibilityExpiry", testVisibilityExpiry},
	{"ChangeVisibility", testChangeVisibility},
	{"StaleReceiptHandle", testStaleReceiptHandle},
	{"BatchDeleteFailures", testBatchDeleteFailures},
	{"BatchFailures", testBatchFailures},
	{"Redrive", testRedrive},
	{"FIFOGroupOrder", testFIFOGroupOrder},
	{"FIFOBatchOfOneGroup", testFIFOBatchOfOneGroup},
	{"FIFODeduplication", testFIFODeduplication},
	{"FIFOContentDeduplication", testFIFOContentDeduplication},
	{"Delay", testDelay},
	{"LongPoll", testLongPoll},
	{"MessageTooLong", testMessageTooLong},
}

// bound is the generous limit on any wait of the suite.
const bound = 30 * time.Second

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*bound)
	t.Cleanup(cancel)
	return ctx
}

func send(t *testing.T, q sqs.Queue, entries ...sqs.SendEntry) []sqs.SendResult {
	t.Helper()
	sent, failed, err := q.Send(ctxT(t), entries)
	require.NoError(t, err)
	require.Empty(t, failed)
	require.Len(t, sent, len(entries))
	return sent
}

// receiveN receives until it has n messages, or fails after bound.
func receiveN(t *testing.T, q sqs.Queue, n int, vis time.Duration) []sqs.Message {
	t.Helper()
	ctx := ctxT(t)
	var got []sqs.Message
	deadline := time.Now().Add(bound)
	for len(got) < n {
		require.True(t, time.Now().Before(deadline), "got %d of %d messages", len(got), n)
		ms, err := q.Receive(ctx, sqs.ReceiveOptions{MaxMessages: n - len(got), WaitTime: time.Second, VisibilityTimeout: vis})
		require.NoError(t, err)
		got = append(got, ms...)
	}
	return got
}

// receiveNone asserts that no message is received within wait.
func receiveNone(t *testing.T, q sqs.Queue, wait time.Duration) {
	t.Helper()
	ms, err := q.Receive(ctxT(t), sqs.ReceiveOptions{MaxMessages: 10, WaitTime: wait})
	require.NoError(t, err)
	require.Empty(t, ms)
}

func del(t *testing.T, q sqs.Queue, ms ...sqs.Message) {
	t.Helper()
	var entries []sqs.DeleteEntry
	for i, m := range ms {
		entries = append(entries, sqs.DeleteEntry{ID: strconv.Itoa(i), ReceiptHandle: m.ReceiptHandle})
	}
	failed, err := q.Delete(ctxT(t), entries)
	require.NoError(t, err)
	require.Empty(t, failed)
}

func str(s string) *string { return &s }

func testSendReceiveDelete(t *testing.T, newQ Factory) {
	q := newQ(t, "basic", sqs.QueueConfig{})
	require.False(t, q.FIFO())
	require.True(t, strings.HasPrefix(q.ARN(), "arn:aws:sqs:"), q.ARN())
	before := time.Now().Add(-time.Minute)
	sent := send(t, q, sqs.SendEntry{
		ID:   "a",
		Body: `{"hello":"world"}`,
		MessageAttributes: map[string]events.SQSMessageAttribute{
			"S": {DataType: "String", StringValue: str("v")},
			"N": {DataType: "Number", StringValue: str("42")},
			"B": {DataType: "Binary", BinaryValue: []byte{1, 2, 3}},
		},
	})
	require.Equal(t, "a", sent[0].ID)
	require.Equal(t, "fbc24bcc7a1794758fc1327fcfebdaf6", sent[0].MD5OfBody) // md5 of the body
	ms := receiveN(t, q, 1, 30*time.Second)
	m := ms[0]
	require.Equal(t, sent[0].MessageID, m.MessageID)
	require.Equal(t, `{"hello":"world"}`, m.Body)
	require.Equal(t, sent[0].MD5OfBody, m.MD5OfBody)
	require.NotEmpty(t, m.ReceiptHandle)
	require.Equal(t, "1", m.Attributes[sqs.AttrApproximateReceiveCount])
	require.NotEmpty(t, m.Attributes[sqs.AttrSenderID])
	for _, a := range []string{sqs.AttrSentTimestamp, sqs.AttrApproximateFirstReceiveTimestamp} {
		ms, err := strconv.ParseInt(m.Attributes[a], 10, 64)
		require.NoError(t, err, a)
		require.True(t, time.UnixMilli(ms).After(before), a)
	}
	require.Equal(t, "v", *m.MessageAttributes["S"].StringValue)
	require.Equal(t, "String", m.MessageAttributes["S"].DataType)
	require.Equal(t, "42", *m.MessageAttributes["N"].StringValue)
	require.Equal(t, "Number", m.MessageAttributes["N"].DataType)
	require.Equal(t, []byte{1, 2, 3}, m.MessageAttributes["B"].BinaryValue)
	del(t, q, m)
	receiveNone(t, q, time.Second)
}

func testQueueSender(t *testing.T, newQ Factory) {
	q := newQ(t, "sender", sqs.QueueConfig{})
	sink := &lambda.QueueSink{Queue: q}
	require.NoError(t, sink.Send(ctxT(t), &lambda.DeadLetter{RequestID: "rid", Payload: []byte(`{"x":1}`), ErrorCode: 500, ErrorMessage: "boom"}))
	m := receiveN(t, q, 1, 30*time.Second)[0]
	require.Equal(t, `{"x":1}`, m.Body)
	require.Equal(t, "rid", *m.MessageAttributes["RequestID"].StringValue)
	require.Equal(t, "500", *m.MessageAttributes["ErrorCode"].StringValue)
	require.Equal(t, "Number", m.MessageAttributes["ErrorCode"].DataType)
	require.Equal(t, "boom", *m.MessageAttributes["ErrorMessage"].StringValue)
}

func testVisibilityExpiry(t *testing.T, newQ Factory) {
	q := newQ(t, "vis", sqs.QueueConfig{VisibilityTimeout: time.Second})
	sent := send(t, q, sqs.SendEntry{Body: "again"})
	for i := 1; i <= 3; i++ {
		m := receiveN(t, q, 1, 0)[0] // the queue's own 1 s
		require.Equal(t, sent[0].MessageID, m.MessageID)
		require.Equal(t, strconv.Itoa(i), m.Attributes[sqs.AttrApproximateReceiveCount])
	}
}

func testChangeVisibility(t *testing.T, newQ Factory) {
	q := newQ(t, "chvis", sqs.QueueConfig{})
	send(t, q, sqs.SendEntry{Body: "x"})
	m := receiveN(t, q, 1, 30*time.Second)[0]
	// Make it visible now: it comes back at once, not after 30 s.
	failed, err := q.ChangeVisibility(ctxT(t), []sqs.VisibilityEntry{{ID: "0", ReceiptHandle: m.ReceiptHandle}})
	require.NoError(t, err)
	require.Empty(t, failed)
	m2 := receiveN(t, q, 1, 30*time.Second)[0]
	require.Equal(t, m.MessageID, m2.MessageID)
	require.Equal(t, "2", m2.Attributes[sqs.AttrApproximateReceiveCount])
	// Extend it: it stays invisible past the old timeout.
	failed, err = q.ChangeVisibility(ctxT(t), []sqs.VisibilityEntry{{ID: "0", ReceiptHandle: m2.ReceiptHandle, VisibilityTimeout: time.Minute}})
	require.NoError(t, err)
	require.Empty(t, failed)
	receiveNone(t, q, time.Second)
}

func testStaleReceiptHandle(t *testing.T, newQ Factory) {
	q := newQ(t, "stale", sqs.QueueConfig{VisibilityTimeout: time.Second})
	send(t, q, sqs.SendEntry{Body: "x"})
	first := receiveN(t, q, 1, 0)[0]
	second := receiveN(t, q, 1, 30*time.Second)[0]
	require.NotEqual(t, first.ReceiptHandle, second.ReceiptHandle)
	failed, err := q.Delete(ctxT(t), []sqs.DeleteEntry{{ID: "old", ReceiptHandle: first.ReceiptHandle}})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, "old", failed[0].ID)
	require.Equal(t, sqs.CodeReceiptHandleIsInvalid, failed[0].Code)
	del(t, q, second)
}

func testBatchDeleteFailures(t *testing.T, newQ Factory) {
	q := newQ(t, "batchdel", sqs.QueueConfig{})
	send(t, q, sqs.SendEntry{ID: "1", Body: "one"})
	ms := receiveN(t, q, 1, 30*time.Second)
	failed, err := q.Delete(ctxT(t), []sqs.DeleteEntry{
		{ID: "good", ReceiptHandle: ms[0].ReceiptHandle},
		{ID: "bad", ReceiptHandle: "not-a-receipt-handle"},
	})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, "bad", failed[0].ID)
	require.Equal(t, sqs.CodeReceiptHandleIsInvalid, failed[0].Code)
	require.True(t, failed[0].SenderFault)
}

func testBatchFailures(t *testing.T, newQ Factory) {
	q := newQ(t, "batch", sqs.QueueConfig{})
	send(t, q, sqs.SendEntry{ID: "1", Body: "one"})
	ms := receiveN(t, q, 1, 30*time.Second)
	failed, err := q.ChangeVisibility(ctxT(t), []sqs.VisibilityEntry{
		{ID: "good", ReceiptHandle: ms[0].ReceiptHandle},
		{ID: "bad", ReceiptHandle: "not-a-receipt-handle"},
	})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, "bad", failed[0].ID)
	require.Equal(t, sqs.CodeReceiptHandleIsInvalid, failed[0].Code)
	// The good entry took effect: the message is visible again.
	m := receiveN(t, q, 1, 30*time.Second)[0]
	require.Equal(t, ms[0].MessageID, m.MessageID)

	// A send batch with one bad entry sends the others.
	sent, sfailed, err := q.Send(ctxT(t), []sqs.SendEntry{{ID: "ok", Body: "fine"}, {ID: "ctl", Body: "bad\x01"}})
	require.NoError(t, err)
	require.Len(t, sent, 1)
	require.Equal(t, "ok", sent[0].ID)
	require.Len(t, sfailed, 1)
	require.Equal(t, "ctl", sfailed[0].ID)
	require.Equal(t, sqs.CodeInvalidMessageContents, sfailed[0].Code)
}

func testRedrive(t *testing.T, newQ Factory) {
	dlq := newQ(t, "dlq", sqs.QueueConfig{})
	q := newQ(t, "src", sqs.QueueConfig{VisibilityTimeout: time.Second, RedrivePolicy: &sqs.RedrivePolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 2}})
	sent := send(t, q, sqs.SendEntry{Body: "poison"})
	for i := 1; i <= 2; i++ {
		m := receiveN(t, q, 1, 0)[0]
		require.Equal(t, strconv.Itoa(i), m.Attributes[sqs.AttrApproximateReceiveCount])
	}
	// The third receive moves it instead of delivering it.
	receiveNone(t, q, 3*time.Second)
	m := receiveN(t, dlq, 1, 30*time.Second)[0]
	require.Equal(t, sent[0].MessageID, m.MessageID)
	require.Equal(t, "poison", m.Body)
}

func fifoEntry(id, group, body string) sqs.SendEntry {
	return sqs.SendEntry{ID: id, Body: body, MessageGroupID: group, MessageDeduplicationID: id}
}

func testFIFOGroupOrder(t *testing.T, newQ Factory) {
	q := newQ(t, "order.fifo", sqs.QueueConfig{FIFO: true, VisibilityTimeout: 30 * time.Second})
	require.True(t, q.FIFO())
	send(t, q, fifoEntry("a1", "A", "a1"), fifoEntry("a2", "A", "a2"), fifoEntry("b1", "B", "b1"))
	// Receive for a while without deleting. A group's next message may come
	// in the same receive as the one before it, never in a later one while
	// that one is in flight.
	var all []sqs.Message
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		ms, err := q.Receive(ctxT(t), sqs.ReceiveOptions{MaxMessages: 10, WaitTime: time.Second})
		require.NoError(t, err)
		var bodies []string
		for _, m := range ms {
			bodies = append(bodies, m.Body)
			require.NotEmpty(t, m.Attributes[sqs.AttrSequenceNumber])
			require.Equal(t, m.Body[:1], strings.ToLower(m.Attributes[sqs.AttrMessageGroupID]))
		}
		if i := indexOf(bodies, "a2"); i >= 0 {
			require.True(t, indexOf(bodies, "a1") >= 0 && indexOf(bodies, "a1") < i, "a2 came without a1 before it in one receive: %v", bodies)
		}
		all = append(all, ms...)
	}
	var bodies []string
	for _, m := range all {
		bodies = append(bodies, m.Body)
	}
	require.Contains(t, bodies, "a1")
	require.Contains(t, bodies, "b1")
	if indexOf(bodies, "a2") < 0 {
		// Deleting a1 unlocks the group.
		del(t, q, all[indexOf(bodies, "a1")])
		m := receiveN(t, q, 1, 30*time.Second)[0]
		require.Equal(t, "a2", m.Body)
	}
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

func testFIFOBatchOfOneGroup(t *testing.T, newQ Factory) {
	q := newQ(t, "onegroup.fifo", sqs.QueueConfig{FIFO: true})
	send(t, q, fifoEntry("1", "G", "1"), fifoEntry("2", "G", "2"), fifoEntry("3", "G", "3"))
	ms, err := q.Receive(ctxT(t), sqs.ReceiveOptions{MaxMessages: 10, WaitTime: time.Second})
	require.NoError(t, err)
	var bodies []string
	for _, m := range ms {
		bodies = append(bodies, m.Body)
	}
	require.Equal(t, []string{"1", "2", "3"}, bodies)
}

func testFIFODeduplication(t *testing.T, newQ Factory) {
	q := newQ(t, "dedup.fifo", sqs.QueueConfig{FIFO: true})
	s1 := send(t, q, fifoEntry("d", "G", "first"))
	s2 := send(t, q, fifoEntry("d", "G", "second"))
	require.Equal(t, s1[0].MessageID, s2[0].MessageID)
	m := receiveN(t, q, 1, 30*time.Second)[0]
	require.Equal(t, "first", m.Body)
	require.Equal(t, "d", m.Attributes[sqs.AttrMessageDeduplicationID])
	require.Equal(t, "G", m.Attributes[sqs.AttrMessageGroupID])
	del(t, q, m)
	// Still deduplicated after the delete, within 5 minutes.
	send(t, q, fifoEntry("d", "G", "third"))
	receiveNone(t, q, time.Second)
}

func testFIFOContentDeduplication(t *testing.T, newQ Factory) {
	q := newQ(t, "cdedup.fifo", sqs.QueueConfig{FIFO: true, ContentBasedDeduplication: true})
	// Each in its own group, so that a receive may take them all.
	s1 := send(t, q, sqs.SendEntry{ID: "1", Body: "same", MessageGroupID: "G1"})
	s2 := send(t, q, sqs.SendEntry{ID: "2", Body: "same", MessageGroupID: "G2"})
	send(t, q, sqs.SendEntry{ID: "3", Body: "other", MessageGroupID: "G3"})
	require.Equal(t, s1[0].MessageID, s2[0].MessageID)
	ms := receiveN(t, q, 2, 30*time.Second)
	require.ElementsMatch(t, []string{"same", "other"}, []string{ms[0].Body, ms[1].Body})
	receiveNone(t, q, time.Second)
}

func testDelay(t *testing.T, newQ Factory) {
	tests := []struct {
		name  string
		cfg   sqs.QueueConfig
		delay time.Duration
	}{
		{"queue", sqs.QueueConfig{Delay: 2 * time.Second}, 0},
		{"message", sqs.QueueConfig{}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQ(t, "delay-"+tt.name, tt.cfg)
			start := time.Now()
			send(t, q, sqs.SendEntry{Body: "later", Delay: tt.delay})
			receiveNone(t, q, 0)
			m := receiveN(t, q, 1, 30*time.Second)[0]
			require.Equal(t, "later", m.Body)
			require.GreaterOrEqual(t, time.Since(start), time.Second) // whole seconds, with slack for rounding
		})
	}
}

func testLongPoll(t *testing.T, newQ Factory) {
	q := newQ(t, "poll", sqs.QueueConfig{})
	var (
		wg  sync.WaitGroup
		got []sqs.Message
		err error
		dur time.Duration
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		got, err = q.Receive(ctxT(t), sqs.ReceiveOptions{MaxMessages: 1, WaitTime: 20 * time.Second})
		dur = time.Since(start)
	}()
	time.Sleep(time.Second) // let the receive start waiting; a late start only shortens the check
	send(t, q, sqs.SendEntry{Body: "wake"})
	wg.Wait()
	require.NoError(t, err)
	require.Len(t, got, 1, "the long poll returned after %v", dur)
	require.Equal(t, "wake", got[0].Body)
	require.Less(t, dur, 15*time.Second, "the long poll should end when the message arrives, not at the end of its wait")
}

func testMessageTooLong(t *testing.T, newQ Factory) {
	q := newQ(t, "big", sqs.QueueConfig{})
	_, failed, err := q.Send(ctxT(t), []sqs.SendEntry{{ID: "big", Body: strings.Repeat("x", 256*1024+1)}})
	if err == nil {
		require.Len(t, failed, 1)
		require.Equal(t, "big", failed[0].ID)
	}
	_, err = q.SendMessage(ctxT(t), lambda.QueueMessage{Body: strings.Repeat("x", 256*1024+1)})
	require.Error(t, err)
	require.ErrorIs(t, err, sqs.ErrMessageTooLong)
	// Exactly the limit is fine.
	send(t, q, sqs.SendEntry{Body: strings.Repeat("x", 256*1024)})
}
