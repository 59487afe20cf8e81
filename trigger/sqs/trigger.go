package sqs

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/pattern"
)

// Bounds of an event source mapping's settings, as AWS's.
const (
	// DefaultBatchSize is the batch size when BatchSize is zero.
	DefaultBatchSize = 10
	// MaxBatchSize is the largest batch from a standard queue.
	MaxBatchSize = 10000
	// MaxFIFOBatchSize is the largest batch from a FIFO queue.
	MaxFIFOBatchSize = 10
	// MaxBatchingWindow is the longest MaximumBatchingWindow.
	MaxBatchingWindow = 300 * time.Second
	// MinConcurrency and MaxConcurrency bound MaximumConcurrency.
	MinConcurrency = 2
	// MaxConcurrency is the largest MaximumConcurrency.
	MaxConcurrency = 1000
)

// pollWait is the long-polling wait of a receive: SQS's longest.
const pollWait = MaxWaitTime

// EventSource is the SQS event source mapping: a lambda.Trigger that polls
// a queue and invokes its function synchronously with batches of messages
// as events.SQSEvent JSON, as Lambda's event source mapping for Amazon SQS
// does. Attach it with lambda.Function.Attach:
//
//	att, err := fn.Attach(ctx, "orders", &sqs.EventSource{Queue: q, BatchSize: 100,
//		MaximumBatchingWindow: 2 * time.Second, ReportBatchItemFailures: true})
//
// # Delivery
//
// Each poller (MaximumConcurrency of them) receives with long polling,
// gathers up to BatchSize messages within MaximumBatchingWindow, deletes
// those that match none of FilterCriteria, and invokes the function with
// the rest, cut short so that the event fits the function's
// Config().MaxRequestBytes (the messages cut off are made visible again at
// once, for a later batch). A successful invoke deletes the batch. A
// function error, of any kind, leaves the whole batch in flight: it becomes
// visible again when its visibility timeout ends, its receive count rises,
// and the queue's redrive policy moves it to the dead-letter queue after
// maxReceiveCount receives. With ReportBatchItemFailures, the response
// names the messages that failed (see ParseBatchResponse): the others are
// deleted; an invalid response fails the whole batch.
//
// On a FIFO queue, a message group has one batch in flight at a time: the
// queue delivers none of a group's messages while one is in flight, and
// with ReportBatchItemFailures a failed message keeps every later message
// of its group (FIFORetries).
//
// # Beyond AWS
//
// With Heartbeat, a batch whose invoke outlasts half of VisibilityTimeout
// has its visibility extended, again every half timeout, until the invoke
// ends, so that a slow batch is not delivered twice.
//
// Stop stops receiving, lets the batches in flight finish within its
// context, and makes the messages received but not yet invoked visible
// again: no message is lost.
type EventSource struct {
	// Queue is the queue to poll. Required.
	Queue Queue

	// BatchSize is the most messages in a batch: 1 to 10,000 on a
	// standard queue, 1 to 10 on a FIFO queue. Default 10.
	BatchSize int

	// MaximumBatchingWindow is how long to gather messages for a batch
	// before invoking: 0 to 300 s. A BatchSize over 10 needs at least 1 s.
	// Default 0: invoke with what a receive returns.
	MaximumBatchingWindow time.Duration

	// MaximumConcurrency is the most batches in flight at once: 2 to
	// 1,000. Default max(2, GOMAXPROCS) (AWS scales up to 1,000 when it is
	// not set; a process has its function's own concurrency limit to
	// share, so the default stays near the CPUs).
	MaximumConcurrency int

	// FilterCriteria are event patterns (EventBridge's syntax), at most
	// 5: a message that matches none is deleted without an invoke. They
	// see the message's "body" (a JSON object body as an object),
	// "attributes" and "messageAttributes". Default none: every message
	// is delivered.
	FilterCriteria []string

	// ReportBatchItemFailures makes the function's response name the
	// messages that failed: {"batchItemFailures":[{"itemIdentifier":ID}]}.
	ReportBatchItemFailures bool

	// VisibilityTimeout is the visibility timeout of the receives: 0 to 12
	// hours. Default 0: the queue's own.
	VisibilityTimeout time.Duration

	// Heartbeat extends a batch's visibility while its invoke runs (see
	// the type's doc). It needs VisibilityTimeout, of at least 2 s.
	Heartbeat bool

	mu      sync.Mutex
	running bool
	tc      *lambda.TriggerContext
	filters pattern.Filters
	batch   int
	vis     time.Duration
	region  string
	limit   int // the function's MaxRequestBytes

	recvCtx    context.Context // ends at Stop: no new receive
	stopRecv   context.CancelFunc
	invokeCtx  context.Context // ends when Stop's context ends
	stopInvoke context.CancelFunc
	wg         sync.WaitGroup
	lostMu     sync.Mutex
	lost       []string // IDs of messages that could not be handed back

	stats struct {
		received, filtered, batches, succeeded, failed, partial, deleted, returned, extended atomic.Int64
	}
}

var _ lambda.Trigger = (*EventSource)(nil)

// Stats counts what an EventSource did.
type Stats struct {
	// Received counts messages received.
	Received int64
	// FilteredOut counts messages deleted because they matched no filter.
	FilteredOut int64
	// Batches counts invokes.
	Batches int64
	// Succeeded counts batches that succeeded entirely.
	Succeeded int64
	// Failed counts batches that failed entirely: a function error, or
	// an invalid batch response.
	Failed int64
	// Partial counts batches where some messages failed
	// (ReportBatchItemFailures).
	Partial int64
	// Deleted counts messages deleted after an invoke (filtered ones
	// not included).
	Deleted int64
	// Returned counts messages made visible again without an invoke: cut
	// off a batch by the size limit, or received when Stop came.
	Returned int64
	// Extended counts heartbeat extensions of a batch's visibility.
	Extended int64
}

// Stats returns the counters.
func (s *EventSource) Stats() Stats {
	st := &s.stats
	return Stats{
		Received: st.received.Load(), FilteredOut: st.filtered.Load(), Batches: st.batches.Load(),
		Succeeded: st.succeeded.Load(), Failed: st.failed.Load(), Partial: st.partial.Load(),
		Deleted: st.deleted.Load(), Returned: st.returned.Load(), Extended: st.extended.Load(),
	}
}

// Validate checks the settings against AWS's bounds. Each error is a
// lambda.ErrInvalidConfig that names the field.
func (s *EventSource) Validate() error {
	if s.Queue == nil {
		return invalidConfig("sqs event source: Queue is required")
	}
	fifo := s.Queue.FIFO()
	switch {
	case s.BatchSize < 0:
		return invalidConfig("sqs event source: BatchSize %d is negative", s.BatchSize)
	case fifo && s.BatchSize > MaxFIFOBatchSize:
		return invalidConfig("sqs event source: BatchSize %d exceeds %d, the most for a FIFO queue", s.BatchSize, MaxFIFOBatchSize)
	case s.BatchSize > MaxBatchSize:
		return invalidConfig("sqs event source: BatchSize %d exceeds %d", s.BatchSize, MaxBatchSize)
	case s.MaximumBatchingWindow < 0 || s.MaximumBatchingWindow > MaxBatchingWindow:
		return invalidConfig("sqs event source: MaximumBatchingWindow %v is outside 0 to 300s", s.MaximumBatchingWindow)
	case s.BatchSize > 10 && s.MaximumBatchingWindow < time.Second:
		return invalidConfig("sqs event source: BatchSize %d over 10 needs a MaximumBatchingWindow of at least 1s, not %v", s.BatchSize, s.MaximumBatchingWindow)
	case s.MaximumConcurrency != 0 && (s.MaximumConcurrency < MinConcurrency || s.MaximumConcurrency > MaxConcurrency):
		return invalidConfig("sqs event source: MaximumConcurrency %d is outside %d to %d", s.MaximumConcurrency, MinConcurrency, MaxConcurrency)
	case len(s.FilterCriteria) > pattern.MaxFilters:
		return invalidConfig("sqs event source: FilterCriteria has %d patterns, at most %d", len(s.FilterCriteria), pattern.MaxFilters)
	case s.VisibilityTimeout < 0 || s.VisibilityTimeout > MaxVisibilityTimeout:
		return invalidConfig("sqs event source: VisibilityTimeout %v is outside 0 to 12h", s.VisibilityTimeout)
	case s.Heartbeat && s.VisibilityTimeout < 2*time.Second:
		return invalidConfig("sqs event source: Heartbeat needs a VisibilityTimeout of at least 2s, not %v", s.VisibilityTimeout)
	}
	if _, err := pattern.CompileFilters(s.FilterCriteria); err != nil {
		return invalidConfig("sqs event source: FilterCriteria: %v", err)
	}
	return nil
}

// Start implements lambda.Trigger: it checks the settings and starts the
// pollers.
func (s *EventSource) Start(ctx context.Context, tc *lambda.TriggerContext) error {
	if err := s.Validate(); err != nil {
		return err
	}
	filters, _ := pattern.CompileFilters(s.FilterCriteria)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return invalidConfig("sqs event source for %s is attached already", s.Queue.ARN())
	}
	s.running, s.tc, s.filters = true, tc, filters
	s.batch = s.BatchSize
	if s.batch == 0 {
		s.batch = DefaultBatchSize
	}
	s.vis = s.VisibilityTimeout
	s.region = tc.Function.Region()
	s.limit = tc.Function.Config().MaxRequestBytes
	n := s.MaximumConcurrency
	if n == 0 {
		n = max(MinConcurrency, min(runtime.GOMAXPROCS(0), MaxConcurrency))
	}
	s.recvCtx, s.stopRecv = context.WithCancel(context.Background())
	s.invokeCtx, s.stopInvoke = context.WithCancel(context.Background())
	s.lost = nil
	s.wg.Add(n)
	for range n {
		go s.poll()
	}
	return nil
}

// Stop implements lambda.Trigger: no receive starts after it is called,
// the batches in flight finish within ctx (an invoke still running when
// ctx ends is cancelled and its messages made visible again), and messages
// received but not invoked are made visible again. A message that could
// not be handed back (its ChangeVisibility failed) is named in the error;
// it becomes visible anyway when its visibility timeout ends.
func (s *EventSource) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return nil
	}
	s.stopRecv()
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.stopInvoke()
		<-done
	}
	s.stopInvoke()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = false
	s.lostMu.Lock()
	defer s.lostMu.Unlock()
	if len(s.lost) > 0 {
		err := fmt.Errorf("sqs event source %s: %d messages not handed back to the queue (visible again after their visibility timeout): %v", s.Queue.ARN(), len(s.lost), s.lost)
		s.lost = nil
		return err
	}
	return nil
}

// poll is one poller: receive, gather, invoke, until Stop.
func (s *EventSource) poll() {
	defer s.wg.Done()
	backoff := 100 * time.Millisecond
	for s.recvCtx.Err() == nil {
		msgs, err := s.gather()
		if err != nil {
			s.tc.ReportError(fmt.Errorf("sqs event source: receive from %s: %w", s.Queue.ARN(), err))
			if !sleep(s.recvCtx, backoff) {
				s.giveBack(msgs)
				return
			}
			backoff = min(2*backoff, 10*time.Second)
		} else {
			backoff = 100 * time.Millisecond
		}
		if len(msgs) == 0 {
			continue
		}
		if s.recvCtx.Err() != nil {
			// Stop came while the batch was gathered: hand it back.
			s.giveBack(msgs)
			return
		}
		s.deliver(msgs)
	}
}

// gather receives up to the batch size within the batching window, or
// until the bodies alone fill the function's request limit. It returns
// what it has when Stop comes or a receive fails.
func (s *EventSource) gather() ([]Message, error) {
	ctx := s.recvCtx
	limit := s.limit
	var got []Message
	var end time.Time
	size := 0 // the bodies' bytes so far: a batch past the limit is full
	for len(got) < s.batch && size < limit {
		wait := pollWait
		if len(got) > 0 {
			left := time.Until(end)
			if left <= 0 {
				break
			}
			// Whole seconds, as SQS takes them, rounded up.
			wait = min(pollWait, (left+time.Second-1)/time.Second*time.Second)
		}
		msgs, err := s.Queue.Receive(ctx, ReceiveOptions{MaxMessages: s.batch - len(got), WaitTime: wait, VisibilityTimeout: s.vis})
		s.stats.received.Add(int64(len(msgs)))
		got = append(got, msgs...)
		for _, m := range msgs {
			size += len(m.Body)
		}
		if err != nil {
			if ctx.Err() != nil {
				err = nil
			}
			return got, err
		}
		if len(got) == 0 {
			continue // nothing yet: poll again
		}
		if s.MaximumBatchingWindow == 0 {
			break
		}
		if end.IsZero() {
			end = time.Now().Add(s.MaximumBatchingWindow)
		}
		if len(msgs) == 0 && !time.Now().Before(end) {
			break
		}
	}
	return got, nil
}

// deliver filters msgs, invokes the function with what passes, and settles
// the batch with the queue.
func (s *EventSource) deliver(msgs []Message) {
	// Filter.
	keep := msgs[:0:0]
	var drop []Message
	for _, m := range msgs {
		if len(s.filters) == 0 || s.filters.Match(pattern.SQSFilterInput(m.Body, m.Attributes, m.MessageAttributes)) {
			keep = append(keep, m)
		} else {
			drop = append(drop, m)
		}
	}
	if len(drop) > 0 {
		s.stats.filtered.Add(int64(s.delete(drop)))
	}
	if len(keep) == 0 {
		return
	}

	// Build the event, cut short to the request limit.
	limit := s.limit
	arn := s.Queue.ARN()
	payload := append(make([]byte, 0, 1024), eventPrefix...)
	n := 0
	for i, m := range keep {
		rec := marshalRecord(newRecord(m, arn, s.region))
		size := len(payload) + len(rec) + len(eventSuffix)
		if i > 0 {
			size++
		}
		if i > 0 && size > limit {
			break
		}
		if i > 0 {
			payload = append(payload, ',')
		}
		payload = append(payload, rec...)
		n++
	}
	payload = append(payload, eventSuffix...)
	if n < len(keep) {
		s.giveBack(keep[n:])
	}
	batch := keep[:n]

	// Report the batch's iterator age, then invoke, with the heartbeat.
	if oldest := oldestSent(batch); !oldest.IsZero() {
		s.tc.ReportReceive(s.invokeCtx, len(batch), oldest)
	}
	s.stats.batches.Add(1)
	stopBeat := s.heartbeat(batch)
	resp, err := s.tc.Invoke(s.invokeCtx, payload)
	stopBeat()
	if err != nil {
		s.stats.failed.Add(1)
		if s.invokeCtx.Err() != nil {
			// Stop's deadline cancelled the invoke: hand the batch back.
			s.giveBack(batch)
		}
		return // the batch reappears when its visibility timeout ends
	}
	if !s.ReportBatchItemFailures {
		s.stats.succeeded.Add(1)
		s.stats.deleted.Add(int64(s.delete(batch)))
		return
	}
	ids := make([]string, len(batch))
	for i, m := range batch {
		ids[i] = m.MessageID
	}
	failed, err := ParseBatchResponse(resp, ids)
	if err != nil {
		s.stats.failed.Add(1)
		s.tc.ReportError(fmt.Errorf("sqs event source: function %s: %w; the batch of %d messages failed", s.tc.Function.Name(), err, len(batch)))
		return
	}
	if s.Queue.FIFO() && len(failed) > 0 {
		fm := make([]FIFOMessage, len(batch))
		for i, m := range batch {
			fm[i] = FIFOMessage{ID: m.MessageID, GroupID: m.Attributes[AttrMessageGroupID]}
		}
		failed = FIFORetries(fm, failed)
	}
	if len(failed) == 0 {
		s.stats.succeeded.Add(1)
		s.stats.deleted.Add(int64(s.delete(batch)))
		return
	}
	bad := make(map[string]bool, len(failed))
	for _, id := range failed {
		bad[id] = true
	}
	var ok []Message
	for _, m := range batch {
		if !bad[m.MessageID] {
			ok = append(ok, m)
		}
	}
	if len(ok) == 0 {
		s.stats.failed.Add(1)
		return
	}
	s.stats.partial.Add(1)
	s.stats.deleted.Add(int64(s.delete(ok)))
}

// heartbeat extends the batch's visibility every half visibility timeout
// until the returned function is called, which waits for it to end.
func (s *EventSource) heartbeat(batch []Message) func() {
	if !s.Heartbeat {
		return func() {}
	}
	ctx, cancel := context.WithCancel(s.invokeCtx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.vis / 2)
		defer t.Stop()
		entries := make([]VisibilityEntry, len(batch))
		for i, m := range batch {
			entries[i] = VisibilityEntry{ID: strconv.Itoa(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: s.vis}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			failed, err := s.Queue.ChangeVisibility(ctx, entries)
			if ctx.Err() != nil {
				return
			}
			if err == nil && len(failed) == 0 {
				s.stats.extended.Add(1)
				continue
			}
			if err == nil {
				err = entriesError(failed)
			}
			s.tc.ReportError(fmt.Errorf("sqs event source: extend the visibility of a batch from %s: %w", s.Queue.ARN(), err))
		}
	}()
	return func() { cancel(); <-done }
}

// settleTimeout bounds a delete or a visibility change after the
// invoke: it runs even when Stop's context has ended, so that the work
// done is not done again.
const settleTimeout = 30 * time.Second

// delete deletes msgs and returns how many it deleted; failures are
// reported.
func (s *EventSource) delete(msgs []Message) int {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	entries := make([]DeleteEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = DeleteEntry{ID: strconv.Itoa(i), ReceiptHandle: m.ReceiptHandle}
	}
	failed, err := s.Queue.Delete(ctx, entries)
	if err != nil {
		s.tc.ReportError(fmt.Errorf("sqs event source: delete %d messages from %s: %w", len(msgs), s.Queue.ARN(), err))
		return 0
	}
	if len(failed) > 0 {
		s.tc.ReportError(fmt.Errorf("sqs event source: delete from %s: %w", s.Queue.ARN(), entriesError(failed)))
	}
	return len(msgs) - len(failed)
}

// giveBack makes msgs visible again at once; a message it cannot hand
// back is recorded for Stop's error.
func (s *EventSource) giveBack(msgs []Message) {
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	entries := make([]VisibilityEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = VisibilityEntry{ID: strconv.Itoa(i), ReceiptHandle: m.ReceiptHandle}
	}
	failed, err := s.Queue.ChangeVisibility(ctx, entries)
	var lost []string
	switch {
	case err != nil:
		for _, m := range msgs {
			lost = append(lost, m.MessageID)
		}
	case len(failed) > 0:
		for _, f := range failed {
			if i, e := strconv.Atoi(f.ID); e == nil && i >= 0 && i < len(msgs) {
				lost = append(lost, msgs[i].MessageID)
			}
		}
		err = entriesError(failed)
	}
	s.stats.returned.Add(int64(len(msgs) - len(lost)))
	if err != nil {
		s.tc.ReportError(fmt.Errorf("sqs event source: make %d messages visible again in %s: %w", len(lost), s.Queue.ARN(), err))
		s.lostMu.Lock()
		s.lost = append(s.lost, lost...)
		s.lostMu.Unlock()
	}
}

// entriesError joins the failures of a batch call.
func entriesError(failed []EntryError) error {
	errs := make([]error, len(failed))
	for i, f := range failed {
		errs[i] = f
	}
	return errors.Join(errs...)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// invalidConfig is a lambda.ErrInvalidConfig with a message.
func invalidConfig(format string, args ...any) error {
	return &lambda.ServiceError{
		Code:       lambda.ErrInvalidConfig.Code,
		StatusCode: lambda.ErrInvalidConfig.StatusCode,
		Message:    fmt.Sprintf(format, args...),
	}
}

// oldestSent returns when the oldest message of batch was sent, from its
// SentTimestamp, or the zero time if none has one.
func oldestSent(batch []Message) time.Time {
	var oldest time.Time
	for _, m := range batch {
		ms, err := strconv.ParseInt(m.Attributes[AttrSentTimestamp], 10, 64)
		if err != nil {
			continue
		}
		if t := time.UnixMilli(ms); oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	return oldest
}
