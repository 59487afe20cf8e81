package httpfn_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/httpfn"
)

// BenchmarkHandler serves GET /cookies through the trigger, with the test
// guest httpserve's http.Handler in a warm sandbox, beside the same
// handler in native Go, mounted directly. Both are called through
// ServeHTTP, without a network.
//
//	go test -run '^$' -bench Handler -benchtime 2s -count 5 ./trigger/httpfn
func BenchmarkHandler(b *testing.B) {
	native := http.NewServeMux()
	native.HandleFunc("/cookies", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", Path: "/"})
		w.Header().Add("X-Many", "x")
		w.Header().Add("X-Many", "y")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "made")
	})
	rt := testkit.NewRuntime(b, lambda.Options{HostModules: []*lambda.HostModule{lambda.NewHostModule("httptest").Func("wait", newGate().wait)}})
	fn := testkit.Deploy(b, rt, lambda.FunctionConfig{Name: "web", Code: testguest.Go(b, "httpserve"), Capabilities: []string{"httptest"}})
	tr := httpfn.New(httpfn.Options{})
	_, err := fn.Attach(context.Background(), "http", tr)
	require.NoError(b, err)

	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"wasm", tr}, {"native", native}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				bc.h.ServeHTTP(rec, httptest.NewRequest("GET", "/cookies", nil))
				if rec.Code != http.StatusCreated {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
