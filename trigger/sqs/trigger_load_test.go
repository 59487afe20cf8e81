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
// of up to 100 on 4 pollers, and checks that every message is deleted
// exactly once. It runs only when the variable is set: it takes a while.
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
	es := &sqs.EventSource{Queue: q, BatchSize: 100, MaximumBatchingWindow: time.Second, MaximumConcurrency: 4, ReportBatchItemFailures: true}
	start := time.Now()
	att := fx.attach(t, "load", es)
	require.Eventually(t, func() bool { return q.Len() == 0 }, 10*time.Minute, 50*time.Millisecond)
	elapsed := time.Since(start)
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	require.ElementsMatch(t, want, q.Deleted())
	s := es.Stats()
	t.Logf("%d messages in %v (%.0f/s): %+v", n, elapsed, float64(n)/elapsed.Seconds(), s)
	require.Equal(t, int64(n), s.Deleted)
}
