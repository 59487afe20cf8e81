package s3_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/s3"
)

// noLeaksAfter fails the test if it leaves goroutines behind. Call it first:
// cleanups run last in, first out, so its check runs after the test's
// other cleanups (the runtime's Close among them).
func noLeaksAfter(t *testing.T) {
	t.Helper()
	opts := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opts) })
}

// changeFeed is a Source fed by a channel, as a bucket's watcher: it
// offers each change until deliver accepts it, a millisecond apart, and
// keeps what it could not hand on when its Watch ended.
type changeFeed struct {
	bucket string
	in     chan s3.Change

	mu        sync.Mutex
	offers    int
	refusals  int
	delivered []s3.Change
	left      []s3.Change // taken, and not accepted when Watch ended
}

var _ s3.Source = (*changeFeed)(nil)

func newChangeFeed(bucket string) *changeFeed {
	return &changeFeed{bucket: bucket, in: make(chan s3.Change, 1000)}
}

func (f *changeFeed) Bucket() string { return f.bucket }

func (f *changeFeed) Watch(ctx context.Context, deliver func(context.Context, s3.Change) error) error {
	for {
		var c s3.Change
		select {
		case c = <-f.in:
		case <-ctx.Done():
			return ctx.Err()
		}
		for {
			err := deliver(ctx, c)
			f.mu.Lock()
			f.offers++
			if err == nil {
				f.delivered = append(f.delivered, c)
				f.mu.Unlock()
				break
			}
			f.refusals++
			f.mu.Unlock()
			t := time.NewTimer(time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				f.mu.Lock()
				f.left = append(f.left, c)
				f.mu.Unlock()
				return ctx.Err()
			}
		}
	}
}

func (f *changeFeed) counts() (offers, refusals, delivered, left int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.offers, f.refusals, len(f.delivered), len(f.left)
}

// guestAnswer is the s3event guest's response.
type guestAnswer struct {
	Bucket          string `json:"bucket"`
	Key             string `json:"key"`
	Event           string `json:"event"`
	ConfigurationID string `json:"configurationId"`
	Sequencer       string `json:"sequencer"`
	Records         int    `json:"records"`
}

// TestNotificationsAtLeastOnce runs changes through a Notifications into a
// real guest that fails some of them, with a queue small enough that
// InvokeAsync refuses some, and checks that every change a rule matches
// reached the function and ended in its success or its failure
// destination, once, with nothing lost.
func TestNotificationsAtLeastOnce(t *testing.T) {
	noLeaksAfter(t)
	rt := testkit.NewRuntime(t, lambda.Options{Region: "eu-west-1", AccountID: "111122223333"})
	ok, failed := testkit.NewRecordSink(), testkit.NewRecordSink()
	async := testkit.FastAsync()
	async.QueueSize = 2 // refusals: the source must offer changes again
	async.OnSuccess, async.OnFailure = ok, failed
	fn := testkit.Deploy(t, rt, lambda.FunctionConfig{
		Name:           "worker",
		Code:           testguest.Go(t, "s3event"),
		MaxConcurrency: 1, // the guest counts "flaky" attempts in its sandbox
		Async:          async,
	})

	src := newChangeFeed("uploads")
	n := &s3.Notifications{Source: src, Rules: []s3.Rule{
		{ID: "uploads", Events: []string{"s3:ObjectCreated:*"}, Prefix: "in/"},
		{ID: "removals", Events: []string{"s3:ObjectRemoved:*"}, Prefix: "in/"},
	}}
	att, err := fn.Attach(context.Background(), "uploads", n)
	require.NoError(t, err)

	type want struct {
		rule, event string
		fails       bool
	}
	wants := map[string]want{} // by key
	seq := 0
	send := func(event, key string, w *want) {
		seq++
		src.in <- s3.Change{Event: event, Key: key, Size: int64(len(key)), ETag: "0123456789abcdef0123456789abcdef", Sequencer: fmt.Sprintf("%018X", seq)}
		if w != nil {
			wants[key] = *w
		}
	}
	for i := range 2 {
		send(s3.ObjectCreatedPut, fmt.Sprintf("in/slow-%d.txt", i), &want{"uploads", s3.ObjectCreatedPut, false})
	}
	for i := range 10 {
		send(s3.ObjectCreatedPut, fmt.Sprintf("in/ok-%d.txt", i), &want{"uploads", s3.ObjectCreatedPut, false})
	}
	for i := range 4 {
		send(s3.ObjectCreatedCopy, fmt.Sprintf("in/fail-%d.txt", i), &want{"uploads", s3.ObjectCreatedCopy, true})
		send(s3.ObjectCreatedCompleteMultipartUpload, fmt.Sprintf("in/flaky-%d.txt", i), &want{"uploads", s3.ObjectCreatedCompleteMultipartUpload, false})
	}
	for i := range 3 {
		send(s3.ObjectRemovedDelete, fmt.Sprintf("in/gone-%d.txt", i), &want{"removals", s3.ObjectRemovedDelete, false})
		send(s3.ObjectCreatedPut, fmt.Sprintf("out/skip-%d.txt", i), nil) // no rule
	}
	for _, key := range []string{"in/my photos/Tom & Jerry (1).jpg", "in/c++/a+b=c%.txt", "in/café/naïve 日本.png"} {
		send(s3.ObjectCreatedPost, key, &want{"uploads", s3.ObjectCreatedPost, false})
	}
	total := seq

	// Wait until the source has handed every change on, and the function
	// has finished every event it accepted and delivered its records.
	require.Eventually(t, func() bool {
		_, _, delivered, _ := src.counts()
		st := fn.AsyncStats()
		return delivered == total && st.Succeeded+st.DeadLettered == st.Accepted && st.Pending == 0
	}, 2*time.Minute, 10*time.Millisecond, "every change handed on and finished")
	require.NoError(t, att.Detach(testkit.WaitCtx(t)))
	require.Equal(t, int64(len(wants)), fn.AsyncStats().Accepted)

	// Every change a rule matches is in one destination, once.
	seen := map[string]int{}
	for _, r := range ok.Records() {
		var a guestAnswer
		require.NoError(t, json.Unmarshal(r.ResponsePayload, &a))
		w, known := wants[a.Key]
		require.True(t, known, "a success for %q", a.Key)
		require.False(t, w.fails, "%q succeeded", a.Key)
		require.Equal(t, "uploads", a.Bucket)
		require.Equal(t, w.rule, a.ConfigurationID, a.Key)
		require.Equal(t, w.event, a.Event, a.Key)
		require.Equal(t, 1, a.Records)
		require.NotEmpty(t, a.Sequencer)
		seen[a.Key]++
	}
	for _, r := range failed.Records() {
		var ev events.S3Event
		require.NoError(t, json.Unmarshal(r.RequestPayload, &ev))
		require.Len(t, ev.Records, 1)
		key := ev.Records[0].S3.Object.URLDecodedKey
		w, known := wants[key]
		require.True(t, known, "a failure for %q", key)
		require.True(t, w.fails, "%q failed: %s", key, r.ResponsePayload)
		require.Equal(t, lambda.ConditionRetriesExhausted, r.RequestContext.Condition)
		require.Equal(t, 3, r.RequestContext.ApproximateInvokeCount, "the first attempt and two retries")
		seen[key]++
	}
	for key := range wants {
		require.Equal(t, 1, seen[key], "%q reached a destination once", key)
	}

	s := n.Stats()
	require.Equal(t, int64(len(wants)), s.Invoked)
	require.Equal(t, int64(3), s.Filtered)
	require.Positive(t, s.Refused, "the small queue refused some events")
	offers, refusals, _, left := src.counts()
	require.Equal(t, int64(offers), s.Changes)
	require.Equal(t, int64(refusals), s.Refused)
	require.Zero(t, left)
	require.Equal(t, s.Invoked, att.Stats().Events)
}

// stubbornSource is a Source whose Watch fails as told, then blocks until
// its context ends, or, with stubborn, until it is released.
type stubbornSource struct {
	failures int // Watch calls that fail at once
	stubborn bool
	release  chan struct{}

	mu      sync.Mutex
	watches int
	deliver func(context.Context, s3.Change) error
	started chan struct{}
}

func (s *stubbornSource) Bucket() string { return "blocking" }

func (s *stubbornSource) Watch(ctx context.Context, deliver func(context.Context, s3.Change) error) error {
	s.mu.Lock()
	s.watches++
	n := s.watches
	s.deliver = deliver
	s.mu.Unlock()
	if n <= s.failures {
		return errors.New("the bucket is gone")
	}
	close(s.started)
	if s.stubborn {
		<-s.release
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func deployEcho(t *testing.T) *lambda.Function {
	t.Helper()
	rt := testkit.NewRuntime(t, lambda.Options{})
	return testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "echo", Code: testguest.Go(t, "echo")})
}

func TestNotificationsStartChecks(t *testing.T) {
	noLeaksAfter(t)
	fn := deployEcho(t)
	rules := []s3.Rule{{Events: []string{"s3:ObjectCreated:*"}}}
	tests := []struct {
		name string
		n    *s3.Notifications
		want string
	}{
		{"no source", &s3.Notifications{Rules: rules}, "Source is required"},
		{"no bucket name", &s3.Notifications{Source: newChangeFeed(""), Rules: rules}, "no bucket name"},
		{"no rules", &s3.Notifications{Source: newChangeFeed("b")}, "no rules"},
		{"a bad rule", &s3.Notifications{Source: newChangeFeed("b"), Rules: []s3.Rule{{ID: "x", Events: []string{"s3:ObjectCreated:Get"}}}}, `"s3:ObjectCreated:Get"`},
		{"overlapping rules", &s3.Notifications{Source: newChangeFeed("b"), Rules: []s3.Rule{
			{ID: "x", Events: []string{"s3:ObjectCreated:*"}, Prefix: "a/"},
			{ID: "y", Events: []string{"s3:ObjectCreated:Put"}, Suffix: ".jpg"},
		}}, `"x" and "y" overlap`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fn.Attach(context.Background(), "n", tc.n)
			require.ErrorIs(t, err, lambda.ErrInvalidConfig)
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, fn.Triggers())
		})
	}

	n := &s3.Notifications{Source: newChangeFeed("b"), Rules: rules}
	att, err := fn.Attach(context.Background(), "first", n)
	require.NoError(t, err)
	_, err = fn.Attach(context.Background(), "second", n)
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	require.ErrorContains(t, err, "attached already")
	require.NoError(t, att.Detach(context.Background()))

	// Detached, it can be attached again.
	att, err = fn.Attach(context.Background(), "again", n)
	require.NoError(t, err)
	require.NoError(t, att.Detach(context.Background()))
}

// TestNotificationsWatchAgain checks that a source whose Watch fails is
// watched again, and the failure reported.
func TestNotificationsWatchAgain(t *testing.T) {
	noLeaksAfter(t)
	fn := deployEcho(t)
	src := &stubbornSource{failures: 2, started: make(chan struct{})}
	n := &s3.Notifications{Source: src, Rules: []s3.Rule{{Events: []string{"s3:ObjectCreated:*"}}}}
	att, err := fn.Attach(context.Background(), "n", n)
	require.NoError(t, err)
	select {
	case <-src.started:
	case <-testkit.WaitCtx(t).Done():
		t.Fatal("not watched again")
	}
	require.Equal(t, int64(2), n.Stats().SourceErrors)
	st := att.Stats()
	require.Equal(t, int64(2), st.Errors)
	require.Contains(t, st.LastError, "the bucket is gone")
	require.NoError(t, att.Detach(context.Background()))
}

// TestNotificationsStopWaitsForTheSource checks that Stop waits for Watch
// to return, and says so when its context ends first; and that once Stop
// has returned, a change offered is refused, not sent.
func TestNotificationsStopWaitsForTheSource(t *testing.T) {
	noLeaksAfter(t)
	fn := deployEcho(t)
	src := &stubbornSource{stubborn: true, release: make(chan struct{}), started: make(chan struct{})}
	n := &s3.Notifications{Source: src, Rules: []s3.Rule{{Events: []string{"s3:ObjectCreated:*"}}}}
	att, err := fn.Attach(context.Background(), "n", n)
	require.NoError(t, err)
	<-src.started

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = n.Stop(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "Watch has not returned")

	src.mu.Lock()
	deliver := src.deliver
	src.mu.Unlock()
	require.ErrorContains(t, deliver(context.Background(), s3.Change{Event: s3.ObjectCreatedPut, Key: "late"}), "stopped")
	require.Zero(t, n.Stats().Invoked)

	close(src.release)
	require.NoError(t, n.Stop(testkit.WaitCtx(t)))
	require.NoError(t, att.Detach(context.Background()))
}

// TestNotificationsEventForAGoHandler checks the event a Go handler gets,
// decoded with aws-lambda-go's types, through the echo guest.
func TestNotificationsEventForAGoHandler(t *testing.T) {
	noLeaksAfter(t)
	rt := testkit.NewRuntime(t, lambda.Options{Region: "ap-southeast-2", AccountID: "123456789012"})
	got := testkit.NewRecordSink()
	async := testkit.FastAsync()
	async.OnSuccess = got
	fn := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "echo", Code: testguest.Go(t, "echo"), Async: async})
	src := newChangeFeed("photos")
	att, err := fn.Attach(context.Background(), "n", &s3.Notifications{Source: src, Rules: []s3.Rule{
		{Events: []string{"s3:ObjectCreated:*"}, Suffix: ".jpg"},
	}})
	require.NoError(t, err)
	when := time.Date(2026, 5, 4, 10, 0, 0, 987654321, time.UTC)
	src.in <- s3.Change{Event: s3.ObjectCreatedPut, Time: when, Key: "2026/May Day (1).jpg", Size: 2048, ETag: "abc", VersionID: "v1", Sequencer: "0062E99A88DC407460"}
	recs := got.Wait(t, 1)
	require.NoError(t, att.Detach(context.Background()))

	var ev events.S3Event
	require.NoError(t, json.Unmarshal(recs[0].ResponsePayload, &ev))
	require.Len(t, ev.Records, 1)
	r := ev.Records[0]
	require.Equal(t, "ap-southeast-2", r.AWSRegion)
	require.Equal(t, when.Truncate(time.Millisecond), r.EventTime)
	require.Equal(t, "123456789012", r.PrincipalID.PrincipalID)
	require.Equal(t, "photos", r.S3.Bucket.Name)
	require.Equal(t, "2026/May+Day+%281%29.jpg", r.S3.Object.Key)
	require.Equal(t, "2026/May Day (1).jpg", r.S3.Object.URLDecodedKey)
	require.Equal(t, int64(2048), r.S3.Object.Size)
	require.Equal(t, "v1", r.S3.Object.VersionID)
	// The ID S3 would give a rule without one: the base64 of a UUID.
	require.Len(t, r.S3.ConfigurationID, 48)
	var keys []string
	for k := range r.ResponseElements {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	require.Equal(t, []string{"x-amz-id-2", "x-amz-request-id"}, keys)
}
