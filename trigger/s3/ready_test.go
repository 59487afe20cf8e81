package s3_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/s3"
)

// lateBucket is a bucket whose watches take a while to begin, as a
// goroutine scheduled late would.
type lateBucket struct{ b *s3.Bucket }

func (l lateBucket) Bucket() string { return l.b.Bucket() }

func (l lateBucket) Watch(ctx context.Context, deliver func(context.Context, s3.Change) error) error {
	return l.WatchReady(ctx, func() {}, deliver)
}

func (l lateBucket) WatchReady(ctx context.Context, ready func(), deliver func(context.Context, s3.Change) error) error {
	time.Sleep(100 * time.Millisecond)
	return l.b.WatchReady(ctx, ready, deliver)
}

// TestNotificationsStartWaitsForTheWatch checks that a change made as soon
// as Attach returns is notified: Start waits until the source's watch sees
// every later change.
func TestNotificationsStartWaitsForTheWatch(t *testing.T) {
	noLeaksAfter(t)
	fn := deployEcho(t)
	b, err := s3.NewBucket("photos", s3.BucketOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	n := &s3.Notifications{Source: lateBucket{b}, Rules: []s3.Rule{{Events: []string{"s3:ObjectCreated:*"}}}}
	att, err := fn.Attach(context.Background(), "n", n)
	require.NoError(t, err)
	_, err = b.Put(context.Background(), "at-once.jpg", strings.NewReader("x"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return n.Stats().Invoked == 1 }, time.Minute, 5*time.Millisecond,
		"the change made right after Attach is notified")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
}

// TestNotificationsStopReportsUndelivered checks that changes the bucket
// still held for the watch when the trigger stopped are named in Stop's
// error, not dropped in silence: here the function is closed, so every
// InvokeAsync is refused and each change waits to be offered again.
func TestNotificationsStopReportsUndelivered(t *testing.T) {
	noLeaksAfter(t)
	rt := testkit.NewRuntime(t, lambda.Options{})
	fn := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "echo", Code: testguest.Go(t, "echo"), Async: lambda.AsyncConfig{QueueSize: 1}})
	b, err := s3.NewBucket("photos", s3.BucketOptions{RetryDelay: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	n := &s3.Notifications{Source: b, Rules: []s3.Rule{{Events: []string{"s3:ObjectCreated:*"}}}}
	_, err = fn.Attach(context.Background(), "n", n)
	require.NoError(t, err)
	// Fill the function's one-event queue with slow work so that the
	// trigger's InvokeAsync is refused.
	for _, key := range []string{"a.jpg", "b.jpg", "c.jpg", "d.jpg"} {
		_, err = b.Put(context.Background(), key, strings.NewReader("x"))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return n.Stats().Refused > 0 }, time.Minute, 5*time.Millisecond)
	err = n.Stop(testkit.WaitCtx(t))
	require.ErrorIs(t, err, s3.ErrUndelivered)
	require.ErrorContains(t, err, "ObjectCreated:Put")
}
