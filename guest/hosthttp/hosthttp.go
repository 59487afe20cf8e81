// Package hosthttp gives a Go guest outbound HTTP through the host: wasip1
// has no sockets, so the host makes each request for the guest, if the
// function is granted it (lambda.FunctionConfig.HTTP) and its allowlist
// allows the request's host and method.
//
// Transport is an http.RoundTripper, so that the standard client works:
//
//	client := &http.Client{Transport: hosthttp.Transport{}}
//	resp, err := client.Get("https://api.example.com/v1/items")
//
// A guest that imports this package imports wasmlambda_http.request, and
// deploys only when the function is granted it: without the grant, Deploy
// refuses the module at once, with an error that names the capability.
//
// An aws-sdk-go-v2 client works through it when it is given Client(), the
// one line where the client is built (wasip1 has no sockets: the SDK's own
// client only ever gets "connection refused"):
//
//	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.HTTPClient = hosthttp.Client() }) The package is apart from
//
// package guest because it imports net/http, which makes a guest several
// megabytes larger.
package hosthttp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/wasmlambda/lambda/guest"
	"github.com/wasmlambda/lambda/internal/abi"
)

// allowSuffix ends the host's message for a request off the allowlist.
const allowSuffix = "(FunctionConfig.HTTP.Allow)"

// RefusedError is a request the host refused because the function's
// allowlist (lambda.FunctionConfig.HTTP.Allow) does not allow its host or
// its method. Trying again cannot help: it reports itself not retryable
// (RetryableError returns false), which aws-sdk-go-v2's retryer heeds, so
// that an SDK call off the allowlist fails at once rather than after its
// retries.
type RefusedError struct {
	// HostError is the host's error, with its message.
	HostError *guest.HostError
}

// Error returns the host's message, such as "wasmlambda_http: host
// example.org is not allowed (FunctionConfig.HTTP.Allow)".
func (e *RefusedError) Error() string { return e.HostError.Message }

// Unwrap returns the *guest.HostError.
func (e *RefusedError) Unwrap() error { return e.HostError }

// RetryableError reports false: a refused request is refused again.
func (e *RefusedError) RetryableError() bool { return false }

// Transport is an http.RoundTripper that makes each request through the
// host (the built-in host function wasmlambda_http.request). Its zero value
// is ready to use, and it has no state.
//
// The host sends the request as the guest gives it, with its method, URL,
// header and body, to the URL's host (req.Host must be empty or the URL's);
// it adds what net/http adds, such as a User-Agent and, unless the guest
// asks for an encoding itself, gzip compression, which it undoes. It does
// not follow redirects: the response, whatever its status, is the guest's,
// and an http.Client follows a redirect with a new request, which the host
// checks against its allowlist as any other. The whole response body is
// read by the host before RoundTrip returns.
//
// # Errors
//
// A request off the allowlist is a *RefusedError, which wraps the
// *guest.HostError with the host's message, such as "wasmlambda_http: host
// example.org is not allowed (FunctionConfig.HTTP.Allow)", and which no
// retryer retries. A request the host refuses otherwise (a body over the
// limit), or that fails (the network, a response body over the limit, the
// grant's timeout), is a *guest.HostError with the host's message. An
// http.Client wraps either in a *url.Error.
type Transport struct{}

var _ http.RoundTripper = Transport{}

// RoundTrip makes req through the host and returns the response, whose body
// is in memory. It consumes and closes req.Body.
func (Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("hosthttp: read the request body: %w", err)
		}
		body = b
	}
	if req.URL == nil {
		return nil, errors.New("hosthttp: the request has no URL")
	}
	if req.Host != "" && req.Host != req.URL.Host {
		return nil, fmt.Errorf("hosthttp: req.Host %q differs from the URL's host %q: the host sends the URL's", req.Host, req.URL.Host)
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	r := abi.HTTPRequest{Method: req.Method, URL: req.URL.String(), Body: body}
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	for _, k := range slices.Sorted(maps.Keys(req.Header)) {
		for _, v := range req.Header[k] {
			r.Header = append(r.Header, [2]string{k, v})
		}
	}
	out, err := guest.CallHost(request, r.Encode())
	if err != nil {
		var he *guest.HostError
		if errors.As(err, &he) && strings.HasSuffix(he.Message, allowSuffix) {
			return nil, &RefusedError{HostError: he}
		}
		return nil, err
	}
	resp, err := abi.DecodeHTTPResponse(out)
	if err != nil {
		return nil, fmt.Errorf("hosthttp: the host's response: %w", err)
	}
	h := make(http.Header, len(resp.Header))
	for _, kv := range resp.Header {
		h[kv[0]] = append(h[kv[0]], kv[1])
	}
	size := int64(len(resp.Body))
	if r.Method == http.MethodHead {
		// The length the response announces, of a body it does not have,
		// as net/http reports it.
		size = -1
		if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
			size = n
		}
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", resp.Status, http.StatusText(resp.Status)),
		StatusCode:    resp.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(resp.Body)),
		ContentLength: size,
		Request:       req,
	}, nil
}

// Client returns an *http.Client whose requests go through the host, for
// clients that take one, such as aws-sdk-go-v2's (its HTTPClient option,
// or config.WithHTTPClient).
func Client() *http.Client { return &http.Client{Transport: Transport{}} }
