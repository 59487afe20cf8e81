package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// Bounds of QueueNotifications' settings.
const (
	// DefaultQueuePollers is the number of pollers when Pollers is zero.
	DefaultQueuePollers = 2
	// MaxQueuePollers is the most pollers.
	MaxQueuePollers = 1000
	// MaxQueueBatch is the most messages one receive asks for: SQS's
	// limit, and the default.
	MaxQueueBatch = 10
)

// TestEvent is the event of the message S3 sends to a destination when a
// notification configuration is saved: {"Service":"Amazon S3",
// "Event":"s3:TestEvent",...}. QueueNotifications deletes it without an
// invoke.
const TestEvent = "s3:TestEvent"

// QueueNotifications is a lambda.Trigger that consumes Amazon S3's event
// notifications from an SQS queue, the destination of a bucket's
// QueueConfiguration (or of an SNS topic the bucket notifies, which the
// queue subscribes to), and invokes its function asynchronously with each
// record, as S3 invokes a function it notifies directly:
//
//	q, _ := awssqs.New(ctx, sqsClient, queueURL)
//	att, err := fn.Attach(ctx, "uploads", &s3.QueueNotifications{Queue: q})
//
// It suits Amazon S3, and several processes sharing one bucket's
// notifications: the queue hands each message to one of them.
//
// # Delivery
//
// A message body is S3's notification JSON, {"Records":[...]}, either
// direct or wrapped in an SNS notification ({"Type":"Notification",
// "Message":"<the S3 JSON as a string>",...}; a raw-delivery subscription
// gives the S3 JSON direct). Each record is one asynchronous invoke
// (TriggerContext.InvokeAsync) with the event {"Records":[record]}, the
// record exactly as S3 wrote it, whitespace aside: so retries, dead-letter
// queues and destinations apply, as for a function S3 notifies. S3 sends
// one record per message.
//
// A message is deleted once every one of its records was accepted by
// InvokeAsync. When InvokeAsync refuses one (the function's asynchronous
// queue is full, the payload too large, the function closing), the
// message stays in flight and is received again when its visibility
// timeout ends: nothing is lost, and the records accepted before it are
// delivered again (delivery is at least once, in no guaranteed order, as
// S3's). An s3:TestEvent message is deleted without an invoke. A body
// that is not an S3 notification is reported (TriggerContext.ReportError)
// and left in the queue, for its redrive policy to move to a dead-letter
// queue.
//
// Stop stops receiving, and makes the messages received but not yet
// handled visible again at once.
type QueueNotifications struct {
	// Queue is the queue S3 (or SNS) sends the notifications to. Required.
	Queue sqs.Queue

	// Pollers is how many goroutines receive from the queue at once: 1 to
	// 1,000. Default 2.
	Pollers int

	// BatchSize is the most messages one receive asks for: 1 to 10.
	// Default 10.
	BatchSize int

	// VisibilityTimeout is the visibility timeout of the receives: 0 to 12
	// hours. Default 0: the queue's own. A message whose invoke was
	// refused is received again after it.
	VisibilityTimeout time.Duration

	mu         sync.Mutex
	running    bool
	tc         *lambda.TriggerContext
	batch      int
	recvCtx    context.Context // ends at Stop: no new receive
	stopRecv   context.CancelFunc
	invokeCtx  context.Context // ends when Stop's context ends
	stopInvoke context.CancelFunc
	wg         sync.WaitGroup
	lostMu     sync.Mutex
	lost       []string // IDs of messages that could not be handed back

	stats struct {
		received, records, testEvents, invalid, refused, deleted, returned atomic.Int64
	}
}

var _ lambda.Trigger = (*QueueNotifications)(nil)

// QueueStats counts what a QueueNotifications did.
type QueueStats struct {
	// Received counts messages received.
	Received int64
	// Records counts records invoked: accepted by InvokeAsync.
	Records int64
	// TestEvents counts s3:TestEvent messages, deleted without an invoke.
	TestEvents int64
	// Invalid counts messages that were not S3 notifications, left in the
	// queue.
	Invalid int64
	// Refused counts messages left in the queue because InvokeAsync
	// refused one of their records.
	Refused int64
	// Deleted counts messages deleted: invoked, or test events.
	Deleted int64
	// Returned counts messages made visible again at Stop.
	Returned int64
}

// Stats returns the counters.
func (q *QueueNotifications) Stats() QueueStats {
	st := &q.stats
	return QueueStats{
		Received: st.received.Load(), Records: st.records.Load(), TestEvents: st.testEvents.Load(),
		Invalid: st.invalid.Load(), Refused: st.refused.Load(), Deleted: st.deleted.Load(), Returned: st.returned.Load(),
	}
}

// Validate checks the settings. Each error is a lambda.ErrInvalidConfig
// that names the field.
func (q *QueueNotifications) Validate() error {
	switch {
	case q.Queue == nil:
		return queueConfigError("s3 queue notifications: Queue is required")
	case q.Pollers < 0 || q.Pollers > MaxQueuePollers:
		return queueConfigError("s3 queue notifications: Pollers %d is outside 1 to %d", q.Pollers, MaxQueuePollers)
	case q.BatchSize < 0 || q.BatchSize > MaxQueueBatch:
		return queueConfigError("s3 queue notifications: BatchSize %d is outside 1 to %d", q.BatchSize, MaxQueueBatch)
	case q.VisibilityTimeout < 0 || q.VisibilityTimeout > sqs.MaxVisibilityTimeout:
		return queueConfigError("s3 queue notifications: VisibilityTimeout %v is outside 0 to 12h", q.VisibilityTimeout)
	}
	return nil
}

// Start implements lambda.Trigger: it checks the settings and starts the
// pollers.
func (q *QueueNotifications) Start(ctx context.Context, tc *lambda.TriggerContext) error {
	if err := q.Validate(); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running {
		return queueConfigError("s3 queue notifications from %s are attached already", q.Queue.ARN())
	}
	q.running, q.tc = true, tc
	q.batch = q.BatchSize
	if q.batch == 0 {
		q.batch = MaxQueueBatch
	}
	n := q.Pollers
	if n == 0 {
		n = DefaultQueuePollers
	}
	q.recvCtx, q.stopRecv = context.WithCancel(context.Background())
	q.invokeCtx, q.stopInvoke = context.WithCancel(context.Background())
	q.lost = nil
	q.wg.Add(n)
	for range n {
		go q.poll()
	}
	return nil
}

// Stop implements lambda.Trigger: no receive starts after it is called,
// the messages being handled finish within ctx (an InvokeAsync still
// waiting when ctx ends is cancelled, and its message handed back), and
// the messages received but not handled are made visible again. A message
// that could not be handed back (its ChangeVisibility failed) is named in
// the error; it becomes visible anyway when its visibility timeout ends.
func (q *QueueNotifications) Stop(ctx context.Context) error {
	q.mu.Lock()
	if !q.running {
		q.mu.Unlock()
		return nil
	}
	q.stopRecv()
	q.mu.Unlock()
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		q.stopInvoke()
		<-done
	}
	q.stopInvoke()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running = false
	q.lostMu.Lock()
	defer q.lostMu.Unlock()
	if len(q.lost) > 0 {
		err := fmt.Errorf("s3 queue notifications from %s: %d messages not handed back to the queue (visible again after their visibility timeout): %v", q.Queue.ARN(), len(q.lost), q.lost)
		q.lost = nil
		return err
	}
	return nil
}

// queueOutcome is what became of one message.
type queueOutcome int

const (
	msgHandled queueOutcome = iota // every record invoked, or a test event: delete it
	msgRefused                     // an invoke was refused: leave it in flight
	msgInvalid                     // not a notification: leave it in flight
)

// poll is one poller: receive, invoke, delete, until Stop.
func (q *QueueNotifications) poll() {
	defer q.wg.Done()
	const minBackoff, maxBackoff = 100 * time.Millisecond, 10 * time.Second
	backoff := minBackoff
	for q.recvCtx.Err() == nil {
		msgs, err := q.Queue.Receive(q.recvCtx, sqs.ReceiveOptions{MaxMessages: q.batch, WaitTime: sqs.MaxWaitTime, VisibilityTimeout: q.VisibilityTimeout})
		q.stats.received.Add(int64(len(msgs)))
		if err != nil && q.recvCtx.Err() == nil {
			q.tc.ReportError(fmt.Errorf("s3 queue notifications: receive from %s: %w", q.Queue.ARN(), err))
		}
		var done []sqs.Message
		failed := err != nil && q.recvCtx.Err() == nil
		for i, m := range msgs {
			if q.recvCtx.Err() != nil {
				// Stop came: hand back what is not handled.
				q.giveBack(msgs[i:])
				break
			}
			switch q.handle(m) {
			case msgHandled:
				done = append(done, m)
			case msgRefused:
				failed = true
				if q.invokeCtx.Err() != nil {
					// Stop's deadline cancelled the invoke.
					q.giveBack([]sqs.Message{m})
				}
			case msgInvalid:
			}
		}
		if len(done) > 0 {
			q.delete(done)
		}
		if !failed {
			backoff = minBackoff
			continue
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-q.recvCtx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// handle invokes the function with each record of m.
func (q *QueueNotifications) handle(m sqs.Message) queueOutcome {
	records, test, err := ParseNotification([]byte(m.Body))
	if err != nil {
		q.stats.invalid.Add(1)
		q.tc.ReportError(fmt.Errorf("s3 queue notifications: message %s from %s is not an S3 event notification, and is left for the queue's redrive policy: %w", m.MessageID, q.Queue.ARN(), err))
		return msgInvalid
	}
	if test {
		q.stats.testEvents.Add(1)
		return msgHandled
	}
	for _, r := range records {
		payload := make([]byte, 0, len(r)+len(queueEventOpen)+len(queueEventClose))
		payload = append(append(append(payload, queueEventOpen...), r...), queueEventClose...)
		if _, err := q.tc.InvokeAsync(q.invokeCtx, payload); err != nil {
			// InvokeAsync reported the error.
			q.stats.refused.Add(1)
			return msgRefused
		}
		q.stats.records.Add(1)
	}
	return msgHandled
}

// The event around one record, as S3 invokes a function.
const (
	queueEventOpen  = `{"Records":[`
	queueEventClose = `]}`
)

// ErrNotNotification is returned (wrapped) by ParseNotification for a body
// that is not an S3 event notification.
var ErrNotNotification = errors.New("not an S3 event notification")

// ParseNotification parses a message body that S3 sent to a queue or a
// topic: S3's notification JSON {"Records":[...]}, or an SNS notification
// whose Message is that JSON. It returns the records, each as S3 wrote it
// with its whitespace removed, or test as true for an s3:TestEvent. An
// error wraps ErrNotNotification.
func ParseNotification(body []byte) (records []json.RawMessage, test bool, err error) {
	return parseNotification(body, true)
}

func parseNotification(body []byte, unwrap bool) ([]json.RawMessage, bool, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrNotNotification, err)
	}
	if raw, ok := top["Records"]; ok {
		var recs []json.RawMessage
		if err := json.Unmarshal(raw, &recs); err != nil {
			return nil, false, fmt.Errorf("%w: Records is not an array: %v", ErrNotNotification, err)
		}
		if len(recs) == 0 {
			return nil, false, fmt.Errorf("%w: Records is empty", ErrNotNotification)
		}
		out := make([]json.RawMessage, len(recs))
		for i, r := range recs {
			var buf bytes.Buffer
			if err := json.Compact(&buf, r); err != nil {
				return nil, false, fmt.Errorf("%w: record %d: %v", ErrNotNotification, i, err)
			}
			if buf.Len() == 0 || buf.Bytes()[0] != '{' {
				return nil, false, fmt.Errorf("%w: record %d is not an object", ErrNotNotification, i)
			}
			out[i] = buf.Bytes()
		}
		return out, false, nil
	}
	if notificationField(top, "Event") == TestEvent {
		return nil, true, nil
	}
	if notificationField(top, "Type") == "Notification" && unwrap {
		msg := notificationField(top, "Message")
		if msg == "" {
			return nil, false, fmt.Errorf("%w: an SNS notification without a Message", ErrNotNotification)
		}
		recs, test, err := parseNotification([]byte(msg), false)
		if err != nil {
			return nil, false, fmt.Errorf("the Message of an SNS notification: %w", err)
		}
		return recs, test, nil
	}
	return nil, false, fmt.Errorf("%w: no Records", ErrNotNotification)
}

// notificationField is top[name] as a string, or "".
func notificationField(top map[string]json.RawMessage, name string) string {
	var s string
	if raw, ok := top[name]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// queueSettleTimeout bounds a delete or a visibility change: it runs even
// when Stop's context has ended, so that the work done is not done again.
const queueSettleTimeout = 30 * time.Second

// delete deletes msgs; failures are reported.
func (q *QueueNotifications) delete(msgs []sqs.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), queueSettleTimeout)
	defer cancel()
	entries := make([]sqs.DeleteEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = sqs.DeleteEntry{ID: strconv.Itoa(i), ReceiptHandle: m.ReceiptHandle}
	}
	failed, err := q.Queue.Delete(ctx, entries)
	if err != nil {
		q.tc.ReportError(fmt.Errorf("s3 queue notifications: delete %d messages from %s: %w", len(msgs), q.Queue.ARN(), err))
		return
	}
	for _, f := range failed {
		q.tc.ReportError(fmt.Errorf("s3 queue notifications: delete from %s: %w", q.Queue.ARN(), f))
	}
	q.stats.deleted.Add(int64(len(msgs) - len(failed)))
}

// giveBack makes msgs visible again at once; a message it cannot hand
// back is recorded for Stop's error.
func (q *QueueNotifications) giveBack(msgs []sqs.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), queueSettleTimeout)
	defer cancel()
	entries := make([]sqs.VisibilityEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = sqs.VisibilityEntry{ID: strconv.Itoa(i), ReceiptHandle: m.ReceiptHandle}
	}
	failed, err := q.Queue.ChangeVisibility(ctx, entries)
	var lost []string
	switch {
	case err != nil:
		for _, m := range msgs {
			lost = append(lost, m.MessageID)
		}
	case len(failed) > 0:
		errs := make([]error, len(failed))
		for j, f := range failed {
			errs[j] = f
			if i, e := strconv.Atoi(f.ID); e == nil && i >= 0 && i < len(msgs) {
				lost = append(lost, msgs[i].MessageID)
			}
		}
		err = errors.Join(errs...)
	}
	q.stats.returned.Add(int64(len(msgs) - len(lost)))
	if err != nil {
		q.tc.ReportError(fmt.Errorf("s3 queue notifications: make %d messages visible again in %s: %w", len(lost), q.Queue.ARN(), err))
		q.lostMu.Lock()
		q.lost = append(q.lost, lost...)
		q.lostMu.Unlock()
	}
}

// queueConfigError is a lambda.ErrInvalidConfig with a message.
func queueConfigError(format string, args ...any) error {
	return &lambda.ServiceError{
		Code:       lambda.ErrInvalidConfig.Code,
		StatusCode: lambda.ErrInvalidConfig.StatusCode,
		Message:    fmt.Sprintf(format, args...),
	}
}
