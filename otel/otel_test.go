package otel_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	lotel "github.com/wasmlambda/lambda/otel"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// telemetry is an observer on the OpenTelemetry SDK, with an in-memory
// metric reader and span recorder.
type telemetry struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	obs    *lambda.Observer
}

func newTelemetry(t *testing.T) *telemetry {
	tm := &telemetry{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	tm.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tm.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tm.reader))
	var err error
	tm.obs, err = lotel.NewObserver(lotel.Config{MeterProvider: mp, TracerProvider: tm.tp})
	require.NoError(t, err)
	require.NotNil(t, tm.obs)
	return tm
}

// point is one data point: a sum's value, or a histogram's count, sum,
// min and max.
type point struct {
	value             int64
	count             uint64
	sum, min, max     float64
	function, trigger string
	version           string
}

// collect returns every data point by metric name.
func (tm *telemetry) collect(t *testing.T) map[string][]point {
	var rm metricdata.ResourceMetrics
	require.NoError(t, tm.reader.Collect(context.Background(), &rm))
	out := map[string][]point{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, lotel.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					p := point{value: dp.Value}
					attrs(t, m.Name, dp.Attributes, &p)
					out[m.Name] = append(out[m.Name], p)
				}
			case metricdata.Histogram[float64]:
				require.Equal(t, "ms", m.Unit, m.Name)
				for _, dp := range d.DataPoints {
					p := point{count: dp.Count, sum: dp.Sum}
					p.min, _ = dp.Min.Value()
					p.max, _ = dp.Max.Value()
					attrs(t, m.Name, dp.Attributes, &p)
					out[m.Name] = append(out[m.Name], p)
				}
			default:
				t.Fatalf("metric %s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

// attrs checks that a data point carries function, version and trigger,
// and nothing else.
func attrs(t *testing.T, name string, set attribute.Set, p *point) {
	require.Equal(t, 3, set.Len(), "%s: attributes %v", name, set.ToSlice())
	for _, kv := range set.ToSlice() {
		switch kv.Key {
		case lotel.AttrFunction:
			p.function = kv.Value.AsString()
		case lotel.AttrVersion:
			p.version = kv.Value.AsString()
		case lotel.AttrTrigger:
			p.trigger = kv.Value.AsString()
		default:
			t.Fatalf("%s: unexpected attribute %s", name, kv.Key)
		}
	}
	require.Equal(t, lambda.LatestVersion, p.version, name)
}

// of returns the one data point of the metric for the function, or fails.
func of(t *testing.T, ms map[string][]point, name, function string) point {
	t.Helper()
	var found []point
	for _, p := range ms[name] {
		if p.function == function {
			found = append(found, p)
		}
	}
	require.Len(t, found, 1, "%s of %s: %+v", name, function, ms[name])
	return found[0]
}

func absent(t *testing.T, ms map[string][]point, name, function string) {
	t.Helper()
	for _, p := range ms[name] {
		require.NotEqual(t, function, p.function, "%s of %s: %+v", name, function, p)
	}
}

// flakySink fails its first failures sends, then keeps the dead letters.
type flakySink struct {
	mu       sync.Mutex
	failures int
	got      []*lambda.DeadLetter
}

func (s *flakySink) Send(_ context.Context, dl *lambda.DeadLetter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		s.failures--
		return errors.New("the queue is down")
	}
	s.got = append(s.got, dl)
	return nil
}

// manualTrigger hands its function what the test tells it to.
type manualTrigger struct{ tc *lambda.TriggerContext }

func (m *manualTrigger) Start(_ context.Context, tc *lambda.TriggerContext) error {
	m.tc = tc
	return nil
}
func (m *manualTrigger) Stop(context.Context) error { return nil }

// TestMetricsAndSpans runs a known workload and checks every metric and
// span: on "work", N successes (the first a cold start), M function
// errors, and a timeout during which K invocations are throttled; on
// "dl", an asynchronous event that fails both its attempts and is dead
// lettered, to a sink that fails once; on "trig", an event from a trigger
// that reports its batch's iterator age.
func TestMetricsAndSpans(t *testing.T) {
	const N, M, K = 3, 2, 2
	const timeout = 3 * time.Second
	ctx := testkit.WaitCtx(t)
	tm := newTelemetry(t)
	rt := testkit.NewRuntime(t, lambda.Options{Observer: tm.obs})
	behave := testguest.Go(t, "behave")

	work := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "work", Code: behave, MaxConcurrency: 1, ThrottleWhenBusy: true, Timeout: timeout})
	for range N {
		_, err := work.Invoke(ctx, []byte(`{"op":"echo","data":1}`))
		require.NoError(t, err)
	}
	for range M {
		_, err := work.Invoke(ctx, []byte(`{"op":"error","message":"boom"}`))
		var fe *lambda.FunctionError
		require.ErrorAs(t, err, &fe)
	}
	looped := make(chan error, 1)
	go func() {
		_, err := work.Invoke(ctx, []byte(`{"op":"loop"}`))
		looped <- err
	}()
	require.Eventually(t, func() bool { return work.Stats().InUse == 1 }, 20*time.Second, time.Millisecond)
	for range K {
		_, err := work.Invoke(ctx, []byte(`{"op":"echo"}`))
		require.ErrorIs(t, err, lambda.ErrThrottled)
	}
	require.ErrorIs(t, <-looped, lambda.ErrTimeout)

	sink := &flakySink{failures: 1}
	records := testkit.NewRecordSink()
	async := testkit.FastAsync()
	async.MaxRetryAttempts = lambda.Retries(1)
	async.DeadLetter, async.OnFailure = sink, records
	dl := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "dl", Code: behave, MaxConcurrency: 1, Async: async})
	_, err := dl.InvokeAsync(ctx, []byte(`{"op":"error","message":"nope"}`))
	require.NoError(t, err)
	records.Wait(t, 1)

	trig := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "trig", Code: behave})
	mt := &manualTrigger{}
	_, err = trig.Attach(ctx, "tick", mt)
	require.NoError(t, err)
	const age = 1500 * time.Millisecond
	mt.tc.ReportReceive(ctx, 2, time.Now().Add(-age))
	_, err = mt.tc.Invoke(ctx, []byte(`{"op":"echo"}`))
	require.NoError(t, err)

	// Close, so that every delivery and its hook is done.
	require.NoError(t, rt.Close(ctx))
	require.Len(t, sink.got, 1)

	ms := tm.collect(t)
	names := make([]string, 0, len(ms))
	for n := range ms {
		names = append(names, n)
	}
	require.ElementsMatch(t, []string{
		lotel.MetricInvocations, lotel.MetricErrors, lotel.MetricThrottles, lotel.MetricDuration,
		lotel.MetricConcurrentExecutions, lotel.MetricColdStarts, lotel.MetricInitDuration,
		lotel.MetricAsyncEventsReceived, lotel.MetricAsyncEventAge, lotel.MetricAsyncEventsDropped,
		lotel.MetricDeadLetterErrors, lotel.MetricDestinationDeliveryFailures, lotel.MetricIteratorAge,
	}, names)

	t.Run("work", func(t *testing.T) {
		require.Equal(t, int64(N+M+1), of(t, ms, lotel.MetricInvocations, "work").value)
		require.Equal(t, int64(M+1), of(t, ms, lotel.MetricErrors, "work").value)
		require.Equal(t, int64(K), of(t, ms, lotel.MetricThrottles, "work").value)
		require.Equal(t, int64(1), of(t, ms, lotel.MetricColdStarts, "work").value)
		require.Equal(t, int64(0), of(t, ms, lotel.MetricConcurrentExecutions, "work").value)
		init := of(t, ms, lotel.MetricInitDuration, "work")
		require.Equal(t, uint64(1), init.count)
		require.Greater(t, init.sum, 0.0)
		d := of(t, ms, lotel.MetricDuration, "work")
		require.Equal(t, uint64(N+M+1), d.count)
		require.Equal(t, float64(timeout.Milliseconds()), d.max, "a timed-out invocation lasted its timeout")
		require.Greater(t, d.min, 0.0)
		for _, name := range []string{lotel.MetricAsyncEventsReceived, lotel.MetricAsyncEventAge, lotel.MetricAsyncEventsDropped, lotel.MetricDeadLetterErrors, lotel.MetricDestinationDeliveryFailures, lotel.MetricIteratorAge} {
			absent(t, ms, name, "work")
		}
		for _, p := range ms[lotel.MetricInvocations] {
			if p.function == "work" {
				require.Empty(t, p.trigger)
			}
		}
	})
	t.Run("dl", func(t *testing.T) {
		require.Equal(t, int64(1), of(t, ms, lotel.MetricAsyncEventsReceived, "dl").value)
		require.Equal(t, int64(0), of(t, ms, lotel.MetricAsyncEventsDropped, "dl").value)
		require.Equal(t, int64(2), of(t, ms, lotel.MetricInvocations, "dl").value)
		require.Equal(t, int64(2), of(t, ms, lotel.MetricErrors, "dl").value)
		require.Equal(t, int64(1), of(t, ms, lotel.MetricColdStarts, "dl").value)
		require.Equal(t, int64(1), of(t, ms, lotel.MetricDeadLetterErrors, "dl").value)
		require.Equal(t, int64(0), of(t, ms, lotel.MetricDestinationDeliveryFailures, "dl").value)
		require.Equal(t, int64(0), of(t, ms, lotel.MetricConcurrentExecutions, "dl").value)
		require.Equal(t, uint64(2), of(t, ms, lotel.MetricAsyncEventAge, "dl").count)
		require.Equal(t, uint64(2), of(t, ms, lotel.MetricDuration, "dl").count)
		absent(t, ms, lotel.MetricThrottles, "dl")
		absent(t, ms, lotel.MetricIteratorAge, "dl")
	})
	t.Run("trig", func(t *testing.T) {
		for _, name := range []string{lotel.MetricInvocations, lotel.MetricErrors, lotel.MetricColdStarts, lotel.MetricIteratorAge} {
			require.Equal(t, "tick", of(t, ms, name, "trig").trigger, name)
		}
		require.Equal(t, int64(1), of(t, ms, lotel.MetricInvocations, "trig").value)
		require.Equal(t, int64(0), of(t, ms, lotel.MetricErrors, "trig").value)
		ia := of(t, ms, lotel.MetricIteratorAge, "trig")
		require.Equal(t, uint64(1), ia.count)
		require.GreaterOrEqual(t, ia.sum, float64(age.Milliseconds()))
		require.Less(t, ia.sum, float64(age.Milliseconds()+60_000))
	})

	t.Run("spans", func(t *testing.T) {
		spans := tm.spans.Ended()
		byName := map[string][]sdktrace.ReadOnlySpan{}
		for _, s := range spans {
			require.Equal(t, lotel.ScopeName, s.InstrumentationScope().Name)
			byName[s.Name()] = append(byName[s.Name()], s)
		}
		keys := make([]string, 0, len(byName))
		for k := range byName {
			keys = append(keys, k)
		}
		require.ElementsMatch(t, []string{"Invoke work", "Invoke dl", "InvokeAsync dl", "trigger tick", "Invoke trig"}, keys)

		// work: every invocation, the throttled ones too.
		kinds := map[string]int{}
		cold := 0
		for _, s := range byName["Invoke work"] {
			a := spanAttrs(s)
			require.Equal(t, trace.SpanKindServer, s.SpanKind())
			require.Equal(t, "work", a[lotel.AttrFunction].AsString())
			require.Equal(t, lambda.LatestVersion, a[lotel.AttrVersion].AsString())
			require.Equal(t, "", a[lotel.AttrTrigger].AsString())
			require.NotEmpty(t, a[lotel.AttrRequestID].AsString())
			require.False(t, s.Parent().IsValid(), "a direct call has no parent")
			if a[lotel.AttrColdStart].AsBool() {
				cold++
			}
			kind := a[lotel.AttrErrorKind].AsString()
			kinds[kind]++
			if kind == "" {
				require.Equal(t, codes.Unset, s.Status().Code)
			} else {
				require.Equal(t, codes.Error, s.Status().Code)
			}
		}
		require.Equal(t, map[string]int{"": N, "function": M, "timeout": 1, "throttle": K}, kinds)
		require.Equal(t, 1, cold)

		// dl: the accepted event, and its two attempts as its children.
		require.Len(t, byName["InvokeAsync dl"], 1)
		acc := byName["InvokeAsync dl"][0]
		require.Equal(t, trace.SpanKindProducer, acc.SpanKind())
		accAttrs := spanAttrs(acc)
		require.Equal(t, "dl", accAttrs[lotel.AttrFunction].AsString())
		attempts := byName["Invoke dl"]
		require.Len(t, attempts, 2)
		seen := map[int64]bool{}
		for _, s := range attempts {
			a := spanAttrs(s)
			require.Equal(t, acc.SpanContext().TraceID(), s.SpanContext().TraceID())
			require.Equal(t, acc.SpanContext().SpanID(), s.Parent().SpanID())
			require.Equal(t, accAttrs[lotel.AttrRequestID], a[lotel.AttrRequestID])
			require.Equal(t, "function", a[lotel.AttrErrorKind].AsString())
			require.Equal(t, "errorString", a[lotel.AttrErrorType].AsString())
			seen[a[lotel.AttrAttempt].AsInt64()] = true
		}
		require.Equal(t, map[int64]bool{1: true, 2: true}, seen)

		// trig: the trigger's span is the invocation's parent.
		require.Len(t, byName["trigger tick"], 1)
		require.Len(t, byName["Invoke trig"], 1)
		ts, is := byName["trigger tick"][0], byName["Invoke trig"][0]
		require.Equal(t, trace.SpanKindConsumer, ts.SpanKind())
		require.Equal(t, "tick", spanAttrs(ts)[lotel.AttrTrigger].AsString())
		require.Equal(t, ts.SpanContext().SpanID(), is.Parent().SpanID())
		require.Equal(t, "tick", spanAttrs(is)[lotel.AttrTrigger].AsString())
	})
}

func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// traceSeen is what the trace guest answers.
type traceSeen struct {
	Env string `json:"env"`
	Ctx string `json:"ctx"`
}

// TestTraceIDReachesGuest checks that the guest sees its invocation's
// span as AWS's X-Ray trace ID, in _X_AMZN_TRACE_ID and in the context
// value "x-amzn-trace-id": in ABI v1, in compatibility mode, and in an
// asynchronous event's attempt.
func TestTraceIDReachesGuest(t *testing.T) {
	ctx := testkit.WaitCtx(t)
	tm := newTelemetry(t)
	rt := testkit.NewRuntime(t, lambda.Options{Observer: tm.obs})
	records := testkit.NewRecordSink()
	async := testkit.FastAsync()
	async.OnSuccess = records
	fns := map[string]*lambda.Function{
		"reactor": testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "reactor", Code: testguest.Go(t, "trace"), Async: async}),
		"command": testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "command", Code: testguest.GoDir(t, testguest.Root()+"/testdata/guests/go/trace", true)}),
	}
	invokeSpan := func(name string) sdktrace.ReadOnlySpan {
		var found sdktrace.ReadOnlySpan
		for _, s := range tm.spans.Ended() {
			if s.Name() == name {
				found = s
			}
		}
		require.NotNil(t, found, name)
		return found
	}
	for _, name := range []string{"reactor", "command"} {
		t.Run(name, func(t *testing.T) {
			pctx, parent := tm.tp.Tracer("test").Start(ctx, "caller")
			out, err := fns[name].Invoke(pctx, []byte(`{}`))
			parent.End()
			require.NoError(t, err)
			var seen traceSeen
			require.NoError(t, json.Unmarshal(out, &seen))
			span := invokeSpan("Invoke " + name)
			require.Equal(t, parent.SpanContext().SpanID(), span.Parent().SpanID())
			want := lotel.TraceID(span.SpanContext())
			require.Regexp(t, `^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$`, want)
			require.Equal(t, traceSeen{Env: want, Ctx: want}, seen)
		})
	}
	t.Run("async", func(t *testing.T) {
		pctx, parent := tm.tp.Tracer("test").Start(ctx, "caller")
		_, err := fns["reactor"].InvokeAsync(pctx, []byte(`{}`))
		parent.End()
		require.NoError(t, err)
		rec := records.Wait(t, 1)[0]
		var seen traceSeen
		require.NoError(t, json.Unmarshal(rec.ResponsePayload, &seen))
		sc, err := lotel.ParseTraceID(seen.Env)
		require.NoError(t, err)
		require.Equal(t, parent.SpanContext().TraceID(), sc.TraceID())
		require.Equal(t, seen.Env, seen.Ctx)
		var attempt sdktrace.ReadOnlySpan
		require.Eventually(t, func() bool {
			for _, s := range tm.spans.Ended() {
				if s.Name() == "Invoke reactor" && s.SpanContext().SpanID() == sc.SpanID() {
					attempt = s
				}
			}
			return attempt != nil
		}, 10*time.Second, time.Millisecond)
		require.Equal(t, int64(1), spanAttrs(attempt)[lotel.AttrAttempt].AsInt64())
	})
}

func TestTraceIDFormat(t *testing.T) {
	// AWS's example header.
	const h = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	sc, err := lotel.ParseTraceID(h)
	require.NoError(t, err)
	require.Equal(t, "5759e988bd862e3fe1be46a994272793", sc.TraceID().String())
	require.Equal(t, "53995c3f42cd8ad8", sc.SpanID().String())
	require.True(t, sc.IsSampled())
	require.True(t, sc.IsRemote())
	require.Equal(t, h, lotel.TraceID(sc))

	sc, err = lotel.ParseTraceID(" Sampled=0; Parent=53995c3f42cd8ad8 ;Lineage=a87bd80c:1|68fd508a:5;Root=1-5759e988-bd862e3fe1be46a994272793")
	require.NoError(t, err)
	require.False(t, sc.IsSampled())
	require.Equal(t, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", lotel.TraceID(sc))

	require.Empty(t, lotel.TraceID(trace.SpanContext{}))
	for _, bad := range []string{
		"", "Root=1-5759e988-bd862e3fe1be46a994272793", "Parent=53995c3f42cd8ad8",
		"Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
		"Root=1-5759e98-8bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
		"Root=1-5759e988-bd862e3fe1be46a99427279z;Parent=53995c3f42cd8ad8",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad",
		"Root=1-00000000-000000000000000000000000;Parent=0000000000000000",
	} {
		_, err := lotel.ParseTraceID(bad)
		require.Error(t, err, bad)
	}
}

// TestNoProvider checks that without a provider there is no observer, so
// the runtime does no more than without the package.
func TestNoProvider(t *testing.T) {
	obs, err := lotel.NewObserver(lotel.Config{})
	require.NoError(t, err)
	require.Nil(t, obs)
}

// flakyDestination fails its first delivery, then counts the others.
type flakyDestination struct {
	mu     sync.Mutex
	failed bool
	got    int
}

func (d *flakyDestination) Deliver(context.Context, *lambda.InvocationRecord) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.failed {
		d.failed = true
		return errors.New("the bus is down")
	}
	d.got++
	return nil
}

// TestDeliveryMetricsCarryTrigger checks that DeadLetterErrors and
// DestinationDeliveryFailures of an event a trigger sent carry the
// trigger's name, as the event's other metrics do.
func TestDeliveryMetricsCarryTrigger(t *testing.T) {
	ctx := testkit.WaitCtx(t)
	tm := newTelemetry(t)
	rt := testkit.NewRuntime(t, lambda.Options{Observer: tm.obs})
	sink := &flakySink{failures: 1}
	async := testkit.FastAsync()
	async.MaxRetryAttempts = lambda.Retries(0)
	dest := &flakyDestination{}
	async.DeadLetter, async.OnFailure = sink, dest
	fn := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "dlt", Code: testguest.Go(t, "behave"), Async: async})
	mt := &manualTrigger{}
	_, err := fn.Attach(ctx, "tick", mt)
	require.NoError(t, err)
	_, err = mt.tc.InvokeAsync(ctx, []byte(`{"op":"error","message":"nope"}`))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		dest.mu.Lock()
		defer dest.mu.Unlock()
		return len(sink.got) == 1 && dest.got == 1
	}, 30*time.Second, time.Millisecond)
	require.NoError(t, rt.Close(ctx))

	ms := tm.collect(t)
	for _, name := range []string{lotel.MetricAsyncEventsReceived, lotel.MetricInvocations, lotel.MetricDeadLetterErrors, lotel.MetricDestinationDeliveryFailures, lotel.MetricAsyncEventsDropped} {
		require.Equal(t, "tick", of(t, ms, name, "dlt").trigger, name)
	}
	require.Equal(t, int64(1), of(t, ms, lotel.MetricDeadLetterErrors, "dlt").value)
	require.Equal(t, int64(1), of(t, ms, lotel.MetricDestinationDeliveryFailures, "dlt").value)
}

// TestOutboundTraceContext checks that a guest's request through the host
// carries its invocation's span: as X-Amzn-Trace-Id, the X-Ray trace ID
// the guest sees, and as a W3C traceparent.
func TestOutboundTraceContext(t *testing.T) {
	ctx := testkit.WaitCtx(t)
	seen := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", u.Hostname())

	tm := newTelemetry(t)
	rt := testkit.NewRuntime(t, lambda.Options{Observer: tm.obs})
	fn := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "out", Code: testguest.Go(t, "httpcall"), Timeout: 30 * time.Second,
		HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{{Host: u.Host}}}})
	out, err := fn.Invoke(ctx, []byte(`{"method":"GET","url":"`+srv.URL+`/x"}`))
	require.NoError(t, err)
	var resp struct {
		Status int    `json:"status"`
		Error  string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(out, &resp))
	require.Equal(t, 200, resp.Status, resp.Error)
	h := <-seen

	var span sdktrace.ReadOnlySpan
	for _, s := range tm.spans.Ended() {
		if s.Name() == "Invoke out" {
			span = s
		}
	}
	require.NotNil(t, span)
	sc := span.SpanContext()
	require.Equal(t, lotel.TraceID(sc), h.Get("X-Amzn-Trace-Id"))
	require.Equal(t, "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-01", h.Get("Traceparent"))
}

// TestIteratorAgeFromSQS checks IteratorAge on a real event source: an
// SQS event source mapping on an embedded queue, whose message is delayed
// two seconds, so that it is at least that old when it is received.
func TestIteratorAgeFromSQS(t *testing.T) {
	const delay = 2 * time.Second
	ctx := testkit.WaitCtx(t)
	tm := newTelemetry(t)
	rt := testkit.NewRuntime(t, lambda.Options{Observer: tm.obs})
	fn := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "consumer", Code: testguest.Go(t, "sqsbatch")})
	e := sqs.NewEmbedded(sqs.EmbeddedOptions{})
	t.Cleanup(func() { _ = e.Close() })
	q, err := e.CreateQueue("orders", sqs.QueueConfig{})
	require.NoError(t, err)
	_, failed, err := q.Send(ctx, []sqs.SendEntry{{Body: "hello", Delay: delay}})
	require.NoError(t, err)
	require.Empty(t, failed)
	att, err := fn.Attach(ctx, "orders-queue", &sqs.EventSource{Queue: q})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return q.Len() == 0 }, 60*time.Second, 5*time.Millisecond)
	require.NoError(t, att.Detach(ctx))
	require.NoError(t, rt.Close(ctx))

	ms := tm.collect(t)
	ia := of(t, ms, lotel.MetricIteratorAge, "consumer")
	require.Equal(t, "orders-queue", ia.trigger)
	require.Equal(t, uint64(1), ia.count)
	require.GreaterOrEqual(t, ia.sum, float64(delay.Milliseconds()))
	require.Less(t, ia.sum, float64(delay.Milliseconds()+60_000))
	inv := of(t, ms, lotel.MetricInvocations, "consumer")
	require.Equal(t, "orders-queue", inv.trigger)
	require.Equal(t, int64(1), inv.value)
}
