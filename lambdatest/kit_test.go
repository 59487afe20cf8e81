package lambdatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/lambdatest"
	"github.com/wasmlambda/lambda/trigger/schedule"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// The tests that deploy the guest do not run in parallel: under -race
// wazero compiles it for some 12 s the first time, and one after the other
// only the first compiles; the rest find it in the compilation cache.

func TestNewRuntime(t *testing.T) {
	var rt *lambda.Runtime
	ft := &fakeT{}
	t.Run("a test", func(t *testing.T) {
		msg := fatal(t, ft, func(t testing.TB) {
			rt = lambdatest.NewRuntime(t)
			code := lambdatest.Build(t, guestDir)
			fn := lambdatest.Deploy(t, rt, lambda.FunctionConfig{Name: "logged", Code: code.Wasm})
			lambdatest.Invoke(t, fn, []byte(`{}`))
		})
		require.Empty(t, msg)
	})
	// The test's cleanup closed the runtime.
	_, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "late", Code: []byte("\x00asm")})
	require.ErrorIs(t, err, lambda.ErrClosed)

	logs := strings.Join(ft.Logs(), "\n")
	require.Contains(t, logs, "msg=REPORT", "the runtime logs to the test's log")
	require.Contains(t, logs, "function=logged")

	entries, err := os.ReadDir(lambdatest.DefaultCompileCacheDir())
	require.NoError(t, err)
	require.NotEmpty(t, entries, "the compiled code is in the shared cache")

	msg := fatal(t, nil, func(t testing.TB) { lambdatest.NewRuntime(t, lambda.Options{}, lambda.Options{}) })
	require.Contains(t, msg, "at most one lambda.Options, got 2")
	msg = fatal(t, nil, func(t testing.TB) { lambdatest.NewRuntime(t, lambda.Options{MaxLayers: -1}) })
	require.Contains(t, msg, "MaxLayers -1")
}

// tinyCommand is the smallest WASI command: it exports _start, which does
// nothing, and a memory. Wazero compiles it at once, even under -race.
var tinyCommand = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // types: () -> ()
	0x03, 0x02, 0x01, 0x00, // functions: one of type 0
	0x05, 0x03, 0x01, 0x00, 0x01, // memories: one of 1 page
	0x07, 0x13, 0x02, // exports: two
	0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, // _start: function 0
	0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00, // memory: memory 0
	0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: an empty body
}

func TestNewRuntimeKeepsGivenOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rt := lambdatest.NewRuntime(t, lambda.Options{CacheDir: dir, Region: "eu-west-1"})
	fn := lambdatest.Deploy(t, rt, lambda.FunctionConfig{Name: "f", Code: tinyCommand})
	require.Equal(t, "eu-west-1", fn.Region())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries, "the given compilation cache is used")
}

func TestInvokeHelpers(t *testing.T) {
	fn := deployGuest(t, lambda.FunctionConfig{})

	require.JSONEq(t, `{"a":1}`, string(lambdatest.Invoke(t, fn, []byte(`{"a": 1}`))))
	type echo struct{ A int }
	require.Equal(t, echo{A: 1}, lambdatest.InvokeJSON[echo](t, fn, map[string]int{"A": 1}))

	// A sample event goes through as it is.
	ev := lambdatest.SQSEvent(lambdatest.SQSEventOptions{})
	require.Equal(t, string(ev), string(lambdatest.Invoke(t, fn, ev)))

	_, err := fn.Invoke(t.Context(), []byte(`{"fail":"no id"}`))
	fe := lambdatest.RequireFunctionError(t, err, "ValidationError")
	require.Equal(t, "invalid: no id", fe.Message)

	tests := []struct {
		name string
		fn   func(t testing.TB)
		want string
	}{
		{"Invoke of a failing event", func(t testing.TB) { lambdatest.Invoke(t, fn, []byte(`{"fail":"x"}`)) }, "lambdatest: invoke guest: ValidationError: invalid: x"},
		{"InvokeJSON of a failing event", func(t testing.TB) { lambdatest.InvokeJSON[echo](t, fn, map[string]string{"fail": "x"}) }, "ValidationError: invalid: x"},
		{"InvokeJSON of a response that does not decode", func(t testing.TB) { lambdatest.InvokeJSON[int](t, fn, map[string]int{"A": 1}) }, "decode the response"},
		{"InvokeAsync of an event that is not JSON", func(t testing.TB) { lambdatest.InvokeAsync(t, fn, []byte("{")) }, "InvalidRequestContentException"},
		{"RequireFunctionError of no error", func(t testing.TB) { lambdatest.RequireFunctionError(t, nil, "ValidationError") }, `want a function error of type "ValidationError", got none`},
		{"RequireFunctionError of another type", func(t testing.TB) { lambdatest.RequireFunctionError(t, err, "errorString") }, `want a function error of type "errorString", got type "ValidationError": invalid: no id`},
		{"RequireFunctionError of a service error", func(t testing.TB) { lambdatest.RequireFunctionError(t, lambda.ErrThrottled, "x") }, "got *lambda.ServiceError: TooManyRequestsException"},
		{"RequireFunctionError of another error", func(t testing.TB) { lambdatest.RequireFunctionError(t, errors.New("boom"), "x") }, "got *errors.errorString: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, fatal(t, nil, tt.fn), tt.want)
		})
	}
}

func TestAsyncHelpers(t *testing.T) {
	results := new(lambdatest.RecordSink)
	dead := new(lambda.MemorySink)
	fn := deployGuest(t, lambda.FunctionConfig{Async: lambdatest.FastAsync(lambda.AsyncConfig{
		OnSuccess:  results,
		OnFailure:  results,
		DeadLetter: dead,
	})})

	ok := lambdatest.InvokeAsync(t, fn, []byte(`{"n":1}`))
	bad := lambdatest.InvokeAsync(t, fn, []byte(`{"fail":"later"}`))

	rec := lambdatest.WaitRecord(t, results, ok)
	require.Equal(t, lambda.ConditionSuccess, rec.RequestContext.Condition)
	require.JSONEq(t, `{"n":1}`, string(rec.ResponsePayload))

	letters := lambdatest.WaitDeadLetters(t, dead, 1)
	require.Len(t, letters, 1)
	require.Equal(t, bad, letters[0].RequestID)
	require.Equal(t, "ValidationError", letters[0].ErrorType)
	require.Equal(t, 3, letters[0].Attempts, "FastAsync keeps AWS's two retries, a few milliseconds apart")

	rec = lambdatest.WaitRecord(t, results, bad)
	require.Equal(t, lambda.ConditionRetriesExhausted, rec.RequestContext.Condition)
	require.Len(t, lambdatest.WaitRecords(t, results, 2), 2)
}

func TestScheduleFiresOnTheManualClock(t *testing.T) {
	results := new(lambdatest.RecordSink)
	fn := deployGuest(t, lambda.FunctionConfig{Name: "nightly-report", Async: lambda.AsyncConfig{OnSuccess: results}})
	clock := lambdatest.NewManualClock(time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC))
	att, err := fn.Attach(t.Context(), "nightly", &schedule.Schedule{Expression: "cron(0 6 * * ? *)", Clock: clock})
	require.NoError(t, err)

	at := lambdatest.FireNextTimer(t, clock)
	require.Equal(t, time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), at)
	require.EqualValues(t, 1, lambdatest.WaitTriggerEvents(t, att, 1).Events)
	rec := lambdatest.WaitRecords(t, results, 1)[0]

	// The trigger sent the sample's JSON, with its own event ID.
	var sent struct{ ID string }
	require.NoError(t, json.Unmarshal(rec.ResponsePayload, &sent))
	want := lambdatest.ScheduledEvent(lambdatest.ScheduledEventOptions{ID: sent.ID, Time: at, Rule: "nightly"})
	require.Equal(t, string(want), string(rec.ResponsePayload))

	require.Equal(t, time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC), lambdatest.FireNextTimer(t, clock), "the next day's")
	require.Len(t, lambdatest.WaitRecords(t, results, 2), 2)
	require.NoError(t, att.Detach(t.Context()))
}

func TestWaitTriggerEventsOfAnSQSEventSource(t *testing.T) {
	fn := deployGuest(t, lambda.FunctionConfig{})
	queues := sqs.NewEmbedded(sqs.EmbeddedOptions{})
	t.Cleanup(func() { require.NoError(t, queues.Close()) })
	q, err := queues.CreateQueue("orders", sqs.QueueConfig{})
	require.NoError(t, err)
	att, err := fn.Attach(t.Context(), "orders", &sqs.EventSource{Queue: q, BatchSize: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, att.Detach(context.Background())) })

	for _, body := range []string{"a", "b"} {
		_, err := q.SendMessage(t.Context(), lambda.QueueMessage{Body: body})
		require.NoError(t, err)
	}
	st := lambdatest.WaitTriggerEvents(t, att, 2)
	require.EqualValues(t, 2, st.Events)
	require.Zero(t, st.Errors)
}

func TestWaitHelpersFailWhenNothingComes(t *testing.T) {
	t.Parallel()
	ended := &fakeT{ctx: cancelled()}
	clock := lambdatest.NewManualClock(time.Unix(0, 0))
	tests := []struct {
		name string
		fn   func(t testing.TB)
		want string
	}{
		{"WaitRecords", func(t testing.TB) { lambdatest.WaitRecords(t, new(lambdatest.RecordSink), 1) }, "wait for 1 invocation records, have 0: context canceled"},
		{"WaitRecord", func(t testing.TB) { lambdatest.WaitRecord(t, new(lambdatest.RecordSink), "r-1") }, "wait for the invocation record of request r-1: context canceled"},
		{"WaitDeadLetters", func(t testing.TB) { lambdatest.WaitDeadLetters(t, new(lambda.MemorySink), 2) }, "wait for 2 dead letters, have 0: context canceled"},
		{"FireNextTimer", func(t testing.TB) { lambdatest.FireNextTimer(t, clock) }, "wait for a timer: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Contains(t, fatal(t, &fakeT{ctx: ended.ctx}, tt.fn), tt.want)
		})
	}
}

func TestWaitTriggerEventsFailsWhenNoneCome(t *testing.T) {
	fn := deployGuest(t, lambda.FunctionConfig{})
	clock := lambdatest.NewManualClock(time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC))
	att, err := fn.Attach(t.Context(), "never", &schedule.Schedule{Expression: "cron(0 6 * * ? *)", Clock: clock})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, att.Detach(context.Background())) })
	msg := fatal(t, &fakeT{ctx: cancelled()}, func(t testing.TB) { lambdatest.WaitTriggerEvents(t, att, 1) })
	require.Contains(t, msg, "wait for 1 events of trigger never, have 0")
}

func TestRecordSink(t *testing.T) {
	t.Parallel()
	var s lambdatest.RecordSink
	rec := func(id, payload string) *lambda.InvocationRecord {
		return &lambda.InvocationRecord{RequestContext: lambda.RecordRequestContext{RequestID: id}, ResponsePayload: json.RawMessage(payload)}
	}
	type result struct {
		rec lambda.InvocationRecord
		err error
	}
	got := make(chan result, 1)
	go func() {
		r, err := s.WaitRequest(context.Background(), "b")
		got <- result{r, err}
	}()
	r := rec("a", `1`)
	require.NoError(t, s.Deliver(context.Background(), r))
	r.ResponsePayload[0] = '9'
	require.Equal(t, `1`, string(s.Records()[0].ResponsePayload), "a copy is kept")
	require.NoError(t, s.Deliver(context.Background(), rec("b", `2`)))
	r2 := <-got
	require.NoError(t, r2.err)
	require.Equal(t, `2`, string(r2.rec.ResponsePayload))
	require.NoError(t, s.Deliver(context.Background(), rec("a", `3`)))
	require.Equal(t, 2, s.Len(), "a record delivered again replaces the first")
	require.Equal(t, `3`, string(s.Records()[0].ResponsePayload))
	require.NoError(t, s.WaitLen(context.Background(), 2))

	err := s.WaitLen(cancelled(), 3)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "wait for 3 invocation records, have 2")
}

func TestFastAsync(t *testing.T) {
	t.Parallel()
	c := lambdatest.FastAsync(lambda.AsyncConfig{})
	require.Equal(t, []time.Duration{time.Millisecond, 2 * time.Millisecond}, c.RetryBackoff)
	require.Equal(t, time.Millisecond, c.ThrottleBackoffMin)
	require.Equal(t, 10*time.Millisecond, c.ThrottleBackoffMax)
	require.Equal(t, time.Millisecond, c.DeliveryBackoffMin)
	require.Equal(t, 10*time.Millisecond, c.DeliveryBackoffMax)

	set := lambda.AsyncConfig{RetryBackoff: []time.Duration{time.Second}, ThrottleBackoffMin: 50 * time.Millisecond, DeliveryBackoffMax: time.Second, MaxRetryAttempts: lambda.Retries(1)}
	c = lambdatest.FastAsync(set)
	require.Equal(t, []time.Duration{time.Second}, c.RetryBackoff, "what is set stays")
	require.Equal(t, 50*time.Millisecond, c.ThrottleBackoffMin)
	require.Equal(t, 50*time.Millisecond, c.ThrottleBackoffMax, "at least the minimum")
	require.Equal(t, time.Millisecond, c.DeliveryBackoffMin)
	require.Equal(t, time.Second, c.DeliveryBackoffMax)
	require.Equal(t, 1, *c.MaxRetryAttempts)
}

func TestManualClockAdvanceToNextTimer(t *testing.T) {
	t.Parallel()
	c := lambdatest.NewManualClock(t0)
	late, early := c.NewTimer(time.Hour), c.NewTimer(time.Minute)
	at, err := c.AdvanceToNextTimer(context.Background())
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Minute), at, "the earliest timer")
	require.Equal(t, at, c.Now())
	_, ok := fired(early.C())
	require.True(t, ok)
	_, ok = fired(late.C())
	require.False(t, ok)

	at, err = c.AdvanceToNextTimer(context.Background())
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Hour), at)
	_, ok = fired(late.C())
	require.True(t, ok)

	// Without a timer, it waits for one to come.
	type result struct {
		at  time.Time
		err error
	}
	moved := make(chan result, 1)
	go func() {
		at, err := c.AdvanceToNextTimer(context.Background())
		moved <- result{at, err}
	}()
	tm := c.NewTimer(time.Second)
	r := <-moved
	require.NoError(t, r.err)
	require.Equal(t, t0.Add(time.Hour+time.Second), r.at)
	_, ok = fired(tm.C())
	require.True(t, ok)

	_, err = c.AdvanceToNextTimer(cancelled())
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "wait for a timer")
}
