package lambda

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Trigger is a source of events for a function: a schedule, a queue, a
// bucket, or one of your own. The built-in triggers live in packages of
// their own (trigger/schedule, for one) and use this interface and this
// package's exported API and nothing else, so a trigger of your own has the
// same powers: what a trigger needs to know of its function is on
// TriggerContext and Function.
//
// The runtime calls Start once, when the trigger is attached, and Stop once,
// when it is detached or its function or runtime closes.
type Trigger interface {
	// Start begins sending events to tc.Function, through tc.InvokeAsync
	// or tc.Invoke so that they are counted. It returns once the trigger
	// runs; its goroutines then run until Stop. An error means the trigger
	// did not start, and it is not attached.
	Start(ctx context.Context, tc *TriggerContext) error

	// Stop stops the trigger: once it returns, no event is sent. Work in
	// flight is finished, or handed back to where it came from, within
	// ctx; an event the trigger took and could not hand on is reported in
	// the error, never dropped in silence.
	Stop(ctx context.Context) error
}

// TriggerContext is what a trigger gets from the runtime: its name, its
// function, a logger, and counters. It is safe for concurrent use.
//
// What a trigger needs to know of its function is on Function: its Name,
// Version and ARN, the Region and AccountID of its runtime, and its
// resolved Config, with its payload limits (MaxRequestBytes, and
// Async.MaxPayloadBytes for InvokeAsync) and its asynchronous settings
// (Async: retries, MaxEventAge, sinks).
type TriggerContext struct {
	// Function is the function the trigger feeds.
	Function *Function
	// Logger carries the attributes function and trigger. It is never
	// nil: without a runtime logger it discards.
	Logger *slog.Logger

	name     string
	events   atomic.Int64
	errors   atomic.Int64
	mu       sync.Mutex
	lastErr  string
	lastErrT time.Time

	qualifier string // the version or alias it targets; "" for none
}

// Name is the name the trigger was attached under (Attachment.Name),
// unique to its function: a trigger can name what it makes after it, as
// the schedule names its EventBridge rule.
func (tc *TriggerContext) Name() string { return tc.name }

// InvokeAsync invokes the function asynchronously (Function.InvokeAsync)
// and counts the event, or the error.
func (tc *TriggerContext) InvokeAsync(ctx context.Context, payload []byte, opts ...InvokeOption) (string, error) {
	if obs := tc.Function.rt.obs; obs != nil {
		var done func(error)
		ctx, done = tc.observeEvent(ctx, obs, true)
		opts = append(opts[:len(opts):len(opts)], withTrigger(tc.name))
		id, err := tc.invokeAsync(ctx, payload, opts)
		done(err)
		return id, err
	}
	return tc.invokeAsync(ctx, payload, opts)
}

func (tc *TriggerContext) invokeAsync(ctx context.Context, payload []byte, opts []InvokeOption) (string, error) {
	opts = tc.qualified(opts)
	id, err := tc.Function.InvokeAsync(ctx, payload, opts...)
	if err != nil {
		tc.ReportError(fmt.Errorf("invoke %s asynchronously: %w", tc.Function.Name(), err))
		return "", err
	}
	tc.events.Add(1)
	return id, nil
}

// Invoke invokes the function synchronously (Function.Invoke) and counts
// the event, or the error.
func (tc *TriggerContext) Invoke(ctx context.Context, payload []byte, opts ...InvokeOption) ([]byte, error) {
	if obs := tc.Function.rt.obs; obs != nil {
		var done func(error)
		ctx, done = tc.observeEvent(ctx, obs, false)
		opts = append(opts[:len(opts):len(opts)], withTrigger(tc.name))
		out, err := tc.invoke(ctx, payload, opts)
		done(err)
		return out, err
	}
	return tc.invoke(ctx, payload, opts)
}

func (tc *TriggerContext) invoke(ctx context.Context, payload []byte, opts []InvokeOption) ([]byte, error) {
	opts = tc.qualified(opts)
	out, err := tc.Function.Invoke(ctx, payload, opts...)
	if err != nil {
		tc.ReportError(fmt.Errorf("invoke %s: %w", tc.Function.Name(), err))
		return nil, err
	}
	tc.events.Add(1)
	return out, nil
}

// observeEvent tells obs of an event the trigger hands on, and returns the
// context it goes on in and the function that reports its outcome.
func (tc *TriggerContext) observeEvent(ctx context.Context, obs *Observer, async bool) (context.Context, func(error)) {
	info := TriggerEventInfo{Function: tc.Function.name, Version: tc.Function.cfg.Version, Trigger: tc.name, Async: async}
	if obs.TriggerEventStart != nil {
		ctx = obs.TriggerEventStart(ctx, info)
	}
	return ctx, func(err error) {
		if obs.TriggerEventDone != nil {
			info.Err = err
			obs.TriggerEventDone(ctx, info)
		}
	}
}

// ReportReceive reports a batch of records the trigger received, the
// oldest of them sent (or first made available) at oldest: a queue's
// iterator age, which Options.Observer's TriggerReceive receives. It does
// nothing without an Observer.
func (tc *TriggerContext) ReportReceive(ctx context.Context, records int, oldest time.Time) {
	obs := tc.Function.rt.obs
	if obs == nil || obs.TriggerReceive == nil {
		return
	}
	obs.TriggerReceive(ctx, TriggerReceiveInfo{Function: tc.Function.name, Version: tc.Function.cfg.Version, Trigger: tc.name, Records: records, IteratorAge: time.Since(oldest)})
}

// ReportError logs err and counts it in the trigger's Stats.
func (tc *TriggerContext) ReportError(err error) {
	tc.errors.Add(1)
	tc.mu.Lock()
	tc.lastErr, tc.lastErrT = err.Error(), time.Now()
	tc.mu.Unlock()
	tc.Logger.Error("trigger error", slog.String("error", err.Error()))
}

// TriggerStats counts what a trigger did.
type TriggerStats struct {
	// Name is the attachment's name.
	Name string
	// Events counts events the function took.
	Events int64
	// Errors counts errors reported, and LastError is the latest, at
	// LastErrorAt.
	Errors      int64
	LastError   string
	LastErrorAt time.Time
}

// Attachment is a trigger attached to a function.
type Attachment struct {
	tc      *TriggerContext
	trigger Trigger
	once    sync.Once
	err     error
}

// Name is the name the trigger was attached under.
func (a *Attachment) Name() string { return a.tc.name }

// Trigger is the attached trigger.
func (a *Attachment) Trigger() Trigger { return a.trigger }

// Stats returns the trigger's counters.
func (a *Attachment) Stats() TriggerStats {
	tc := a.tc
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return TriggerStats{Name: tc.name, Events: tc.events.Load(), Errors: tc.errors.Load(), LastError: tc.lastErr, LastErrorAt: tc.lastErrT}
}

// Detach stops the trigger, as Trigger.Stop, and removes it from its
// function. Calls after the first return the first's result.
func (a *Attachment) Detach(ctx context.Context) error {
	a.once.Do(func() {
		a.err = a.trigger.Stop(ctx)
		a.tc.Function.removeTrigger(a)
		if a.err != nil {
			a.tc.ReportError(fmt.Errorf("stop: %w", a.err))
		}
	})
	return a.err
}

// Attach starts t feeding the function, under a name unique to the
// function. The trigger stops when detached, or when the function or the
// runtime closes.
//
// # Errors
//
//   - ErrInvalidConfig: an empty name or a nil Trigger.
//   - ErrConflict: a name the function has already.
//   - ErrClosed: the function is closing.
//   - the trigger's own error from Start, such as a bad schedule.
func (f *Function) Attach(ctx context.Context, name string, t Trigger, opts ...AttachOption) (*Attachment, error) {
	if name == "" || t == nil {
		return nil, invalidConfig("function %s: a trigger needs a name and a Trigger", f.name)
	}
	var ao attachOptions
	for _, opt := range opts {
		opt(&ao)
	}
	if ao.qualifier != "" {
		if _, err := f.vs.lookup(ao.qualifier); err != nil {
			return nil, err
		}
	}
	logger := f.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &Attachment{trigger: t, tc: &TriggerContext{Function: f, Logger: logger.With(slog.String("trigger", name)), name: name, qualifier: ao.qualifier}}
	f.tmu.Lock()
	if f.triggersClosed {
		f.tmu.Unlock()
		return nil, serviceError(ErrClosed, "Function not found: %s (closing)", f.arn)
	}
	for _, o := range f.triggers {
		if o.tc.name == name {
			f.tmu.Unlock()
			return nil, serviceError(ErrConflict, "function %s already has a trigger named %s", f.name, name)
		}
	}
	f.triggers = append(f.triggers, a)
	f.tmu.Unlock()
	if err := t.Start(ctx, a.tc); err != nil {
		f.removeTrigger(a)
		return nil, err
	}
	return a, nil
}

// AttachOption sets a detail of an attachment.
type AttachOption func(*attachOptions)

type attachOptions struct {
	qualifier string
}

// AttachQualifier makes the trigger invoke a version ("3"), an alias
// ("live") or "$LATEST" rather than the unqualified function, as an AWS
// event source mapping or rule can target a qualified ARN: every
// invocation it makes through its TriggerContext carries the qualifier, as
// WithQualifier does. A trigger that targets an alias follows it as it
// moves. Attach fails with ErrNotFound when the qualifier does not exist.
func AttachQualifier(qualifier string) AttachOption {
	return func(o *attachOptions) { o.qualifier = qualifier }
}

// Qualifier is the version or alias the trigger invokes (AttachQualifier),
// or "" for the unqualified function.
func (tc *TriggerContext) Qualifier() string { return tc.qualifier }

// qualified prepends the trigger's qualifier to opts, so that an option
// the trigger passes may still override it.
func (tc *TriggerContext) qualified(opts []InvokeOption) []InvokeOption {
	if tc.qualifier == "" {
		return opts
	}
	return append([]InvokeOption{WithQualifier(tc.qualifier)}, opts...)
}

// Triggers returns the function's attached triggers.
func (f *Function) Triggers() []*Attachment {
	f.tmu.Lock()
	defer f.tmu.Unlock()
	return append([]*Attachment(nil), f.triggers...)
}

func (f *Function) removeTrigger(a *Attachment) {
	f.tmu.Lock()
	defer f.tmu.Unlock()
	for i, o := range f.triggers {
		if o == a {
			f.triggers = append(f.triggers[:i:i], f.triggers[i+1:]...)
			return
		}
	}
}

// stopTriggers detaches every trigger, at once, and refuses new ones.
func (f *Function) stopTriggers(ctx context.Context) error {
	f.tmu.Lock()
	f.triggersClosed = true
	ts := append([]*Attachment(nil), f.triggers...)
	f.tmu.Unlock()
	return parallel(ts, func(a *Attachment) error {
		if err := a.Detach(ctx); err != nil {
			return fmt.Errorf("trigger %s: %w", a.Name(), err)
		}
		return nil
	})
}

// Clock is the time a trigger runs on. RealClock is the default; the
// lambdatest package's ManualClock lets tests move time without sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once d has passed on the clock.
	NewTimer(d time.Duration) ClockTimer
}

// ClockTimer is a timer of a Clock.
type ClockTimer interface {
	// C receives the time once the timer fires.
	C() <-chan time.Time
	// Stop stops the timer; it reports whether the timer had not fired.
	Stop() bool
}

// RealClock returns the system clock.
func RealClock() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) NewTimer(d time.Duration) ClockTimer {
	return realTimer{time.NewTimer(d)}
}

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }
