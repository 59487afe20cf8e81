package s3

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
)

// nameOnly is a Source that only has a name; deliver is called directly.
type nameOnly string

func (s nameOnly) Bucket() string { return string(s) }
func (s nameOnly) Watch(ctx context.Context, _ func(context.Context, Change) error) error {
	<-ctx.Done()
	return ctx.Err()
}

// invokes is a fake InvokeAsync: it keeps the events it accepts, and
// refuses with the errors of fail, in turn, while there are some.
type invokes struct {
	mu     sync.Mutex
	events []events.S3Event
	fail   []error
}

func (f *invokes) invoke(_ context.Context, payload []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		if err != nil {
			return err
		}
	}
	var ev events.S3Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return fmt.Errorf("%w: %v", lambda.ErrInvalidRequestContent, err)
	}
	f.events = append(f.events, ev)
	return nil
}

// rules returns the configuration IDs of the events accepted, in order.
func (f *invokes) rules() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, ev := range f.events {
		for _, r := range ev.Records {
			out = append(out, r.S3.ConfigurationID)
		}
	}
	return out
}

// newDelivering returns a Notifications for the bucket "uploads" in
// eu-west-1, ready to deliver to f.
func newDelivering(t *testing.T, rules []Rule, f *invokes) *Notifications {
	t.Helper()
	n := &Notifications{Source: nameOnly("uploads"), Rules: rules}
	nr, err := normalizeRules(rules)
	require.NoError(t, err)
	tc := &lambda.TriggerContext{Logger: slog.New(slog.DiscardHandler)}
	n.setup(tc, nr, "eu-west-1", "111122223333", f.invoke)
	t.Cleanup(n.cancel)
	return n
}

func putChange(key, seq string) Change {
	return Change{Event: ObjectCreatedPut, Time: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), Bucket: "uploads", Key: key, Size: 3, ETag: "e", Sequencer: seq}
}

func TestDeliverSendsTheMatchingRule(t *testing.T) {
	t.Parallel()
	rules := []Rule{
		{ID: "images", Events: []string{"s3:ObjectCreated:*"}, Prefix: "in/"},
		{ID: "audit", Events: []string{"s3:ObjectCreated:Put"}, Prefix: "audit/"},
		{ID: "deletes", Events: []string{"s3:ObjectRemoved:*"}, Prefix: "in/"},
	}
	f := &invokes{}
	n := newDelivering(t, rules, f)
	require.NoError(t, n.deliver(context.Background(), putChange("in/cat.jpg", "01")))
	del := putChange("in/cat.jpg", "02")
	del.Event = ObjectRemovedDelete
	require.NoError(t, n.deliver(context.Background(), del))
	require.NoError(t, n.deliver(context.Background(), putChange("audit/x", "03")))
	require.Equal(t, []string{"images", "deletes", "audit"}, f.rules())
	for _, ev := range f.events {
		require.Len(t, ev.Records, 1, "S3 sends one record per event")
		require.Equal(t, "eu-west-1", ev.Records[0].AWSRegion)
	}
	require.Equal(t, "in/cat.jpg", f.events[0].Records[0].S3.Object.URLDecodedKey)
	require.Equal(t, "ObjectRemoved:Delete", f.events[1].Records[0].EventName)
	require.Equal(t, NotificationsStats{Changes: 3, Invoked: 3}, n.Stats())

	require.NoError(t, n.deliver(context.Background(), putChange("out/cat.png", "04")))
	require.Len(t, f.events, 3, "no rule matches")
	require.Equal(t, NotificationsStats{Changes: 4, Invoked: 3, Filtered: 1}, n.Stats())
}

// TestDeliverRefusedGoesBack checks that a change whose event InvokeAsync
// refuses goes back to the source (deliver fails), and is sent, the same,
// when offered again.
func TestDeliverRefusedGoesBack(t *testing.T) {
	t.Parallel()
	for _, refusal := range []error{fmt.Errorf("invoke: %w", lambda.ErrQueueFull), lambda.ErrClosed, context.Canceled} {
		t.Run(refusal.Error(), func(t *testing.T) {
			t.Parallel()
			f := &invokes{fail: []error{refusal}}
			n := newDelivering(t, []Rule{{ID: "a", Events: []string{"s3:ObjectCreated:*"}, Prefix: "in/"}}, f)
			c := putChange("in/cat.jpg", "0062E99A88DC407460")
			err := n.deliver(context.Background(), c)
			require.ErrorIs(t, err, refusal)
			require.Contains(t, err.Error(), `rule "a"`)
			require.Empty(t, f.events)

			require.NoError(t, n.deliver(context.Background(), c))
			require.NoError(t, n.deliver(context.Background(), c), "at least once: offered again, it is sent again")
			require.Len(t, f.events, 2)
			require.Equal(t, f.events[0], f.events[1], "the same change makes the same event")
			require.Equal(t, NotificationsStats{Changes: 3, Invoked: 2, Refused: 1}, n.Stats())
		})
	}
}

func TestDeliverDropsWhatTheFunctionRefusesForGood(t *testing.T) {
	t.Parallel()
	f := &invokes{fail: []error{fmt.Errorf("async: %w", lambda.ErrPayloadTooLarge)}}
	n := newDelivering(t, []Rule{{ID: "a", Events: []string{"s3:ObjectCreated:*"}, Prefix: "in/"}}, f)
	require.NoError(t, n.deliver(context.Background(), putChange("in/cat.jpg", "01")), "an event that can never be accepted does not hold the change")
	require.Empty(t, f.events)
	require.Equal(t, NotificationsStats{Changes: 1, Dropped: 1}, n.Stats())
}

func TestDeliverFillsIn(t *testing.T) {
	t.Parallel()
	f := &invokes{}
	n := newDelivering(t, []Rule{{ID: "a", Events: []string{"s3:ObjectRemoved:*"}}}, f)
	before := time.Now()
	require.NoError(t, n.deliver(context.Background(), Change{Event: ObjectRemovedDelete, Key: "gone.txt"}))
	require.Len(t, f.events, 1)
	r := f.events[0].Records[0]
	require.Equal(t, "uploads", r.S3.Bucket.Name)
	require.Equal(t, "arn:aws:s3:::uploads", r.S3.Bucket.Arn)
	require.Equal(t, "111122223333", r.PrincipalID.PrincipalID)
	require.Equal(t, "111122223333", r.S3.Bucket.OwnerIdentity.PrincipalID)
	require.Equal(t, DefaultSourceIP, r.RequestParameters.SourceIPAddress)
	require.False(t, r.EventTime.Before(before.Truncate(time.Millisecond)))
	require.Regexp(t, regexp.MustCompile(`^[0-9A-F]{18}$`), r.S3.Object.Sequencer)

	// A later change of the key has a greater sequencer.
	time.Sleep(2 * time.Millisecond)
	require.NoError(t, n.deliver(context.Background(), Change{Event: ObjectRemovedDelete, Key: "gone.txt"}))
	require.Greater(t, f.events[1].Records[0].S3.Object.Sequencer, r.S3.Object.Sequencer)
}

func TestDeliverAfterStopRefuses(t *testing.T) {
	t.Parallel()
	f := &invokes{}
	n := newDelivering(t, []Rule{{ID: "a", Events: []string{"s3:ObjectCreated:*"}}}, f)
	<-n.quiesce()
	err := n.deliver(context.Background(), putChange("a", "01"))
	require.ErrorContains(t, err, "stopped")
	require.Empty(t, f.events)
}

// TestQuiesceWaitsForDeliveries checks that Stop's wait covers a delivery
// under way: the channel closes once it ends.
func TestQuiesceWaitsForDeliveries(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{})
	n := newDelivering(t, []Rule{{ID: "a", Events: []string{"s3:ObjectCreated:*"}}}, &invokes{})
	n.invoke = func(context.Context, []byte) error {
		close(entered)
		<-release
		return nil
	}
	errc := make(chan error, 1)
	go func() { errc <- n.deliver(context.Background(), putChange("a", "01")) }()
	<-entered
	idle := n.quiesce()
	select {
	case <-idle:
		t.Fatal("idle while a delivery runs")
	default:
	}
	close(release)
	<-idle
	require.NoError(t, <-errc)
}

func TestNormalizeRulesGivesIDs(t *testing.T) {
	t.Parallel()
	in := []Rule{
		{Events: []string{"s3:ObjectCreated:*"}, Prefix: "a/"},
		{ID: "mine", Events: []string{"s3:ObjectCreated:*"}, Prefix: "b/"},
		{Events: []string{"s3:ObjectRemoved:*"}, Prefix: "a/"},
	}
	out, err := normalizeRules(in)
	require.NoError(t, err)
	require.Equal(t, "mine", out[1].ID)
	require.Empty(t, in[0].ID, "the caller's rules are not changed")
	require.NotEqual(t, out[0].ID, out[2].ID)
	for _, r := range []Rule{out[0], out[2]} {
		// As S3's: the base64 of a UUID.
		b, err := base64.StdEncoding.DecodeString(r.ID)
		require.NoError(t, err)
		require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`), string(b))
	}
	again, err := normalizeRules(in)
	require.NoError(t, err)
	require.Equal(t, out, again, "the same IDs on every start")

	// The order of the event types does not change the ID.
	a, _ := normalizeRules([]Rule{{Events: []string{"s3:ObjectCreated:Put", "s3:ObjectRemoved:*"}}})
	b, _ := normalizeRules([]Rule{{Events: []string{"s3:ObjectRemoved:*", "s3:ObjectCreated:Put"}}})
	require.Equal(t, a[0].ID, b[0].ID)

	out[0].Events[0] = "changed"
	require.Equal(t, "s3:ObjectCreated:*", in[0].Events[0], "the events are copied")

	_, err = normalizeRules([]Rule{{}})
	require.True(t, errors.Is(err, lambda.ErrInvalidConfig))
}
