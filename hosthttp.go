package lambda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasmlambda/lambda/internal/abi"
	"github.com/wasmlambda/lambda/internal/lazyregexp"
)

// Defaults of HTTPGrant.
const (
	// DefaultHTTPMaxRequestBytes bounds the body of a request a guest makes
	// through the host: 1 MiB.
	DefaultHTTPMaxRequestBytes = 1 << 20
	// DefaultHTTPMaxResponseBytes bounds the body of a response a guest
	// receives through the host: 6 MiB, about what a function may return
	// (DefaultMaxResponseBytes).
	DefaultHTTPMaxResponseBytes = 6 << 20
)

// HTTPGrant grants a function outbound HTTP through the host, the
// capability wasmlambda_http (CapabilityHTTP): a guest on wasip1 has no
// sockets, and asks the host to make each request for it. The host makes a
// request only if a rule of Allow allows its host and method, and makes it
// with net/http, within the limits below. A Go guest uses it through the
// http.RoundTripper of package guest/hosthttp; docs/ABI.md says how any
// guest calls it.
//
// The host does not follow redirects: it hands a 3xx response to the guest
// as it is. A Go guest's http.Client follows it, and the request to the new
// location is checked against Allow as any other, so that a redirect off
// the list is refused.
//
// As for every configuration of the package, a zero field means its
// documented default.
type HTTPGrant struct {
	// Allow lists the requests the guest may make: one that matches no
	// rule is refused, with an error that says why, and never reaches the
	// network. Empty, every request is refused.
	Allow []HTTPRule

	// MaxRequestBytes bounds a request's body: a larger one is refused.
	// Default 1 MiB (DefaultHTTPMaxRequestBytes).
	MaxRequestBytes int

	// MaxResponseBytes bounds a response's body, after the transport has
	// decompressed it: a larger one fails the request, with an error that
	// says so; the guest never gets part of it. Default 6 MiB
	// (DefaultHTTPMaxResponseBytes).
	MaxResponseBytes int

	// Timeout bounds one request, from its start to the end of its
	// response's body: past it the request fails, with an error the guest
	// handles. Whatever it is, the invocation's deadline bounds every
	// request too: a request that outlives it times the invocation out, as
	// any host function does (docs/ABI.md). Default 0: the deadline alone.
	Timeout time.Duration

	// Transport makes the requests. Default a clone of
	// http.DefaultTransport that reads response headers up to 1 MiB, the
	// function's own, whose idle connections are closed with the function.
	Transport http.RoundTripper
}

// HTTPRule allows requests to a host with some methods.
type HTTPRule struct {
	// Host is the host the rule allows, as a URL writes it:
	//
	//   - "api.example.com": that host, on any port;
	//   - "api.example.com:8443": that host on that port only (a URL
	//     without a port has its scheme's: 80 for http, 443 for https);
	//   - "*.example.com": every host under example.com, but not
	//     example.com itself;
	//   - "127.0.0.1", "[::1]:8080": an IP address, an IPv6 address in
	//     brackets;
	//   - "*": every host.
	//
	// Names compare without regard to case and to a trailing dot. The rule
	// applies to the URL's host; the host does not resolve it, so a name
	// allowed is reached wherever the host's DNS resolves it.
	Host string

	// Methods are the methods allowed, spelled as HTTP spells them
	// (case-sensitive: "GET", not "get"), or "*" for any. Default GET and
	// HEAD.
	Methods []string
}

// clone returns a copy of g that shares nothing a caller could change in
// place with it.
func (g *HTTPGrant) clone() *HTTPGrant {
	if g == nil {
		return nil
	}
	c := *g
	c.Allow = slices.Clone(g.Allow)
	for i := range c.Allow {
		c.Allow[i].Methods = slices.Clone(c.Allow[i].Methods)
	}
	return &c
}

// withDefaults validates g, a copy of the caller's, and resolves its zero
// fields.
func (g *HTTPGrant) withDefaults(fn string) error {
	switch {
	case g.MaxRequestBytes == 0:
		g.MaxRequestBytes = DefaultHTTPMaxRequestBytes
	case g.MaxRequestBytes < 0:
		return invalidConfig("function %s: HTTP.MaxRequestBytes %d: want more than 0", fn, g.MaxRequestBytes)
	}
	switch {
	case g.MaxResponseBytes == 0:
		g.MaxResponseBytes = DefaultHTTPMaxResponseBytes
	case g.MaxResponseBytes < 0:
		return invalidConfig("function %s: HTTP.MaxResponseBytes %d: want more than 0", fn, g.MaxResponseBytes)
	}
	if g.Timeout < 0 {
		return invalidConfig("function %s: HTTP.Timeout %v: want 0 (the deadline alone) or more", fn, g.Timeout)
	}
	for i, r := range g.Allow {
		if _, err := parseHTTPRule(r); err != nil {
			return invalidConfig("function %s: HTTP.Allow[%d].%v", fn, i, err)
		}
	}
	return nil
}

// httpRule is an HTTPRule parsed.
type httpRule struct {
	host      string // lower case, without a trailing dot or brackets; "" for any
	suffix    bool   // host is a suffix: ".example.com"
	port      string // "" for any
	methods   []string
	anyMethod bool
}

var (
	hostLabelsRE = lazyregexp.New(`^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$`)
	methodRE     = lazyregexp.New("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$") // RFC 9110's token
)

// ruleError is a bad field of an HTTPRule.
type ruleError struct{ field, problem string }

func (e *ruleError) Error() string { return e.field + e.problem }

func parseHTTPRule(r HTTPRule) (httpRule, error) {
	var p httpRule
	host, port := strings.ToLower(r.Host), ""
	switch {
	case host == "":
		return p, &ruleError{"Host", " is empty"}
	case strings.ContainsAny(host, "/?#@"):
		return p, &ruleError{"Host", fmt.Sprintf(" %q: want a host name, an IP address, *.DOMAIN or *, with an optional :PORT, and no scheme or path", r.Host)}
	case strings.HasPrefix(host, "["):
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return p, &ruleError{"Host", fmt.Sprintf(" %q: an IPv6 address without its closing bracket", r.Host)}
		}
		rest := host[end+1:]
		host = host[1:end]
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return p, &ruleError{"Host", fmt.Sprintf(" %q: %q is not an IPv6 address", r.Host, host)}
		}
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return p, &ruleError{"Host", fmt.Sprintf(" %q: want [ADDRESS] or [ADDRESS]:PORT", r.Host)}
			}
			port = rest[1:]
		}
	case strings.Count(host, ":") > 1:
		return p, &ruleError{"Host", fmt.Sprintf(" %q: write an IPv6 address in brackets, as a URL does", r.Host)}
	case strings.Contains(host, ":"):
		host, port, _ = strings.Cut(host, ":")
		fallthrough
	default:
		host = strings.TrimSuffix(host, ".")
		if host == "*" {
			host = ""
			break
		}
		if rest, ok := strings.CutPrefix(host, "*."); ok {
			host, p.suffix = rest, true
		}
		if !hostLabelsRE.MatchString(host) {
			return p, &ruleError{"Host", fmt.Sprintf(" %q: want a host name, an IP address, *.DOMAIN or *, with an optional :PORT, and no scheme or path", r.Host)}
		}
		if p.suffix {
			host = "." + host
		}
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return p, &ruleError{"Host", fmt.Sprintf(" %q: port %q: want 1 to 65535", r.Host, port)}
		}
	}
	p.host, p.port = host, port
	if len(r.Methods) == 0 {
		p.methods = []string{http.MethodGet, http.MethodHead}
	}
	for _, m := range r.Methods {
		switch {
		case m == "*":
			p.anyMethod = true
		case !methodRE.MatchString(m):
			return p, &ruleError{"Methods", fmt.Sprintf(": %q is not an HTTP method", m)}
		default:
			p.methods = append(p.methods, m)
		}
	}
	return p, nil
}

// matchHost reports whether the rule allows host (lower case, without a
// trailing dot or brackets) on port.
func (p *httpRule) matchHost(host, port string) bool {
	if p.port != "" && p.port != port {
		return false
	}
	switch {
	case p.host == "":
		return true
	case p.suffix:
		return strings.HasSuffix(host, p.host)
	}
	return host == p.host
}

func (p *httpRule) matchMethod(m string) bool {
	return p.anyMethod || slices.Contains(p.methods, m)
}

// maxResponseHeaderBytes bounds the response headers the function's own
// transport reads: net/http's default is 10 MB.
const maxResponseHeaderBytes = 1 << 20

// hostHTTP is the wasmlambda_http module of one function.
type hostHTTP struct {
	grant     *HTTPGrant
	rules     []httpRule
	transport http.RoundTripper
	own       *http.Transport // the transport, when it is the function's own
	obs       *Observer       // the runtime's, or nil
}

// newHostHTTP returns the module of a function granted g, which
// withDefaults has validated.
func newHostHTTP(g *HTTPGrant) *hostHTTP {
	h := &hostHTTP{grant: g, transport: g.Transport}
	for _, r := range g.Allow {
		p, _ := parseHTTPRule(r)
		h.rules = append(h.rules, p)
	}
	if h.transport == nil {
		h.own = http.DefaultTransport.(*http.Transport).Clone()
		h.own.MaxResponseHeaderBytes = maxResponseHeaderBytes
		h.transport = h.own
	}
	return h
}

// close closes the idle connections of the function's own transport.
func (h *hostHTTP) close() {
	if h != nil && h.own != nil {
		h.own.CloseIdleConnections()
	}
}

// httpError is the error of wasmlambda_http.request, the message the guest
// gets.
func httpError(format string, args ...any) error {
	return fmt.Errorf(CapabilityHTTP+": "+format, args...)
}

// request is wasmlambda_http.request.
func (h *hostHTTP) request(ctx context.Context, in []byte) ([]byte, error) {
	r, err := abi.DecodeHTTPRequest(in)
	if err != nil {
		return nil, httpError("malformed request: %s", strings.TrimPrefix(err.Error(), abi.ErrMalformed.Error()+": "))
	}
	if r.Method == "" {
		r.Method = http.MethodGet // as net/http
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, httpError("%v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, httpError("URL %q: want an http or https URL", r.URL)
	}
	if u.Host == "" {
		return nil, httpError("URL %q has no host", r.URL)
	}
	if err := h.allow(r.Method, u); err != nil {
		return nil, err
	}
	if len(r.Body) > h.grant.MaxRequestBytes {
		return nil, httpError("the request body of %d bytes is over the limit of %d (FunctionConfig.HTTP.MaxRequestBytes)", len(r.Body), h.grant.MaxRequestBytes)
	}
	if h.grant.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, h.grant.Timeout, errHTTPTimeout)
		defer cancel()
	}
	var body io.Reader
	if len(r.Body) > 0 {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, httpError("%v", err)
	}
	for _, kv := range r.Header {
		req.Header.Add(kv[0], kv[1])
	}
	h.traceContext(ctx, req.Header)
	out, err := h.roundTrip(req)
	if err != nil && context.Cause(ctx) == errHTTPTimeout {
		return nil, httpError("no response within %v (FunctionConfig.HTTP.Timeout)", h.grant.Timeout)
	}
	return out, err
}

// xrayHeader is the header in which AWS's X-Ray SDK sends a trace ID
// downstream.
const xrayHeader = "X-Amzn-Trace-Id"

// traceContext adds to h, a guest's request's header, the trace context of
// its invocation, as the X-Ray SDK does in a function on AWS: its trace ID
// in X-Amzn-Trace-Id ("Root=…;Parent=…;Sampled=…"), and what the
// observer's OutboundHeader writes (a W3C traceparent, say). A header the
// guest set is kept.
func (h *hostHTTP) traceContext(ctx context.Context, hdr http.Header) {
	if st, ok := ctx.Value(invocationKey{}).(*invocationState); ok && st.traceID != "" && len(hdr.Values(xrayHeader)) == 0 {
		hdr.Set(xrayHeader, st.traceID)
	}
	if h.obs == nil || h.obs.OutboundHeader == nil {
		return
	}
	extra := http.Header{}
	h.obs.OutboundHeader(ctx, extra)
	for k, v := range extra {
		k = http.CanonicalHeaderKey(k)
		if len(hdr.Values(k)) == 0 {
			hdr[k] = v
		}
	}
}

// errHTTPTimeout is the cause of the end of a request's context at
// HTTPGrant.Timeout.
var errHTTPTimeout = errors.New("HTTPGrant.Timeout")

// allow checks a request of method to u against the rules.
func (h *hostHTTP) allow(method string, u *url.URL) error {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	hostAllowed := false
	for i := range h.rules {
		if h.rules[i].matchHost(host, port) {
			hostAllowed = true
			if h.rules[i].matchMethod(method) {
				return nil
			}
		}
	}
	if !hostAllowed {
		return httpError("host %s is not allowed (FunctionConfig.HTTP.Allow)", u.Host)
	}
	return httpError("method %s is not allowed for host %s (FunctionConfig.HTTP.Allow)", method, u.Host)
}

// roundTrip makes req and encodes its response, within the response limit.
func (h *hostHTTP) roundTrip(req *http.Request) ([]byte, error) {
	resp, err := h.transport.RoundTrip(req)
	if err != nil {
		return nil, httpError("%v", err)
	}
	defer resp.Body.Close()
	limit := h.grant.MaxResponseBytes
	tooLarge := func() error {
		return httpError("the response body is over the limit of %d bytes (FunctionConfig.HTTP.MaxResponseBytes)", limit)
	}
	// A response to HEAD announces the length of a body it does not have.
	if resp.ContentLength > int64(limit) && req.Method != http.MethodHead {
		return nil, tooLarge()
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, httpError("read the response body: %v", err)
	}
	if len(b) > limit {
		return nil, tooLarge()
	}
	out := abi.HTTPResponse{Status: resp.StatusCode, Body: b}
	for _, k := range slices.Sorted(maps.Keys(resp.Header)) {
		for _, v := range resp.Header[k] {
			out.Header = append(out.Header, [2]string{k, v})
		}
	}
	return out.Encode(), nil
}
