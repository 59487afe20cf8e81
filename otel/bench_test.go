package otel_test

import (
	"bytes"
	"context"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	lotel "github.com/wasmlambda/lambda/otel"
)

// BenchmarkInvokeWarm: a 1 KiB echo through a warm sandbox of the bytes
// guest (a guest.Handler returning its payload), as the root package's
// BenchmarkInvokeWarm/bytes, with no observer, with this package on
// OpenTelemetry's no-op providers, and on the SDK's (a manual metric
// reader, and every span sampled, with no exporter).
func BenchmarkInvokeWarm(b *testing.B) {
	code := testguest.Go(b, "bytes")
	sdkObserver := func(b *testing.B) *lambda.Observer {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		b.Cleanup(func() {
			_ = mp.Shutdown(context.Background())
			_ = tp.Shutdown(context.Background())
		})
		return mustObserver(b, lotel.Config{MeterProvider: mp, TracerProvider: tp})
	}
	for _, bc := range []struct {
		name string
		obs  func(*testing.B) *lambda.Observer
	}{
		{"none", func(*testing.B) *lambda.Observer { return nil }},
		{"noop", func(b *testing.B) *lambda.Observer {
			return mustObserver(b, lotel.Config{MeterProvider: metricnoop.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()})
		}},
		{"sdk", sdkObserver},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), Observer: bc.obs(b)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = rt.Close(ctx) })
			f, err := rt.Deploy(ctx, lambda.FunctionConfig{Name: "echo", Code: code, MinWarm: 1})
			if err != nil {
				b.Fatal(err)
			}
			payload := append(append([]byte{'"'}, bytes.Repeat([]byte("x"), 1022)...), '"')
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				out, err := f.Invoke(ctx, payload)
				if err != nil || len(out) != len(payload) {
					b.Fatal(err, len(out))
				}
			}
		})
	}
}

func mustObserver(b *testing.B, cfg lotel.Config) *lambda.Observer {
	obs, err := lotel.NewObserver(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return obs
}
