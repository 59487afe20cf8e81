// Package otel reports a runtime's functions to OpenTelemetry: AWS
// Lambda's CloudWatch metrics, under AWS's names, and a span per
// invocation, with the trace context handed to the guest as AWS hands it.
//
// It is built on the runtime's hooks, lambda.Observer, and on the
// OpenTelemetry API alone: the application chooses the SDK and exporters
// and passes their MeterProvider and TracerProvider.
//
//	obs, err := otel.NewObserver(otel.Config{MeterProvider: mp, TracerProvider: tp})
//	rt, err := lambda.New(lambda.Options{Observer: obs})
//
// # Metrics
//
// Every measurement carries the attributes function, version ("$LATEST"
// unless FunctionConfig.Version says otherwise) and trigger (the
// trigger's name, or "" for calls made directly; a delivery carries the
// trigger of the event it delivers).
//
//   - Invocations: invocations that ran, succeeded or failed. A throttled
//     invocation is not one, as on AWS.
//   - Errors: invocations that failed with a function error, a timeout or
//     a crash of the sandbox (lambda.ErrorKind).
//   - Throttles: invocations refused with lambda.ErrThrottled.
//   - Duration: a histogram of the invocations' run, in ms, as REPORT's
//     Duration: a timed-out invocation lasted its timeout.
//   - ConcurrentExecutions: invocations running now, an up-down counter.
//   - ColdStarts: invocations whose sandbox was initialised for them, and
//     InitDuration, a histogram of those initialisations, in ms.
//   - AsyncEventsReceived: events InvokeAsync accepted.
//   - AsyncEventAge: a histogram of the time from an event's acceptance to
//     each of its attempts, in ms.
//   - AsyncEventsDropped: events lost, whose dead letter could be written
//     nowhere. It stays 0: the runtime drops no accepted event.
//   - DeadLetterErrors: failed attempts to send a dead letter.
//   - DestinationDeliveryFailures: failed attempts to deliver a record to
//     an on-success or on-failure destination.
//   - IteratorAge: a histogram of the age of the oldest record of each
//     batch a trigger receives (a queue's), in ms.
//
// # Traces
//
// Each invocation is a span, "Invoke FUNCTION" (of kind server), a child
// of the span in the caller's context. An asynchronous event is a span
// "InvokeAsync FUNCTION" (of kind producer), which ends as the event is
// accepted, and each of its attempts is an "Invoke FUNCTION" span, its
// child. An event a trigger sends is a span "trigger NAME" (of kind
// consumer), the parent of the invocation or of the asynchronous event.
//
// The guest sees its invocation's span as AWS's X-Ray trace ID,
// "Root=1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY;Parent=ZZZZZZZZZZZZZZZZ;Sampled=1",
// in _X_AMZN_TRACE_ID and in the context value "x-amzn-trace-id", where
// aws-lambda-go puts it: the Root is the span's trace ID, its first 8 hex
// digits and its last 24, and the Parent its span ID. An asynchronous event
// keeps its span's trace ID, for its attempts to be its children.
//
// The guest's requests through the host (FunctionConfig.HTTP) carry the
// invocation's span on: its X-Ray trace ID in X-Amzn-Trace-Id, as the
// X-Ray SDK sends it from a function on AWS, and a W3C traceparent
// (Config.Propagator), unless the guest set them itself.
package otel

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	lambda "github.com/wasmlambda/lambda"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/wasmlambda/lambda/otel"

// The metrics' names, AWS's.
const (
	MetricInvocations                 = "Invocations"
	MetricErrors                      = "Errors"
	MetricThrottles                   = "Throttles"
	MetricDuration                    = "Duration"
	MetricConcurrentExecutions        = "ConcurrentExecutions"
	MetricColdStarts                  = "ColdStarts"
	MetricInitDuration                = "InitDuration"
	MetricAsyncEventsReceived         = "AsyncEventsReceived"
	MetricAsyncEventAge               = "AsyncEventAge"
	MetricAsyncEventsDropped          = "AsyncEventsDropped"
	MetricDeadLetterErrors            = "DeadLetterErrors"
	MetricDestinationDeliveryFailures = "DestinationDeliveryFailures"
	MetricIteratorAge                 = "IteratorAge"
)

// The attributes' keys.
const (
	AttrFunction = attribute.Key("function")
	AttrVersion  = attribute.Key("version")
	AttrTrigger  = attribute.Key("trigger")

	// Spans' only.
	AttrRequestID = attribute.Key("request_id")
	AttrAttempt   = attribute.Key("attempt")
	AttrColdStart = attribute.Key("cold_start")
	AttrErrorKind = attribute.Key("error_kind")
	AttrErrorType = attribute.Key("error_type")
)

// Config says where the observer reports. A nil provider reports nothing
// of its kind.
type Config struct {
	// MeterProvider receives the metrics.
	MeterProvider metric.MeterProvider
	// TracerProvider receives the spans.
	TracerProvider trace.TracerProvider
	// Propagator writes the invocation's trace context on the requests
	// its guest makes through the host (FunctionConfig.HTTP), with a
	// TracerProvider. Default the W3C Trace Context, traceparent and
	// tracestate.
	Propagator propagation.TextMapPropagator
}

// NewObserver returns the lambda.Observer that reports to cfg's providers,
// for lambda.Options.Observer; or nil, which observes nothing at no cost,
// when cfg has neither.
//
// # Errors
//
// The meter's own, when it cannot make an instrument.
func NewObserver(cfg Config) (*lambda.Observer, error) {
	if cfg.MeterProvider == nil && cfg.TracerProvider == nil {
		return nil, nil
	}
	o := &observer{attrs: map[attrKey]*attrSet{}}
	lo := &lambda.Observer{InvokeDone: o.invokeDone, AsyncAccepted: o.asyncAccepted}
	if cfg.MeterProvider != nil {
		if err := o.instruments(cfg.MeterProvider.Meter(ScopeName)); err != nil {
			return nil, err
		}
		lo.GotSandbox = o.gotSandbox
		lo.DeadLetterSent = o.deadLetterSent
		lo.DestinationDelivered = o.destinationDelivered
		lo.AsyncEventDropped = o.asyncEventDropped
		lo.TriggerReceive = o.triggerReceive
	}
	if cfg.TracerProvider != nil {
		o.tracer = cfg.TracerProvider.Tracer(ScopeName)
		lo.InvokeStart = o.invokeStart
		lo.TraceID = traceID
		lo.TriggerEventStart = o.triggerEventStart
		lo.TriggerEventDone = o.triggerEventDone
		prop := cfg.Propagator
		if prop == nil {
			prop = propagation.TraceContext{}
		}
		lo.OutboundHeader = func(ctx context.Context, h http.Header) { prop.Inject(ctx, propagation.HeaderCarrier(h)) }
	}
	return lo, nil
}

type observer struct {
	tracer trace.Tracer // nil: no spans
	meter  bool         // the instruments are set

	invocations, errs, throttles, coldStarts, received, dropped metric.Int64Counter
	deadLetterErrors, destinationFailures                       metric.Int64Counter
	concurrent                                                  metric.Int64UpDownCounter
	duration, initDuration, eventAge, iteratorAge               metric.Float64Histogram

	mu    sync.RWMutex
	attrs map[attrKey]*attrSet
}

// attrKey identifies the attributes of a measurement.
type attrKey struct{ function, version, trigger string }

// attrSet is what the observer keeps for one attrKey, made once: the
// measurement option and span attributes, and the span names.
type attrSet struct {
	// add and rec are the measurement options, as the variadic arguments
	// of Add and Record: passed on as they are, they cost no allocation.
	add                   []metric.AddOption
	rec                   []metric.RecordOption
	kvs                   []attribute.KeyValue
	invokeName, asyncName string
}

func (o *observer) set(function, version, trigger string) *attrSet {
	k := attrKey{function, version, trigger}
	o.mu.RLock()
	s := o.attrs[k]
	o.mu.RUnlock()
	if s != nil {
		return s
	}
	kvs := []attribute.KeyValue{AttrFunction.String(function), AttrVersion.String(version), AttrTrigger.String(trigger)}
	opt := metric.WithAttributeSet(attribute.NewSet(kvs...))
	s = &attrSet{
		add:        []metric.AddOption{opt},
		rec:        []metric.RecordOption{opt},
		kvs:        kvs,
		invokeName: "Invoke " + function,
		asyncName:  "InvokeAsync " + function,
	}
	o.mu.Lock()
	if old := o.attrs[k]; old != nil {
		s = old
	} else {
		o.attrs[k] = s
	}
	o.mu.Unlock()
	return s
}

func (o *observer) instruments(m metric.Meter) error {
	var errs []error
	counter := func(name, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit("{count}"))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithDescription(desc), metric.WithUnit("ms"))
		errs = append(errs, err)
		return h
	}
	o.invocations = counter(MetricInvocations, "Invocations that ran, succeeded or failed; throttles excluded.")
	o.errs = counter(MetricErrors, "Invocations that failed with a function error, a timeout or a crash.")
	o.throttles = counter(MetricThrottles, "Invocations refused for want of concurrency.")
	o.duration = histogram(MetricDuration, "The invocations' run, as REPORT's Duration.")
	var err error
	o.concurrent, err = m.Int64UpDownCounter(MetricConcurrentExecutions, metric.WithDescription("Invocations running now."), metric.WithUnit("{count}"))
	errs = append(errs, err)
	o.coldStarts = counter(MetricColdStarts, "Invocations whose sandbox was initialised for them.")
	o.initDuration = histogram(MetricInitDuration, "The initialisation of the sandboxes of cold starts.")
	o.received = counter(MetricAsyncEventsReceived, "Events accepted for asynchronous invocation.")
	o.eventAge = histogram(MetricAsyncEventAge, "The time from an event's acceptance to each of its attempts.")
	o.dropped = counter(MetricAsyncEventsDropped, "Accepted events lost: their dead letter could be written nowhere.")
	o.deadLetterErrors = counter(MetricDeadLetterErrors, "Failed attempts to send a dead letter.")
	o.destinationFailures = counter(MetricDestinationDeliveryFailures, "Failed attempts to deliver a record to a destination.")
	o.iteratorAge = histogram(MetricIteratorAge, "The age of the oldest record of each batch a trigger receives.")
	o.meter = true
	return errors.Join(errs...)
}

// The spans' start options, made once.
var (
	serverSpan   = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	producerSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)}
	consumerSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
)

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// invokeStart starts the invocation's span: the child of the span in ctx,
// or else of the trace ID the invocation inherits.
func (o *observer) invokeStart(ctx context.Context, info lambda.InvokeInfo) context.Context {
	if info.TraceID != "" && !trace.SpanContextFromContext(ctx).IsValid() {
		if sc, err := ParseTraceID(info.TraceID); err == nil {
			ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
		}
	}
	s := o.set(info.Function, info.Version, info.Trigger)
	ctx, span := o.tracer.Start(ctx, s.invokeName, serverSpan...)
	if span.IsRecording() {
		span.SetAttributes(s.kvs...)
		span.SetAttributes(AttrRequestID.String(info.RequestID))
		if info.Async {
			span.SetAttributes(AttrAttempt.Int(info.Attempt))
		}
	}
	return ctx
}

func (o *observer) gotSandbox(ctx context.Context, info lambda.GotSandboxInfo) {
	s := o.set(info.Function, info.Version, info.Trigger)
	o.concurrent.Add(ctx, 1, s.add...)
	if info.ColdStart {
		o.coldStarts.Add(ctx, 1, s.add...)
		if info.InitDuration > 0 {
			o.initDuration.Record(ctx, ms(info.InitDuration), s.rec...)
		}
	}
	if info.Async {
		o.eventAge.Record(ctx, ms(info.EventAge), s.rec...)
	}
}

func (o *observer) invokeDone(ctx context.Context, info lambda.InvokeDoneInfo) {
	failed := info.ErrorKind == lambda.ErrorKindFunction || info.ErrorKind == lambda.ErrorKindTimeout || info.ErrorKind == lambda.ErrorKindCrash
	if o.meter {
		s := o.set(info.Function, info.Version, info.Trigger)
		switch {
		case info.Ran:
			o.concurrent.Add(ctx, -1, s.add...)
			o.invocations.Add(ctx, 1, s.add...)
			o.duration.Record(ctx, ms(info.Duration), s.rec...)
			var n int64
			if failed {
				n = 1
			}
			o.errs.Add(ctx, n, s.add...)
		case info.ErrorKind == lambda.ErrorKindThrottle:
			o.throttles.Add(ctx, 1, s.add...)
		}
	}
	if o.tracer == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		if info.Ran {
			span.SetAttributes(AttrColdStart.Bool(info.ColdStart))
		}
		if info.Err != nil {
			span.SetAttributes(AttrErrorKind.String(string(info.ErrorKind)))
			if info.ErrorType != "" {
				span.SetAttributes(AttrErrorType.String(info.ErrorType))
			}
			span.SetStatus(codes.Error, info.Err.Error())
		}
	}
	span.End()
}

// asyncAccepted counts the event and makes its span, which its attempts
// will be children of: it ends at once.
func (o *observer) asyncAccepted(ctx context.Context, info lambda.AsyncInfo) context.Context {
	s := o.set(info.Function, info.Version, info.Trigger)
	if o.meter {
		o.received.Add(ctx, 1, s.add...)
		o.dropped.Add(ctx, 0, s.add...)
	}
	if o.tracer == nil {
		return ctx
	}
	if info.TraceID != "" && !trace.SpanContextFromContext(ctx).IsValid() {
		if sc, err := ParseTraceID(info.TraceID); err == nil {
			ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
		}
	}
	ctx, span := o.tracer.Start(ctx, s.asyncName, producerSpan...)
	if span.IsRecording() {
		span.SetAttributes(s.kvs...)
		span.SetAttributes(AttrRequestID.String(info.RequestID))
	}
	span.End()
	return ctx
}

func (o *observer) delivery(c metric.Int64Counter, info lambda.DeliveryInfo) {
	var n int64
	if info.Err != nil {
		n = 1
	}
	c.Add(context.Background(), n, o.set(info.Function, info.Version, info.Trigger).add...)
}

func (o *observer) deadLetterSent(info lambda.DeliveryInfo) { o.delivery(o.deadLetterErrors, info) }

func (o *observer) destinationDelivered(info lambda.DeliveryInfo) {
	o.delivery(o.destinationFailures, info)
}

func (o *observer) asyncEventDropped(info lambda.DeliveryInfo) {
	o.dropped.Add(context.Background(), 1, o.set(info.Function, info.Version, info.Trigger).add...)
}

func (o *observer) triggerReceive(ctx context.Context, info lambda.TriggerReceiveInfo) {
	o.iteratorAge.Record(ctx, ms(info.IteratorAge), o.set(info.Function, info.Version, info.Trigger).rec...)
}

func (o *observer) triggerEventStart(ctx context.Context, info lambda.TriggerEventInfo) context.Context {
	s := o.set(info.Function, info.Version, info.Trigger)
	ctx, span := o.tracer.Start(ctx, "trigger "+info.Trigger, consumerSpan...)
	if span.IsRecording() {
		span.SetAttributes(s.kvs...)
	}
	return ctx
}

func (o *observer) triggerEventDone(ctx context.Context, info lambda.TriggerEventInfo) {
	span := trace.SpanFromContext(ctx)
	if info.Err != nil {
		span.SetStatus(codes.Error, info.Err.Error())
	}
	span.End()
}
