package httpfn_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/httpfn"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// gate is the host function httptest.wait of the test guest: it tells
// entered that a guest waits, and returns when release is closed, or its
// context ends.
type gate struct {
	entered chan struct{}
	release chan struct{}
	ended   chan error
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 10), release: make(chan struct{}), ended: make(chan error, 10)}
}

func (g *gate) wait(ctx context.Context, _ []byte) ([]byte, error) {
	g.entered <- struct{}{}
	select {
	case <-g.release:
		g.ended <- nil
		return nil, nil
	case <-ctx.Done():
		g.ended <- ctx.Err()
		return nil, ctx.Err()
	}
}

type setup struct {
	fn  *lambda.Function
	att *lambda.Attachment
	srv *httptest.Server
	g   *gate
}

// serve deploys the test guest httpserve with cfg behind a trigger with o,
// served by an httptest.Server.
func serve(t *testing.T, o httpfn.Options, cfg lambda.FunctionConfig) *setup {
	t.Helper()
	g := newGate()
	rt := testkit.NewRuntime(t, lambda.Options{HostModules: []*lambda.HostModule{lambda.NewHostModule("httptest").Func("wait", g.wait)}})
	cfg.Name = "web"
	cfg.Code = testguest.Go(t, "httpserve")
	cfg.Capabilities = []string{"httptest"}
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Minute
	}
	fn := testkit.Deploy(t, rt, cfg)
	tr := httpfn.New(o)
	att, err := fn.Attach(context.Background(), "http", tr)
	require.NoError(t, err)
	srv := httptest.NewServer(tr)
	t.Cleanup(srv.Close)
	return &setup{fn: fn, att: att, srv: srv, g: g}
}

type echo struct {
	Method     string      `json:"method"`
	URL        string      `json:"url"`
	RequestURI string      `json:"requestURI"`
	Host       string      `json:"host"`
	RemoteAddr string      `json:"remoteAddr"`
	Header     http.Header `json:"header"`
	Cookies    []string    `json:"cookies"`
	Body       string      `json:"body"`
	RawPath    string      `json:"rawPath"`
}

func TestEndToEnd(t *testing.T) {
	s := serve(t, httpfn.Options{}, lambda.FunctionConfig{})
	client := s.srv.Client()

	t.Run("the request, as the guest's http.Handler sees it", func(t *testing.T) {
		req, err := http.NewRequest("POST", s.srv.URL+"/echo?a=1&a=2&b=x%20y", strings.NewReader(`{"n":1}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Add("X-Many", "1")
		req.Header.Add("X-Many", "2")
		req.AddCookie(&http.Cookie{Name: "c1", Value: "v1"})
		req.AddCookie(&http.Cookie{Name: "c2", Value: "v2"})
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var e echo
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		require.Equal(t, "POST", e.Method)
		require.Equal(t, "/echo?a=1&a=2&b=x%20y", e.RequestURI)
		require.Equal(t, "/echo", e.RawPath)
		require.Equal(t, strings.TrimPrefix(s.srv.URL, "http://"), e.Host)
		require.Equal(t, "127.0.0.1", e.RemoteAddr)
		require.Equal(t, "1,2", e.Header.Get("X-Many"), "AWS joins a repeated header")
		require.Equal(t, []string{"c1=v1", "c2=v2"}, e.Cookies)
		require.Equal(t, `{"n":1}`, e.Body)
	})

	t.Run("a binary body both ways", func(t *testing.T) {
		body := []byte{0, 1, 2, 0xfe, 0xff, 'x'}
		resp, err := client.Post(s.srv.URL+"/binary", "application/octet-stream", bytes.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, body, got)
		require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
	})

	t.Run("an empty body", func(t *testing.T) {
		resp, err := client.Post(s.srv.URL+"/binary", "application/octet-stream", nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		require.Empty(t, got)
		require.Equal(t, 200, resp.StatusCode)
	})

	t.Run("status, cookies and a repeated header", func(t *testing.T) {
		resp, err := client.Get(s.srv.URL + "/cookies")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 201, resp.StatusCode)
		require.Equal(t, []string{"a=1", "b=2; Path=/"}, resp.Header.Values("Set-Cookie"))
		require.Equal(t, "x,y", resp.Header.Get("X-Many"))
		got, _ := io.ReadAll(resp.Body)
		require.Equal(t, "made", string(got))
	})

	t.Run("a function error is 502", func(t *testing.T) {
		resp, err := client.Get(s.srv.URL + "/panic")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 502, resp.StatusCode)
		got, _ := io.ReadAll(resp.Body)
		require.Equal(t, "Internal Server Error", string(got))
	})

	st := s.att.Stats()
	require.Equal(t, int64(4), st.Events, "the invocations that succeeded")
	require.Equal(t, int64(1), st.Errors, "the panic")
}

func TestLimits(t *testing.T) {
	s := serve(t, httpfn.Options{Front: httpfn.HTTPAPI}, lambda.FunctionConfig{MaxRequestBytes: 4096})
	t.Run("a body over the limit is 413, not invoked", func(t *testing.T) {
		resp, err := s.srv.Client().Post(s.srv.URL+"/binary", "text/plain", strings.NewReader(strings.Repeat("x", 5000)))
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 413, resp.StatusCode)
		got, _ := io.ReadAll(resp.Body)
		require.Equal(t, `{"message":"Request Entity Too Large"}`, string(got))
	})
	t.Run("an event over the limit is 413", func(t *testing.T) {
		// 3500 bytes of binary body are 4668 of base64.
		resp, err := s.srv.Client().Post(s.srv.URL+"/binary", "application/octet-stream", bytes.NewReader(make([]byte, 3500)))
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 413, resp.StatusCode)
	})
	require.Equal(t, int64(0), s.att.Stats().Events)
}

func TestThrottle(t *testing.T) {
	s := serve(t, httpfn.Options{Front: httpfn.HTTPAPI}, lambda.FunctionConfig{MaxConcurrency: 1, ThrottleWhenBusy: true})
	first := make(chan int, 1)
	go func() {
		resp, err := s.srv.Client().Get(s.srv.URL + "/stream")
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-s.g.entered // the only sandbox is busy
	resp, err := s.srv.Client().Get(s.srv.URL + "/echo")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 429, resp.StatusCode)
	got, _ := io.ReadAll(resp.Body)
	require.Equal(t, `{"message":"Too Many Requests"}`, string(got))
	close(s.g.release)
	require.Equal(t, 200, <-first)
}

func TestTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      httpfn.Options
		cfg    lambda.FunctionConfig
		status int
		body   string
	}{
		{"the function's timeout behind a function URL", httpfn.Options{}, lambda.FunctionConfig{Timeout: 300 * time.Millisecond}, 502, "Internal Server Error"},
		{"the function's timeout behind an HTTP API", httpfn.Options{Front: httpfn.HTTPAPI}, lambda.FunctionConfig{Timeout: 300 * time.Millisecond}, 502, `{"message":"Internal Server Error"}`},
		{"an HTTP API's integration timeout", httpfn.Options{Front: httpfn.HTTPAPI, IntegrationTimeout: 300 * time.Millisecond}, lambda.FunctionConfig{}, 503, `{"message":"Service Unavailable"}`},
		{"a REST API's integration timeout", httpfn.Options{Front: httpfn.RESTAPI, IntegrationTimeout: 300 * time.Millisecond}, lambda.FunctionConfig{}, 504, `{"message": "Endpoint request timed out"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.o, tc.cfg)
			resp, err := s.srv.Client().Get(s.srv.URL + "/spin")
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			got, _ := io.ReadAll(resp.Body)
			require.Equal(t, tc.body, string(got))
		})
	}
}

// TestClientDisconnect checks that a client that goes away cancels the
// invocation: a guest that loops, and one that waits in a host function,
// are stopped long before the function's timeout of a minute.
func TestClientDisconnect(t *testing.T) {
	for _, path := range []string{"/spin", "/stream"} {
		t.Run(path, func(t *testing.T) {
			s := serve(t, httpfn.Options{}, lambda.FunctionConfig{Timeout: time.Minute})
			ctx, cancel := context.WithCancel(context.Background())
			req, err := http.NewRequestWithContext(ctx, "GET", s.srv.URL+path, nil)
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() {
				resp, err := s.srv.Client().Do(req)
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()
			if path == "/stream" {
				<-s.g.entered
			} else {
				time.Sleep(200 * time.Millisecond) // let the guest loop a while
			}
			start := time.Now()
			cancel()
			require.ErrorIs(t, <-done, context.Canceled)
			if path == "/stream" {
				require.ErrorIs(t, <-s.g.ended, context.Canceled, "the host function's context ends with the request's")
			}
			require.Eventually(t, func() bool { return s.att.Stats().Errors == 1 }, 30*time.Second, 10*time.Millisecond)
			require.Contains(t, s.att.Stats().LastError, "context canceled")
			require.Less(t, time.Since(start), 50*time.Second, "cancelled, not timed out")
		})
	}
}

// TestStreaming checks that a chunk reaches the client before the guest
// returns: the guest writes "one", flushes, and waits for the test, which
// reads "one" before it releases the guest to write "two".
func TestStreaming(t *testing.T) {
	s := serve(t, httpfn.Options{Streaming: true}, lambda.FunctionConfig{})
	resp, err := s.srv.Client().Get(s.srv.URL + "/stream")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
	r := bufio.NewReader(resp.Body)
	first := make(chan string, 1)
	go func() {
		line, _ := r.ReadString('\n')
		first <- line
	}()
	select {
	case line := <-first:
		require.Equal(t, "one\n", line)
	case <-time.After(30 * time.Second):
		close(s.g.release) // let the guest end, so that the test does
		t.Fatal("the first chunk did not reach the client while the guest waited")
	}
	select {
	case <-s.g.ended:
		t.Fatal("the guest went on before it was released")
	default:
	}
	close(s.g.release)
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, "two\n", string(rest))

	t.Run("a guest that does not flush answers whole", func(t *testing.T) {
		resp, err := s.srv.Client().Get(s.srv.URL + "/cookies")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 201, resp.StatusCode)
		got, _ := io.ReadAll(resp.Body)
		require.Equal(t, "made", string(got))
	})
}

func TestStopped(t *testing.T) {
	s := serve(t, httpfn.Options{}, lambda.FunctionConfig{})
	require.NoError(t, s.att.Detach(context.Background()))
	resp, err := s.srv.Client().Get(s.srv.URL + "/echo")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 503, resp.StatusCode)
}

func TestListen(t *testing.T) {
	rt := testkit.NewRuntime(t, lambda.Options{HostModules: []*lambda.HostModule{lambda.NewHostModule("httptest").Func("wait", newGate().wait)}})
	fn := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "web", Code: testguest.Go(t, "httpserve"), Capabilities: []string{"httptest"}})
	tr := httpfn.New(httpfn.Options{Addr: "127.0.0.1:0"})
	att, err := fn.Attach(context.Background(), "http", tr)
	require.NoError(t, err)
	resp, err := http.Get("http://" + tr.Addr() + "/cookies")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 201, resp.StatusCode)
	require.NoError(t, att.Detach(context.Background()))
	_, err = http.Get("http://" + tr.Addr() + "/cookies")
	require.Error(t, err, "no longer listening")
}
