package lambda_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// httpServer is the test server the httpcall guest reaches through the
// host, on 127.0.0.1.
type httpServer struct {
	*httptest.Server
	port string

	mu   sync.Mutex
	hits map[string]int // requests received, by path

	slowStarted chan struct{} // /slow sends when it starts
	slowEnded   chan error    // and the request context's error when it ends
}

func newHTTPServer(t *testing.T) *httpServer {
	s := &httpServer{hits: map[string]int{}, slowStarted: make(chan struct{}, 10), slowEnded: make(chan error, 10)}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Seen", r.Header.Get("X-Test"))
		w.Header().Set("X-Host", r.Host)
		fmt.Fprintf(w, "%s %s", r.Method, b)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		} else {
			w.(http.Flusher).Flush() // no Content-Length
		}
		_, _ = w.Write([]byte(strings.Repeat("x", n)))
	})
	mux.HandleFunc("/trace", func(w http.ResponseWriter, r *http.Request) {
		// The trace context the request carried, and how many of each.
		for _, k := range []string{"X-Amzn-Trace-Id", "Traceparent"} {
			w.Header().Set("X-Seen-"+k, r.Header.Get(k))
			w.Header().Set("X-Count-"+k, strconv.Itoa(len(r.Header.Values(k))))
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		s.slowStarted <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		s.slowEnded <- r.Context().Err()
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", u.Hostname())
	s.port = u.Port()
	return s
}

func (s *httpServer) hitCount(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// httpResp is the httpcall guest's answer.
type httpResp struct {
	Status    int               `json:"status"`
	Header    map[string]string `json:"header"`
	Body      string            `json:"body"`
	Error     string            `json:"error"`
	ErrorType string            `json:"errorType"`
	Calls     int               `json:"calls"`
}

// httpFunction deploys the httpcall guest granted g.
func httpFunction(t *testing.T, cfg lambda.FunctionConfig) *lambda.Function {
	t.Helper()
	rt := newRuntime(t, lambda.Options{})
	if cfg.Name == "" {
		cfg.Name = "httpfn"
	}
	cfg.Code = testguest.Go(t, "httpcall")
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return deploy(t, rt, cfg)
}

func callHTTP(t *testing.T, fn *lambda.Function, req map[string]any) httpResp {
	t.Helper()
	resp, err := lambda.InvokeJSON[httpResp](waitCtx(t), fn, req)
	require.NoError(t, err)
	return resp
}

func TestHTTPAllowed(t *testing.T) {
	srv := newHTTPServer(t)
	fn := httpFunction(t, lambda.FunctionConfig{MaxConcurrency: 1, HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{
		{Host: "127.0.0.1:" + srv.port, Methods: []string{"GET", "POST"}},
		{Host: "LOCALHOST", Methods: []string{"PUT"}},
	}}})
	base := srv.URL
	local := "http://localhost:" + srv.port
	tests := []struct {
		name   string
		req    map[string]any
		status int
		body   string
		header map[string]string
	}{
		{"GET", map[string]any{"method": "GET", "url": base + "/echo", "header": map[string]string{"X-Test": "t1"}},
			200, "GET ", map[string]string{"X-Seen": "t1", "X-Method": "GET", "X-Host": "127.0.0.1:" + srv.port}},
		{"POST", map[string]any{"method": "POST", "url": base + "/echo", "body": "payload"},
			200, "POST payload", map[string]string{"X-Method": "POST"}},
		{"another rule", map[string]any{"method": "PUT", "url": local + "/echo", "body": "p"},
			200, "PUT p", map[string]string{"X-Method": "PUT"}},
		{"a redirect is followed by the guest", map[string]any{"method": "GET", "url": base + "/redirect?to=/echo"},
			200, "GET ", map[string]string{"X-Method": "GET"}},
		{"a redirect handed back", map[string]any{"method": "GET", "url": base + "/redirect?to=/echo", "noRedirects": true},
			302, "<a href=\"/echo\">Found</a>.\n\n", map[string]string{"Location": "/echo"}},
		{"response at the cap's default", map[string]any{"method": "GET", "url": base + "/big?n=100000"},
			200, strings.Repeat("x", 100000), nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := callHTTP(t, fn, tt.req)
			require.Empty(t, resp.Error)
			require.Equal(t, tt.status, resp.Status)
			require.Equal(t, tt.body, resp.Body)
			for k, v := range tt.header {
				require.Equal(t, v, resp.Header[k], k)
			}
			require.Equal(t, i+1, resp.Calls, "the same warm sandbox")
		})
	}
	require.Zero(t, fn.Stats().Discarded)
}

func TestHTTPRefused(t *testing.T) {
	srv := newHTTPServer(t)
	fn := httpFunction(t, lambda.FunctionConfig{MaxConcurrency: 1, HTTP: &lambda.HTTPGrant{
		Allow:           []lambda.HTTPRule{{Host: "127.0.0.1"}, {Host: "*.example.com:" + srv.port, Methods: []string{"*"}}},
		MaxRequestBytes: 10,
	}})
	base := srv.URL
	local := "http://localhost:" + srv.port
	tests := []struct {
		name string
		req  map[string]any
		err  string
	}{
		{"host off the list", map[string]any{"method": "GET", "url": local + "/echo"},
			`Get "` + local + `/echo": wasmlambda_http: host localhost:` + srv.port + ` is not allowed (FunctionConfig.HTTP.Allow)`},
		{"port off the list", map[string]any{"method": "GET", "url": "http://api.example.com:1/echo"},
			`wasmlambda_http: host api.example.com:1 is not allowed (FunctionConfig.HTTP.Allow)`},
		{"the wildcard's domain itself", map[string]any{"method": "GET", "url": "http://example.com:" + srv.port + "/echo"},
			`wasmlambda_http: host example.com:` + srv.port + ` is not allowed`},
		{"method off the list", map[string]any{"method": "DELETE", "url": base + "/echo"},
			`Delete "` + base + `/echo": wasmlambda_http: method DELETE is not allowed for host 127.0.0.1:` + srv.port + ` (FunctionConfig.HTTP.Allow)`},
		{"POST is not a default", map[string]any{"method": "POST", "url": base + "/echo", "body": "x"},
			`wasmlambda_http: method POST is not allowed for host 127.0.0.1:` + srv.port},
		{"redirect to a host off the list", map[string]any{"method": "GET", "url": base + "/redirect?to=" + url.QueryEscape(local+"/echo")},
			`Get "` + local + `/echo": wasmlambda_http: host localhost:` + srv.port + ` is not allowed (FunctionConfig.HTTP.Allow)`},
		{"scheme", map[string]any{"method": "GET", "url": "ftp://127.0.0.1/echo"},
			`wasmlambda_http: URL "ftp://127.0.0.1/echo": want an http or https URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := callHTTP(t, fn, tt.req)
			require.Contains(t, resp.Error, tt.err)
			require.Zero(t, srv.hitCount("/echo"), "no refused request reaches the server")
		})
	}
	t.Run("request body over the cap", func(t *testing.T) {
		srv := newHTTPServer(t)
		fn := httpFunction(t, lambda.FunctionConfig{Name: "small", HTTP: &lambda.HTTPGrant{
			Allow:           []lambda.HTTPRule{{Host: "127.0.0.1", Methods: []string{"POST"}}},
			MaxRequestBytes: 10,
		}})
		resp := callHTTP(t, fn, map[string]any{"method": "POST", "url": srv.URL + "/echo", "body": "0123456789"})
		require.Empty(t, resp.Error)
		require.Equal(t, "POST 0123456789", resp.Body)
		resp = callHTTP(t, fn, map[string]any{"method": "POST", "url": srv.URL + "/echo", "body": "0123456789A"})
		require.Contains(t, resp.Error, "wasmlambda_http: the request body of 11 bytes is over the limit of 10 (FunctionConfig.HTTP.MaxRequestBytes)")
		require.Equal(t, "*guest.HostError", resp.ErrorType)
		require.Equal(t, 1, srv.hitCount("/echo"))
	})
	require.Zero(t, fn.Stats().Discarded, "a refusal is the guest's to handle")
}

// TestHTTPResponseCap: a response body over HTTPGrant.MaxResponseBytes
// fails the request, whether the server announces its length or not; it is
// never truncated.
func TestHTTPResponseCap(t *testing.T) {
	srv := newHTTPServer(t)
	fn := httpFunction(t, lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{
		Allow:            []lambda.HTTPRule{{Host: "127.0.0.1"}},
		MaxResponseBytes: 1000,
	}})
	tests := []struct {
		name string
		path string
		err  bool
	}{
		{"at the cap", "/big?n=1000", false},
		{"at the cap, chunked", "/big?n=1000&chunked=1", false},
		{"over the cap", "/big?n=1001", true},
		{"over the cap, chunked", "/big?n=1001&chunked=1", true},
		{"far over the cap, chunked", "/big?n=1000000&chunked=1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := callHTTP(t, fn, map[string]any{"method": "GET", "url": srv.URL + tt.path})
			if !tt.err {
				require.Empty(t, resp.Error)
				require.Equal(t, strings.Repeat("x", 1000), resp.Body)
				return
			}
			require.Contains(t, resp.Error, "wasmlambda_http: the response body is over the limit of 1000 bytes (FunctionConfig.HTTP.MaxResponseBytes)")
			require.Zero(t, resp.Status)
			require.Empty(t, resp.Body)
		})
	}
	t.Run("HEAD of a resource over the cap", func(t *testing.T) {
		// The response announces the resource's length, and has no body.
		resp := callHTTP(t, fn, map[string]any{"method": "HEAD", "url": srv.URL + "/big?n=5000"})
		require.Empty(t, resp.Error)
		require.Equal(t, 200, resp.Status)
		require.Equal(t, "5000", resp.Header["Content-Length"])
		require.Empty(t, resp.Body)
	})
}

// TestHTTPDeadline: a request that outlives HTTPGrant.Timeout fails, for
// the guest to handle; one that outlives the invocation's deadline times the
// invocation out, and the host's request is cancelled.
func TestHTTPDeadline(t *testing.T) {
	t.Run("HTTPGrant.Timeout", func(t *testing.T) {
		srv := newHTTPServer(t)
		fn := httpFunction(t, lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{
			Allow:   []lambda.HTTPRule{{Host: "127.0.0.1"}},
			Timeout: 200 * time.Millisecond,
		}})
		resp := callHTTP(t, fn, map[string]any{"method": "GET", "url": srv.URL + "/slow"})
		require.Contains(t, resp.Error, "wasmlambda_http: no response within 200ms (FunctionConfig.HTTP.Timeout)")
		require.ErrorIs(t, waitErr(t, srv.slowEnded), context.Canceled, "the server saw the request end")
		require.Zero(t, fn.Stats().Discarded)
	})
	t.Run("the invocation's deadline", func(t *testing.T) {
		srv := newHTTPServer(t)
		fn := httpFunction(t, lambda.FunctionConfig{Timeout: 500 * time.Millisecond, HTTP: &lambda.HTTPGrant{
			Allow:   []lambda.HTTPRule{{Host: "127.0.0.1"}},
			Timeout: time.Hour,
		}})
		_, err := fn.Invoke(waitCtx(t), []byte(`{"method":"GET","url":"`+srv.URL+`/slow"}`))
		require.ErrorIs(t, err, lambda.ErrTimeout)
		require.ErrorIs(t, waitErr(t, srv.slowEnded), context.Canceled, "the server saw the request end")
		require.Equal(t, int64(1), fn.Stats().Discarded)
	})
}

// waitErr waits for an error on ch, for at most 30 s.
func waitErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("nothing came")
		return nil
	}
}

func TestHTTPGrantConfig(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	code := testguest.WAT(t, "counter")
	tests := []struct {
		name string
		cfg  lambda.FunctionConfig
		want string
	}{
		{"capability without the grant", lambda.FunctionConfig{Capabilities: []string{lambda.CapabilityHTTP}},
			"Capabilities: wasmlambda_http is granted by FunctionConfig.HTTP, which is nil"},
		{"empty host", lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{{}}}}, "HTTP.Allow[0].Host is empty"},
		{"a URL for a host", lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{{Host: "a.com"}, {Host: "https://a.com/"}}}},
			`HTTP.Allow[1].Host "https://a.com/": want a host name`},
		{"a path", lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{{Host: "a.com/x"}}}}, `Host "a.com/x": want a host name`},
		{"wildcard inside", lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{{Host: "a.*.com"}}}}, `Host "a.*.com": want a host name`},
		{"bad port", lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{{Host: "a.com:70000"}}}}, `port "70000": want 1 to 65535`},
		{"bare IPv6", lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{{Host: "::1"}}}}, "write an IPv6 address in brackets"},
		{"bad IPv6", lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{{Host: "[1.2.3.4]"}}}}, "is not an IPv6 address"},
		{"bad method", lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{{Host: "a.com", Methods: []string{"GET", "BAD METHOD"}}}}},
			`HTTP.Allow[0].Methods: "BAD METHOD" is not an HTTP method`},
		{"negative MaxRequestBytes", lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{MaxRequestBytes: -1}}, "HTTP.MaxRequestBytes -1: want more than 0"},
		{"negative MaxResponseBytes", lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{MaxResponseBytes: -1}}, "HTTP.MaxResponseBytes -1: want more than 0"},
		{"negative Timeout", lambda.FunctionConfig{HTTP: &lambda.HTTPGrant{Timeout: -time.Second}}, "HTTP.Timeout -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Name, tt.cfg.Code = "f", code
			_, err := rt.Deploy(context.Background(), tt.cfg)
			require.ErrorIs(t, err, lambda.ErrInvalidConfig)
			require.ErrorContains(t, err, tt.want)
		})
	}

	t.Run("valid rules", func(t *testing.T) {
		fn := deploy(t, rt, lambda.FunctionConfig{Name: "rules", Code: code, Capabilities: []string{lambda.CapabilityHTTP}, HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{
			{Host: "*"}, {Host: "*:8080"}, {Host: "*.Example.COM."}, {Host: "[::1]:443"}, {Host: "[::1]"}, {Host: "10.0.0.1:80"}, {Host: "a_b.internal"},
			{Host: "a.com", Methods: []string{"*", "PROPFIND"}},
		}}})
		require.NoError(t, fn.Close(context.Background()))
	})

	t.Run("not granted", func(t *testing.T) {
		_, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "nohttp", Code: testguest.Go(t, "httpcall")})
		require.ErrorIs(t, err, lambda.ErrInvalidConfig)
		require.ErrorContains(t, err, `function nohttp: import wasmlambda_http.request needs the capability "wasmlambda_http", which FunctionConfig.HTTP grants, and it is nil`)
	})

	t.Run("Config returns a copy with the defaults", func(t *testing.T) {
		grant := &lambda.HTTPGrant{Allow: []lambda.HTTPRule{{Host: "a.com", Methods: []string{"GET"}}}}
		fn := deploy(t, rt, lambda.FunctionConfig{Name: "copies", Code: code, HTTP: grant})
		grant.Allow[0].Host, grant.Allow[0].Methods[0], grant.MaxRequestBytes = "b.com", "PUT", 5
		cfg := fn.Config()
		require.Equal(t, &lambda.HTTPGrant{
			Allow:            []lambda.HTTPRule{{Host: "a.com", Methods: []string{"GET"}}},
			MaxRequestBytes:  lambda.DefaultHTTPMaxRequestBytes,
			MaxResponseBytes: lambda.DefaultHTTPMaxResponseBytes,
		}, cfg.HTTP)
		cfg.HTTP.Allow[0].Methods[0] = "PUT"
		require.Equal(t, "GET", fn.Config().HTTP.Allow[0].Methods[0])
	})
}

// TestHTTPTraceContext checks that a guest's outbound request carries its
// invocation's trace context, as the X-Ray SDK sends it from a function on
// AWS: the trace ID in X-Amzn-Trace-Id, and what Observer.OutboundHeader
// adds (a W3C traceparent from package otel); and that a header the guest
// set itself is kept.
func TestHTTPTraceContext(t *testing.T) {
	const traceparent = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
	srv := newHTTPServer(t)
	var mu sync.Mutex
	var hookInvocations []string
	obs := &lambda.Observer{OutboundHeader: func(ctx context.Context, h http.Header) {
		inv, _ := lambda.InvocationFromContext(ctx)
		mu.Lock()
		hookInvocations = append(hookInvocations, inv.RequestID)
		mu.Unlock()
		h.Set("Traceparent", traceparent)
	}}
	rt := newRuntime(t, lambda.Options{Observer: obs})
	fn := deploy(t, rt, lambda.FunctionConfig{Name: "tracer", Code: testguest.Go(t, "httpcall"), Timeout: 30 * time.Second,
		HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{{Host: "127.0.0.1:" + srv.port}}}})
	tests := []struct {
		name          string
		traceID       string
		header        map[string]string
		xray, tparent string
	}{
		{"the invocation's trace", xrayID, nil, xrayID, traceparent},
		{"no trace ID", "", nil, "", traceparent},
		{"the guest's own headers are kept", xrayID, map[string]string{"X-Amzn-Trace-Id": "Root=1-00000000-000000000000000000000001", "traceparent": "00-guest"},
			"Root=1-00000000-000000000000000000000001", "00-guest"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprint("req-trace-", i)
			resp, err := lambda.InvokeJSON[httpResp](waitCtx(t), fn, map[string]any{"method": "GET", "url": srv.URL + "/trace", "header": tt.header},
				lambda.WithTraceID(tt.traceID), lambda.WithRequestID(id))
			require.NoError(t, err)
			require.Empty(t, resp.Error)
			require.Equal(t, tt.xray, resp.Header["X-Seen-X-Amzn-Trace-Id"])
			require.Equal(t, tt.tparent, resp.Header["X-Seen-Traceparent"])
			if tt.xray != "" {
				require.Equal(t, "1", resp.Header["X-Count-X-Amzn-Trace-Id"], "one header, not the guest's and the host's")
			}
			require.Equal(t, "1", resp.Header["X-Count-Traceparent"])
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, hookInvocations)
			require.Equal(t, id, hookInvocations[len(hookInvocations)-1], "the hook runs in the invocation's context")
		})
	}
}
