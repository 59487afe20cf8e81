package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/journal"
)

// fakeInvoke stands for Function.invoke under an async engine: fn decides
// each attempt. It records the attempts, with when they started.
type fakeInvoke struct {
	fn func(ctx, waitCtx context.Context, payload []byte, o *invokeOptions, granted func()) ([]byte, error)

	mu       sync.Mutex
	attempts []fakeAttempt
}

type fakeAttempt struct {
	requestID string
	payload   string
	at        time.Time
	hasWait   bool // waitCtx has a deadline: the event's expiry
}

func (fi *fakeInvoke) invoke(ctx, waitCtx context.Context, payload []byte, o *invokeOptions, granted func()) ([]byte, error) {
	_, hasWait := waitCtx.Deadline()
	fi.mu.Lock()
	fi.attempts = append(fi.attempts, fakeAttempt{requestID: o.requestID, payload: string(payload), at: time.Now(), hasWait: hasWait})
	fi.mu.Unlock()
	if err := waitCtx.Err(); err != nil {
		return nil, err
	}
	return fi.fn(ctx, waitCtx, payload, o, granted)
}

func (fi *fakeInvoke) calls() []fakeAttempt {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return append([]fakeAttempt(nil), fi.attempts...)
}

// succeeding is an attempt that runs and returns resp.
func succeeding(resp string) func(context.Context, context.Context, []byte, *invokeOptions, func()) ([]byte, error) {
	return func(_, _ context.Context, _ []byte, _ *invokeOptions, granted func()) ([]byte, error) {
		granted()
		return []byte(resp), nil
	}
}

// errBoom is what a failing fake function answers.
func errBoom(requestID string) error {
	return &FunctionError{Type: "Boom", Message: "boom", RequestID: requestID, reported: true}
}

func errThrottle() error {
	return serviceError(ErrThrottled, "Rate Exceeded. Function fake is running at its MaxConcurrency of 1.")
}

// fastAsyncConfig is an AsyncConfig with tiny backoffs.
func fastAsyncConfig() AsyncConfig {
	return AsyncConfig{
		RetryBackoff:       []time.Duration{2 * time.Millisecond, 4 * time.Millisecond},
		ThrottleBackoffMin: time.Millisecond,
		ThrottleBackoffMax: 4 * time.Millisecond,
		DeliveryBackoffMin: time.Millisecond,
		DeliveryBackoffMax: 2 * time.Millisecond,
	}
}

// fakeAsync is an async engine on a fake invoke, with no function, pool or
// wasm beneath it.
type fakeAsync struct {
	*asyncEngine
	fi *fakeInvoke
	// undeliveredPath is the undelivered file, opened on first use.
	undeliveredPath string
}

// newFakeAsync returns an engine with the configuration cfg, whose attempts
// fn decides. It is closed when the test ends, if the test did not.
func newFakeAsync(t *testing.T, cfg AsyncConfig, fn func(ctx, waitCtx context.Context, payload []byte, o *invokeOptions, granted func()) ([]byte, error)) *fakeAsync {
	t.Helper()
	cfg, retries, err := cfg.withDefaults("fake", DefaultMaxConcurrency)
	require.NoError(t, err)
	fa := &fakeAsync{fi: &fakeInvoke{fn: fn}, undeliveredPath: filepath.Join(t.TempDir(), "undelivered.jsonl")}
	var mu sync.Mutex
	var undelivered *FileSink
	t.Cleanup(func() {
		if undelivered != nil {
			require.NoError(t, undelivered.Close())
		}
	})
	fa.asyncEngine = newAsyncEngine(asyncEngineConfig{
		name:            "fake",
		arn:             "arn:aws:lambda:us-east-1:000000000000:function:fake",
		version:         "3",
		cfg:             cfg,
		retries:         retries,
		maxRequestBytes: DefaultMaxRequestBytes,
		invoke:          fa.fi.invoke,
		undeliveredFile: func() (*FileSink, error) {
			mu.Lock()
			defer mu.Unlock()
			if undelivered == nil {
				fs, err := OpenFileSink(fa.undeliveredPath)
				if err != nil {
					return nil, err
				}
				undelivered = fs
			}
			return undelivered, nil
		},
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = fa.close(ctx)
		fa.requireBalanced(t)
	})
	return fa
}

func (fa *fakeAsync) invokeAsync(t *testing.T, payload string) string {
	t.Helper()
	id, err := fa.accept(context.Background(), []byte(payload), nil, false)
	require.NoError(t, err)
	return id
}

// requireBalanced checks the engine's invariant once it is quiet: every
// event accepted succeeded or was dead-lettered.
func (fa *fakeAsync) requireBalanced(t *testing.T) {
	t.Helper()
	s := fa.snapshot()
	require.Equal(t, s.Accepted+s.Recovered, s.Succeeded+s.DeadLettered, "succeeded + dead-lettered = accepted: %+v", s)
}

// waitDone waits until n events have finished, and the engine is idle: no
// worker and no deliverer left.
func (fa *fakeAsync) waitDone(t *testing.T, n int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		s := fa.snapshot()
		return s.Succeeded+s.DeadLettered == n && s.Pending == 0
	}, 30*time.Second, time.Millisecond, "%d events finish", n)
	fa.requireIdle(t)
}

// requireIdle checks that the engine holds no goroutine: its workers and
// deliverers end when there is nothing to do.
func (fa *fakeAsync) requireIdle(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		fa.mu.Lock()
		workers := fa.workers
		fa.mu.Unlock()
		for _, o := range fa.outs {
			o.mu.Lock()
			running := o.running
			o.mu.Unlock()
			if running {
				return false
			}
		}
		return workers == 0
	}, 30*time.Second, time.Millisecond, "an idle engine has no goroutine")
}

// destination keeps the records delivered to it.
type destination struct {
	mu      sync.Mutex
	records []InvocationRecord
}

func (d *destination) Deliver(_ context.Context, rec *InvocationRecord) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records = append(d.records, *rec)
	return nil
}

func (d *destination) got() []InvocationRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]InvocationRecord(nil), d.records...)
}

func TestAsyncEngineSuccess(t *testing.T) {
	t.Parallel()
	ok, failed := &destination{}, &destination{}
	sink := &MemorySink{}
	cfg := fastAsyncConfig()
	cfg.OnSuccess, cfg.OnFailure, cfg.DeadLetter = ok, failed, sink
	fa := newFakeAsync(t, cfg, succeeding(`{"ok":true}`))
	id := fa.invokeAsync(t, `{"n":1}`)
	fa.waitDone(t, 1)

	calls := fa.fi.calls()
	require.Len(t, calls, 1)
	require.Equal(t, id, calls[0].requestID, "the attempt runs with the event's request ID")
	require.Equal(t, `{"n":1}`, calls[0].payload)
	require.True(t, calls[0].hasWait, "the wait for a sandbox is bounded by the event's age")

	recs := ok.got()
	require.Len(t, recs, 1)
	r := recs[0]
	require.Equal(t, RecordRequestContext{RequestID: id, FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:fake:3", Condition: ConditionSuccess, ApproximateInvokeCount: 1}, r.RequestContext)
	require.Equal(t, RecordResponseContext{StatusCode: 200, ExecutedVersion: "3"}, r.ResponseContext)
	require.JSONEq(t, `{"n":1}`, string(r.RequestPayload))
	require.JSONEq(t, `{"ok":true}`, string(r.ResponsePayload))
	require.Empty(t, failed.got())
	require.Zero(t, sink.Len())

	require.NoError(t, fa.close(context.Background()))
	s := fa.snapshot()
	require.Equal(t, AsyncStats{Accepted: 1, Attempts: 1, Succeeded: 1}, s)
}

// TestAsyncEngineRetries fails attempts with a function error: the event is
// retried after each backoff, and dead-lettered after 1 + retries attempts,
// or succeeds on a later one.
func TestAsyncEngineRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		retries   int
		failFirst int // attempts that fail; the rest succeed
	}{
		{retries: 0, failFirst: 1},
		{retries: 1, failFirst: 2},
		{retries: 2, failFirst: 3},
		{retries: 2, failFirst: 2}, // fails twice, succeeds on the third
	} {
		t.Run(fmt.Sprintf("retries=%d, %d failing", tc.retries, tc.failFirst), func(t *testing.T) {
			t.Parallel()
			failed := &destination{}
			sink := &MemorySink{}
			cfg := fastAsyncConfig()
			cfg.MaxRetryAttempts = Retries(tc.retries)
			cfg.OnFailure, cfg.DeadLetter = failed, sink
			var mu sync.Mutex
			n := 0
			fa := newFakeAsync(t, cfg, func(_, _ context.Context, _ []byte, o *invokeOptions, granted func()) ([]byte, error) {
				granted()
				mu.Lock()
				defer mu.Unlock()
				n++
				if n <= tc.failFirst {
					return nil, errBoom(o.requestID)
				}
				return []byte(`"fine"`), nil
			})
			before := time.Now()
			id := fa.invokeAsync(t, `{"op":"error"}`)
			fa.waitDone(t, 1)

			succeeds := tc.failFirst <= tc.retries
			attempts := min(tc.failFirst+1, 1+tc.retries)
			calls := fa.fi.calls()
			require.Len(t, calls, attempts)
			for i := 1; i < len(calls); i++ {
				require.GreaterOrEqual(t, calls[i].at.Sub(calls[i-1].at), cfg.RetryBackoff[i-1], "retry %d waits out its backoff", i)
			}
			s := fa.snapshot()
			require.EqualValues(t, attempts, s.Attempts)
			require.EqualValues(t, attempts-1, s.Retries)
			require.Zero(t, s.Throttles)
			if succeeds {
				require.EqualValues(t, 1, s.Succeeded)
				require.Zero(t, sink.Len())
				require.Empty(t, failed.got())
				return
			}
			require.EqualValues(t, 1, s.DeadLettered)
			require.Zero(t, s.Expired)
			letters := sink.Letters()
			require.Len(t, letters, 1)
			dl := letters[0]
			require.Equal(t, id, dl.RequestID)
			require.Equal(t, []byte(`{"op":"error"}`), dl.Payload)
			require.Equal(t, "fake", dl.FunctionName)
			require.Equal(t, "3", dl.FunctionVersion)
			require.Equal(t, "arn:aws:lambda:us-east-1:000000000000:function:fake:3", dl.FunctionARN)
			require.Equal(t, ConditionRetriesExhausted, dl.Condition)
			require.Equal(t, 200, dl.ErrorCode)
			require.Equal(t, "Boom", dl.ErrorType)
			require.Equal(t, "boom", dl.ErrorMessage)
			require.Equal(t, attempts, dl.Attempts)
			require.False(t, dl.AcceptedAt.Before(before))
			require.False(t, dl.FirstAttemptAt.Before(dl.AcceptedAt))
			require.False(t, dl.FirstAttemptAt.After(calls[0].at))
			require.False(t, dl.LastAttemptAt.Before(dl.FirstAttemptAt))
			require.False(t, dl.DeadLetteredAt.Before(dl.LastAttemptAt))

			recs := failed.got()
			require.Len(t, recs, 1)
			r := recs[0]
			require.Equal(t, ConditionRetriesExhausted, r.RequestContext.Condition)
			require.Equal(t, attempts, r.RequestContext.ApproximateInvokeCount)
			require.Equal(t, RecordResponseContext{StatusCode: 200, ExecutedVersion: "3", FunctionError: "Unhandled"}, r.ResponseContext)
			require.JSONEq(t, `{"errorType":"Boom","errorMessage":"boom"}`, string(r.ResponsePayload))
		})
	}
}

// TestAsyncEngineThrottles: a throttled attempt is not an attempt; it is
// tried again after a backoff that doubles up to its maximum.
func TestAsyncEngineThrottles(t *testing.T) {
	t.Parallel()
	const throttles = 4
	var mu sync.Mutex
	n := 0
	cfg := fastAsyncConfig()
	cfg.MaxRetryAttempts = Retries(0) // a throttle counted as an attempt would exhaust it
	cfg.DeadLetter = &MemorySink{}
	ok := &destination{}
	cfg.OnSuccess = ok
	fa := newFakeAsync(t, cfg, func(_, _ context.Context, _ []byte, _ *invokeOptions, granted func()) ([]byte, error) {
		mu.Lock()
		n++
		throttled := n <= throttles
		mu.Unlock()
		if throttled {
			return nil, errThrottle()
		}
		granted()
		return []byte(`1`), nil
	})
	fa.invokeAsync(t, `{}`)
	fa.waitDone(t, 1)
	calls := fa.fi.calls()
	require.Len(t, calls, throttles+1)
	for i, want := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond} {
		require.GreaterOrEqual(t, calls[i+1].at.Sub(calls[i].at), want, "throttle %d backs off", i+1)
	}
	require.Equal(t, AsyncStats{Accepted: 1, Attempts: 1, Throttles: throttles, Succeeded: 1}, fa.snapshot())
	recs := ok.got()
	require.Len(t, recs, 1)
	require.Equal(t, 1, recs[0].RequestContext.ApproximateInvokeCount)
}

// TestAsyncEngineEventAge: an event that outlives MaxEventAge fails with
// EventAgeExceeded, whether it waited for a sandbox, was throttled, or
// waited for a retry; it fails when its age runs out, not after the
// backoff.
func TestAsyncEngineEventAge(t *testing.T) {
	t.Parallel()
	const age = 30 * time.Millisecond
	for _, tc := range []struct {
		name     string
		fn       func(ctx, waitCtx context.Context, payload []byte, o *invokeOptions, granted func()) ([]byte, error)
		attempts int
		code     int
		errType  string
	}{
		{
			name: "waiting for a sandbox",
			fn: func(_, waitCtx context.Context, _ []byte, _ *invokeOptions, _ func()) ([]byte, error) {
				<-waitCtx.Done()
				return nil, waitCtx.Err()
			},
			code: 429, errType: ErrThrottled.Code,
		},
		{
			name: "throttled",
			fn: func(context.Context, context.Context, []byte, *invokeOptions, func()) ([]byte, error) {
				return nil, errThrottle()
			},
			code: 429, errType: ErrThrottled.Code,
		},
		{
			name: "waiting for a retry",
			fn: func(_, _ context.Context, _ []byte, o *invokeOptions, granted func()) ([]byte, error) {
				granted()
				return nil, errBoom(o.requestID)
			},
			attempts: 1, code: 200, errType: "Boom",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := &MemorySink{}
			cfg := fastAsyncConfig()
			cfg.MaxEventAge = age
			cfg.RetryBackoff = []time.Duration{time.Hour}
			cfg.ThrottleBackoffMin, cfg.ThrottleBackoffMax = 5*time.Millisecond, time.Hour
			cfg.DeadLetter = sink
			fa := newFakeAsync(t, cfg, tc.fn)
			fa.invokeAsync(t, `{}`)
			fa.waitDone(t, 1)
			letters := sink.Letters()
			require.Len(t, letters, 1)
			dl := letters[0]
			require.Equal(t, ConditionEventAgeExceeded, dl.Condition)
			require.Equal(t, tc.attempts, dl.Attempts)
			require.Equal(t, tc.code, dl.ErrorCode)
			require.Equal(t, tc.errType, dl.ErrorType)
			waited := dl.DeadLetteredAt.Sub(dl.AcceptedAt)
			require.GreaterOrEqual(t, waited, age)
			require.Less(t, waited, 30*time.Second, "it failed at its age, not after the backoff")
			s := fa.snapshot()
			require.EqualValues(t, 1, s.Expired)
			require.EqualValues(t, 1, s.DeadLettered)
			require.EqualValues(t, tc.attempts, s.Attempts)
		})
	}
}

// TestAsyncEngineClose closes the engine with events running, queued and
// waiting for a retry. With time to drain, it runs them all; when its
// context ends, it dead-letters them with ConditionShutdown, the one
// running included, whose attempt it aborts.
func TestAsyncEngineClose(t *testing.T) {
	t.Parallel()
	t.Run("drains", func(t *testing.T) {
		t.Parallel()
		gate := make(chan struct{})
		cfg := fastAsyncConfig()
		cfg.Concurrency = 1
		cfg.DeadLetter = &MemorySink{}
		fa := newFakeAsync(t, cfg, func(_, _ context.Context, _ []byte, _ *invokeOptions, granted func()) ([]byte, error) {
			granted()
			<-gate
			return []byte(`1`), nil
		})
		for i := 0; i < 3; i++ {
			fa.invokeAsync(t, `{}`)
		}
		closed := make(chan error, 1)
		go func() { closed <- fa.close(context.Background()) }()
		require.Eventually(t, func() bool {
			fa.mu.Lock()
			defer fa.mu.Unlock()
			return !fa.accepting
		}, 30*time.Second, time.Millisecond)
		_, err := fa.accept(context.Background(), []byte(`{}`), nil, false)
		require.ErrorIs(t, err, ErrClosed, "a closing engine takes no new event")
		requireBlocked(t, closed, "Close returned with events left")
		close(gate)
		require.NoError(t, recv(t, closed))
		require.Equal(t, AsyncStats{Accepted: 3, Attempts: 3, Succeeded: 3}, fa.snapshot())
	})
	t.Run("context ending", func(t *testing.T) {
		t.Parallel()
		sink := &MemorySink{}
		cfg := fastAsyncConfig()
		cfg.Concurrency = 1
		cfg.RetryBackoff = []time.Duration{time.Hour}
		cfg.DeadLetter = sink
		fa := newFakeAsync(t, cfg, func(ctx, _ context.Context, payload []byte, o *invokeOptions, granted func()) ([]byte, error) {
			granted()
			if string(payload) == `"fail"` {
				return nil, errBoom(o.requestID)
			}
			<-ctx.Done() // runs until aborted
			return nil, ctx.Err()
		})
		delayed := fa.invokeAsync(t, `"fail"`)
		require.Eventually(t, func() bool { return fa.snapshot().Delayed == 1 }, 30*time.Second, time.Millisecond)
		running := fa.invokeAsync(t, `"run"`)
		require.Eventually(t, func() bool { return fa.snapshot().Running == 1 }, 30*time.Second, time.Millisecond)
		queued := []string{fa.invokeAsync(t, `"q1"`), fa.invokeAsync(t, `"q2"`)}
		require.Equal(t, 2, fa.snapshot().Queued)

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, fa.close(ctx), context.Canceled)
		letters := map[string]DeadLetter{}
		for _, dl := range sink.Letters() {
			require.Equal(t, ConditionShutdown, dl.Condition, "%+v", dl)
			letters[dl.RequestID] = dl
		}
		require.Len(t, letters, 4, "every event is dead-lettered")
		require.Equal(t, 1, letters[delayed].Attempts)
		require.Equal(t, "Boom", letters[delayed].ErrorType, "the last failure is kept")
		require.Equal(t, 200, letters[delayed].ErrorCode)
		require.Equal(t, 1, letters[running].Attempts)
		require.Equal(t, 503, letters[running].ErrorCode)
		for _, id := range queued {
			require.Zero(t, letters[id].Attempts)
			require.Equal(t, 503, letters[id].ErrorCode)
			require.Equal(t, "ServiceException", letters[id].ErrorType)
		}
		require.Equal(t, AsyncStats{Accepted: 4, Attempts: 2, DeadLettered: 4}, fa.snapshot())
		fa.requireIdle(t)
	})
}

// TestAsyncEngineUndelivered: without a sink or an on-failure destination,
// dead letters go to the undelivered file; with a sink that still fails at
// Close, they go there too, and Close says so.
func TestAsyncEngineUndelivered(t *testing.T) {
	t.Parallel()
	failing := func(_, _ context.Context, _ []byte, o *invokeOptions, granted func()) ([]byte, error) {
		granted()
		return nil, errBoom(o.requestID)
	}
	t.Run("no sink", func(t *testing.T) {
		t.Parallel()
		cfg := fastAsyncConfig()
		cfg.MaxRetryAttempts = Retries(0)
		fa := newFakeAsync(t, cfg, failing)
		id := fa.invokeAsync(t, `{"lost":false}`)
		fa.waitDone(t, 1)
		letters, err := ReadDeadLetters(fa.undeliveredPath)
		require.NoError(t, err)
		require.Len(t, letters, 1)
		require.Equal(t, id, letters[0].RequestID)
		require.Equal(t, []byte(`{"lost":false}`), letters[0].Payload)
		require.NoError(t, fa.close(context.Background()))
		require.Zero(t, fa.snapshot().Undelivered, "the undelivered file is this engine's sink")
	})
	t.Run("a sink failing at close", func(t *testing.T) {
		t.Parallel()
		cfg := fastAsyncConfig()
		cfg.MaxRetryAttempts = Retries(0)
		cfg.DeadLetter = SinkFunc(func(context.Context, *DeadLetter) error { return errors.New("sink down") })
		fa := newFakeAsync(t, cfg, failing)
		id := fa.invokeAsync(t, `{}`)
		require.Eventually(t, func() bool { return fa.snapshot().DeadLetterErrors >= 2 }, 30*time.Second, time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := fa.close(ctx)
		var ue *UndeliveredError
		require.ErrorAs(t, err, &ue)
		require.Equal(t, &UndeliveredError{Function: "fake", DeadLetters: 1, Path: fa.undeliveredPath}, ue)
		letters, err := ReadDeadLetters(fa.undeliveredPath)
		require.NoError(t, err)
		require.Len(t, letters, 1)
		require.Equal(t, id, letters[0].RequestID)
		s := fa.snapshot()
		require.EqualValues(t, 1, s.Undelivered)
		require.EqualValues(t, 1, s.DeadLettered)
		require.Zero(t, s.Pending)
	})
}

// TestAsyncEngineAccountsForEveryEvent runs a mix of events that succeed,
// fail, fail once, and are throttled once, and closes the engine, with or
// without time to drain: every event accepted either succeeded, with a
// success record, or was dead-lettered, never both and never neither.
func TestAsyncEngineAccountsForEveryEvent(t *testing.T) {
	t.Parallel()
	const n = 200
	for _, drain := range []bool{true, false} {
		t.Run(fmt.Sprint("drain=", drain), func(t *testing.T) {
			t.Parallel()
			ok := &destination{}
			sink := &MemorySink{}
			cfg := fastAsyncConfig()
			cfg.MaxRetryAttempts = Retries(1)
			cfg.Concurrency = 4
			cfg.OnSuccess, cfg.DeadLetter = ok, sink
			var mu sync.Mutex
			tries := map[string]int{}
			fa := newFakeAsync(t, cfg, func(ctx, _ context.Context, payload []byte, o *invokeOptions, granted func()) ([]byte, error) {
				k, err := strconv.Atoi(string(payload))
				if err != nil {
					return nil, err
				}
				mu.Lock()
				tries[o.requestID]++
				try := tries[o.requestID]
				mu.Unlock()
				if k%4 == 3 && try == 1 {
					return nil, errThrottle()
				}
				granted()
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				switch {
				case k%4 == 1, k%4 == 2 && try == 1:
					return nil, errBoom(o.requestID)
				}
				return payload, nil
			})
			accepted := map[string]bool{}
			for k := 0; k < n; k++ {
				accepted[fa.invokeAsync(t, strconv.Itoa(k))] = true
			}
			ctx, cancel := context.WithCancel(context.Background())
			if !drain {
				cancel()
			}
			err := fa.close(ctx)
			cancel()
			if drain {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, context.Canceled)
			}
			fa.requireBalanced(t)
			fa.requireIdle(t)

			outcome := map[string]string{}
			for _, r := range ok.got() {
				require.Empty(t, outcome[r.RequestContext.RequestID], "one outcome per event")
				outcome[r.RequestContext.RequestID] = "succeeded"
			}
			for _, dl := range sink.Letters() {
				require.Empty(t, outcome[dl.RequestID], "one outcome per event")
				outcome[dl.RequestID] = "dead-lettered"
			}
			require.Len(t, outcome, n)
			for id := range accepted {
				require.NotEmpty(t, outcome[id], "event %s has no outcome", id)
			}
			s := fa.snapshot()
			require.EqualValues(t, n, s.Accepted)
			require.EqualValues(t, len(ok.got()), s.Succeeded)
			require.EqualValues(t, sink.Len(), s.DeadLettered)
			if drain {
				require.EqualValues(t, 3*n/4, s.Succeeded)
				require.EqualValues(t, n/4, s.DeadLettered)
				require.EqualValues(t, n/4, s.Throttles)
			}
		})
	}
}

// TestOutItemKeepsTrigger checks that a journaled delivery keeps the
// trigger of its event, for the observer after a restart.
func TestOutItemKeepsTrigger(t *testing.T) {
	it := &outItem{Target: targetFailure, Record: &InvocationRecord{}, DeadLetter: &DeadLetter{RequestID: "r", Payload: []byte(`{}`)}, Trigger: "tick"}
	b, err := json.Marshal(it)
	require.NoError(t, err)
	var got outItem
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, "tick", got.Trigger)
}

// TestAsyncAcceptedAfterJournal checks that the observer hears of an
// event only once it is journaled: an event whose journal write fails was
// not accepted, and is not counted as received. One that is journaled is,
// and its attempts inherit the trace ID the observer gives at accept.
func TestAsyncAcceptedAfterJournal(t *testing.T) {
	const traceID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	for _, broken := range []bool{true, false} {
		t.Run(fmt.Sprintf("broken=%v", broken), func(t *testing.T) {
			var mu sync.Mutex
			var accepted []AsyncInfo
			var traced []string
			fa := newFakeAsync(t, fastAsyncConfig(), func(_, _ context.Context, _ []byte, o *invokeOptions, granted func()) ([]byte, error) {
				mu.Lock()
				traced = append(traced, o.traceID)
				mu.Unlock()
				granted()
				return []byte(`"ok"`), nil
			})
			fa.obs = &Observer{
				AsyncAccepted: func(ctx context.Context, info AsyncInfo) context.Context {
					mu.Lock()
					defer mu.Unlock()
					accepted = append(accepted, info)
					return ctx
				},
				TraceID: func(context.Context) string { return traceID },
			}
			store, err := journal.Open(t.TempDir())
			require.NoError(t, err)
			if broken {
				require.NoError(t, store.Close())
			} else {
				t.Cleanup(func() { require.NoError(t, store.Close()) })
			}
			fa.store = store
			_, err = fa.accept(context.Background(), []byte(`{}`), []InvokeOption{withTrigger("tick")}, false)
			mu.Lock()
			got := append([]AsyncInfo(nil), accepted...)
			mu.Unlock()
			if broken {
				require.ErrorContains(t, err, "journal the event")
				require.Empty(t, got, "an event the journal refused was not received")
				require.Zero(t, fa.snapshot().Accepted)
				return
			}
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, "tick", got[0].Trigger)
			fa.waitDone(t, 1)
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, []string{traceID}, traced, "the attempt inherits the observer's trace ID")
		})
	}
}
