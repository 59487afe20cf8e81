package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

func TestAsyncOutcomes(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})

	t.Run("fails twice then succeeds on the third attempt", func(t *testing.T) {
		ok, failed := newRecordSink(), newRecordSink()
		sink := &lambda.MemorySink{}
		cfg := fastAsync()
		cfg.OnSuccess, cfg.OnFailure, cfg.DeadLetter = ok, failed, sink
		f := deploy(t, rt, lambda.FunctionConfig{Name: "flaky", Code: guest, MaxConcurrency: 1, Async: cfg})
		event := []byte(`{"op":"flaky","times":2}`)
		id, err := f.InvokeAsync(context.Background(), event)
		require.NoError(t, err)
		recs := ok.Wait(t, 1)
		require.Len(t, recs, 1)
		r := recs[0]
		require.Equal(t, "1.0", r.Version)
		require.Equal(t, id, r.RequestContext.RequestID)
		require.Equal(t, lambda.ConditionSuccess, r.RequestContext.Condition)
		require.Equal(t, 3, r.RequestContext.ApproximateInvokeCount)
		require.Equal(t, f.ARN()+":$LATEST", r.RequestContext.FunctionARN)
		require.JSONEq(t, string(event), string(r.RequestPayload))
		require.JSONEq(t, `{"attempt":3}`, string(r.ResponsePayload))
		require.Equal(t, lambda.RecordResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST"}, r.ResponseContext)
		require.NoError(t, f.Close(context.Background()))
		s := f.AsyncStats()
		require.Equal(t, int64(3), s.Attempts)
		require.Equal(t, int64(2), s.Retries)
		require.Equal(t, int64(1), s.Succeeded)
		require.Zero(t, s.DeadLettered)
		require.Zero(t, sink.Len())
		require.Empty(t, failed.Records())
	})

	t.Run("always fails: the sink after exactly 1 + retries attempts", func(t *testing.T) {
		// A negative count, like 0, means no retries.
		for _, retries := range []int{-1, 0, 1, 2} {
			t.Run(fmt.Sprint("retries=", retries), func(t *testing.T) {
				attempts := 1 + max(retries, 0)
				failed := newRecordSink()
				sink := &lambda.MemorySink{}
				cfg := fastAsync()
				cfg.MaxRetryAttempts = lambda.Retries(retries)
				cfg.OnFailure, cfg.DeadLetter = failed, sink
				f := deploy(t, rt, lambda.FunctionConfig{Name: fmt.Sprint("fails-", retries), Code: guest, Version: "7", Async: cfg})
				// Whitespace and key order are the sender's: the dead letter
				// keeps them.
				event := []byte(`{ "op": "error",  "message": "boom" }`)
				before := time.Now()
				id, err := f.InvokeAsync(context.Background(), event)
				require.NoError(t, err)
				require.NoError(t, sink.WaitLen(waitCtx(t), 1))
				recs := failed.Wait(t, 1)
				require.NoError(t, f.Close(context.Background()))

				dl := sink.Letters()[0]
				require.Equal(t, event, dl.Payload)
				require.Equal(t, id, dl.RequestID)
				require.Equal(t, f.Name(), dl.FunctionName)
				require.Equal(t, "7", dl.FunctionVersion)
				require.Equal(t, f.ARN()+":7", dl.FunctionARN)
				require.Equal(t, lambda.ConditionRetriesExhausted, dl.Condition)
				require.Equal(t, 200, dl.ErrorCode)
				require.Equal(t, "errorString", dl.ErrorType)
				require.Equal(t, "boom", dl.ErrorMessage)
				require.Equal(t, attempts, dl.Attempts)
				require.False(t, dl.AcceptedAt.Before(before))
				require.False(t, dl.FirstAttemptAt.Before(dl.AcceptedAt))
				require.False(t, dl.LastAttemptAt.Before(dl.FirstAttemptAt))
				require.False(t, dl.DeadLetteredAt.Before(dl.LastAttemptAt))
				if retries > 0 {
					// At least the backoffs passed between the attempts.
					require.GreaterOrEqual(t, dl.LastAttemptAt.Sub(dl.FirstAttemptAt), 5*time.Millisecond)
				}
				s := f.AsyncStats()
				require.Equal(t, int64(attempts), s.Attempts)
				require.Equal(t, int64(1), s.DeadLettered)

				// The on-failure record, exactly as AWS shapes it.
				require.Len(t, recs, 1)
				b, err := json.Marshal(recs[0])
				require.NoError(t, err)
				var got map[string]any
				require.NoError(t, json.Unmarshal(b, &got))
				ts, _ := got["timestamp"].(string)
				require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, ts)
				delete(got, "timestamp")
				want := fmt.Sprintf(`{
					"version": "1.0",
					"requestContext": {"requestId": %q, "functionArn": %q, "condition": "RetriesExhausted", "approximateInvokeCount": %d},
					"requestPayload": {"op": "error", "message": "boom"},
					"responseContext": {"statusCode": 200, "executedVersion": "7", "functionError": "Unhandled"},
					"responsePayload": {"errorMessage": "boom", "errorType": "errorString"}
				}`, id, f.ARN()+":7", attempts)
				gotJSON, _ := json.Marshal(got)
				require.JSONEq(t, want, string(gotJSON))
			})
		}
	})

	t.Run("ages out", func(t *testing.T) {
		sink := &lambda.MemorySink{}
		cfg := fastAsync()
		cfg.MaxEventAge = 40 * time.Millisecond
		cfg.RetryBackoff = []time.Duration{time.Hour}
		cfg.DeadLetter = sink
		f := deploy(t, rt, lambda.FunctionConfig{Name: "ages", Code: guest, Async: cfg})
		_, err := f.InvokeAsync(context.Background(), []byte(`{"op":"error","message":"old"}`))
		require.NoError(t, err)
		require.NoError(t, sink.WaitLen(waitCtx(t), 1))
		dl := sink.Letters()[0]
		require.Equal(t, lambda.ConditionEventAgeExceeded, dl.Condition)
		require.Equal(t, 1, dl.Attempts)
		require.Equal(t, "old", dl.ErrorMessage)
		// It failed when its age ran out, not after the hour.
		require.GreaterOrEqual(t, dl.DeadLetteredAt.Sub(dl.AcceptedAt), 40*time.Millisecond)
		require.Less(t, dl.DeadLetteredAt.Sub(dl.AcceptedAt), 10*time.Second)
		require.NoError(t, f.Close(context.Background()))
		require.Equal(t, int64(1), f.AsyncStats().Expired)
	})

	t.Run("a sink that fails and then recovers", func(t *testing.T) {
		mem := &lambda.MemorySink{}
		var calls atomic.Int32
		cfg := fastAsync()
		cfg.MaxRetryAttempts = lambda.Retries(0)
		cfg.DeadLetter = lambda.SinkFunc(func(ctx context.Context, dl *lambda.DeadLetter) error {
			if calls.Add(1) <= 3 {
				return errors.New("sink unavailable")
			}
			return mem.Send(ctx, dl)
		})
		f := deploy(t, rt, lambda.FunctionConfig{Name: "sinkflaps", Code: guest, Async: cfg})
		id, err := f.InvokeAsync(context.Background(), []byte(`{"op":"error","message":"x"}`))
		require.NoError(t, err)
		require.NoError(t, mem.WaitLen(waitCtx(t), 1))
		require.Equal(t, id, mem.Letters()[0].RequestID)
		require.NoError(t, f.Close(context.Background()))
		s := f.AsyncStats()
		require.Equal(t, int64(3), s.DeadLetterErrors)
		require.Equal(t, int32(4), calls.Load())
		require.Zero(t, s.Pending)
	})

	t.Run("a full queue", func(t *testing.T) {
		sink := &lambda.MemorySink{}
		cfg := fastAsync()
		cfg.QueueSize, cfg.Concurrency, cfg.DeadLetter = 2, 1, sink
		f := deploy(t, rt, lambda.FunctionConfig{Name: "full", Code: guest, Async: cfg})
		ok := newRecordSink()
		_ = ok
		for i := 0; i < 2; i++ {
			_, err := f.InvokeAsync(context.Background(), []byte(`{"op":"sleep","ms":200}`))
			require.NoError(t, err)
		}
		_, err := f.InvokeAsync(context.Background(), []byte(`{"op":"sleep","ms":1}`))
		require.ErrorIs(t, err, lambda.ErrQueueFull)
		require.ErrorIs(t, err, lambda.ErrThrottled)
		var se *lambda.ServiceError
		require.ErrorAs(t, err, &se)
		require.Equal(t, 429, se.StatusCode)
		require.Contains(t, se.Message, "QueueSize")
		require.NoError(t, f.Close(context.Background()))
		s := f.AsyncStats()
		require.Equal(t, int64(2), s.Succeeded)
		require.Equal(t, int64(1), s.Rejected)
		require.Zero(t, sink.Len())
	})
}

func TestAsyncThrottleBacksOff(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})
	ok := newRecordSink()
	cfg := fastAsync()
	cfg.OnSuccess = ok
	f := deploy(t, rt, lambda.FunctionConfig{Name: "throttled", Code: guest, MaxConcurrency: 1, ThrottleWhenBusy: true, Async: cfg})
	done := make(chan error)
	go func() {
		_, err := f.Invoke(context.Background(), []byte(`{"op":"sleep","ms":150}`))
		done <- err
	}()
	require.Eventually(t, func() bool { return f.Stats().InUse == 1 }, 10*time.Second, time.Millisecond)
	_, err := f.InvokeAsync(context.Background(), []byte(`{"op":"echo","data":1}`))
	require.NoError(t, err)
	require.NoError(t, <-done)
	recs := ok.Wait(t, 1)
	require.Equal(t, 1, recs[0].RequestContext.ApproximateInvokeCount)
	s := f.AsyncStats()
	require.GreaterOrEqual(t, s.Throttles, int64(1))
	require.Equal(t, int64(1), s.Attempts)
}

func TestAsyncRejectsBadInput(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})
	for _, tc := range []struct {
		name string
		cfg  lambda.AsyncConfig
		want string
	}{
		{"retries", lambda.AsyncConfig{MaxRetryAttempts: lambda.Retries(3)}, "MaxRetryAttempts 3: want 0 to 2, or negative for none"},
		{"age", lambda.AsyncConfig{MaxEventAge: 7 * time.Hour}, "MaxEventAge 7h0m0s"},
		{"backoff", lambda.AsyncConfig{RetryBackoff: []time.Duration{-1}}, "RetryBackoff[0]"},
		{"queue", lambda.AsyncConfig{QueueSize: -1}, "QueueSize -1"},
		{"throttle", lambda.AsyncConfig{ThrottleBackoffMin: time.Minute, ThrottleBackoffMax: time.Second}, "ThrottleBackoffMin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "bad", Code: guest, Async: tc.cfg})
			require.ErrorIs(t, err, lambda.ErrInvalidConfig)
			require.ErrorContains(t, err, tc.want)
		})
	}

	f := deploy(t, rt, lambda.FunctionConfig{Name: "inputs", Code: guest, Async: fastAsync()})
	c := f.Config()
	require.Equal(t, 2, *c.Async.MaxRetryAttempts)
	require.Equal(t, lambda.DefaultMaxEventAge, c.Async.MaxEventAge)
	require.Equal(t, lambda.DefaultAsyncPayloadLimit, c.Async.MaxPayloadBytes)

	big := append([]byte(`"`), append([]byte(strings.Repeat("x", lambda.DefaultAsyncPayloadLimit)), '"')...)
	_, err := f.InvokeAsync(context.Background(), big)
	require.ErrorIs(t, err, lambda.ErrPayloadTooLarge)
	require.ErrorContains(t, err, "1048576-byte limit")
	_, err = f.InvokeAsync(context.Background(), []byte(`{"op":`))
	require.ErrorIs(t, err, lambda.ErrInvalidRequestContent)
	require.Zero(t, f.AsyncStats().Accepted)

	require.NoError(t, f.Close(context.Background()))
	_, err = f.InvokeAsync(context.Background(), []byte(`{}`))
	require.ErrorIs(t, err, lambda.ErrClosed)
}

func TestAsyncCloseHandsQueuedEventsToTheSink(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})
	sink := &lambda.MemorySink{}
	ok := newRecordSink()
	cfg := fastAsync()
	cfg.Concurrency, cfg.DeadLetter, cfg.OnSuccess = 1, sink, ok
	f := deploy(t, rt, lambda.FunctionConfig{Name: "closing", Code: guest, Async: cfg})
	ids := map[string]bool{}
	for i := 0; i < 20; i++ {
		id, err := f.InvokeAsync(context.Background(), []byte(`{"op":"sleep","ms":20}`))
		require.NoError(t, err)
		ids[id] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	err := f.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	s := f.AsyncStats()
	require.Equal(t, int64(20), s.Succeeded+s.DeadLettered, "%+v", s)
	require.Positive(t, s.DeadLettered)
	require.Positive(t, s.Succeeded)
	seen := map[string]bool{}
	for _, dl := range sink.Letters() {
		require.Equal(t, lambda.ConditionShutdown, dl.Condition)
		seen[dl.RequestID] = true
	}
	for _, r := range ok.Wait(t, int(s.Succeeded)) {
		seen[r.RequestContext.RequestID] = true
	}
	require.Equal(t, ids, seen)
}

func TestAsyncDurableRecoversAfterRestart(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	state := t.TempDir()
	cfg := fastAsync()
	cfg.Concurrency = 1

	rt1, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), StateDir: state})
	require.NoError(t, err)
	f1 := deploy(t, rt1, lambda.FunctionConfig{Name: "durable", Code: guest, Async: cfg})
	ids := map[string]bool{}
	for i := 0; i < 10; i++ {
		id, err := f1.InvokeAsync(context.Background(), []byte(`{"op":"sleep","ms":30}`))
		require.NoError(t, err)
		ids[id] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, rt1.Close(ctx), context.DeadlineExceeded)
	s1 := f1.AsyncStats()
	require.Zero(t, s1.DeadLettered, "durable mode keeps unfinished events")
	require.Less(t, s1.Succeeded, int64(10))

	ok := newRecordSink()
	cfg.OnSuccess = ok
	rt2 := newRuntime(t, lambda.Options{StateDir: state})
	f2 := deploy(t, rt2, lambda.FunctionConfig{Name: "durable", Code: guest, Async: cfg})
	left := 10 - int(s1.Succeeded)
	require.Equal(t, int64(left), f2.AsyncStats().Recovered)
	recs := ok.Wait(t, left)
	for _, r := range recs {
		require.True(t, ids[r.RequestContext.RequestID], r.RequestContext.RequestID)
	}
	require.NoError(t, f2.Close(context.Background()))
	require.FileExists(t, filepath.Join(state, "async.db"))
}

func TestAsyncUndeliveredAtCloseAndRedrive(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	undelivered := filepath.Join(t.TempDir(), "undelivered.jsonl")
	rt := newRuntime(t, lambda.Options{UndeliveredFile: undelivered})
	cfg := fastAsync()
	cfg.MaxRetryAttempts = lambda.Retries(0)
	var calls atomic.Int32
	cfg.DeadLetter = lambda.SinkFunc(func(context.Context, *lambda.DeadLetter) error {
		calls.Add(1)
		return errors.New("sink down")
	})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "broken", Code: guest, Async: cfg})
	var ids []string
	for i := 0; i < 3; i++ {
		id, err := f.InvokeAsync(context.Background(), []byte(fmt.Sprintf(`{"op":"error","message":"bug %d","data":%d}`, i, i)))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	require.Eventually(t, func() bool { return f.AsyncStats().DeadLettered == 3 }, 10*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := f.Close(ctx)
	var uerr *lambda.UndeliveredError
	require.ErrorAs(t, err, &uerr)
	require.Equal(t, 3, uerr.DeadLetters)
	require.Equal(t, undelivered, uerr.Path)
	require.Equal(t, int64(3), f.AsyncStats().Undelivered)
	require.Positive(t, f.AsyncStats().DeadLetterErrors)

	letters, err := lambda.ReadDeadLetters(undelivered)
	require.NoError(t, err)
	require.Len(t, letters, 3)
	for _, dl := range letters {
		require.Contains(t, ids, dl.RequestID)
		require.Equal(t, "broken", dl.FunctionName)
	}

	// The bug is fixed: "error" now echoes. Replay the failures.
	fixed := deploy(t, rt, lambda.FunctionConfig{Name: "broken", Code: testguest.Go(t, "echo")})
	src, err := lambda.OpenFileSink(undelivered)
	require.NoError(t, err)
	defer src.Close()
	rep, err := fixed.Redrive(context.Background(), src, lambda.RedriveOptions{})
	require.NoError(t, err)
	require.ElementsMatch(t, ids, rep.Succeeded)
	require.Empty(t, rep.Failed)
	left, err := lambda.ReadDeadLetters(undelivered)
	require.NoError(t, err)
	require.Empty(t, left)
	data, err := os.ReadFile(undelivered)
	require.NoError(t, err)
	require.Empty(t, data)
}

func TestAsyncThrottledEventAgesOut(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})
	sink := &lambda.MemorySink{}
	cfg := fastAsync()
	cfg.MaxEventAge, cfg.DeadLetter = 60*time.Millisecond, sink
	f := deploy(t, rt, lambda.FunctionConfig{Name: "busy", Code: guest, MaxConcurrency: 1, ThrottleWhenBusy: true, Async: cfg})
	done := make(chan error)
	go func() {
		_, err := f.Invoke(context.Background(), []byte(`{"op":"sleep","ms":400}`))
		done <- err
	}()
	require.Eventually(t, func() bool { return f.Stats().InUse == 1 }, 10*time.Second, time.Millisecond)
	id, err := f.InvokeAsync(context.Background(), []byte(`{"op":"echo"}`))
	require.NoError(t, err)
	require.NoError(t, sink.WaitLen(waitCtx(t), 1))
	dl := sink.Letters()[0]
	require.Equal(t, id, dl.RequestID)
	require.Equal(t, lambda.ConditionEventAgeExceeded, dl.Condition)
	require.Equal(t, 429, dl.ErrorCode)
	require.Equal(t, "TooManyRequestsException", dl.ErrorType)
	require.Zero(t, dl.Attempts, "a throttle is not an attempt")
	require.True(t, dl.FirstAttemptAt.IsZero())
	require.NoError(t, <-done)
	s := f.AsyncStats()
	require.GreaterOrEqual(t, s.Throttles, int64(2), "retried with backoff while throttled")
	require.Zero(t, s.Attempts)
}

func TestAsyncDurableKeepsUndeliveredDeadLetters(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	state := t.TempDir()
	cfg := fastAsync()
	cfg.MaxRetryAttempts = lambda.Retries(0)
	cfg.DeadLetter = lambda.SinkFunc(func(context.Context, *lambda.DeadLetter) error { return errors.New("sink down") })

	rt1, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), StateDir: state})
	require.NoError(t, err)
	f1 := deploy(t, rt1, lambda.FunctionConfig{Name: "keeps", Code: guest, Async: cfg})
	event := []byte(`{"op":"error", "message":"kept"}`)
	id, err := f1.InvokeAsync(context.Background(), event)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return f1.AsyncStats().DeadLetterErrors > 0 }, 10*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	// The dead letter stays in the journal: nothing is undelivered.
	require.ErrorIs(t, rt1.Close(ctx), context.DeadlineExceeded)
	require.Zero(t, f1.AsyncStats().Undelivered)
	require.NoFileExists(t, filepath.Join(state, "undelivered.jsonl"))

	sink := &lambda.MemorySink{}
	cfg.DeadLetter = sink
	rt2 := newRuntime(t, lambda.Options{StateDir: state})
	f2 := deploy(t, rt2, lambda.FunctionConfig{Name: "keeps", Code: guest, Async: cfg})
	require.NoError(t, sink.WaitLen(waitCtx(t), 1))
	dl := sink.Letters()[0]
	require.Equal(t, id, dl.RequestID)
	require.Equal(t, event, dl.Payload, "the payload survives the journal byte for byte")
	require.Equal(t, "kept", dl.ErrorMessage)
	require.NoError(t, f2.Close(context.Background()))
	require.Zero(t, f2.AsyncStats().Pending)
	require.Zero(t, f2.AsyncStats().Recovered, "no event was left, only its dead letter")
}

func TestAsyncStateDirInUse(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	newRuntime(t, lambda.Options{StateDir: state})
	_, err := lambda.New(lambda.Options{StateDir: state})
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	require.ErrorContains(t, err, "in use by another process")
}

func TestAsyncEventAgesOutWaitingForASandbox(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})
	sink := &lambda.MemorySink{}
	cfg := fastAsync()
	cfg.MaxEventAge, cfg.DeadLetter = 50*time.Millisecond, sink
	// The pool waits for a sandbox rather than throttling.
	f := deploy(t, rt, lambda.FunctionConfig{Name: "waits", Code: guest, MaxConcurrency: 1, Async: cfg})
	done := make(chan error)
	var freed time.Time // when the sandbox came free
	go func() {
		_, err := f.Invoke(context.Background(), []byte(`{"op":"sleep","ms":2000}`))
		freed = time.Now()
		done <- err
	}()
	require.Eventually(t, func() bool { return f.Stats().InUse == 1 }, 10*time.Second, time.Millisecond)
	_, err := f.InvokeAsync(context.Background(), []byte(`{"op":"echo"}`))
	require.NoError(t, err)
	require.NoError(t, sink.WaitLen(waitCtx(t), 1))
	dl := sink.Letters()[0]
	require.Equal(t, lambda.ConditionEventAgeExceeded, dl.Condition)
	require.Zero(t, dl.Attempts)
	require.NoError(t, <-done)
	require.True(t, dl.DeadLetteredAt.Before(freed), "failed at its age (%v after acceptance), not when the sandbox came free (%v)",
		dl.DeadLetteredAt.Sub(dl.AcceptedAt), freed.Sub(dl.AcceptedAt))
}

func TestAsyncRecoveredDeliveriesFollowTheNewConfig(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	state := t.TempDir()
	down := func(context.Context, *lambda.InvocationRecord) error { return errors.New("destination down") }
	cfg := fastAsync()
	cfg.MaxRetryAttempts = lambda.Retries(0)
	cfg.OnSuccess, cfg.OnFailure = lambda.DestinationFunc(down), lambda.DestinationFunc(down)

	rt1, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), StateDir: state})
	require.NoError(t, err)
	f1 := deploy(t, rt1, lambda.FunctionConfig{Name: "reconfigured", Code: guest, Async: cfg})
	_, err = f1.InvokeAsync(context.Background(), []byte(`{"op":"echo"}`))
	require.NoError(t, err)
	failID, err := f1.InvokeAsync(context.Background(), []byte(`{"op":"error","message":"m"}`))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return f1.AsyncStats().DestinationErrors >= 2 }, 10*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, rt1.Close(ctx), context.DeadlineExceeded)

	// Redeployed without destinations: the success record is dropped, and
	// the failure's dead letter takes the dead-letter path.
	sink := &lambda.MemorySink{}
	cfg.OnSuccess, cfg.OnFailure, cfg.DeadLetter = nil, nil, sink
	rt2 := newRuntime(t, lambda.Options{StateDir: state})
	f2 := deploy(t, rt2, lambda.FunctionConfig{Name: "reconfigured", Code: guest, Async: cfg})
	require.NoError(t, sink.WaitLen(waitCtx(t), 1))
	require.Equal(t, failID, sink.Letters()[0].RequestID)
	require.NoError(t, f2.Close(waitCtx(t)))
	require.Zero(t, f2.AsyncStats().Pending)
	require.Zero(t, f2.AsyncStats().DestinationErrors)
}

func TestAsyncRuntimeCloseWithDestinationsBetweenFunctions(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	undelivered := filepath.Join(t.TempDir(), "undelivered.jsonl")
	rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), UndeliveredFile: undelivered})
	require.NoError(t, err)
	got := newRecordSink()
	bcfg := fastAsync()
	bcfg.OnSuccess = got
	b := deploy(t, rt, lambda.FunctionConfig{Name: "b", Code: testguest.Go(t, "echo"), Async: bcfg})
	acfg := fastAsync()
	acfg.MaxRetryAttempts = lambda.Retries(0)
	acfg.OnSuccess = &lambda.FunctionDestination{Function: b}
	acfg.DeadLetter = &lambda.FunctionSink{Function: b}
	a := deploy(t, rt, lambda.FunctionConfig{Name: "a", Code: guest, Async: acfg})
	const n = 40
	for i := 0; i < n; i++ {
		op := `{"op":"echo","data":1}`
		if i%4 == 0 {
			op = `{"op":"error","message":"x"}`
		}
		_, err := a.InvokeAsync(context.Background(), []byte(op))
		require.NoError(t, err)
	}
	// Both close at once, a still holding events whose outcomes go to b.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = rt.Close(ctx)
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	sa, sb := a.AsyncStats(), b.AsyncStats()
	require.Equal(t, int64(n), sa.Succeeded+sa.DeadLettered)
	letters, rerr := lambda.ReadDeadLetters(undelivered)
	require.NoError(t, rerr)
	t.Logf("a: %+v\nb: %+v\nundelivered file: %d", sa, sb, len(letters))
	// Runtime.Close drains the two together: b takes every record and
	// dead letter a hands it while both close.
	require.Equal(t, int64(n), sb.Accepted)
	require.Equal(t, int64(n), sb.Succeeded)
	require.Zero(t, sa.Undelivered)
	require.Empty(t, letters)
	require.Len(t, got.Wait(t, n), n)
}
