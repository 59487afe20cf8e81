package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

func TestFileSinkRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dlq", "letters.jsonl")
	sink, err := lambda.OpenFileSink(path)
	require.NoError(t, err)
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	letters := []lambda.DeadLetter{
		{RequestID: "compact", Payload: []byte(`{"order":42,"note":"<&>"}`)},
		{RequestID: "pretty", Payload: []byte("{\n  \"order\": 43\n}\n")},
		{RequestID: "empty"},
		{RequestID: "binary", Payload: []byte{0xff, 0x00, '\n'}},
	}
	for i := range letters {
		letters[i].FunctionName, letters[i].Condition, letters[i].ErrorCode = "orders", lambda.ConditionRetriesExhausted, 200
		letters[i].AcceptedAt, letters[i].DeadLetteredAt = at, at.Add(time.Minute)
		require.NoError(t, sink.Send(context.Background(), &letters[i]))
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, lines, 4, "one dead letter per line")
	// A compact JSON event is kept as it was sent, readable in place.
	require.Contains(t, lines[0], `"payload":{"order":42,"note":"<&>"}`)
	require.Contains(t, lines[1], `"payloadBase64":`)
	require.Contains(t, lines[2], `"payload":null`)
	require.NotContains(t, lines[0], "firstAttemptAt", "a zero time is left out")

	got, err := sink.DeadLetters(context.Background())
	require.NoError(t, err)
	require.Len(t, got, 4)
	for i := range letters {
		require.Equal(t, letters[i].RequestID, got[i].RequestID)
		require.Equal(t, letters[i].Payload, got[i].Payload, letters[i].RequestID)
		require.True(t, letters[i].AcceptedAt.Equal(got[i].AcceptedAt))
	}

	// Another sink on the same file, as Redrive from the undelivered file
	// uses, replaces the file: this one follows it.
	other, err := lambda.OpenFileSink(path)
	require.NoError(t, err)
	require.NoError(t, other.Remove(context.Background(), "pretty", "binary"))
	require.NoError(t, other.Close())
	require.NoError(t, sink.Send(context.Background(), &lambda.DeadLetter{RequestID: "after"}))
	got, err = lambda.ReadDeadLetters(path)
	require.NoError(t, err)
	var ids []string
	for _, dl := range got {
		ids = append(ids, dl.RequestID)
	}
	require.Equal(t, []string{"compact", "empty", "after"}, ids)
	require.NoError(t, sink.Close())
	require.Error(t, sink.Send(context.Background(), &lambda.DeadLetter{RequestID: "closed"}))

	// A crash in the middle of a write leaves a torn last line: skipped.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"requestId":"torn","paylo`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	got, err = lambda.ReadDeadLetters(path)
	require.NoError(t, err)
	require.Len(t, got, 3)
	// Reopened, the sink cuts the torn line off before it appends.
	sink, err = lambda.OpenFileSink(path)
	require.NoError(t, err)
	require.NoError(t, sink.Send(context.Background(), &lambda.DeadLetter{RequestID: "resent"}))
	require.NoError(t, sink.Close())
	got, err = lambda.ReadDeadLetters(path)
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.Equal(t, "resent", got[3].RequestID)

	// A bad line in the middle is an error naming the line.
	require.NoError(t, os.WriteFile(path, []byte("{\"requestId\":\"a\"}\nnot json\n{}\n"), 0o600))
	_, err = lambda.ReadDeadLetters(path)
	require.ErrorContains(t, err, "letters.jsonl:2")

	none, err := lambda.ReadDeadLetters(filepath.Join(t.TempDir(), "missing.jsonl"))
	require.NoError(t, err)
	require.Empty(t, none)
}

func TestDeadLetterMessageTruncatedTo1KB(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})
	sink := &lambda.MemorySink{}
	q := &fakeQueue{}
	cfg := fastAsync()
	cfg.MaxRetryAttempts = lambda.Retries(0)
	cfg.DeadLetter = sink
	f := deploy(t, rt, lambda.FunctionConfig{Name: "long", Code: guest, Async: cfg})
	// 1023 ASCII bytes then 'é' (2 bytes) straddling the 1 KB mark.
	msg := strings.Repeat("a", 1023) + "é" + strings.Repeat("b", 500)
	ev, _ := json.Marshal(map[string]string{"op": "error", "message": msg})
	_, err := f.InvokeAsync(context.Background(), ev)
	require.NoError(t, err)
	require.NoError(t, sink.WaitLen(waitCtx(t), 1))
	dl := sink.Letters()[0]
	require.Equal(t, strings.Repeat("a", 1023), dl.ErrorMessage, "cut on a character boundary")

	// Sent on to a queue as AWS sends it to an SQS dead-letter queue.
	require.NoError(t, (&lambda.QueueSink{Queue: q}).Send(context.Background(), &dl))
	require.Len(t, q.msgs, 1)
	m := q.msgs[0]
	require.Equal(t, string(ev), m.Body)
	require.Equal(t, map[string]lambda.MessageAttribute{
		"RequestID":    {DataType: "String", StringValue: dl.RequestID},
		"ErrorCode":    {DataType: "Number", StringValue: "200"},
		"ErrorMessage": {DataType: "String", StringValue: strings.Repeat("a", 1023)},
	}, m.Attributes)
}

// fakeQueue is a QueueSender that keeps what it is sent, and fails while
// down is set.
type fakeQueue struct {
	mu   sync.Mutex
	msgs []lambda.QueueMessage
	down atomic.Bool
}

func (q *fakeQueue) SendMessage(_ context.Context, m lambda.QueueMessage) (string, error) {
	if q.down.Load() {
		return "", errors.New("queue unavailable")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, m)
	return "m" + string(rune('0'+len(q.msgs))), nil
}

func (q *fakeQueue) messages() []lambda.QueueMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]lambda.QueueMessage(nil), q.msgs...)
}

func TestSinksAndDestinationsOfEachKind(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})

	// The function that receives dead letters and records keeps what it
	// is sent, through its own on-success destination.
	received := newRecordSink()
	rcfg := fastAsync()
	rcfg.OnSuccess = received
	receiver := deploy(t, rt, lambda.FunctionConfig{Name: "receiver", Code: testguest.Go(t, "echo"), Async: rcfg})

	q := &fakeQueue{}
	q.down.Store(true) // the queue is down at first: deliveries retry
	var panicked atomic.Bool
	cfg := fastAsync()
	cfg.MaxRetryAttempts = lambda.Retries(0)
	cfg.DeadLetter = &lambda.FunctionSink{Function: receiver}
	cfg.OnFailure = &lambda.QueueDestination{Queue: q}
	cfg.OnSuccess = lambda.DestinationFunc(func(context.Context, *lambda.InvocationRecord) error {
		if !panicked.Swap(true) {
			panic("destination bug")
		}
		return nil
	})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "sender", Code: guest, Async: cfg})
	failID, err := f.InvokeAsync(context.Background(), []byte(`{"op":"error","message":"nope"}`))
	require.NoError(t, err)
	_, err = f.InvokeAsync(context.Background(), []byte(`{"op":"echo","data":"fine"}`))
	require.NoError(t, err)

	// The dead letter arrives at the receiver as DeadLetter JSON.
	recs := received.Wait(t, 1)
	var dl lambda.DeadLetter
	require.NoError(t, json.Unmarshal(recs[0].RequestPayload, &dl))
	require.Equal(t, failID, dl.RequestID)
	require.Equal(t, "nope", dl.ErrorMessage)
	require.JSONEq(t, `{"op":"error","message":"nope"}`, string(dl.Payload))

	require.Eventually(t, func() bool { return f.AsyncStats().DestinationErrors >= 3 }, 10*time.Second, time.Millisecond)
	q.down.Store(false)
	require.Eventually(t, func() bool { return len(q.messages()) == 1 }, 10*time.Second, time.Millisecond)
	var rec lambda.InvocationRecord
	require.NoError(t, json.Unmarshal([]byte(q.messages()[0].Body), &rec))
	require.Equal(t, failID, rec.RequestContext.RequestID)
	require.Equal(t, lambda.ConditionRetriesExhausted, rec.RequestContext.Condition)
	require.Equal(t, "Unhandled", rec.ResponseContext.FunctionError)
	require.WithinDuration(t, time.Now(), rec.Timestamp, time.Minute)

	require.NoError(t, f.Close(context.Background()))
	require.True(t, panicked.Load())
	s := f.AsyncStats()
	require.Zero(t, s.Pending)
	require.Equal(t, int64(1), s.Succeeded)
	require.Equal(t, int64(1), s.DeadLettered)
}

func TestMemorySinkReplacesResentLetters(t *testing.T) {
	var s lambda.MemorySink
	ctx := context.Background()
	require.NoError(t, s.Send(ctx, &lambda.DeadLetter{RequestID: "a", Attempts: 1}))
	require.NoError(t, s.Send(ctx, &lambda.DeadLetter{RequestID: "b"}))
	require.NoError(t, s.Send(ctx, &lambda.DeadLetter{RequestID: "a", Attempts: 2}))
	got := s.Letters()
	require.Len(t, got, 2)
	require.Equal(t, 2, got[0].Attempts)
	require.NoError(t, s.Remove(ctx, "a"))
	require.NoError(t, s.Send(ctx, &lambda.DeadLetter{RequestID: "b", Attempts: 5}))
	got = s.Letters()
	require.Len(t, got, 1)
	require.Equal(t, 5, got[0].Attempts)

	wctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.WaitLen(wctx, 2), context.DeadlineExceeded)
}
