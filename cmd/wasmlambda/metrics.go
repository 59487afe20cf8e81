package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	lambda "github.com/wasmlambda/lambda"
	lotel "github.com/wasmlambda/lambda/otel"
)

// metricsServer serves the runtime's metrics (package otel's, AWS's
// names) for Prometheus to scrape, through OpenTelemetry's Prometheus
// exporter.
type metricsServer struct {
	observer *lambda.Observer
	url      string
	srv      *http.Server
	mp       *sdkmetric.MeterProvider
	served   chan error
}

// metricsAddr completes addr: a bare port, or an address without a host,
// listens on 127.0.0.1.
func metricsAddr(addr string) string {
	if !strings.Contains(addr, ":") {
		return net.JoinHostPort("127.0.0.1", addr)
	}
	if strings.HasPrefix(addr, ":") {
		return "127.0.0.1" + addr
	}
	return addr
}

// serveMetrics starts serving /metrics at addr.
func serveMetrics(addr string) (*metricsServer, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	obs, err := lotel.NewObserver(lotel.Config{MeterProvider: mp})
	if err != nil {
		_ = mp.Shutdown(context.Background())
		return nil, err
	}
	ln, err := net.Listen("tcp", metricsAddr(addr))
	if err != nil {
		_ = mp.Shutdown(context.Background())
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m := &metricsServer{
		observer: obs,
		url:      fmt.Sprintf("http://%s/metrics", ln.Addr()),
		srv:      &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		mp:       mp,
		served:   make(chan error, 1),
	}
	go func() { m.served <- m.srv.Serve(ln) }()
	return m, nil
}

// close stops serving, and the meter provider.
func (m *metricsServer) close(ctx context.Context) error {
	err := m.srv.Shutdown(ctx)
	if serr := <-m.served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return errors.Join(err, m.mp.Shutdown(ctx))
}
