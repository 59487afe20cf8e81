package otel_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	lotel "github.com/wasmlambda/lambda/otel"
)

// An application passes its OpenTelemetry providers, here the SDK's with
// a manual reader, and sets the observer on the runtime.
func ExampleNewObserver() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(ctx)
	obs, err := lotel.NewObserver(lotel.Config{MeterProvider: mp, TracerProvider: tp})
	if err != nil {
		panic(err)
	}
	rt, err := lambda.New(lambda.Options{Observer: obs, CacheDir: testguest.CacheDir()})
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)
	fn, err := rt.Deploy(ctx, lambda.FunctionConfig{Name: "echo", Code: testguest.MustGo("echo")})
	if err != nil {
		panic(err)
	}
	for range 3 {
		if _, err := fn.Invoke(ctx, []byte(`"hi"`)); err != nil {
			panic(err)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && (m.Name == lotel.MetricInvocations || m.Name == lotel.MetricColdStarts) {
			fn, _ := sum.DataPoints[0].Attributes.Value(lotel.AttrFunction)
			fmt.Printf("%s{function=%s} %d\n", m.Name, fn.AsString(), sum.DataPoints[0].Value)
		}
	}
	// Unordered output:
	// Invocations{function=echo} 3
	// ColdStarts{function=echo} 1
}
