package lambda_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// The soak's parameters. docs/PERFORMANCE.md records a run.
const (
	// soakEvents are accepted as fast as InvokeAsync takes them; past a
	// quarter of them waiting, it refuses them with ErrQueueFull and the
	// soak tries again. CI (CI=true) runs the full 20,000, a local run
	// 2,000, and WASMLAMBDA_SOAK_EVENTS sets another count.
	soakEventsCI    = 20000
	soakEventsLocal = 2000
	// soakFailPercent of attempts fail, each of four ways equally often:
	// an error, a panic, a trap, and a timeout, for which the guest sleeps
	// soakSleep, far past soakTimeout, so that the runtime must cut it
	// off. Three of the four ways discard the sandbox: a cold start
	// follows each.
	soakFailPercent = 30
	soakTimeout     = 50 * time.Millisecond
	soakSleep       = 10 * time.Second
	// soakConcurrency events run at once: enough to keep two cores busy
	// with cold starts while others sleep towards their timeout, and few
	// enough that a succeeding attempt seldom waits past its own.
	soakConcurrency = 4
	// soakStall is the longest time allowed without an event ending: a
	// stall, not a slow machine, fails the soak. Otherwise only go test's
	// own deadline bounds it: under -race on two cores 20,000 events take
	// about 40 s on a quiet machine and a few minutes on a loaded one, most
	// of it in cold starts (see docs/PERFORMANCE.md).
	soakStall = 2 * time.Minute
)

// soakEvents is the soak's size: WASMLAMBDA_SOAK_EVENTS, or else
// soakEventsCI under CI=true and soakEventsLocal elsewhere.
func soakEvents(t *testing.T) int {
	v := os.Getenv("WASMLAMBDA_SOAK_EVENTS")
	switch {
	case v == "" && os.Getenv("CI") == "true":
		return soakEventsCI
	case v == "":
		return soakEventsLocal
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "WASMLAMBDA_SOAK_EVENTS")
	require.Positive(t, n, "WASMLAMBDA_SOAK_EVENTS")
	return n
}

// attemptLog is a slog handler that counts the REPORT records, one per
// attempt, by the attempt's error type, "" for a success.
type attemptLog struct {
	mu      sync.Mutex
	reports int
	types   map[string]int
}

func (h *attemptLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *attemptLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *attemptLog) WithGroup(string) slog.Handler            { return h }
func (h *attemptLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "REPORT" {
		return nil
	}
	typ := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error_type" {
			typ = a.Value.String()
			return false
		}
		return true
	})
	h.mu.Lock()
	h.reports++
	h.types[typ]++
	h.mu.Unlock()
	return nil
}

// outcomes is a Destination that keeps the records it gets by request ID.
type outcomes struct {
	mu      sync.Mutex
	records map[string][]lambda.InvocationRecord
}

func (o *outcomes) Deliver(_ context.Context, rec *lambda.InvocationRecord) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	id := rec.RequestContext.RequestID
	o.records[id] = append(o.records[id], *rec)
	return nil
}

// TestAsyncSoak is the fault-injection soak of asynchronous invocation:
// 20,000 events in CI (see soakEvents), with 30% of attempts failing at
// random (errors, panics, traps, timeouts). Every accepted event ends
// exactly once, succeeded or dead-lettered, and no event waits without
// progress for long.
func TestAsyncSoak(t *testing.T) {
	n := soakEvents(t)
	guest := testguest.Go(t, "behave")
	attempts := &attemptLog{types: map[string]int{}}
	rt := newRuntime(t, lambda.Options{Logger: slog.New(attempts)})
	sink := &lambda.MemorySink{}
	succeeded := &outcomes{records: map[string][]lambda.InvocationRecord{}}
	failed := &outcomes{records: map[string][]lambda.InvocationRecord{}}
	f := deploy(t, rt, lambda.FunctionConfig{Name: "soak", Code: guest, Timeout: soakTimeout, Async: lambda.AsyncConfig{
		RetryBackoff:       []time.Duration{time.Millisecond, 2 * time.Millisecond},
		DeliveryBackoffMin: time.Millisecond,
		DeliveryBackoffMax: 5 * time.Millisecond,
		QueueSize:          max(n/4, 1),
		Concurrency:        soakConcurrency,
		DeadLetter:         sink,
		OnSuccess:          succeeded,
		OnFailure:          failed,
	}})
	t.Cleanup(func() {
		if t.Failed() {
			// Hand on what is left rather than run it all.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = f.Close(ctx)
		}
	})
	goroutines := runtime.NumGoroutine()

	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		// Fail with the figures, not go test's panic.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
		defer cancel()
	}
	start := time.Now()
	var s lambda.AsyncStats
	lastEnded, lastProgress, lastLog := int64(-1), start, start
	// progress fails the test if the soak is out of time or stalled, and
	// logs its progress now and then.
	progress := func() {
		s = f.AsyncStats()
		now := time.Now()
		if ended := s.Succeeded + s.DeadLettered; ended != lastEnded {
			lastEnded, lastProgress = ended, now
		}
		if now.Sub(lastLog) >= 30*time.Second {
			lastLog = now
			t.Logf("soak: after %v: %d accepted, %d ended, %d attempts, %d cold starts",
				now.Sub(start).Round(time.Second), s.Accepted, s.Succeeded+s.DeadLettered, s.Attempts, f.Stats().ColdStarts)
		}
		switch {
		case ctx.Err() != nil:
			t.Fatalf("soak: out of time after %v: %+v; pool %+v", now.Sub(start).Round(time.Millisecond), s, f.Stats())
		case now.Sub(lastProgress) > soakStall:
			t.Fatalf("soak: no event ended for %v: %+v; pool %+v", soakStall, s, f.Stats())
		}
	}

	// Accept every event, trying again after ErrQueueFull. Each carries its
	// index as "data", which a success returns.
	accepted := make(map[string]int, n) // request ID: event index
	events := make([][]byte, n)
	rejected := 0
	for i := range events {
		events[i] = fmt.Appendf(nil, `{"op":"chaos","rate":%d,"ms":%d,"data":%d}`, soakFailPercent, soakSleep.Milliseconds(), i)
		for {
			id, err := f.InvokeAsync(context.Background(), events[i])
			if errors.Is(err, lambda.ErrQueueFull) {
				rejected++
				progress()
				time.Sleep(time.Millisecond)
				continue
			}
			require.NoError(t, err, "event %d", i)
			_, dup := accepted[id]
			require.False(t, dup, "request ID %s returned twice", id)
			accepted[id] = i
			break
		}
	}
	acceptDur := time.Since(start)

	// Wait for every event to end and its outcome to be delivered.
	for {
		progress()
		if s.Succeeded+s.DeadLettered == s.Accepted && s.Pending == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	endDur := time.Since(start)
	require.NoError(t, f.Close(ctx))
	s, ps := f.AsyncStats(), f.Stats()

	// succeeded + dead-lettered = accepted, and nothing else happened.
	require.Equal(t, int64(n), s.Accepted)
	require.Equal(t, int64(rejected), s.Rejected)
	require.Equal(t, s.Accepted, s.Succeeded+s.DeadLettered, "%+v", s)
	require.Zero(t, s.Expired+s.Throttles, "%+v", s)
	require.Zero(t, s.DeadLetterErrors+s.DestinationErrors+s.Undelivered, "%+v", s)
	require.Zero(t, s.Queued+s.Delayed+s.Running+s.Pending, "%+v", s)

	// Every accepted request ID ended exactly once, a success or a dead
	// letter: never both, never twice, never an ID not accepted.
	succeeded.mu.Lock()
	defer succeeded.mu.Unlock()
	failed.mu.Lock()
	defer failed.mu.Unlock()
	require.Len(t, succeeded.records, int(s.Succeeded))
	okAttempts := map[int]int{} // attempts: events that succeeded after them
	for id, recs := range succeeded.records {
		i, ok := accepted[id]
		require.True(t, ok, "a success of request ID %s, never accepted", id)
		require.Len(t, recs, 1, "%s succeeded %d times", id, len(recs))
		r := recs[0]
		require.Equal(t, lambda.ConditionSuccess, r.RequestContext.Condition, id)
		require.Empty(t, r.ResponseContext.FunctionError, id)
		require.Equal(t, strconv.Itoa(i), string(r.ResponsePayload), "the response of event %d", i)
		n := r.RequestContext.ApproximateInvokeCount
		require.True(t, n >= 1 && n <= 3, "%s succeeded after %d attempts", id, n)
		okAttempts[n]++
	}
	letters := sink.Letters()
	require.Len(t, letters, int(s.DeadLettered))
	require.Len(t, failed.records, int(s.DeadLettered))
	letterTypes := map[string]int{}
	for _, dl := range letters {
		i, ok := accepted[dl.RequestID]
		require.True(t, ok, "a dead letter of request ID %s, never accepted", dl.RequestID)
		_, both := succeeded.records[dl.RequestID]
		require.False(t, both, "%s both succeeded and dead-lettered", dl.RequestID)
		require.Equal(t, lambda.ConditionRetriesExhausted, dl.Condition, dl.RequestID)
		require.Equal(t, 3, dl.Attempts, dl.RequestID)
		require.Equal(t, 200, dl.ErrorCode, dl.RequestID)
		require.Equal(t, events[i], dl.Payload, "the dead letter of event %d", i)
		recs := failed.records[dl.RequestID]
		require.Len(t, recs, 1, "on-failure records of %s", dl.RequestID)
		require.Equal(t, 3, recs[0].RequestContext.ApproximateInvokeCount, dl.RequestID)
		require.Equal(t, "Unhandled", recs[0].ResponseContext.FunctionError, dl.RequestID)
		letterTypes[dl.ErrorType]++
	}
	require.Equal(t, len(accepted), len(succeeded.records)+len(letters))

	// Attempts: one REPORT each, exactly those the records and the letters
	// count, about 1 + p + p² per event.
	attempts.mu.Lock()
	defer attempts.mu.Unlock()
	require.Equal(t, int64(attempts.reports), s.Attempts)
	require.Equal(t, int64(okAttempts[1]+2*okAttempts[2]+3*okAttempts[3]+3*len(letters)), s.Attempts, "%+v", s)
	require.Equal(t, s.Attempts-s.Accepted, s.Retries)
	require.Equal(t, s.Attempts, ps.Invocations)
	p := float64(soakFailPercent) / 100
	perEvent := float64(s.Attempts) / float64(s.Accepted)
	require.InDelta(t, 1+p+p*p, perEvent, 0.15, "attempts per event")

	// Each way of failing happened about as often as the others (timeouts
	// may be a few more: a loaded machine can push a succeeding attempt past
	// its deadline), and the dead letters show each: the error, the Go panic
	// (its value's type, string), the trap and the timeout.
	faults, failedAttempts := map[string]int{}, 0
	for typ, n := range attempts.types {
		if typ != "" {
			faults[typ] = n
			failedAttempts += n
		}
	}
	kinds := []string{"errorString", "string", lambda.ErrorTypeExit, lambda.ErrorTypeTimeout}
	require.Len(t, faults, len(kinds), "failed attempts by type: %v", faults)
	each := float64(s.Attempts) * p / 4
	for _, k := range kinds {
		require.GreaterOrEqual(t, float64(faults[k]), each/2, "%s attempts: %v", k, faults)
		if k != lambda.ErrorTypeTimeout {
			require.LessOrEqual(t, float64(faults[k]), each*3/2, "%s attempts: %v", k, faults)
		}
		require.Positive(t, letterTypes[k], "no dead letter of type %s: %v", k, letterTypes)
	}
	require.Len(t, letterTypes, len(kinds), "dead letters by type: %v", letterTypes)

	// Panics, traps and timeouts discarded their sandboxes; nothing is
	// left running.
	discarding := faults["string"] + faults[lambda.ErrorTypeExit] + faults[lambda.ErrorTypeTimeout]
	require.Positive(t, ps.Discarded)
	require.Equal(t, int64(discarding), ps.Discarded, "%+v", ps)
	require.Zero(t, ps.Open, "%+v", ps)
	// Eventually calls the condition in a goroutine of its own: one more.
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= goroutines+1 }, 10*time.Second, 10*time.Millisecond,
		"goroutines: %d, %d before", runtime.NumGoroutine(), goroutines)

	t.Logf("soak: %d events accepted in %v (%d ErrQueueFull, tried again); all ended after %v; timeout %v, concurrency %d, GOMAXPROCS %d",
		s.Accepted, acceptDur.Round(time.Millisecond), rejected, endDur.Round(time.Millisecond), soakTimeout, soakConcurrency, runtime.GOMAXPROCS(0))
	t.Logf("soak: %d succeeded (after 1, 2, 3 attempts: %d, %d, %d), %d dead-lettered %s",
		s.Succeeded, okAttempts[1], okAttempts[2], okAttempts[3], s.DeadLettered, sortedCounts(letterTypes))
	t.Logf("soak: %d attempts (%.3f per event, %.3f expected), %d failed (%.1f%%) %s; %d cold starts, %d sandboxes discarded",
		s.Attempts, perEvent, 1+p+p*p, failedAttempts, 100*float64(failedAttempts)/float64(s.Attempts), sortedCounts(faults), ps.ColdStarts, ps.Discarded)
}

// sortedCounts formats counts by name, sorted by name.
func sortedCounts(m map[string]int) string {
	kv := make([]string, 0, len(m))
	for k, n := range m {
		kv = append(kv, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kv)
	return "[" + strings.Join(kv, " ") + "]"
}
