// Package notifysuite is the semantics suite of s3.QueueNotifications:
// the same checks, with real S3 notification bodies and a real wasm guest,
// against any sqs.Queue, the embedded queue and an SQS-protocol server.
package notifysuite

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/s3"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// Bodies of messages as S3 sends them to a queue, and as SNS does.
var (
	// Put is a notification of an ObjectCreated:Put, in AWS's documented
	// layout, indented.
	//go:embed testdata/put.json
	Put string
	// Delete is a notification of an ObjectRemoved:Delete, compact as S3
	// sends it.
	//go:embed testdata/delete.json
	Delete string
	// TestEvent is the s3:TestEvent S3 sends when a configuration is
	// saved.
	//go:embed testdata/test-event.json
	TestEvent string
	// SNSDelete is Delete as SNS delivers it to an SQS subscription
	// without raw message delivery: in a notification envelope.
	//go:embed testdata/sns-delete.json
	SNSDelete string
	// SNSTestEvent is TestEvent in an SNS envelope.
	//go:embed testdata/sns-test-event.json
	SNSTestEvent string
)

// Factory returns a function that makes queues for one test. A queue's
// RedrivePolicy names a dead-letter queue made before it by the same
// function.
type Factory func(t *testing.T) func(name string, cfg sqs.QueueConfig) sqs.Queue

// Run runs the suite on the queues newQueues makes.
func Run(t *testing.T, newQueues Factory) {
	t.Run("Delivers", func(t *testing.T) { t.Parallel(); testDelivers(t, newQueues) })
	t.Run("InvalidBodyGoesToTheDeadLetterQueue", func(t *testing.T) { t.Parallel(); testInvalid(t, newQueues) })
	t.Run("RefusedInvokeKeepsTheMessage", func(t *testing.T) { t.Parallel(); testRefused(t, newQueues) })
	t.Run("NothingLostWhenTheFunctionIsBusy", func(t *testing.T) { t.Parallel(); testBusy(t, newQueues) })
	t.Run("StopHandsBack", func(t *testing.T) { t.Parallel(); testStop(t, newQueues) })
}

// fixture is a function running the echo guest, whose successes go to a
// sink, and whose failures to another.
type fixture struct {
	fn       *lambda.Function
	ok, fail *testkit.RecordSink
}

func newFixture(t *testing.T, async lambda.AsyncConfig) *fixture {
	t.Helper()
	rt := testkit.NewRuntime(t, lambda.Options{Region: "us-west-2", AccountID: "123456789012"})
	fx := &fixture{ok: testkit.NewRecordSink(), fail: testkit.NewRecordSink()}
	async.OnSuccess, async.OnFailure = fx.ok, fx.fail
	fx.fn = testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "uploads", Code: testguest.Go(t, "echo"), Async: async})
	return fx
}

func (fx *fixture) attach(t *testing.T, name string, qn *s3.QueueNotifications) *lambda.Attachment {
	t.Helper()
	att, err := fx.fn.Attach(context.Background(), name, qn)
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
	_, failed, err := q.Send(testkit.WaitCtx(t), entries)
	require.NoError(t, err)
	require.Empty(t, failed)
}

// eventually waits, generously, for cond.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 60*time.Second, 10*time.Millisecond, msg)
}

// Event is the event the function gets for a record: {"Records":[record]},
// the record compacted.
func Event(t testing.TB, record string) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.Compact(&buf, []byte(record)))
	return `{"Records":[` + buf.String() + `]}`
}

// Records returns the records of a notification body, as written.
func Records(t testing.TB, body string) []string {
	t.Helper()
	var n struct{ Records []json.RawMessage }
	require.NoError(t, json.Unmarshal([]byte(body), &n))
	out := make([]string, len(n.Records))
	for i, r := range n.Records {
		out[i] = string(r)
	}
	return out
}

func payloads(recs []lambda.InvocationRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.RequestPayload)
	}
	sort.Strings(out)
	return out
}

// receiveAll receives from q until it has n messages, within a minute.
func receiveAll(t *testing.T, q sqs.Queue, n int) []sqs.Message {
	t.Helper()
	var got []sqs.Message
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		ms, err := q.Receive(testkit.WaitCtx(t), sqs.ReceiveOptions{MaxMessages: 10, WaitTime: time.Second, VisibilityTimeout: 60 * time.Second})
		require.NoError(t, err)
		got = append(got, ms...)
	}
	require.Len(t, got, n)
	return got
}

func testDelivers(t *testing.T, newQueues Factory) {
	mk := newQueues(t)
	q := mk("notifications", sqs.QueueConfig{})
	fx := newFixture(t, testkit.FastAsync())

	// Two records in one message: S3 sends one, but the format has room.
	two := Records(t, Put)[0]
	two = `{"Records":[` + two + "," + strings.Replace(two, "Happy+Face+%28v2%29.jpg", "second.jpg", 1) + `]}`
	bodies := []string{Put, Delete, SNSDelete, TestEvent, SNSTestEvent, two}
	send(t, q, bodies...)

	want := []string{
		Event(t, Records(t, Put)[0]),
		Event(t, Records(t, Delete)[0]),
		Event(t, Records(t, Delete)[0]), // from SNS
		Event(t, Records(t, two)[0]),
		Event(t, Records(t, two)[1]),
	}
	sort.Strings(want)

	qn := &s3.QueueNotifications{Queue: q}
	att := fx.attach(t, "uploads", qn)
	got := fx.ok.Wait(t, len(want))
	eventually(t, func() bool { return qn.Stats().Deleted == int64(len(bodies)) }, "every message is deleted")
	require.Equal(t, want, payloads(got), "each record is one event, as S3 wrote it")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))

	st := qn.Stats()
	require.Equal(t, int64(len(bodies)), st.Received, "no message is received twice")
	require.Equal(t, int64(len(want)), st.Records)
	require.Equal(t, int64(2), st.TestEvents)
	require.Zero(t, st.Invalid)
	require.Zero(t, st.Refused)
	require.Empty(t, fx.fail.Records())
	require.Equal(t, int64(len(want)), att.Stats().Events)
	require.Zero(t, att.Stats().Errors)

	// The guest got the event: echo returns it, and it decodes as an
	// events.S3Event with the key S3 encoded.
	var keys []string
	for _, r := range got {
		require.JSONEq(t, string(r.RequestPayload), string(r.ResponsePayload))
		var ev events.S3Event
		require.NoError(t, json.Unmarshal(r.ResponsePayload, &ev))
		require.Len(t, ev.Records, 1)
		keys = append(keys, ev.Records[0].S3.Object.Key)
	}
	slices.Sort(keys)
	require.Equal(t, []string{"caf%C3%A9/a%3Db%26c.txt", "caf%C3%A9/a%3Db%26c.txt", "photos/Happy+Face+%28v2%29.jpg", "photos/Happy+Face+%28v2%29.jpg", "photos/second.jpg"}, keys)
	decoded, err := url.QueryUnescape(keys[2])
	require.NoError(t, err)
	require.Equal(t, "photos/Happy Face (v2).jpg", decoded)
}

func testInvalid(t *testing.T, newQueues Factory) {
	mk := newQueues(t)
	dlq := mk("dead", sqs.QueueConfig{})
	q := mk("notifications", sqs.QueueConfig{VisibilityTimeout: time.Second, RedrivePolicy: &sqs.RedrivePolicy{DeadLetterQueue: "dead", MaxReceiveCount: 2}})
	fx := newFixture(t, testkit.FastAsync())
	bad := []string{
		"hello",
		`{"Records":[]}`,
		`{"Records":"x"}`,
		`{"Type":"Notification","Message":"not json"}`,
		`{"Type":"Notification","Message":"{\"Type\":\"Notification\",\"Message\":\"{}\"}"}`,
		`{"detail-type":"Object Created","source":"aws.s3"}`,
	}
	send(t, q, bad...)
	send(t, q, Put)
	qn := &s3.QueueNotifications{Queue: q}
	att := fx.attach(t, "uploads", qn)

	got := receiveAll(t, dlq, len(bad))
	var bodies []string
	for _, m := range got {
		bodies = append(bodies, m.Body)
	}
	require.ElementsMatch(t, bad, bodies, "the redrive policy moved each one")
	require.Equal(t, []string{Event(t, Records(t, Put)[0])}, payloads(fx.ok.Wait(t, 1)))
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	st := qn.Stats()
	require.Equal(t, int64(2*len(bad)), st.Invalid, "each was received twice before it moved")
	require.Equal(t, int64(1), st.Deleted)
	as := att.Stats()
	require.GreaterOrEqual(t, as.Errors, int64(2*len(bad)))
	require.Contains(t, as.LastError, "is not an S3 event notification")
}

func testRefused(t *testing.T, newQueues Factory) {
	mk := newQueues(t)
	dlq := mk("dead", sqs.QueueConfig{})
	q := mk("notifications", sqs.QueueConfig{VisibilityTimeout: time.Second, RedrivePolicy: &sqs.RedrivePolicy{DeadLetterQueue: "dead", MaxReceiveCount: 2}})
	async := testkit.FastAsync()
	async.MaxPayloadBytes = 2000
	fx := newFixture(t, async)

	// A key of 300 euro signs: 900 bytes, 2,700 encoded, too big for the
	// function's asynchronous payload limit.
	rec := Records(t, Put)[0]
	big := strings.Replace(rec, "photos/Happy+Face+%28v2%29.jpg", strings.Repeat("%E2%82%AC", 300), 1)
	small := strings.Replace(rec, "Happy+Face+%28v2%29.jpg", "small.jpg", 1)
	mixed := `{"Records":[` + small + "," + big + `]}`
	send(t, q, mixed, Delete)
	qn := &s3.QueueNotifications{Queue: q}
	att := fx.attach(t, "uploads", qn)

	got := receiveAll(t, dlq, 1)
	require.Equal(t, mixed, got[0].Body, "the message with a refused record is not deleted")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	st := qn.Stats()
	require.Equal(t, int64(2), st.Refused, "refused at each of its two receives")
	require.Equal(t, int64(1), st.Deleted, "the other message")
	recs := payloads(fx.ok.Records())
	require.Contains(t, recs, Event(t, Records(t, Delete)[0]))
	require.Contains(t, recs, Event(t, small), "the record before the refused one was invoked")
	require.NotContains(t, recs, Event(t, big))
	require.Contains(t, att.Stats().LastError, "RequestTooLargeException")
}

func testBusy(t *testing.T, newQueues Factory) {
	mk := newQueues(t)
	q := mk("notifications", sqs.QueueConfig{VisibilityTimeout: time.Second})
	async := testkit.FastAsync()
	async.QueueSize, async.Concurrency = 1, 1
	fx := newFixture(t, async)
	rec := Records(t, Put)[0]
	const n = 30
	var bodies []string
	want := map[string]bool{}
	for i := range n {
		key := fmt.Sprintf("photos/%02d.jpg", i)
		r := strings.Replace(rec, "photos/Happy+Face+%28v2%29.jpg", key, 1)
		bodies = append(bodies, `{"Records":[`+r+`]}`)
		want[key] = true
	}
	send(t, q, bodies...)
	qn := &s3.QueueNotifications{Queue: q, Pollers: 4}
	att := fx.attach(t, "uploads", qn)

	var seen sync.Map
	var count atomic.Int64
	eventually(t, func() bool {
		for _, r := range fx.ok.Records() {
			var ev events.S3Event
			if json.Unmarshal(r.RequestPayload, &ev) == nil && len(ev.Records) == 1 {
				if _, dup := seen.LoadOrStore(ev.Records[0].S3.Object.Key, true); !dup {
					count.Add(1)
				}
			}
		}
		return count.Load() == n
	}, "every record is invoked, in spite of the refusals")
	eventually(t, func() bool { return qn.Stats().Deleted == n }, "every message is deleted")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	seen.Range(func(k, _ any) bool { delete(want, k.(string)); return true })
	require.Empty(t, want)
	require.Empty(t, fx.fail.Records())
	t.Logf("stats: %+v", qn.Stats())
}

// blockingQueue holds back its first receive that got messages until the
// receive's context ends, as if Stop came while they were in hand.
type blockingQueue struct {
	sqs.Queue
	got  chan struct{}
	once sync.Once
	ids  map[string]bool // of the first batch, set before got closes
}

func (b *blockingQueue) Receive(ctx context.Context, opts sqs.ReceiveOptions) ([]sqs.Message, error) {
	ms, err := b.Queue.Receive(ctx, opts)
	if len(ms) > 0 {
		first := false
		b.once.Do(func() { first = true })
		if first {
			b.ids = map[string]bool{}
			for _, m := range ms {
				b.ids[m.MessageID] = true
			}
			close(b.got)
			<-ctx.Done()
		}
	}
	return ms, err
}

func testStop(t *testing.T, newQueues Factory) {
	mk := newQueues(t)
	q := mk("notifications", sqs.QueueConfig{VisibilityTimeout: 60 * time.Second})
	fx := newFixture(t, testkit.FastAsync())
	send(t, q, Put, Delete, SNSDelete)
	bq := &blockingQueue{Queue: q, got: make(chan struct{})}
	qn := &s3.QueueNotifications{Queue: bq, Pollers: 1}
	att := fx.attach(t, "uploads", qn)
	select {
	case <-bq.got:
	case <-time.After(60 * time.Second):
		t.Fatal("no receive")
	}
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	st := qn.Stats()
	require.Equal(t, st.Received, st.Returned, "every message received was handed back")
	require.Equal(t, int64(len(bq.ids)), st.Received)
	require.Zero(t, st.Records)
	// Visible again at once, not after the 60 s visibility timeout. A
	// receive may return fewer messages than there are (SQS samples its
	// servers), so the trigger's batch may not hold all three: those it
	// received come back a second time, the others a first.
	// The test's own receives hide what they take for 5 s only, and a
	// message is counted once however often it comes: a receive the
	// client gave up on may still have taken one (see docs/AWS.md). Within
	// 45 s, well before the trigger's 60 s visibility timeout ends, every
	// message must have come back.
	seen := map[string]bool{}
	deadline := time.Now().Add(45 * time.Second)
	for len(seen) < 3 && time.Now().Before(deadline) {
		ms, err := q.Receive(testkit.WaitCtx(t), sqs.ReceiveOptions{MaxMessages: 10, WaitTime: time.Second, VisibilityTimeout: 5 * time.Second})
		require.NoError(t, err)
		for _, m := range ms {
			n, err := strconv.Atoi(m.Attributes[sqs.AttrApproximateReceiveCount])
			require.NoError(t, err)
			if bq.ids[m.MessageID] {
				require.GreaterOrEqual(t, n, 2, "the trigger received it once before: %s", m.Body)
			}
			seen[m.MessageID] = true
		}
	}
	require.Len(t, seen, 3, "every message is visible again before the trigger's visibility timeout ends")
	require.Empty(t, fx.ok.Records())
}
