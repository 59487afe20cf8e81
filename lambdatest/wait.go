package lambdatest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/cond"
)

// WaitTimeout bounds each of the kit's waits: generous, for a loaded
// machine, yet short of go test's default timeout of 10 minutes.
const WaitTimeout = time.Minute

// WaitContext returns a context for a wait in a test: it ends with the
// test, or after WaitTimeout.
func WaitContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), WaitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// FastAsync returns c with its unset backoffs cut to test size: the
// retries of a failed event after 1 ms and 2 ms instead of 1 and 2
// minutes, a throttled event tried again after 1 to 10 ms instead of 1 s
// to 5 minutes, and a failing sink or destination after 1 to 10 ms, so
// that a test sees an event's retries and its dead letter at once.
func FastAsync(c lambda.AsyncConfig) lambda.AsyncConfig {
	if len(c.RetryBackoff) == 0 {
		c.RetryBackoff = []time.Duration{time.Millisecond, 2 * time.Millisecond}
	}
	for _, b := range []struct{ min, max *time.Duration }{
		{&c.ThrottleBackoffMin, &c.ThrottleBackoffMax},
		{&c.DeliveryBackoffMin, &c.DeliveryBackoffMax},
	} {
		if *b.min == 0 {
			*b.min = time.Millisecond
		}
		if *b.max == 0 {
			*b.max = max(10*time.Millisecond, *b.min)
		}
	}
	return c
}

// RecordSink is a lambda.Destination that keeps the invocation records it
// gets, for a test to wait for and inspect: give it as a function's
// AsyncConfig.OnSuccess or OnFailure, or both. The zero value is ready to
// use, and it is safe for concurrent use.
type RecordSink struct {
	mu      sync.Mutex
	records []lambda.InvocationRecord
	index   map[string]int // request ID to position in records
	changed cond.Cond
}

var _ lambda.Destination = (*RecordSink)(nil)

// Deliver keeps a copy of rec. A record already held, by request ID, is
// replaced, as a destination may get one record more than once.
func (s *RecordSink) Deliver(_ context.Context, rec *lambda.InvocationRecord) error {
	c := *rec
	c.RequestPayload = append(json.RawMessage(nil), rec.RequestPayload...)
	c.ResponsePayload = append(json.RawMessage(nil), rec.ResponsePayload...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index == nil {
		s.index = map[string]int{}
	}
	if i, ok := s.index[c.RequestContext.RequestID]; ok {
		s.records[i] = c
	} else {
		s.index[c.RequestContext.RequestID] = len(s.records)
		s.records = append(s.records, c)
	}
	s.changed.Broadcast()
	return nil
}

// Records returns a copy of the records held, in the order they came.
func (s *RecordSink) Records() []lambda.InvocationRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]lambda.InvocationRecord(nil), s.records...)
}

// Len returns the number of records held.
func (s *RecordSink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

// WaitLen waits until the sink holds at least n records, or ctx ends.
func (s *RecordSink) WaitLen(ctx context.Context, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changed.WaitUntil(ctx, &s.mu, func() bool { return len(s.records) >= n }); err != nil {
		return fmt.Errorf("wait for %d invocation records, have %d: %w", n, len(s.records), err)
	}
	return nil
}

// WaitRequest waits until the sink holds the record of the invocation
// requestID (the ID InvokeAsync returned), or ctx ends, and returns it.
func (s *RecordSink) WaitRequest(ctx context.Context, requestID string) (lambda.InvocationRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var i int
	err := s.changed.WaitUntil(ctx, &s.mu, func() bool {
		var ok bool
		i, ok = s.index[requestID]
		return ok
	})
	if err != nil {
		return lambda.InvocationRecord{}, fmt.Errorf("wait for the invocation record of request %s: %w", requestID, err)
	}
	return s.records[i], nil
}

// WaitRecords waits up to WaitTimeout for sink to hold at least n records,
// failing the test if it does not, and returns those it holds.
func WaitRecords(t testing.TB, sink *RecordSink, n int) []lambda.InvocationRecord {
	t.Helper()
	if err := sink.WaitLen(WaitContext(t), n); err != nil {
		t.Fatalf("lambdatest: %v", err)
	}
	return sink.Records()
}

// WaitRecord waits up to WaitTimeout for the record of the asynchronous
// invocation requestID, failing the test if it does not come, and returns
// it. The record's ResponsePayload is the function's response, or its
// error; RequestContext.Condition says which.
func WaitRecord(t testing.TB, sink *RecordSink, requestID string) lambda.InvocationRecord {
	t.Helper()
	rec, err := sink.WaitRequest(WaitContext(t), requestID)
	if err != nil {
		t.Fatalf("lambdatest: %v", err)
	}
	return rec
}

// WaitDeadLetters waits up to WaitTimeout for sink to hold at least n dead
// letters, failing the test if it does not, and returns those it holds.
// With FastAsync, an event that fails every attempt is a dead letter in
// milliseconds.
func WaitDeadLetters(t testing.TB, sink *lambda.MemorySink, n int) []lambda.DeadLetter {
	t.Helper()
	if err := sink.WaitLen(WaitContext(t), n); err != nil {
		t.Fatalf("lambdatest: %v", err)
	}
	return sink.Letters()
}

// triggerPoll is how often WaitTriggerEvents looks at a trigger's counters.
const triggerPoll = 5 * time.Millisecond

// WaitTriggerEvents waits up to WaitTimeout for the trigger att to have
// sent at least n events to its function (TriggerStats.Events), failing
// the test if it does not, and returns its counters. The counters have no
// notification, so it looks at them every few milliseconds.
func WaitTriggerEvents(t testing.TB, att *lambda.Attachment, n int64) lambda.TriggerStats {
	t.Helper()
	ctx := WaitContext(t)
	tick := time.NewTicker(triggerPoll)
	defer tick.Stop()
	for {
		st := att.Stats()
		if st.Events >= n {
			return st
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("lambdatest: wait for %d events of trigger %s, have %d (errors %d, last %q): %v", n, st.Name, st.Events, st.Errors, st.LastError, ctx.Err())
		}
	}
}

// FireNextTimer waits up to WaitTimeout for a timer on clock, such as a
// schedule's next firing, moves the clock to the earliest one, which fires
// it, and returns the time it moved to. It fails the test if no timer
// comes.
func FireNextTimer(t testing.TB, clock *ManualClock) time.Time {
	t.Helper()
	at, err := clock.AdvanceToNextTimer(WaitContext(t))
	if err != nil {
		t.Fatalf("lambdatest: %v", err)
	}
	return at
}
