package sqs_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// TestEventSourceLoad drains a queue of WASMLAMBDA_SQS_LOAD messages
// (100,000 with the value 1) through the event source mapping, in batches
// of up to 100 with a maximum concurrency of 8, and checks that every
// message is processed at least once and then deleted, that the queue is
// left empty and that no message is unaccounted for; it counts and logs
// the messages processed more than once. It runs only when the variable
// is set: it takes a while.
func TestEventSourceLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WASMLAMBDA_SQS_LOAD"))
	if n == 0 {
		t.Skip("set WASMLAMBDA_SQS_LOAD=1 (100,000 messages) or to a number of messages")
	}
	if n == 1 {
		n = 100_000
	}
	fx := newESFixture(t, lambda.FunctionConfig{})
	q := fx.queue(t, "load", sqs.QueueConfig{VisibilityTimeout: time.Second})
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf(`{"n":%d}`, i)
	}
	for i := 0; i < n; i += 1000 {
		esSend(t, q, esBodies(want[i:min(i+1000, n)]...)...)
	}
	es := &sqs.EventSource{Queue: q, BatchSize: 100, MaximumBatchingWindow: time.Second, MaximumConcurrency: 8, ReportBatchItemFailures: true}
	start := time.Now()
	att := fx.attach(t, "load", es)
	require.Eventually(t, func() bool { return q.Len() == 0 }, 10*time.Minute, 50*time.Millisecond)
	elapsed := time.Since(start)
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))

	// The queue is empty: nothing left, visible or in flight.
	require.Equal(t, 0, q.Len())
	left, err := q.Receive(testkit.WaitCtx(t), sqs.ReceiveOptions{MaxMessages: 10})
	require.NoError(t, err)
	require.Empty(t, left)

	// Every message was received (and its batch processed) at least once,
	// under one message ID, and nothing else was received.
	wanted := make(map[string]bool, n)
	for _, b := range want {
		wanted[b] = true
	}
	times := map[string]int{} // message ID → receives
	idOf := map[string]string{}
	for _, m := range q.Received() {
		require.True(t, wanted[m.Body], "received a message that was not sent: %q", m.Body)
		if id, ok := idOf[m.Body]; ok {
			require.Equal(t, id, m.MessageID, "one body under two message IDs")
		}
		idOf[m.Body] = m.MessageID
		times[m.MessageID]++
	}
	require.Len(t, times, n, "every message received")
	duplicates := 0
	for _, c := range times {
		duplicates += c - 1
	}

	// Every message was deleted, once: a later receive's handle deletes it.
	require.ElementsMatch(t, want, q.Deleted())
	s := es.Stats()
	t.Logf("%d messages in %v (%.0f/s), %d processed more than once: %+v", n, elapsed, float64(n)/elapsed.Seconds(), duplicates, s)
	require.Equal(t, int64(n), s.Deleted)
}
