package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	lambda "github.com/wasmlambda/lambda"
)

// DefaultSourceIP is a record's requestParameters.sourceIPAddress when the
// change does not say where its request came from.
const DefaultSourceIP = "127.0.0.1"

// Notifications is the S3 trigger: a bucket's event notifications to a
// function, as S3 sends them to Lambda. It watches Source, and for each
// change that one of Rules matches, invokes the function asynchronously
// with an S3 event of one record (see Record), so that the function's
// retries, dead-letter sink and destinations apply. Valid rules do not
// overlap (see ValidateRules), so a change matches one rule at most, and
// makes one invocation at most. Attach it with lambda.Function.Attach:
//
//	att, err := fn.Attach(ctx, "uploads", &s3.Notifications{
//		Source: bucket,
//		Rules:  []s3.Rule{{Events: []string{"s3:ObjectCreated:*"}, Prefix: "uploads/", Suffix: ".jpg"}},
//	})
//
// # Delivery
//
// Delivery is at least once, in no guaranteed order, as S3's. A change is
// taken from the source once its event has been accepted by InvokeAsync:
// when InvokeAsync refuses it (the queue is full, the function is closing,
// the trigger is stopping), the change goes back to the source, which
// offers it again (a Source drops nothing). An event refused for good,
// because it is over the function's payload limit, is reported and
// dropped. A change that matches no rule is counted and dropped.
//
// # Filling in
//
// What a source leaves empty in a change is filled in before it is
// rendered: the bucket, Source.Bucket(); the time, now; the principal, the
// function's account ID (which also stands for the bucket's owner, see
// Record); the source IP, DefaultSourceIP; and the sequencer, the change's
// time in nanoseconds as 18 upper-case hexadecimal digits, so that it
// grows with time for a key. The region is the function's.
type Notifications struct {
	// Source is the bucket whose changes are notified. Required.
	Source Source

	// Rules are the bucket's notification configurations for the
	// function: at least one. They are checked as ValidateRules checks
	// them; a rule without an ID gets one, derived from its event types
	// and filters.
	Rules []Rule

	mu      sync.Mutex
	running bool
	tc      *lambda.TriggerContext
	rules   []Rule
	region  string
	account string
	ctx     context.Context // ends at Stop
	cancel  context.CancelFunc
	done    chan struct{}
	stopErr error // the source's report of what it dropped at Stop; set before done closes

	// invoke hands one event to the function; InvokeAsync, but for the
	// package's own tests.
	invoke func(ctx context.Context, payload []byte) error

	flightMu sync.Mutex
	stopping bool          // Stop has come: no new delivery
	inFlight int           // deliveries under way
	idle     chan struct{} // closed when inFlight drops to 0 after Stop

	stats struct {
		changes, filtered, invoked, refused, dropped, sourceErrors atomic.Int64
	}
}

var _ lambda.Trigger = (*Notifications)(nil)

// NotificationsStats counts what a Notifications did.
type NotificationsStats struct {
	// Changes counts the changes the source offered, offers again
	// included.
	Changes int64
	// Filtered counts changes that matched no rule.
	Filtered int64
	// Invoked counts events the function accepted: one asynchronous
	// invocation each.
	Invoked int64
	// Refused counts events InvokeAsync refused for now; each sent its
	// change back to the source, to be offered again.
	Refused int64
	// Dropped counts events refused for good (over the function's
	// payload limit); each is reported.
	Dropped int64
	// SourceErrors counts the times Source.Watch failed and was started
	// again.
	SourceErrors int64
}

// Stats returns the counters.
func (n *Notifications) Stats() NotificationsStats {
	st := &n.stats
	return NotificationsStats{
		Changes: st.changes.Load(), Filtered: st.filtered.Load(), Invoked: st.invoked.Load(),
		Refused: st.refused.Load(), Dropped: st.dropped.Load(), SourceErrors: st.sourceErrors.Load(),
	}
}

// Start implements lambda.Trigger: it checks the source and the rules, and
// starts watching the source.
func (n *Notifications) Start(ctx context.Context, tc *lambda.TriggerContext) error {
	if n.Source == nil {
		return invalidNotification("s3 notifications: Source is required")
	}
	if n.Source.Bucket() == "" {
		return invalidNotification("s3 notifications: the source has no bucket name")
	}
	if len(n.Rules) == 0 {
		return invalidNotification("s3 notifications for bucket %s: no rules: give at least one, such as {Events: []string{\"s3:ObjectCreated:*\"}}", n.Source.Bucket())
	}
	rules, err := normalizeRules(n.Rules)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running {
		return invalidNotification("s3 notifications for bucket %s are attached already", n.Source.Bucket())
	}
	n.running = true
	n.setup(tc, rules, tc.Function.Region(), tc.Function.AccountID(), func(ctx context.Context, payload []byte) error {
		_, err := tc.InvokeAsync(ctx, payload)
		return err
	})
	n.done = make(chan struct{})
	ready := make(chan struct{})
	go n.watch(ready)
	if _, ok := n.Source.(ReadySource); !ok {
		return nil
	}
	// Return once the watch sees every later change, so that none made
	// after Attach is missed. A watch that fails is started again, and is
	// ready then.
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		n.cancel()
		<-n.done
		n.running = false
		return fmt.Errorf("s3 notifications for bucket %s: the watch did not begin: %w", n.Source.Bucket(), ctx.Err())
	}
}

// setup readies n to deliver; Start calls it, and the package's tests.
func (n *Notifications) setup(tc *lambda.TriggerContext, rules []Rule, region, account string, invoke func(context.Context, []byte) error) {
	n.tc, n.rules, n.region, n.account, n.invoke = tc, rules, region, account, invoke
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.flightMu.Lock()
	n.stopping, n.idle = false, nil
	n.flightMu.Unlock()
}

// Stop implements lambda.Trigger: it stops watching the source and waits,
// within ctx, for Source.Watch to return. A change in hand when Stop comes
// is handed back to the source. Changes the source still held undelivered
// when its watch ended (the embedded Bucket drops them with the watch, as
// S3 sends nothing for a configuration removed) are named in the error,
// which wraps ErrUndelivered. Once Stop returns, no event is sent; if ctx
// ends first, the error says the source has not returned.
func (n *Notifications) Stop(ctx context.Context) error {
	n.mu.Lock()
	if !n.running {
		n.mu.Unlock()
		return nil
	}
	n.cancel()
	done, idle := n.done, n.quiesce()
	n.mu.Unlock()
	for _, ch := range []<-chan struct{}{done, idle} {
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("s3 notifications for bucket %s: the source's Watch has not returned: %w", n.Source.Bucket(), ctx.Err())
		}
	}
	n.mu.Lock()
	n.running = false
	err := n.stopErr
	n.stopErr = nil
	n.mu.Unlock()
	if err != nil {
		return fmt.Errorf("s3 notifications for bucket %s: %w", n.Source.Bucket(), err)
	}
	return nil
}

// watch runs Source.Watch until Stop, starting it again when it fails.
func (n *Notifications) watch(ready chan struct{}) {
	defer close(n.done)
	var once sync.Once
	signal := func() { once.Do(func() { close(ready) }) }
	backoff := 100 * time.Millisecond
	for {
		var err error
		if rs, ok := n.Source.(ReadySource); ok {
			err = rs.WatchReady(n.ctx, signal, n.deliver)
		} else {
			err = n.Source.Watch(n.ctx, n.deliver)
		}
		if n.ctx.Err() != nil {
			if errors.Is(err, ErrUndelivered) {
				n.stopErr = err
			}
			return
		}
		if err == nil {
			err = errors.New("returned before it was stopped")
		}
		n.stats.sourceErrors.Add(1)
		n.tc.ReportError(fmt.Errorf("s3 notifications: watch bucket %s: %w; watching again in %v", n.Source.Bucket(), err, backoff))
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-n.ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// deliver sends c to the function: an asynchronous invocation for the
// rule that matches it, if one does (valid rules do not overlap, so at most
// one does). It returns an error, for the source to offer c again, when
// the function did not accept the event.
func (n *Notifications) deliver(ctx context.Context, c Change) error {
	n.stats.changes.Add(1)
	if !n.enter() {
		return fmt.Errorf("s3 notifications for bucket %s: stopped", n.Source.Bucket())
	}
	defer n.leave()
	c = n.fillIn(c)
	event, key := trimEvent(c.Event), EncodeKey(c.Key)
	var rule *Rule
	for i := range n.rules {
		if n.rules[i].matches(event, key) {
			rule = &n.rules[i]
			break
		}
	}
	if rule == nil {
		n.stats.filtered.Add(1)
		return nil
	}
	err := n.invoke(ctx, Event(Record(c, n.region, rule.ID)))
	switch {
	case err == nil:
		n.stats.invoked.Add(1)
	case errors.Is(err, lambda.ErrPayloadTooLarge) || errors.Is(err, lambda.ErrInvalidRequestContent):
		// Refused for good, and reported by InvokeAsync: say which.
		n.stats.dropped.Add(1)
		n.tc.Logger.Error("s3 notification dropped", slog.String("bucket", c.Bucket), slog.String("key", c.Key),
			slog.String("event", event), slog.String("rule", rule.ID), slog.String("error", err.Error()))
	default:
		n.stats.refused.Add(1)
		return fmt.Errorf("s3 notifications: the %s event of %s/%s for rule %q was not accepted: %w", event, c.Bucket, c.Key, rule.ID, err)
	}
	return nil
}

// enter admits a delivery, unless Stop has come; leave ends it.
func (n *Notifications) enter() bool {
	n.flightMu.Lock()
	defer n.flightMu.Unlock()
	if n.stopping {
		return false
	}
	n.inFlight++
	return true
}

func (n *Notifications) leave() {
	n.flightMu.Lock()
	defer n.flightMu.Unlock()
	n.inFlight--
	if n.inFlight == 0 && n.idle != nil {
		close(n.idle)
		n.idle = nil
	}
}

// quiesce refuses new deliveries and returns a channel closed once those
// in flight have ended.
func (n *Notifications) quiesce() <-chan struct{} {
	n.flightMu.Lock()
	defer n.flightMu.Unlock()
	n.stopping = true
	ch := make(chan struct{})
	if n.inFlight == 0 {
		close(ch)
	} else {
		n.idle = ch
	}
	return ch
}

// fillIn fills in what the source left empty in c (see the type's doc).
func (n *Notifications) fillIn(c Change) Change {
	if c.Bucket == "" {
		c.Bucket = n.Source.Bucket()
	}
	if c.Time.IsZero() {
		c.Time = time.Now()
	}
	if c.Principal == "" {
		c.Principal = n.account
	}
	if c.SourceIP == "" {
		c.SourceIP = DefaultSourceIP
	}
	if c.Sequencer == "" {
		c.Sequencer = fmt.Sprintf("%018X", c.Time.UnixNano())
	}
	return c
}

// trimEvent is an event name without its "s3:" prefix.
func trimEvent(e string) string {
	if len(e) > 3 && e[:3] == "s3:" {
		return e[3:]
	}
	return e
}
