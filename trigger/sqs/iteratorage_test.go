package sqs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// TestEventSourceReportsIteratorAge checks that the event source reports
// each batch it receives to the observer (TriggerContext.ReportReceive):
// its records, and the age of its oldest message, from its SentTimestamp.
// The embedded queue's clock is set back while the messages are sent, so
// that they are two hours and one hour old, whatever the machine's speed.
func TestEventSourceReportsIteratorAge(t *testing.T) {
	var mu sync.Mutex
	var got []lambda.TriggerReceiveInfo
	obs := &lambda.Observer{TriggerReceive: func(_ context.Context, info lambda.TriggerReceiveInfo) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, info)
	}}
	rt := testkit.NewRuntime(t, lambda.Options{Region: "eu-west-1", AccountID: "111122223333", Observer: obs})
	fn := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "worker", Code: testguest.Go(t, "sqsbatch")})
	e := sqs.NewEmbedded(sqs.EmbeddedOptions{Region: "eu-west-1", Account: "111122223333"})
	t.Cleanup(func() { _ = e.Close() })
	q, err := e.CreateQueue("aged", sqs.QueueConfig{})
	require.NoError(t, err)

	sqs.AdvanceClock(e, -2*time.Hour)
	esSend(t, q, esBodies("older")...)
	sqs.AdvanceClock(e, time.Hour)
	esSend(t, q, esBodies("newer")...)
	sqs.AdvanceClock(e, time.Hour)

	// A batching window gathers both messages into one batch.
	start := time.Now()
	att, err := fn.Attach(testkit.WaitCtx(t), "aged-queue", &sqs.EventSource{Queue: q, MaximumBatchingWindow: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = att.Detach(context.Background()) })
	require.Eventually(t, func() bool { return q.Len() == 0 }, 60*time.Second, 5*time.Millisecond, "both messages processed and deleted")
	waited := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1, "one batch: %+v", got)
	info := got[0]
	require.Equal(t, "worker", info.Function)
	require.Equal(t, lambda.LatestVersion, info.Version)
	require.Equal(t, "aged-queue", info.Trigger)
	require.Equal(t, 2, info.Records)
	// The oldest message's age: two hours, plus the time the test took, to
	// the millisecond of SentTimestamp.
	require.GreaterOrEqual(t, info.IteratorAge, 2*time.Hour-time.Millisecond)
	require.LessOrEqual(t, info.IteratorAge, 2*time.Hour+waited+time.Minute)
}
