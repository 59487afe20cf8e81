package lambda

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/wasmlambda/lambda/internal/uuid"
)

// Observer is called at the points of a function's life that telemetry
// watches, in the manner of net/http/httptrace's ClientTrace: each field is
// an optional hook, and a nil one is not called. Set it on
// Options.Observer; package github.com/wasmlambda/lambda/otel builds one on
// OpenTelemetry. Without an Observer the runtime checks a nil pointer and
// does nothing else.
//
// Hooks are called synchronously, from the goroutine doing the work, often
// from many at once: they must be safe for concurrent use, and quick. A
// hook must not invoke functions of the runtime, nor keep the info it is
// given past its return except by copying it.
//
// Every info carries the function's name and version ("$LATEST" unless
// FunctionConfig.Version says otherwise), and where a trigger is involved,
// the trigger's name (Attachment.Name), or "" for calls made directly.
type Observer struct {
	// InvokeStart is called as an invocation starts, before it waits for
	// a sandbox. It returns the context the invocation runs in (ctx, or a
	// context derived from it, with a span say), which GotSandbox,
	// TraceID and InvokeDone receive. Each attempt of an asynchronous
	// event is an invocation of its own, with Async set and its Attempt
	// number.
	InvokeStart func(ctx context.Context, info InvokeInfo) context.Context

	// GotSandbox is called once the invocation has a sandbox, before the
	// guest runs: it is now one of the function's concurrent executions.
	// A throttled invocation, or one whose context ended while it waited,
	// gets none.
	GotSandbox func(ctx context.Context, info GotSandboxInfo)

	// InvokeDone is called as the invocation ends, with its outcome, in
	// the context InvokeStart returned.
	InvokeDone func(ctx context.Context, info InvokeDoneInfo)

	// TraceID returns the trace ID the guest sees for an invocation that
	// runs in ctx: an AWS X-Ray trace header,
	// "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
	// or "" for none, which leaves the one given with WithTraceID, if any.
	// It is called after InvokeStart, and as an asynchronous event is
	// accepted, after AsyncAccepted, for the trace ID that the event's
	// attempts inherit (InvokeInfo.TraceID).
	TraceID func(ctx context.Context) string

	// SandboxCreated is called once a sandbox is initialised, and
	// SandboxDiscarded as one is closed, with the reason. In compatibility
	// mode (a WASI command) a sandbox is the slot the one-shot runs share.
	SandboxCreated   func(info SandboxInfo)
	SandboxDiscarded func(info SandboxInfo)

	// AsyncAccepted is called as InvokeAsync accepts an event, once the
	// event is queued durably (journaled, with a state directory) and
	// before InvokeAsync returns: an event refused, or whose journal write
	// failed, is not reported. It returns the context the accept goes on
	// in, whose trace ID (TraceID) the event's attempts inherit. That
	// trace ID is journaled with the event's next write, after a failed
	// attempt: an event recovered from the journal before one had failed
	// keeps only the trace ID given with WithTraceID.
	AsyncAccepted func(ctx context.Context, info AsyncInfo) context.Context

	// DeadLetterSent is called after each attempt to send a dead letter
	// to the dead-letter sink (or the runtime's undelivered file), with
	// its error, nil when it went through.
	DeadLetterSent func(info DeliveryInfo)

	// DestinationDelivered is called after each attempt to deliver an
	// invocation record to an on-success or on-failure destination, with
	// its error.
	DestinationDelivered func(info DeliveryInfo)

	// AsyncEventDropped is called when an accepted event is lost: its
	// dead letter could be written nowhere, not even to the undelivered
	// file. It should never be called.
	AsyncEventDropped func(info DeliveryInfo)

	// TriggerEventStart is called as a trigger hands its function an
	// event through TriggerContext.Invoke or InvokeAsync; it returns the
	// context the event goes on in, which the invocation inherits, and
	// which TriggerEventDone receives with the outcome.
	TriggerEventStart func(ctx context.Context, info TriggerEventInfo) context.Context
	TriggerEventDone  func(ctx context.Context, info TriggerEventInfo)

	// OutboundHeader is called as a guest makes a request through the
	// host (FunctionConfig.HTTP), in the context of its invocation (as
	// InvokeStart returned it), with an empty header to fill with the
	// trace context to propagate: package otel writes a W3C traceparent.
	// A header the guest set itself is kept: what OutboundHeader sets
	// under the same name is dropped. The host sets X-Amzn-Trace-Id, the
	// invocation's X-Ray trace ID, itself.
	OutboundHeader func(ctx context.Context, header http.Header)

	// TriggerReceive is called when a trigger reports a batch it received
	// (TriggerContext.ReportReceive), with the age of its oldest record:
	// a queue's iterator age.
	TriggerReceive func(ctx context.Context, info TriggerReceiveInfo)
}

// ErrorKind classifies how an invocation failed, for Observer.InvokeDone.
type ErrorKind string

// The kinds of error. The first three are AWS's Errors; a throttled
// invocation is not an invocation, but a Throttle.
const (
	// ErrorKindNone: the invocation succeeded.
	ErrorKindNone ErrorKind = ""
	// ErrorKindFunction: the guest reported an error, or panicked, or
	// answered too much.
	ErrorKindFunction ErrorKind = "function"
	// ErrorKindTimeout: the invocation ran past its timeout.
	ErrorKindTimeout ErrorKind = "timeout"
	// ErrorKindCrash: the sandbox failed: a trap, an exit, running out of
	// memory, a malformed result, or a failed init.
	ErrorKindCrash ErrorKind = "crash"
	// ErrorKindThrottle: refused with ErrThrottled.
	ErrorKindThrottle ErrorKind = "throttle"
	// ErrorKindService: the runtime failed the call before or around the
	// function: a request over the limit, a closed function, the caller's
	// context ending.
	ErrorKindService ErrorKind = "service"
)

// ClassifyError returns the ErrorKind of an error Invoke returned.
func ClassifyError(err error) ErrorKind {
	if err == nil {
		return ErrorKindNone
	}
	var fe *FunctionError
	if errors.As(err, &fe) {
		switch fe.Type {
		case ErrorTypeTimeout:
			return ErrorKindTimeout
		case ErrorTypeExit, ErrorTypeOutOfMemory, ErrorTypeInit, ErrorTypeInvalidResult:
			return ErrorKindCrash
		}
		return ErrorKindFunction
	}
	if errors.Is(err, ErrThrottled) {
		return ErrorKindThrottle
	}
	return ErrorKindService
}

// InvokeInfo describes an invocation as it starts.
type InvokeInfo struct {
	Function, Version string
	// Trigger is the trigger that sent the event, or "".
	Trigger   string
	RequestID string
	// Async is set for an attempt of an asynchronous event; Attempt is
	// then its number, 1 for the first (throttled attempts are not
	// counted, as AWS does not), and EventAge the time since the event
	// was accepted.
	Async    bool
	Attempt  int
	EventAge time.Duration
	// TraceID is the trace ID the invocation inherits: the one given with
	// WithTraceID, or for an asynchronous event the one taken when it was
	// accepted. Empty for none.
	TraceID string
}

// GotSandboxInfo describes an invocation that has its sandbox.
type GotSandboxInfo struct {
	InvokeInfo
	// ColdStart is set when the sandbox was initialised for this
	// invocation, as AWS's Init Duration in REPORT marks; InitDuration is
	// how long its initialisation took (0 in compatibility mode, where
	// every run is a cold start).
	ColdStart    bool
	InitDuration time.Duration
}

// InvokeDoneInfo describes an invocation that ended.
type InvokeDoneInfo struct {
	GotSandboxInfo
	// Ran is set when the invocation had a sandbox and ran: AWS's
	// Invocations count those. When it is not, only Err and ErrorKind
	// are set below.
	Ran bool
	// Duration is the invocation's run, REPORT's Duration: a timed-out
	// invocation lasted its timeout.
	Duration time.Duration
	// MemorySizeMB is the function's memory size, and MaxMemoryUsed the
	// guest's memory at the end of the invocation, in bytes.
	MemorySizeMB  int
	MaxMemoryUsed uint64
	// Err is what Invoke returned, ErrorKind its class, and ErrorType the
	// FunctionError's type, if it is one.
	Err       error
	ErrorKind ErrorKind
	ErrorType string
}

// SandboxInfo describes a sandbox created or discarded.
type SandboxInfo struct {
	Function, Version string
	// Provisioned is set for a MinWarm sandbox (AWS's provisioned
	// concurrency).
	Provisioned bool
	// InitDuration is how long its initialisation took.
	InitDuration time.Duration
	// Reason is why it was discarded: "error" (it trapped, timed out,
	// exited or ran out of memory), "max_uses", "idle" or "shutdown".
	// Empty for SandboxCreated.
	Reason string
}

// AsyncInfo describes an asynchronous event accepted.
type AsyncInfo struct {
	Function, Version string
	Trigger           string
	RequestID         string
	// TraceID is the trace ID given with WithTraceID, or "".
	TraceID string
}

// DeliveryInfo describes an attempt to deliver a dead letter or an
// invocation record.
type DeliveryInfo struct {
	Function, Version string
	// Trigger is the trigger that sent the event, or "".
	Trigger   string
	RequestID string
	// Target is "dead-letter", "on-success" or "on-failure".
	Target string
	// Condition is the record's: ConditionSuccess, ConditionRetriesExhausted,
	// ConditionEventAgeExceeded or ConditionShutdown.
	Condition string
	// Err is the delivery's error, nil when it went through.
	Err error
}

// TriggerEventInfo describes an event a trigger hands its function.
type TriggerEventInfo struct {
	Function, Version string
	Trigger           string
	// Async is set for TriggerContext.InvokeAsync.
	Async bool
	// Err is the invoke's error, in TriggerEventDone.
	Err error
}

// TriggerReceiveInfo describes a batch a trigger received.
type TriggerReceiveInfo struct {
	Function, Version string
	Trigger           string
	// Records is how many records the batch holds.
	Records int
	// IteratorAge is the age of its oldest record when it was received.
	IteratorAge time.Duration
}

// WithTraceID passes the invocation an AWS X-Ray trace ID (a trace header,
// "Root=…;Parent=…;Sampled=…"), as AWS's Invoke takes one in its
// X-Amzn-Trace-Id header: the guest sees it as _X_AMZN_TRACE_ID and as the
// context value "x-amzn-trace-id", unless Options.Observer's TraceID gives
// another. An asynchronous event keeps it for each of its attempts.
func WithTraceID(traceID string) InvokeOption {
	return func(o *invokeOptions) { o.traceID = traceID }
}

// withTrigger marks an invocation as sent by the named trigger.
func withTrigger(name string) InvokeOption {
	return func(o *invokeOptions) { o.trigger = name }
}

// invokeObservation is what an observed invocation learns as it goes.
type invokeObservation struct {
	obs  *Observer
	ctx  context.Context
	info InvokeDoneInfo
}

// observeInvoke runs an invocation under obs: InvokeStart, the invocation
// itself (f.invoke, with o.ob set), InvokeDone.
func (f *Function) observeInvoke(ctx, waitCtx context.Context, payload []byte, o *invokeOptions, granted func(), obs *Observer) ([]byte, error) {
	if o.requestID == "" {
		o.requestID = uuid.New()
	}
	ob := &invokeObservation{obs: obs}
	ob.info.InvokeInfo = InvokeInfo{
		Function: f.name, Version: f.cfg.Version, Trigger: o.trigger, RequestID: o.requestID,
		Async: o.attempt > 0, Attempt: o.attempt, TraceID: o.traceID,
	}
	if !o.acceptedAt.IsZero() {
		ob.info.EventAge = time.Since(o.acceptedAt)
	}
	ob.info.MemorySizeMB = f.cfg.MemorySize
	if obs.InvokeStart != nil {
		nctx := obs.InvokeStart(ctx, ob.info.InvokeInfo)
		if waitCtx == ctx {
			waitCtx = nctx
		}
		ctx = nctx
	}
	if obs.TraceID != nil {
		if id := obs.TraceID(ctx); id != "" {
			o.traceID = id
		}
	}
	ob.ctx = ctx
	o.ob = ob
	resp, err := f.invoke(ctx, waitCtx, payload, o, granted)
	if obs.InvokeDone != nil {
		ob.info.Err, ob.info.ErrorKind = err, ClassifyError(err)
		if err != nil {
			var fe *FunctionError
			if errors.As(err, &fe) {
				ob.info.ErrorType = fe.Type
			}
		}
		obs.InvokeDone(ctx, ob.info)
	}
	return resp, err
}

// gotSandbox records that the invocation has sb, and tells the observer.
func (ob *invokeObservation) gotSandbox(sb *sandbox) {
	// In compatibility mode every run instantiates the command afresh.
	ob.info.ColdStart = sb.inst == nil || (sb.uses == 0 && !sb.provisioned)
	if ob.info.ColdStart {
		ob.info.InitDuration = sb.initDur
	}
	if ob.obs.GotSandbox != nil {
		ob.obs.GotSandbox(ob.ctx, ob.info.GotSandboxInfo)
	}
}

// ran records the run's figures.
func (ob *invokeObservation) ran(d, timeout time.Duration, maxMem uint64, err error) {
	if err != nil {
		var fe *FunctionError
		if errors.As(err, &fe) && fe.Type == ErrorTypeTimeout {
			d = min(d, timeout)
		}
	}
	ob.info.Ran, ob.info.Duration, ob.info.MaxMemoryUsed = true, d, maxMem
}

// observeSandbox tells the function's observer of a sandbox created
// (reason "") or discarded.
func (f *Function) observeSandbox(sb *sandbox, reason string) {
	obs := f.rt.obs
	info := SandboxInfo{Function: f.name, Version: f.cfg.Version, Provisioned: sb.provisioned, InitDuration: sb.initDur, Reason: reason}
	if reason == "" {
		if obs.SandboxCreated != nil {
			obs.SandboxCreated(info)
		}
	} else if obs.SandboxDiscarded != nil {
		obs.SandboxDiscarded(info)
	}
}

// targetNames name the targets in DeliveryInfo.
var targetNames = [numTargets]string{"dead-letter", "on-success", "on-failure"}

// observeDelivery tells the observer of a delivery attempt.
func (e *asyncEngine) observeDelivery(t target, it *outItem, err error) {
	info := DeliveryInfo{Function: e.name, Version: e.version, Trigger: it.Trigger, RequestID: it.requestID(), Target: targetNames[t], Err: err}
	switch {
	case it.DeadLetter != nil:
		info.Condition = it.DeadLetter.Condition
	case it.Record != nil:
		info.Condition = it.Record.RequestContext.Condition
	}
	if t == targetDeadLetter {
		if e.obs.DeadLetterSent != nil {
			e.obs.DeadLetterSent(info)
		}
	} else if e.obs.DestinationDelivered != nil {
		e.obs.DestinationDelivered(info)
	}
}

// observeDropped tells the observer of a dead letter lost.
func (e *asyncEngine) observeDropped(it *outItem, err error) {
	if e.obs == nil || e.obs.AsyncEventDropped == nil {
		return
	}
	e.obs.AsyncEventDropped(DeliveryInfo{Function: e.name, Version: e.version, Trigger: it.Trigger, RequestID: it.requestID(), Target: targetNames[targetDeadLetter], Condition: it.DeadLetter.Condition, Err: err})
}

// observeAccept tells the observer of an accepted event, and takes the
// trace ID its attempts inherit.
func (e *asyncEngine) observeAccept(ctx context.Context, ev *asyncEvent) {
	if e.obs.AsyncAccepted != nil {
		ctx = e.obs.AsyncAccepted(ctx, AsyncInfo{Function: e.name, Version: e.version, Trigger: ev.Trigger, RequestID: ev.RequestID, TraceID: ev.TraceID})
	}
	if e.obs.TraceID != nil {
		if id := e.obs.TraceID(ctx); id != "" {
			ev.TraceID = id
		}
	}
}
