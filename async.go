package lambda

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmlambda/lambda/internal/cond"
	"github.com/wasmlambda/lambda/internal/journal"
	"github.com/wasmlambda/lambda/internal/uuid"
)

// AWS Lambda's defaults and limits for asynchronous invocation.
const (
	// DefaultMaxRetryAttempts is AWS's default number of retries of a
	// failed asynchronous event; MaxRetryAttempts is the most it allows.
	DefaultMaxRetryAttempts = 2
	MaxRetryAttempts        = 2
	// DefaultMaxEventAge is AWS's default, and largest, maximum event age.
	DefaultMaxEventAge = 6 * time.Hour
	MaxEventAge        = 6 * time.Hour
	// DefaultAsyncPayloadLimit is AWS's limit on an asynchronous event: 1 MB.
	DefaultAsyncPayloadLimit = 1 << 20
	// DefaultAsyncQueueSize bounds the events a function holds.
	DefaultAsyncQueueSize = 10000
)

// Defaults of the backoffs, as AWS documents them.
const (
	// DefaultFirstRetryDelay and DefaultSecondRetryDelay are AWS's waits
	// before the first and second retries: 1 minute, then 2 minutes.
	DefaultFirstRetryDelay  = time.Minute
	DefaultSecondRetryDelay = 2 * time.Minute
	// DefaultThrottleBackoffMin and DefaultThrottleBackoffMax bound the
	// growing wait before a throttled event is tried again.
	DefaultThrottleBackoffMin = time.Second
	DefaultThrottleBackoffMax = 5 * time.Minute
	// DefaultDeliveryBackoffMin and DefaultDeliveryBackoffMax bound the
	// growing wait before a failed sink or destination is tried again.
	DefaultDeliveryBackoffMin = 100 * time.Millisecond
	DefaultDeliveryBackoffMax = time.Minute
)

// Retries returns a pointer to n, for AsyncConfig.MaxRetryAttempts:
// Retries(0) turns retries off, as a MaximumRetryAttempts of 0 does on AWS.
func Retries(n int) *int { return &n }

// AsyncConfig configures a function's asynchronous invocation: AWS's
// event invoke config, dead-letter queue and destinations. As for every
// configuration in this package (see the package doc), a zero field means
// the documented default; a negative value turns off the one field that
// says so, MaxRetryAttempts, and is refused elsewhere.
type AsyncConfig struct {
	// MaxRetryAttempts is how many times a failed event is retried: 0 to 2.
	// Nil means AWS's default, 2. Retries(0), AWS's 0, turns retries off,
	// as does a negative count.
	//
	// It is the package's one pointer field, set with Retries, because on
	// AWS 0 means no retries: in an int field, an AWS user's 0 would be the
	// default and retry twice. A bare 0 does not compile here.
	MaxRetryAttempts *int

	// RetryBackoff[i] is the wait before retry i+1; a retry past the end
	// waits as long as the last entry, and an entry of 0 retries at once.
	// Nil or empty means the default: 1 minute, then 2 minutes, as AWS.
	// Tests may use milliseconds.
	RetryBackoff []time.Duration

	// MaxEventAge is how long an event may wait, from acceptance, for an
	// attempt that succeeds. Default, and at most, 6 hours. AWS's least is
	// 60 seconds; shorter ages are accepted, for tests.
	MaxEventAge time.Duration

	// ThrottleBackoffMin and ThrottleBackoffMax bound the wait before a
	// throttled event is tried again; it doubles from min to max. Default
	// 1 second to 5 minutes. A throttle does not count as an attempt. Only
	// a function with ThrottleWhenBusy throttles; otherwise an event waits
	// for a sandbox.
	ThrottleBackoffMin time.Duration
	ThrottleBackoffMax time.Duration

	// MaxPayloadBytes bounds an event. Default 1 MB, as AWS.
	MaxPayloadBytes int

	// QueueSize bounds the events accepted and not yet finished, waiting,
	// running or between retries. InvokeAsync fails with ErrQueueFull when
	// it is reached. Default 10,000.
	QueueSize int

	// Concurrency is how many events run at once. Default GOMAXPROCS, at
	// least 4, and at most MaxConcurrency.
	Concurrency int

	// DeadLetter receives events that failed for good (AWS's dead-letter
	// queue). Default none. When neither it nor OnFailure is set, dead
	// letters go to the runtime's undelivered file (Options.UndeliveredFile),
	// so that none is lost.
	DeadLetter DeadLetterSink

	// OnSuccess and OnFailure receive AWS's invocation record of events
	// that succeeded, or failed for good. Default none.
	OnSuccess Destination
	OnFailure Destination

	// DeliveryBackoffMin and DeliveryBackoffMax bound the wait before a
	// failed dead-letter sink or destination is tried again; it doubles
	// from min to max. Default 100 ms to 1 minute.
	DeliveryBackoffMin time.Duration
	DeliveryBackoffMax time.Duration
}

func (c AsyncConfig) withDefaults(fn string, maxConcurrency int) (AsyncConfig, int, error) {
	retries := DefaultMaxRetryAttempts
	if c.MaxRetryAttempts != nil {
		if *c.MaxRetryAttempts > MaxRetryAttempts {
			return c, 0, invalidConfig("function %s: Async.MaxRetryAttempts %d: want 0 to %d, or negative for none", fn, *c.MaxRetryAttempts, MaxRetryAttempts)
		}
		retries = max(*c.MaxRetryAttempts, 0) // negative: none
	}
	if len(c.RetryBackoff) == 0 {
		c.RetryBackoff = []time.Duration{DefaultFirstRetryDelay, DefaultSecondRetryDelay}
	}
	for i, d := range c.RetryBackoff {
		if d < 0 {
			return c, 0, invalidConfig("function %s: Async.RetryBackoff[%d] %v: want 0 or more", fn, i, d)
		}
	}
	c.RetryBackoff = append([]time.Duration(nil), c.RetryBackoff...)
	switch {
	case c.MaxEventAge == 0:
		c.MaxEventAge = DefaultMaxEventAge
	case c.MaxEventAge < 0 || c.MaxEventAge > MaxEventAge:
		return c, 0, invalidConfig("function %s: Async.MaxEventAge %v: want more than 0 and at most %v", fn, c.MaxEventAge, MaxEventAge)
	}
	for _, b := range []struct {
		name     string
		min, max *time.Duration
		dmin     time.Duration
		dmax     time.Duration
	}{
		{"Throttle", &c.ThrottleBackoffMin, &c.ThrottleBackoffMax, DefaultThrottleBackoffMin, DefaultThrottleBackoffMax},
		{"Delivery", &c.DeliveryBackoffMin, &c.DeliveryBackoffMax, DefaultDeliveryBackoffMin, DefaultDeliveryBackoffMax},
	} {
		if *b.min == 0 {
			*b.min = b.dmin
		}
		if *b.max == 0 {
			*b.max = max(b.dmax, *b.min)
		}
		if *b.min < 0 || *b.max < *b.min {
			return c, 0, invalidConfig("function %s: Async.%sBackoffMin %v and Max %v: want 0 < min <= max", fn, b.name, *b.min, *b.max)
		}
	}
	for _, lim := range []struct {
		name string
		v    *int
		def  int
	}{{"MaxPayloadBytes", &c.MaxPayloadBytes, DefaultAsyncPayloadLimit}, {"QueueSize", &c.QueueSize, DefaultAsyncQueueSize}, {"Concurrency", &c.Concurrency, min(max(runtime.GOMAXPROCS(0), 4), maxConcurrency)}} {
		switch {
		case *lim.v == 0:
			*lim.v = lim.def
		case *lim.v < 0:
			return c, 0, invalidConfig("function %s: Async.%s %d: want more than 0", fn, lim.name, *lim.v)
		}
	}
	return c, retries, nil
}

// AsyncStats is a snapshot of a function's asynchronous invocations.
type AsyncStats struct {
	// Accepted counts events InvokeAsync accepted, and Recovered those
	// found in the state directory at deploy.
	Accepted  int64
	Recovered int64
	// Rejected counts events refused with ErrQueueFull.
	Rejected int64

	// Queued is the number of events ready to run, Delayed the number
	// waiting out a backoff, and Running the number being invoked.
	Queued  int
	Delayed int
	Running int

	// Attempts counts invocations, Retries those after an event's first,
	// and Throttles attempts refused with ErrThrottled.
	Attempts  int64
	Retries   int64
	Throttles int64

	// Succeeded counts events that succeeded, and DeadLettered events that
	// failed for good (RetriesExhausted, EventAgeExceeded, Shutdown), of
	// which Expired counts EventAgeExceeded.
	Succeeded    int64
	DeadLettered int64
	Expired      int64

	// DeadLetterErrors counts failed calls of the dead-letter sink, and
	// DestinationErrors failed deliveries to destinations.
	DeadLetterErrors  int64
	DestinationErrors int64
	// Pending is the number of dead letters and records waiting for
	// delivery.
	Pending int
	// Undelivered counts dead letters written to the undelivered file, and
	// records given up, because their target still failed at Close.
	Undelivered int64
}

// InvokeAsync accepts an event for asynchronous invocation and returns its
// request ID at once, as AWS's Event invocation type answers 202. The event
// then runs with the retries, maximum age, dead-letter sink and
// destinations of the function's AsyncConfig, or the retries, age and
// destinations put for its qualifier (PutFunctionEventInvokeConfig), as
// they are at each attempt. An accepted event is never
// dropped: it succeeds, or reaches the dead-letter sink (or the runtime's
// undelivered file). Without a state directory, that holds while the
// process lives: a crash loses the queue. With one (Options.StateDir), the
// event is on disk before InvokeAsync returns, and survives a crash.
//
// # Errors
//
//   - ErrPayloadTooLarge: the event is over the async limit (1 MB).
//   - ErrInvalidConfig: a client context (WithClientContext), which AWS
//     passes on synchronous invocations only.
//   - ErrInvalidRequestContent: the event is not JSON. An empty event is
//     accepted.
//   - ErrQueueFull: QueueSize events are waiting already.
//   - ErrClosed: the function is closing.
//   - ctx's error, when ctx has ended.
func (f *Function) InvokeAsync(ctx context.Context, payload []byte, opts ...InvokeOption) (string, error) {
	if err := f.vs.checkQualifier(opts); err != nil {
		return "", err
	}
	return f.async.accept(ctx, payload, opts, false)
}

// AsyncStats returns a snapshot of the function's asynchronous invocations.
func (f *Function) AsyncStats() AsyncStats { return f.async.snapshot() }

// asyncEvent is one accepted event and its progress. Its exported fields
// are what the journal keeps.
type asyncEvent struct {
	seq uint64

	RequestID      string          `json:"requestId"`
	Payload        []byte          `json:"payload,omitempty"`
	ClientContext  []byte          `json:"clientContext,omitempty"`
	Identity       []byte          `json:"identity,omitempty"`
	AcceptedAt     time.Time       `json:"acceptedAt"`
	Attempts       int             `json:"attempts,omitempty"`
	FirstAttemptAt time.Time       `json:"firstAttemptAt,omitzero"`
	LastAttemptAt  time.Time       `json:"lastAttemptAt,omitzero"`
	Due            time.Time       `json:"due,omitzero"`
	Last           *attemptFailure `json:"last,omitempty"`
	// Trigger is the trigger that sent it, and TraceID the X-Ray trace ID
	// its attempts inherit, when an Observer or WithTraceID gave them.
	Trigger string `json:"trigger,omitempty"`
	TraceID string `json:"traceId,omitempty"`
	// Qualifier is the version or alias the event was sent to, and
	// ExecutedVersion the version its last attempt ran.
	Qualifier       string `json:"qualifier,omitempty"`
	ExecutedVersion string `json:"executedVersion,omitempty"`
	// OwnConfig says the qualifier had a configuration of its own
	// (PutFunctionEventInvokeConfig) when the event was accepted.
	OwnConfig bool `json:"ownConfig,omitempty"`

	throttleWait time.Duration
	// recovered: loaded from the state directory at Deploy, when the
	// qualifier and its configuration may not have been made again yet.
	recovered bool
}

// attemptFailure is how an attempt failed.
type attemptFailure struct {
	Code     int             `json:"code"`
	Type     string          `json:"type"`
	Message  string          `json:"message"`
	Response json.RawMessage `json:"response,omitempty"`
	Function bool            `json:"function,omitempty"` // a function error: "Unhandled"
}

type eventHeap []*asyncEvent

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].Due.Before(h[j].Due) }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(*asyncEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	ev := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return ev
}

// asyncEngineConfig is what an async engine is given: the function's
// identity and limits, and the calls it makes down the chain and out.
type asyncEngineConfig struct {
	// name, arn and version name the function in errors, dead letters
	// and records, and its events in the journal.
	name, arn, version string
	cfg                AsyncConfig // with defaults resolved
	retries            int         // *cfg.MaxRetryAttempts
	maxRequestBytes    int         // the function's MaxRequestBytes

	// invoke runs one attempt: Function.invoke, or a fake in tests. It
	// waits for a sandbox within waitCtx, runs within ctx, and calls
	// granted once a sandbox is acquired.
	invoke func(ctx, waitCtx context.Context, payload []byte, o *invokeOptions, granted func()) ([]byte, error)
	// handedOn, when set, is called as an event handed on by another
	// function (a dead letter or record) is accepted, so that a runtime
	// closing all its functions knows they are not quiet yet.
	handedOn func()
	// undeliveredFile returns the sink of last resort, the runtime's
	// undelivered file, opening it on first use.
	undeliveredFile func() (*FileSink, error)

	store  *journal.Store // nil without a state directory
	logger *slog.Logger   // nil: silent
	obs    *Observer      // nil: none
}

// asyncEngine runs a function's asynchronous events. Workers and
// deliverers are goroutines started on demand that end when idle, so an
// idle function has none.
type asyncEngine struct {
	asyncEngineConfig
	seq atomic.Uint64

	runCtx    context.Context // attempts and deliveries; cancelled to abort
	cancelRun context.CancelFunc

	mu          sync.Mutex
	accepting   bool
	closing     bool          // close has started
	closeDone   chan struct{} // closed when the first close ends
	stopping    bool          // no new attempts start, and no event is accepted
	ready       []*asyncEvent
	delayed     eventHeap
	timer       *time.Timer
	workers     int
	running     int
	outstanding int           // accepted and not finished
	queueing    int           // accepts that counted their event and have not queued it yet
	idle        cond.Cond     // broadcast when outstanding or queueing reaches 0
	handback    []*asyncEvent // attempts aborted by a forced close
	workWG      sync.WaitGroup

	// testHook, when set, is called in accept between counting an event
	// and queueing it ("accept"), and in close just before it stops the
	// engine ("close"). Nil outside tests.
	testHook func(point string)

	outs [numTargets]*outbox

	// def is the function's configuration of its events, from cfg, and
	// qualified the configurations put for qualifiers, by configKey.
	def       *eventConfig
	qualified atomic.Pointer[map[string]*eventConfig]

	accepted, recovered, rejected, attempts, retried, throttles atomic.Int64
	succeeded, deadLettered, expired                            atomic.Int64
	deadLetterErrors, destinationErrors, undelivered            atomic.Int64
}

func newAsyncEngine(c asyncEngineConfig) *asyncEngine {
	e := &asyncEngine{asyncEngineConfig: c, accepting: true, closeDone: make(chan struct{})}
	e.runCtx, e.cancelRun = context.WithCancel(context.Background())
	e.def = &eventConfig{retries: c.retries, maxAge: c.cfg.MaxEventAge, onSuccess: c.cfg.OnSuccess, onFailure: c.cfg.OnFailure}
	for t := range e.outs {
		e.outs[t] = &outbox{e: e, target: target(t), undeliveredFile: c.undeliveredFile, stop: make(chan struct{})}
	}
	return e
}

// recover loads what the state directory holds for the function.
func (e *asyncEngine) recover() error {
	if e.store == nil {
		return nil
	}
	name := e.name
	last, err := e.store.LastSeq(name)
	if err != nil {
		return err
	}
	e.seq.Store(last)
	events, err := e.store.Load(name, journal.Events)
	if err != nil {
		return err
	}
	items, err := e.store.Load(name, journal.Outbox)
	if err != nil {
		return err
	}
	now := time.Now()
	e.mu.Lock()
	for _, rec := range events {
		ev := &asyncEvent{}
		if err := json.Unmarshal(rec.Value, ev); err != nil {
			e.mu.Unlock()
			return fmt.Errorf("event %d in %s: %w", rec.Seq, e.store.Path(), err)
		}
		ev.seq = rec.Seq
		ev.recovered = true
		e.outstanding++
		if ev.Due.After(now) {
			heap.Push(&e.delayed, ev)
		} else {
			e.ready = append(e.ready, ev)
		}
	}
	e.recovered.Add(int64(len(events)))
	e.armLocked()
	e.kickLocked()
	e.mu.Unlock()
	for _, rec := range items {
		it := &outItem{}
		if err := json.Unmarshal(rec.Value, it); err != nil {
			return fmt.Errorf("record %d in %s: %w", rec.Seq, e.store.Path(), err)
		}
		it.seq = rec.Seq
		it.recovered = true
		e.outs[it.Target].push(it)
	}
	if len(events)+len(items) > 0 && e.logger != nil {
		e.logger.Info("recovered asynchronous work", slog.Int("events", len(events)), slog.Int("deliveries", len(items)), slog.String("state", e.store.Path()))
	}
	return nil
}

// accept queues an event. An internal one, a dead letter or record handed
// on by another function, is still taken while the function drains, so
// that a runtime closing all its functions at once keeps them, until close
// stops the engine; close waits for the accepts under way to queue their
// events before it takes what is left.
func (e *asyncEngine) accept(ctx context.Context, payload []byte, opts []InvokeOption, internal bool) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if limit := min(e.cfg.MaxPayloadBytes, e.maxRequestBytes); len(payload) > limit {
		return "", serviceError(&ServiceError{Code: codeRequestTooLarge, StatusCode: 413}, "asynchronous event of %d bytes exceeds the %d-byte limit of function %s", len(payload), limit, e.name)
	}
	if len(payload) > 0 && !json.Valid(payload) {
		return "", serviceError(ErrInvalidRequestContent, "Could not parse request body into json: the asynchronous event for function %s is not JSON", e.name)
	}
	var o invokeOptions
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.clientContext) > 0 {
		return "", invalidConfig("InvokeAsync of function %s: a client context is passed on synchronous invocations only, as on AWS: use Invoke", e.name)
	}
	if o.stream != nil {
		return "", invalidConfig("InvokeAsync of function %s: a response is streamed on synchronous invocations only, as on AWS: use Invoke", e.name)
	}
	if o.requestID == "" {
		o.requestID = uuid.New()
	}

	e.mu.Lock()
	switch {
	case !e.accepting && (!internal || e.stopping):
		e.mu.Unlock()
		return "", serviceError(ErrClosed, "Function not found: %s (closing)", e.arn)
	case e.outstanding >= e.cfg.QueueSize:
		e.mu.Unlock()
		e.rejected.Add(1)
		return "", serviceError(ErrQueueFull, "Rate Exceeded. The asynchronous queue of function %s holds %d events, its QueueSize.", e.name, e.cfg.QueueSize)
	}
	e.outstanding++
	e.queueing++
	e.mu.Unlock()
	if e.testHook != nil {
		e.testHook("accept")
	}
	if internal && e.handedOn != nil {
		e.handedOn()
	}

	ev := &asyncEvent{
		seq:           e.seq.Add(1),
		RequestID:     o.requestID,
		Payload:       clone(payload),
		ClientContext: clone(o.clientContext),
		Identity:      clone(o.identity),
		Qualifier:     o.qualifier,
		OwnConfig:     e.eventConfig(o.qualifier).own,
		AcceptedAt:    time.Now(),
		Trigger:       o.trigger,
		TraceID:       o.traceID,
	}
	if err := e.persist(ev); err != nil {
		e.mu.Lock()
		e.outstanding--
		e.queuedLocked()
		e.checkDrainedLocked()
		e.mu.Unlock()
		return "", fmt.Errorf("journal the event for %s: %w", e.name, err)
	}
	if e.obs != nil {
		// Only once the event is durably accepted, so that one the journal
		// refused is not counted as received. The trace ID the observer
		// gives is kept in memory, and journaled with the event's next
		// write, after a failed attempt.
		e.observeAccept(ctx, ev)
	}
	e.accepted.Add(1)
	e.mu.Lock()
	e.ready = append(e.ready, ev)
	e.queuedLocked()
	e.kickLocked()
	e.mu.Unlock()
	return ev.RequestID, nil
}

// queuedLocked counts an accept out of queueing, its event queued or
// refused.
func (e *asyncEngine) queuedLocked() {
	e.queueing--
	if e.queueing == 0 {
		e.idle.Broadcast()
	}
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// persist writes ev to the journal, when there is one.
func (e *asyncEngine) persist(ev *asyncEvent) error {
	if e.store == nil {
		return nil
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return e.store.Apply(journal.Op{Function: e.name, Kind: journal.Events, Seq: ev.seq, Value: b})
}

// kickLocked starts workers for ready events, up to Concurrency.
func (e *asyncEngine) kickLocked() {
	for !e.stopping && e.workers < e.cfg.Concurrency && e.workers-e.running < len(e.ready) {
		e.workers++
		e.workWG.Add(1)
		go e.work()
	}
}

// armLocked sets the timer for the earliest delayed event.
func (e *asyncEngine) armLocked() {
	if len(e.delayed) == 0 || e.stopping {
		if e.timer != nil {
			e.timer.Stop()
		}
		return
	}
	d := time.Until(e.delayed[0].Due)
	if e.timer == nil {
		e.timer = time.AfterFunc(d, e.wake)
	} else {
		e.timer.Reset(d)
	}
}

// wake moves due events to the ready queue.
func (e *asyncEngine) wake() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return
	}
	now := time.Now()
	for len(e.delayed) > 0 && !e.delayed[0].Due.After(now) {
		e.ready = append(e.ready, heap.Pop(&e.delayed).(*asyncEvent))
	}
	e.armLocked()
	e.kickLocked()
}

func (e *asyncEngine) work() {
	defer e.workWG.Done()
	for {
		e.mu.Lock()
		if e.stopping || len(e.ready) == 0 {
			e.workers--
			e.mu.Unlock()
			return
		}
		ev := e.ready[0]
		e.ready[0] = nil
		e.ready = e.ready[1:]
		e.running++
		e.mu.Unlock()
		e.attempt(ev)
	}
}

// attempt invokes ev once and decides what follows.
func (e *asyncEngine) attempt(ev *asyncEvent) {
	now := time.Now()
	c := e.eventConfig(ev.Qualifier)
	expiry := ev.AcceptedAt.Add(c.maxAge)
	if !now.Before(expiry) {
		e.fail(ev, ConditionEventAgeExceeded, true)
		return
	}
	if ev.recovered && ev.OwnConfig && !c.own {
		// Recovered before its qualifier's configuration was put again:
		// wait for it, rather than run by another's.
		ev.Last = &attemptFailure{Code: 404, Type: ErrNotFound.Code, Message: "The function " + e.arn + ":" + configKey(ev.Qualifier) + " doesn't have an EventInvokeConfig (yet: the event was recovered from the state directory)"}
		e.delay(ev, e.waitLonger(ev), expiry)
		return
	}
	counted := false
	count := func() {
		if counted {
			return
		}
		counted = true
		if ev.Attempts == 0 {
			ev.FirstAttemptAt = now
		} else {
			e.retried.Add(1)
		}
		ev.Attempts++
		ev.LastAttemptAt = now
		e.attempts.Add(1)
	}
	opts := invokeOptions{requestID: ev.RequestID, clientContext: ev.ClientContext, identity: ev.Identity, trigger: ev.Trigger, traceID: ev.TraceID, qualifier: ev.Qualifier, executed: &ev.ExecutedVersion}
	if e.obs != nil {
		opts.attempt, opts.acceptedAt = ev.Attempts+1, ev.AcceptedAt
	}
	// The event waits for a sandbox no longer than its age allows; the
	// attempt is counted once a sandbox is granted, so that a throttle is
	// not one.
	waitCtx, cancel := context.WithDeadline(e.runCtx, expiry)
	resp, err := e.invoke(e.runCtx, waitCtx, ev.Payload, &opts, count)
	cancel()
	if err == nil {
		e.succeed(ev, resp, c)
		return
	}
	var fe *FunctionError
	isFunc := errors.As(err, &fe)
	switch {
	case !isFunc && e.runCtx.Err() != nil:
		// Aborted by a forced close: hand the event back untouched.
		e.mu.Lock()
		e.running--
		e.handback = append(e.handback, ev)
		e.mu.Unlock()
		return
	case !isFunc && !counted && errors.Is(err, context.DeadlineExceeded):
		e.fail(ev, ConditionEventAgeExceeded, true)
		return
	case !isFunc && !counted && ev.recovered && errors.Is(err, ErrNotFound):
		// Recovered before the host made its version or alias again:
		// wait for it, without counting an attempt.
		ev.Last = &attemptFailure{Code: 404, Type: ErrNotFound.Code, Message: err.Error()}
		e.delay(ev, e.waitLonger(ev), expiry)
		return
	}
	var wait time.Duration
	switch {
	case isFunc:
		count() // an init failure fails before the sandbox is granted
		ev.Last = &attemptFailure{Code: 200, Type: fe.Type, Message: fe.Message, Response: fe.Payload(), Function: true}
		ev.throttleWait = 0
		if ev.Attempts > c.retries {
			e.fail(ev, ConditionRetriesExhausted, true)
			return
		}
		wait = e.cfg.RetryBackoff[min(ev.Attempts-1, len(e.cfg.RetryBackoff)-1)]
	case errors.Is(err, ErrThrottled):
		e.throttles.Add(1)
		ev.Last = &attemptFailure{Code: 429, Type: ErrThrottled.Code, Message: err.Error()}
		wait = e.waitLonger(ev)
	default:
		// The runtime failed the invocation, not the function: count it
		// as an attempt that failed.
		code, typ := 500, "ServiceException"
		var se *ServiceError
		if errors.As(err, &se) {
			code, typ = se.StatusCode, se.Code
		}
		ev.Last = &attemptFailure{Code: code, Type: typ, Message: err.Error()}
		count()
		if ev.Attempts > c.retries {
			e.fail(ev, ConditionRetriesExhausted, true)
			return
		}
		wait = e.cfg.RetryBackoff[min(ev.Attempts-1, len(e.cfg.RetryBackoff)-1)]
	}
	e.delay(ev, wait, expiry)
}

// waitLonger returns the next wait of an event that was not attempted: a
// throttle's, which grows.
func (e *asyncEngine) waitLonger(ev *asyncEvent) time.Duration {
	if ev.throttleWait == 0 {
		ev.throttleWait = e.cfg.ThrottleBackoffMin
	} else {
		ev.throttleWait = min(2*ev.throttleWait, e.cfg.ThrottleBackoffMax)
	}
	return ev.throttleWait
}

// delay puts ev, taken by a worker, back to wait, no later than its
// expiry.
func (e *asyncEngine) delay(ev *asyncEvent, wait time.Duration, expiry time.Time) {
	ev.Due = time.Now().Add(wait)
	if ev.Due.After(expiry) {
		// It would age out while waiting: try at the expiry, which fails
		// it with EventAgeExceeded, as AWS drops it then.
		ev.Due = expiry
	}
	if err := e.persist(ev); err != nil {
		e.journalError("record a retry", err)
	}
	e.mu.Lock()
	e.running--
	if e.stopping {
		e.handback = append(e.handback, ev)
	} else {
		heap.Push(&e.delayed, ev)
		e.armLocked()
	}
	e.mu.Unlock()
}

func (e *asyncEngine) journalError(what string, err error) {
	if e.logger != nil {
		e.logger.Error("journal: "+what, slog.String("error", err.Error()), slog.String("state", e.store.Path()))
	}
}

// succeed finishes an event that succeeded, with c its configuration.
func (e *asyncEngine) succeed(ev *asyncEvent, resp []byte, c *eventConfig) {
	var items []*outItem
	if c.onSuccess != nil {
		items = append(items, &outItem{Target: targetSuccess, Record: e.record(ev, ConditionSuccess, resp), Qualifier: ev.Qualifier, OwnConfig: c.own, Trigger: ev.Trigger})
	}
	e.finish(ev, items, true)
	e.succeeded.Add(1)
}

// fail finishes an event that failed for good; running says it was taken
// from the queue by a worker.
func (e *asyncEngine) fail(ev *asyncEvent, condition string, running bool) {
	c := e.eventConfig(ev.Qualifier)
	dl := e.deadLetter(ev, condition, c)
	var items []*outItem
	if e.cfg.DeadLetter != nil || c.onFailure == nil {
		items = append(items, &outItem{Target: targetDeadLetter, DeadLetter: dl, Trigger: ev.Trigger})
	}
	if c.onFailure != nil {
		items = append(items, &outItem{Target: targetFailure, Record: e.record(ev, condition, nil), DeadLetter: dl, Qualifier: ev.Qualifier, OwnConfig: c.own, Trigger: ev.Trigger})
	}
	e.finish(ev, items, running)
	e.deadLettered.Add(1)
	if condition == ConditionEventAgeExceeded {
		e.expired.Add(1)
	}
	if e.logger != nil {
		e.logger.Warn("asynchronous event failed for good", slog.String("request_id", ev.RequestID), slog.String("condition", condition), slog.Int("attempts", ev.Attempts), slog.String("error_type", dl.ErrorType))
	}
}

// finish removes ev from the journal and the queue, and queues its
// deliveries, in one journal transaction.
func (e *asyncEngine) finish(ev *asyncEvent, items []*outItem, wasRunning bool) {
	if e.store != nil {
		ops := []journal.Op{{Function: e.name, Kind: journal.Events, Seq: ev.seq}}
		for _, it := range items {
			it.seq = e.seq.Add(1)
			b, err := json.Marshal(it)
			if err != nil {
				e.journalError("encode a delivery", err)
				continue
			}
			ops = append(ops, journal.Op{Function: e.name, Kind: journal.Outbox, Seq: it.seq, Value: b})
		}
		if err := e.store.Apply(ops...); err != nil {
			e.journalError("finish an event", err)
		}
	}
	for _, it := range items {
		e.outs[it.Target].push(it)
	}
	e.mu.Lock()
	if wasRunning {
		e.running--
	}
	e.outstanding--
	e.checkDrainedLocked()
	e.mu.Unlock()
}

func (e *asyncEngine) checkDrainedLocked() {
	if e.outstanding == 0 {
		e.idle.Broadcast()
	}
}

// stopAccepting refuses new events, other than those handed on by other
// functions. An accept under way has counted its event as outstanding
// already, so waitQuiet waits for it.
func (e *asyncEngine) stopAccepting() {
	e.mu.Lock()
	e.accepting = false
	e.mu.Unlock()
}

// waitQuiet waits until no event is left and nothing waits for delivery,
// or ctx ends.
func (e *asyncEngine) waitQuiet(ctx context.Context) error {
	for {
		e.mu.Lock()
		err := e.idle.WaitUntil(ctx, &e.mu, func() bool { return e.outstanding == 0 })
		e.mu.Unlock()
		if err != nil {
			return err
		}
		for _, o := range e.outs {
			if err := o.waitEmpty(ctx); err != nil {
				return err
			}
		}
		// A delivery to this same function may have queued an event.
		e.mu.Lock()
		quiet := e.outstanding == 0
		e.mu.Unlock()
		if quiet {
			return nil
		}
	}
}

// deadLetter builds ev's dead letter.
func (e *asyncEngine) deadLetter(ev *asyncEvent, condition string, c *eventConfig) *DeadLetter {
	dl := &DeadLetter{
		RequestID:       ev.RequestID,
		FunctionName:    e.name,
		FunctionVersion: cmp.Or(ev.ExecutedVersion, e.version),
		FunctionARN:     e.arn + ":" + cmp.Or(ev.Qualifier, e.version),
		Condition:       condition,
		Attempts:        ev.Attempts,
		AcceptedAt:      ev.AcceptedAt,
		FirstAttemptAt:  ev.FirstAttemptAt,
		LastAttemptAt:   ev.LastAttemptAt,
		DeadLetteredAt:  time.Now(),
		Payload:         ev.Payload,
	}
	switch {
	case ev.Last != nil:
		dl.ErrorCode, dl.ErrorType, dl.ErrorMessage = ev.Last.Code, ev.Last.Type, truncateMessage(ev.Last.Message)
	case condition == ConditionShutdown:
		dl.ErrorCode, dl.ErrorType, dl.ErrorMessage = 503, "ServiceException", "function "+e.name+" closed before the event could run"
	default:
		dl.ErrorCode, dl.ErrorType, dl.ErrorMessage = 429, ErrThrottled.Code, "the event waited past its maximum age of "+c.maxAge.String()+" without an attempt"
	}
	return dl
}

// record builds ev's invocation record.
func (e *asyncEngine) record(ev *asyncEvent, condition string, resp []byte) *InvocationRecord {
	r := &InvocationRecord{
		Version:   "1.0",
		Timestamp: time.Now(),
		RequestContext: RecordRequestContext{
			RequestID:              ev.RequestID,
			FunctionARN:            e.arn + ":" + cmp.Or(ev.Qualifier, e.version),
			Condition:              condition,
			ApproximateInvokeCount: ev.Attempts,
		},
		RequestPayload:  jsonOrString(ev.Payload),
		ResponseContext: RecordResponseContext{StatusCode: 200, ExecutedVersion: cmp.Or(ev.ExecutedVersion, e.version)},
	}
	switch {
	case condition == ConditionSuccess:
		r.ResponsePayload = jsonOrString(resp)
	case ev.Last != nil:
		r.ResponseContext.StatusCode = ev.Last.Code
		if ev.Last.Function {
			r.ResponseContext.FunctionError = "Unhandled"
			r.ResponsePayload = ev.Last.Response
		} else {
			r.ResponsePayload, _ = json.Marshal(map[string]string{"errorType": ev.Last.Type, "errorMessage": ev.Last.Message})
		}
	case condition == ConditionShutdown:
		r.ResponseContext.StatusCode = 503
	default:
		r.ResponseContext.StatusCode = 429
	}
	return r
}

func (e *asyncEngine) snapshot() AsyncStats {
	s := AsyncStats{
		Accepted: e.accepted.Load(), Recovered: e.recovered.Load(), Rejected: e.rejected.Load(),
		Attempts: e.attempts.Load(), Retries: e.retried.Load(), Throttles: e.throttles.Load(),
		Succeeded: e.succeeded.Load(), DeadLettered: e.deadLettered.Load(), Expired: e.expired.Load(),
		DeadLetterErrors: e.deadLetterErrors.Load(), DestinationErrors: e.destinationErrors.Load(),
		Undelivered: e.undelivered.Load(),
	}
	e.mu.Lock()
	s.Queued, s.Delayed, s.Running = len(e.ready), len(e.delayed), e.running
	e.mu.Unlock()
	for _, o := range e.outs {
		s.Pending += o.len()
	}
	return s
}

// close stops accepting, runs what it can until ctx ends, and hands the
// rest on: to the journal with a state directory, otherwise to the
// dead-letter path with ConditionShutdown. Then it delivers what it can,
// and writes dead letters still undelivered to the undelivered file.
//
// A close while another runs does none of that: it waits for the other to
// finish, and returns nil, or ctx's error if ctx ends first. A close after
// the first returns nil.
func (e *asyncEngine) close(ctx context.Context) error {
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return awaitClose(ctx, e.closeDone)
	}
	e.closing = true
	e.accepting = false
	e.mu.Unlock()
	defer close(e.closeDone)
	ctxErr := e.waitQuiet(ctx)
	if e.testHook != nil {
		e.testHook("close")
	}
	e.mu.Lock()
	e.stopping = true
	// No accept starts now, and one under way has counted its event:
	// wait for it to queue the event, so that it is left with the others.
	// That takes a journal write at most, so ctx does not bound it.
	_ = e.idle.WaitUntil(context.Background(), &e.mu, func() bool { return e.queueing == 0 })
	left := append(e.ready, e.delayed...)
	e.ready, e.delayed = nil, nil
	if e.timer != nil {
		e.timer.Stop()
	}
	e.mu.Unlock()
	if ctxErr != nil {
		e.cancelRun() // abort attempts in flight
	}
	e.workWG.Wait()
	e.mu.Lock()
	left = append(left, e.handback...)
	e.handback = nil
	e.mu.Unlock()
	if len(left) > 0 && e.store == nil {
		for _, ev := range left {
			e.fail(ev, ConditionShutdown, false)
		}
	}
	if len(left) > 0 && e.logger != nil {
		where := "the dead-letter path"
		if e.store != nil {
			where = e.store.Path()
		}
		e.logger.Warn("asynchronous events unfinished at close", slog.Int("events", len(left)), slog.String("handed_to", where))
	}

	// Deliver what is pending until ctx ends.
	err := e.flush(ctx)
	e.cancelRun()
	return errors.Join(ctxErr, err)
}
