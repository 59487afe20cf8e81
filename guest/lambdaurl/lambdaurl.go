// Package lambdaurl runs a standard http.Handler in a Go guest, on the HTTP
// events of payload format 2.0 that Lambda function URLs and API Gateway
// HTTP APIs send (events.LambdaFunctionURLRequest), as aws-lambda-go's
// package of the same name does on AWS:
//
//	func init() { lambdaurl.Start(mux) }
//
// The handler's response is the format 2.0 response object
// (events.LambdaFunctionURLResponse), which a function URL in BUFFERED
// mode, an HTTP API and trigger/httpfn turn back into an HTTP response. A
// handler that flushes (http.Flusher) streams instead, when the invocation
// has a response stream (a function URL in RESPONSE_STREAM mode; in
// wasmlambda, trigger/httpfn with Streaming): the status and headers, then
// each write, reach the client as the handler makes them. Without a
// stream, Flush does nothing and the response is sent whole at the end.
//
// The package is apart from package guest because it imports net/http,
// which makes a guest some megabytes larger (docs/PERFORMANCE.md).
package lambdaurl

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wasmlambda/lambda/guest"
	"github.com/wasmlambda/lambda/internal/mediatype"
)

// Start serves h, as guest.Start serves a handler: call it from an init
// function of a reactor.
func Start(h http.Handler) { guest.Start(Wrap(h)) }

// Wrap returns a guest.Handler that decodes each event into an
// *http.Request, serves it with h, and answers with h's response.
//
// The request is what a net/http server would give h: its method, its URL
// (https://DOMAIN/PATH?QUERY, from the event's domainName, rawPath and
// rawQueryString) and RequestURI, its Host, its headers (a header AWS sent
// repeated arrives as one value, joined with commas), a Cookie header made
// of the event's cookies, its body (base64-decoded when the event says so)
// and ContentLength, its Proto, and RemoteAddr, the client's address. Its
// context is the invocation's, and RequestFromContext returns the event.
//
// The response's status is h's (200 if it sets none), its headers are h's
// (repeated values joined with commas; Set-Cookie values become the
// response's cookies), with a Content-Type sniffed from the body, as
// net/http does, when h sets none and writes a body. Its body is base64
// when its content type is not text, by the rule trigger/httpfn documents.
func Wrap(h http.Handler) guest.Handler { return handler{h} }

type handler struct{ h http.Handler }

type requestKey struct{}

// RequestFromContext returns the event of the request whose context ctx
// is, or derives from, as aws-lambda-go's lambdaurl.RequestFromContext
// does.
func RequestFromContext(ctx context.Context) (*events.LambdaFunctionURLRequest, bool) {
	req, ok := ctx.Value(requestKey{}).(*events.LambdaFunctionURLRequest)
	return req, ok
}

// Invoke serves one event.
func (hd handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ev := new(events.LambdaFunctionURLRequest)
	if !decodeEvent(payload, ev) {
		*ev = events.LambdaFunctionURLRequest{}
		if err := json.Unmarshal(payload, ev); err != nil {
			return nil, fmt.Errorf("lambdaurl: decode the event: %w", err)
		}
	}
	req, err := newRequest(context.WithValue(ctx, requestKey{}, ev), ev)
	if err != nil {
		return nil, err
	}
	w := &responseWriter{header: http.Header{}}
	hd.h.ServeHTTP(w, req)
	return w.finish()
}

// newRequest is the *http.Request of ev.
func newRequest(ctx context.Context, ev *events.LambdaFunctionURLRequest) (*http.Request, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, fmt.Errorf("lambdaurl: decode the base64 body: %w", err)
		}
		body = b
	}
	uri := ev.RawPath
	if uri == "" {
		uri = "/"
	}
	if ev.RawQueryString != "" {
		uri += "?" + ev.RawQueryString
	}
	rc := ev.RequestContext
	method := rc.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, "https://"+rc.DomainName+uri, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("lambdaurl: %w", err)
	}
	req.RequestURI = uri
	req.RemoteAddr = rc.HTTP.SourceIP
	if p := rc.HTTP.Protocol; p != "" {
		if major, minor, ok := http.ParseHTTPVersion(p); ok {
			req.Proto, req.ProtoMajor, req.ProtoMinor = p, major, minor
		}
	}
	for k, v := range ev.Headers {
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	return req, nil
}

// responseWriter buffers the response, until the handler flushes in an
// invocation with a stream; from then on each write is a chunk.
type responseWriter struct {
	header    http.Header
	status    int
	body      []byte
	streaming bool // the prelude is sent
	noStream  bool // the invocation has no stream
	err       error
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
)

// Header returns the response's header.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader sets the status; the first call wins, as in net/http.
func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// Write buffers p, or streams it once the handler has flushed.
func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
		w.sniff(p)
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.streaming {
		w.body = append(w.body, p...)
		return len(p), nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := guest.StreamResponse(p); err != nil {
		w.err = err
		return 0, err
	}
	return len(p), nil
}

// sniff sets a Content-Type from the first bytes written when the handler
// sets none, as net/http does.
func (w *responseWriter) sniff(p []byte) {
	if _, ok := w.header["Content-Type"]; !ok && len(p) > 0 && w.header.Get("Transfer-Encoding") == "" {
		w.header.Set("Content-Type", http.DetectContentType(p))
	}
}

// Flush starts streaming, when the invocation has a stream: it sends the
// prelude and what is buffered.
func (w *responseWriter) Flush() {
	if w.streaming || w.noStream || w.err != nil {
		return
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	prelude, err := json.Marshal(streamPrelude{StatusCode: w.status, Headers: joinHeaders(w.header), Cookies: w.header.Values("Set-Cookie")})
	if err != nil {
		w.err = err
		return
	}
	chunk := append(append(prelude, make([]byte, 8)...), w.body...)
	switch err := guest.StreamResponse(chunk); {
	case errors.Is(err, guest.ErrNotStreamed):
		w.noStream = true
	case err != nil:
		w.err = err
	default:
		w.streaming, w.body = true, nil
	}
}

// streamPrelude is the JSON before the body of a streamed response, as
// aws-lambda-go's LambdaFunctionURLStreamingResponse writes it.
type streamPrelude struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers,omitempty"`
	Cookies    []string          `json:"cookies,omitempty"`
}

// finish is the invocation's result: nothing after a stream, whose last
// chunk it sends, or else the response object.
func (w *responseWriter) finish() ([]byte, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.streaming {
		if w.err == nil && len(w.body) > 0 {
			w.err = guest.StreamResponse(w.body)
		}
		if w.err != nil {
			return nil, fmt.Errorf("lambdaurl: stream the response: %w", w.err)
		}
		return nil, nil
	}
	resp := events.LambdaFunctionURLResponse{
		StatusCode: w.status,
		Headers:    joinHeaders(w.header),
		Cookies:    w.header.Values("Set-Cookie"),
	}
	if mediatype.IsText(w.header.Get("Content-Type")) || len(w.body) == 0 {
		resp.Body = string(w.body)
	} else {
		resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(w.body), true
	}
	return encodeResponse(&resp), nil
}

// joinHeaders is h as a format 2.0 response's headers: a header's values
// joined with commas, Set-Cookie left to the cookies.
func joinHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		if k == "Set-Cookie" || len(vs) == 0 {
			continue
		}
		out[k] = strings.Join(vs, ",")
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
