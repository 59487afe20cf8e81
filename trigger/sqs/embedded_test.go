package sqs_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/sqs"
	"github.com/wasmlambda/lambda/trigger/sqs/internal/suite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	_ sqs.Queue          = (*sqs.EmbeddedQueue)(nil)
	_ lambda.QueueSender = (*sqs.EmbeddedQueue)(nil)
)

// embeddedFactory makes queues in one Embedded per test, kept in a state
// directory if persistent.
func embeddedFactory(persistent bool) suite.Factory {
	var mu sync.Mutex
	perTest := map[*testing.T]*sqs.Embedded{}
	return func(t *testing.T, name string, cfg sqs.QueueConfig) sqs.Queue {
		mu.Lock()
		e := perTest[t]
		if e == nil {
			e = sqs.NewEmbedded(sqs.EmbeddedOptions{})
			if persistent {
				var err error
				e, err = sqs.OpenEmbedded(t.TempDir(), sqs.EmbeddedOptions{})
				require.NoError(t, err)
			}
			perTest[t] = e
			t.Cleanup(func() {
				require.NoError(t, e.Close())
				mu.Lock()
				delete(perTest, t)
				mu.Unlock()
			})
		}
		mu.Unlock()
		q, err := e.CreateQueue(name, cfg)
		require.NoError(t, err)
		return q
	}
}

func TestEmbeddedSemantics(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		suite.Run(t, suite.Target{New: embeddedFactory(false)})
	})
	t.Run("state directory", func(t *testing.T) {
		suite.Run(t, suite.Target{New: embeddedFactory(true)})
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newEmbedded(t *testing.T) *sqs.Embedded {
	e := sqs.NewEmbedded(sqs.EmbeddedOptions{Region: "eu-west-1", Account: "111122223333"})
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestCreateQueueValidation(t *testing.T) {
	tests := []struct {
		name, queue string
		cfg         sqs.QueueConfig
		want        string
	}{
		{"fifo name", "q", sqs.QueueConfig{FIFO: true}, "must end in .fifo"},
		{"standard .fifo", "q.fifo", sqs.QueueConfig{}, "is not FIFO"},
		{"bad chars", "a b", sqs.QueueConfig{}, "letters, digits"},
		{"empty", "", sqs.QueueConfig{}, "1 to 80"},
		{"visibility", "q", sqs.QueueConfig{VisibilityTimeout: 13 * time.Hour}, "visibility timeout"},
		{"delay", "q", sqs.QueueConfig{Delay: 16 * time.Minute}, "delay"},
		{"wait", "q", sqs.QueueConfig{ReceiveWaitTime: 21 * time.Second}, "wait time"},
		{"retention", "q", sqs.QueueConfig{RetentionPeriod: time.Second}, "retention"},
		{"size", "q", sqs.QueueConfig{MaximumMessageSize: 10}, "maximum message size"},
		{"content dedup on standard", "q", sqs.QueueConfig{ContentBasedDeduplication: true}, "FIFO"},
		{"missing dlq", "q", sqs.QueueConfig{RedrivePolicy: &sqs.RedrivePolicy{DeadLetterQueue: "nope", MaxReceiveCount: 1}}, "does not exist"},
		{"max receive", "q", sqs.QueueConfig{RedrivePolicy: &sqs.RedrivePolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 0}}, "maxReceiveCount"},
		{"dlq kind", "q.fifo", sqs.QueueConfig{FIFO: true, RedrivePolicy: &sqs.RedrivePolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 1}}, "same kind"},
		{"exists", "dlq", sqs.QueueConfig{VisibilityTimeout: time.Minute}, "already exists"},
	}
	e := newEmbedded(t)
	_, err := e.CreateQueue("dlq", sqs.QueueConfig{})
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.CreateQueue(tt.queue, tt.cfg)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestEmbeddedIdentity(t *testing.T) {
	e := newEmbedded(t)
	q, err := e.CreateQueue("orders", sqs.QueueConfig{})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:sqs:eu-west-1:111122223333:orders", q.ARN())
	require.Equal(t, "orders", q.Name())
	require.Same(t, q, e.Queue("orders"))
	again, err := e.CreateQueue("orders", sqs.QueueConfig{VisibilityTimeout: 30 * time.Second})
	require.NoError(t, err, "creating a queue again with the same attributes returns it, as SQS does")
	require.Same(t, q, again)
	require.Nil(t, e.Queue("other"))
	_, _, err = q.Send(ctxT(t), []sqs.SendEntry{{Body: "x"}})
	require.NoError(t, err)
	ms, err := q.Receive(ctxT(t), sqs.ReceiveOptions{})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, "111122223333", ms[0].Attributes[sqs.AttrSenderID])
	require.NotContains(t, ms[0].Attributes, sqs.AttrSequenceNumber)
}

func TestSendValidation(t *testing.T) {
	e := newEmbedded(t)
	std, err := e.CreateQueue("std", sqs.QueueConfig{})
	require.NoError(t, err)
	fifo, err := e.CreateQueue("f.fifo", sqs.QueueConfig{FIFO: true})
	require.NoError(t, err)
	small, err := e.CreateQueue("small", sqs.QueueConfig{MaximumMessageSize: 1024})
	require.NoError(t, err)
	tests := []struct {
		name  string
		q     *sqs.EmbeddedQueue
		entry sqs.SendEntry
		code  string
	}{
		{"empty body", std, sqs.SendEntry{}, sqs.CodeMissingParameter},
		{"group on standard", std, sqs.SendEntry{Body: "x", MessageGroupID: "g"}, sqs.CodeInvalidParameterValue},
		{"negative delay", std, sqs.SendEntry{Body: "x", Delay: -time.Second}, sqs.CodeInvalidParameterValue},
		{"long delay", std, sqs.SendEntry{Body: "x", Delay: 16 * time.Minute}, sqs.CodeInvalidParameterValue},
		{"no group on fifo", fifo, sqs.SendEntry{Body: "x", MessageDeduplicationID: "d"}, sqs.CodeMissingParameter},
		{"no dedup on fifo", fifo, sqs.SendEntry{Body: "x", MessageGroupID: "g"}, sqs.CodeInvalidParameterValue},
		{"delay on fifo", fifo, sqs.SendEntry{Body: "x", MessageGroupID: "g", MessageDeduplicationID: "d", Delay: time.Second}, sqs.CodeInvalidParameterValue},
		{"over the queue's limit", small, sqs.SendEntry{Body: strings.Repeat("x", 1025)}, sqs.CodeMessageTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent, failed, err := tt.q.Send(ctxT(t), []sqs.SendEntry{tt.entry})
			require.NoError(t, err)
			require.Empty(t, sent)
			require.Len(t, failed, 1)
			require.Equal(t, "0", failed[0].ID)
			require.Equal(t, tt.code, failed[0].Code)
		})
	}
	_, _, err = std.Send(ctxT(t), []sqs.SendEntry{{ID: "x", Body: "a"}, {ID: "x", Body: "b"}})
	require.ErrorContains(t, err, "BatchEntryIdsNotDistinct")
	_, err = fifo.SendMessage(ctxT(t), lambda.QueueMessage{Body: "x"})
	require.ErrorContains(t, err, "standard queue")
	_, err = std.SendMessage(ctxT(t), lambda.QueueMessage{Body: strings.Repeat("x", 300*1024)})
	require.ErrorIs(t, err, sqs.ErrMessageTooLong)
}

func TestReceiveBlocksUntilVisible(t *testing.T) {
	// A long poll wakes when an in-flight message's visibility ends, not
	// only when a message is sent.
	e := newEmbedded(t)
	q, err := e.CreateQueue("q", sqs.QueueConfig{VisibilityTimeout: time.Second})
	require.NoError(t, err)
	_, err = q.SendMessage(ctxT(t), lambda.QueueMessage{Body: "x"})
	require.NoError(t, err)
	ms, err := q.Receive(ctxT(t), sqs.ReceiveOptions{})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	ms, err = q.Receive(ctxT(t), sqs.ReceiveOptions{WaitTime: 20 * time.Second})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, "2", ms[0].Attributes[sqs.AttrApproximateReceiveCount])
}

func TestReceiveContextAndClose(t *testing.T) {
	e := newEmbedded(t)
	q, err := e.CreateQueue("q", sqs.QueueConfig{})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := q.Receive(ctx, sqs.ReceiveOptions{WaitTime: 20 * time.Second})
		done <- err
	}()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	go func() {
		_, err := q.Receive(context.Background(), sqs.ReceiveOptions{WaitTime: 20 * time.Second})
		done <- err
	}()
	require.NoError(t, e.Close())
	require.ErrorIs(t, <-done, sqs.ErrClosed)
	_, _, err = q.Send(ctxT(t), []sqs.SendEntry{{Body: "x"}})
	require.ErrorIs(t, err, sqs.ErrClosed)
}

func TestReceiveOptionsValidation(t *testing.T) {
	e := newEmbedded(t)
	q, err := e.CreateQueue("q", sqs.QueueConfig{})
	require.NoError(t, err)
	for _, opts := range []sqs.ReceiveOptions{
		{MaxMessages: -1},
		{WaitTime: 21 * time.Second},
		{VisibilityTimeout: 13 * time.Hour},
	} {
		_, err := q.Receive(ctxT(t), opts)
		require.Error(t, err, "%+v", opts)
	}
}

func TestChangeVisibilityNotInFlight(t *testing.T) {
	e := newEmbedded(t)
	q, err := e.CreateQueue("q", sqs.QueueConfig{})
	require.NoError(t, err)
	_, err = q.SendMessage(ctxT(t), lambda.QueueMessage{Body: "x"})
	require.NoError(t, err)
	ms, err := q.Receive(ctxT(t), sqs.ReceiveOptions{VisibilityTimeout: time.Second})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	time.Sleep(1500 * time.Millisecond) // the visibility timeout ends
	failed, err := q.ChangeVisibility(ctxT(t), []sqs.VisibilityEntry{{ReceiptHandle: ms[0].ReceiptHandle, VisibilityTimeout: time.Minute}})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, sqs.CodeMessageNotInflight, failed[0].Code)
	// The latest receipt handle still deletes a message whose visibility
	// ended, as on SQS.
	failed, err = q.Delete(ctxT(t), []sqs.DeleteEntry{{ReceiptHandle: ms[0].ReceiptHandle}})
	require.NoError(t, err)
	require.Empty(t, failed)
	require.Equal(t, 0, q.Len())
}

func TestRetention(t *testing.T) {
	tests := []struct {
		name      string
		retention time.Duration
		advance   time.Duration
		kept      bool
	}{
		{"default keeps 4 days less a minute", 0, 4*24*time.Hour - time.Minute, true},
		{"default drops after 4 days", 0, 4*24*time.Hour + time.Minute, false},
		{"a minute", time.Minute, 2 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEmbedded(t)
			q, err := e.CreateQueue("q", sqs.QueueConfig{RetentionPeriod: tt.retention})
			require.NoError(t, err)
			_, err = q.SendMessage(ctxT(t), lambda.QueueMessage{Body: "x"})
			require.NoError(t, err)
			ms, err := q.Receive(ctxT(t), sqs.ReceiveOptions{VisibilityTimeout: time.Second})
			require.NoError(t, err)
			require.Len(t, ms, 1)
			sqs.AdvanceClock(e, tt.advance)
			ms2, err := q.Receive(ctxT(t), sqs.ReceiveOptions{})
			require.NoError(t, err)
			if tt.kept {
				require.Len(t, ms2, 1)
				require.Equal(t, 1, q.Len())
				return
			}
			require.Empty(t, ms2)
			require.Equal(t, 0, q.Len())
			// Its receipt handle is gone with it.
			failed, err := q.Delete(ctxT(t), []sqs.DeleteEntry{{ReceiptHandle: ms[0].ReceiptHandle}})
			require.NoError(t, err)
			require.Len(t, failed, 1)
		})
	}
}

func TestDeduplicationInterval(t *testing.T) {
	e := newEmbedded(t)
	q, err := e.CreateQueue("q.fifo", sqs.QueueConfig{FIFO: true, ContentBasedDeduplication: true})
	require.NoError(t, err)
	send := func() string {
		sent, failed, err := q.Send(ctxT(t), []sqs.SendEntry{{Body: "same", MessageGroupID: "g"}})
		require.NoError(t, err)
		require.Empty(t, failed)
		return sent[0].MessageID
	}
	first := send()
	sqs.AdvanceClock(e, 4*time.Minute)
	require.Equal(t, first, send(), "within 5 minutes")
	sqs.AdvanceClock(e, 2*time.Minute)
	require.NotEqual(t, first, send(), "after 5 minutes")
	require.Equal(t, 2, q.Len())
}

func TestConcurrentConsumers(t *testing.T) {
	// Many consumers share a queue: each message is delivered once (the
	// visibility timeout outlasts the test) and every one is deleted.
	t.Run("memory", func(t *testing.T) { testConcurrentConsumers(t, newEmbedded(t)) })
	t.Run("state directory", func(t *testing.T) {
		e, err := sqs.OpenEmbedded(t.TempDir(), sqs.EmbeddedOptions{})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, e.Close()) })
		testConcurrentConsumers(t, e)
	})
}

func testConcurrentConsumers(t *testing.T, e *sqs.Embedded) {
	q, err := e.CreateQueue("q", sqs.QueueConfig{VisibilityTimeout: time.Hour})
	require.NoError(t, err)
	const n = 200
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range n / 4 {
				_, _, err := q.Send(ctxT(t), []sqs.SendEntry{{Body: string(rune('a'+i)) + string(rune('a'+j%26))}})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if len(seen) == n {
					mu.Unlock()
					return
				}
				mu.Unlock()
				ms, err := q.Receive(ctxT(t), sqs.ReceiveOptions{MaxMessages: 7, WaitTime: time.Second})
				if err != nil {
					t.Error(err)
					return
				}
				var del []sqs.DeleteEntry
				mu.Lock()
				for _, m := range ms {
					if seen[m.MessageID] {
						t.Errorf("message %s delivered twice", m.MessageID)
					}
					seen[m.MessageID] = true
					del = append(del, sqs.DeleteEntry{ID: m.MessageID, ReceiptHandle: m.ReceiptHandle})
				}
				mu.Unlock()
				if len(del) > 0 {
					failed, err := q.Delete(ctxT(t), del)
					if err != nil || len(failed) > 0 {
						t.Error(err, failed)
					}
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 0, q.Len())
}

func TestRedriveKeepsFIFOOrder(t *testing.T) {
	e := newEmbedded(t)
	_, err := e.CreateQueue("dlq.fifo", sqs.QueueConfig{FIFO: true})
	require.NoError(t, err)
	q, err := e.CreateQueue("q.fifo", sqs.QueueConfig{FIFO: true, RedrivePolicy: &sqs.RedrivePolicy{DeadLetterQueue: "dlq.fifo", MaxReceiveCount: 1}})
	require.NoError(t, err)
	_, failed, err := q.Send(ctxT(t), []sqs.SendEntry{
		{ID: "1", Body: "one", MessageGroupID: "g", MessageDeduplicationID: "1"},
		{ID: "2", Body: "two", MessageGroupID: "g", MessageDeduplicationID: "2"},
	})
	require.NoError(t, err)
	require.Empty(t, failed)
	ms, err := q.Receive(ctxT(t), sqs.ReceiveOptions{MaxMessages: 10, VisibilityTimeout: time.Second})
	require.NoError(t, err)
	require.Len(t, ms, 2)
	// Both come back after a second and are moved, in order.
	ms, err = q.Receive(ctxT(t), sqs.ReceiveOptions{MaxMessages: 10, WaitTime: 3 * time.Second})
	require.NoError(t, err)
	require.Empty(t, ms)
	require.Eventually(t, func() bool { return e.Queue("dlq.fifo").Len() == 2 }, 10*time.Second, 50*time.Millisecond)
	ms, err = e.Queue("dlq.fifo").Receive(ctxT(t), sqs.ReceiveOptions{MaxMessages: 10})
	require.NoError(t, err)
	require.Len(t, ms, 2)
	require.Equal(t, "one", ms[0].Body)
	require.Equal(t, "two", ms[1].Body)
	require.False(t, errors.Is(err, sqs.ErrClosed))
}

func TestRedriveWakesDeadLetterPoll(t *testing.T) {
	// A long poll on the dead-letter queue returns when a receive on the
	// source moves a message there, though that receive returns nothing.
	e := newEmbedded(t)
	dlq, err := e.CreateQueue("dlq", sqs.QueueConfig{})
	require.NoError(t, err)
	q, err := e.CreateQueue("q", sqs.QueueConfig{RedrivePolicy: &sqs.RedrivePolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 1}})
	require.NoError(t, err)
	_, err = q.SendMessage(ctxT(t), lambda.QueueMessage{Body: "x"})
	require.NoError(t, err)
	ms, err := q.Receive(ctxT(t), sqs.ReceiveOptions{})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	failed, err := q.ChangeVisibility(ctxT(t), []sqs.VisibilityEntry{{ReceiptHandle: ms[0].ReceiptHandle}})
	require.NoError(t, err)
	require.Empty(t, failed)

	type result struct {
		ms  []sqs.Message
		err error
		dur time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		ms, err := dlq.Receive(ctxT(t), sqs.ReceiveOptions{WaitTime: 20 * time.Second})
		done <- result{ms, err, time.Since(start)}
	}()
	time.Sleep(200 * time.Millisecond) // let the poll start; a late start only weakens the check
	ms, err = q.Receive(ctxT(t), sqs.ReceiveOptions{})
	require.NoError(t, err)
	require.Empty(t, ms)
	r := <-done
	require.NoError(t, r.err)
	require.Len(t, r.ms, 1)
	require.Less(t, r.dur, 15*time.Second)
}
