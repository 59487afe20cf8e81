package httpfn

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wasmlambda/lambda/internal/mediatype"
)

// Front is the AWS front door whose events, responses and errors a Trigger
// mirrors.
type Front int

const (
	// FunctionURL is a Lambda function URL: payload format 2.0
	// (events.LambdaFunctionURLRequest), errors as a function URL returns
	// them, and response streaming (Options.Streaming).
	FunctionURL Front = iota
	// HTTPAPI is an Amazon API Gateway HTTP API: payload format 2.0
	// (events.APIGatewayV2HTTPRequest), with its 30-second integration
	// timeout.
	HTTPAPI
	// RESTAPI is an Amazon API Gateway REST API with a Lambda proxy
	// integration: payload format 1.0 (events.APIGatewayProxyRequest),
	// with its 29-second integration timeout.
	RESTAPI
)

// String names the front door.
func (f Front) String() string {
	switch f {
	case FunctionURL:
		return "function URL"
	case HTTPAPI:
		return "HTTP API"
	case RESTAPI:
		return "REST API"
	}
	return fmt.Sprintf("Front(%d)", int(f))
}

// EventRequest is an HTTP request as an event of payload format 2.0
// carries it. NewEventRequest makes one from an *http.Request.
type EventRequest struct {
	// Method is the HTTP method, upper-case.
	Method string
	// Path is the request's path, as sent (rawPath), and Query its raw
	// query string, without "?".
	Path  string
	Query string
	// Headers have lower-case names; a repeated header's values are
	// joined with commas. The cookie header is in Cookies.
	Headers map[string]string
	// Cookies are the request's cookies, "name=value" each.
	Cookies []string
	// Body is the body, base64 when IsBase64Encoded.
	Body            string
	IsBase64Encoded bool
	// SourceIP is the client's address, UserAgent its user agent, and
	// Protocol the request's protocol, such as HTTP/1.1.
	SourceIP  string
	UserAgent string
	Protocol  string
}

// EventOptions are the parts of an event of payload format 2.0 that are
// not the request's own.
type EventOptions struct {
	// Front is FunctionURL or HTTPAPI.
	Front Front
	// APIID is the API's ID, or the function URL's url-id, and
	// DomainName the domain the request was sent to. Default: the
	// domain AWS would give, from APIID and Region.
	APIID      string
	DomainName string
	// Region and AccountID are the API's.
	Region    string
	AccountID string
	// RequestID is the request context's requestId, and Time the
	// request's time.
	RequestID string
	Time      time.Time
	// RouteKey and Stage are an HTTP API's route and stage. Default
	// "$default"; a function URL's are always "$default".
	RouteKey string
	Stage    string
	// PathParameters and StageVariables are an HTTP API's; a function URL
	// has none.
	PathParameters map[string]string
	StageVariables map[string]string
	// Authorizer is the request context's authorizer, as JSON. Default
	// none.
	Authorizer json.RawMessage
}

// NewEventRequest is r, with its body, as an event carries it, as a
// function URL and an HTTP API make it:
//
//   - header names are lower-cased, and a repeated header's values joined
//     with commas; the host header is r.Host; x-forwarded-for (with the
//     client's address appended), x-forwarded-proto and x-forwarded-port
//     are added, as AWS's load balancers add them, and x-amzn-trace-id if
//     there is none;
//   - the cookie header becomes the cookies, split at semicolons;
//   - the body is text when its content type is (text/*, JSON, XML,
//     JavaScript, YAML: see package doc), and otherwise base64, with
//     IsBase64Encoded set. An empty body is "" and not base64.
func NewEventRequest(r *http.Request, body []byte) EventRequest {
	sourceIP := r.RemoteAddr
	if h, _, err := net.SplitHostPort(sourceIP); err == nil {
		sourceIP = h
	}
	headers := make(map[string]string, len(r.Header)+5)
	var cookies []string
	for k, vs := range r.Header {
		k = strings.ToLower(k)
		if k == "cookie" {
			for _, v := range vs {
				for part := range strings.SplitSeq(v, ";") {
					if part = strings.TrimSpace(part); part != "" {
						cookies = append(cookies, part)
					}
				}
			}
			continue
		}
		headers[k] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	proto, port := "http", "80"
	if r.TLS != nil {
		proto, port = "https", "443"
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		port = p
	}
	if xff := headers["x-forwarded-for"]; xff != "" {
		headers["x-forwarded-for"] = xff + ", " + sourceIP
	} else {
		headers["x-forwarded-for"] = sourceIP
	}
	headers["x-forwarded-proto"] = proto
	headers["x-forwarded-port"] = port
	if headers["x-amzn-trace-id"] == "" {
		headers["x-amzn-trace-id"] = traceID(time.Now())
	}
	er := EventRequest{
		Method:    strings.ToUpper(r.Method),
		Path:      r.URL.EscapedPath(),
		Query:     r.URL.RawQuery,
		Headers:   headers,
		Cookies:   cookies,
		SourceIP:  sourceIP,
		UserAgent: r.UserAgent(),
		Protocol:  r.Proto,
	}
	er.Body, er.IsBase64Encoded = encodeBody(r.Header.Get("Content-Type"), body)
	return er
}

// encodeBody is a body as an event or a response object carries it: text,
// or base64 when its content type is not text.
func encodeBody(contentType string, body []byte) (string, bool) {
	if len(body) == 0 {
		return "", false
	}
	if mediatype.IsText(contentType) {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

// traceID is an X-Ray trace header, as AWS adds it: Root=1-TIME-RANDOM.
func traceID(now time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s", now.Unix(), hex.EncodeToString(b[:]))
}

// httpEvent is payload format 2.0, in the order AWS's documentation writes
// its fields. The fields that a function URL sends as null and API
// Gateway leaves out when they are empty are raw. (aws-lambda-go's
// events.APIGatewayV2HTTPRequest decodes it; it encodes neither the nulls
// nor a function URL's fields in this order.)
type httpEvent struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	RequestContext        httpContext       `json:"requestContext"`
	Body                  string            `json:"body,omitempty"`
	PathParameters        json.RawMessage   `json:"pathParameters,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
	StageVariables        json.RawMessage   `json:"stageVariables,omitempty"`
}

type httpContext struct {
	AccountID      string                                               `json:"accountId"`
	APIID          string                                               `json:"apiId"`
	Authentication json.RawMessage                                      `json:"authentication,omitempty"`
	Authorizer     json.RawMessage                                      `json:"authorizer,omitempty"`
	DomainName     string                                               `json:"domainName"`
	DomainPrefix   string                                               `json:"domainPrefix"`
	HTTP           events.APIGatewayV2HTTPRequestContextHTTPDescription `json:"http"`
	RequestID      string                                               `json:"requestId"`
	RouteKey       string                                               `json:"routeKey"`
	Stage          string                                               `json:"stage"`
	Time           string                                               `json:"time"`
	TimeEpoch      int64                                                `json:"timeEpoch"`
}

// EventJSON is the event of payload format 2.0 that o.Front (FunctionURL
// or HTTPAPI) sends its function for req: the JSON of
// events.LambdaFunctionURLRequest or events.APIGatewayV2HTTPRequest, with
// the fields in the order of AWS's documentation. queryStringParameters
// are req.Query's values, decoded, a repeated name's joined with commas;
// requestContext.http is req's method, path, protocol, source IP and user
// agent; time is the request's time in AWS's format
// ("12/Mar/2020:19:03:58 +0000") and timeEpoch in milliseconds.
//
// A function URL's routeKey and stage are "$default", and its
// authentication, pathParameters and stageVariables null, as AWS's
// documentation shows them; an HTTP API leaves out the fields it has no
// value for.
func EventJSON(req EventRequest, o EventOptions) []byte {
	domain, prefix := o.DomainName, o.APIID
	switch {
	case domain == "" && o.Front == FunctionURL:
		domain = prefix + ".lambda-url." + o.Region + ".on.aws"
	case domain == "":
		domain = prefix + ".execute-api." + o.Region + ".amazonaws.com"
	}
	if prefix == "" {
		prefix, _, _ = strings.Cut(domain, ".")
	}
	path := req.Path
	if path == "" {
		path = "/"
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	protocol := req.Protocol
	if protocol == "" {
		protocol = "HTTP/1.1"
	}
	at := o.Time.UTC()
	ev := httpEvent{
		Version:               "2.0",
		RouteKey:              or(o.RouteKey, "$default"),
		RawPath:               path,
		RawQueryString:        req.Query,
		Cookies:               req.Cookies,
		Headers:               req.Headers,
		QueryStringParameters: queryParameters(req.Query),
		RequestContext: httpContext{
			AccountID:    o.AccountID,
			APIID:        prefix,
			Authorizer:   o.Authorizer,
			DomainName:   domain,
			DomainPrefix: prefix,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    method,
				Path:      path,
				Protocol:  protocol,
				SourceIP:  req.SourceIP,
				UserAgent: req.UserAgent,
			},
			RequestID: o.RequestID,
			Stage:     or(o.Stage, "$default"),
			Time:      at.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch: at.UnixMilli(),
		},
		Body:            req.Body,
		IsBase64Encoded: req.IsBase64Encoded,
	}
	if ev.Headers == nil {
		ev.Headers = map[string]string{}
	}
	if o.Front == FunctionURL {
		ev.RouteKey, ev.RequestContext.Stage = "$default", "$default"
		ev.RequestContext.Authentication = json.RawMessage("null")
		ev.PathParameters = json.RawMessage("null")
		ev.StageVariables = json.RawMessage("null")
	} else {
		if len(o.PathParameters) > 0 {
			ev.PathParameters = mustJSON(o.PathParameters)
		}
		if len(o.StageVariables) > 0 {
			ev.StageVariables = mustJSON(o.StageVariables)
		}
	}
	ev.RequestContext.RouteKey = ev.RouteKey
	return mustJSON(ev)
}

// restEvent is r as a REST API's Lambda proxy integration sends it, in
// payload format 1.0, on the greedy route ANY /{proxy+}.
func restEvent(r *http.Request, body []byte, o EventOptions) []byte {
	sourceIP := r.RemoteAddr
	if h, _, err := net.SplitHostPort(sourceIP); err == nil {
		sourceIP = h
	}
	headers := map[string]string{"Host": r.Host}
	multi := map[string][]string{"Host": {r.Host}}
	for k, vs := range r.Header {
		headers[k] = vs[len(vs)-1]
		multi[k] = vs
	}
	var query map[string]string
	var multiQuery map[string][]string
	if vals, _ := url.ParseQuery(r.URL.RawQuery); len(vals) > 0 {
		query, multiQuery = map[string]string{}, map[string][]string{}
		for k, vs := range vals {
			query[k], multiQuery[k] = vs[len(vs)-1], vs
		}
	}
	stage := or(o.Stage, "prod")
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	at := o.Time.UTC()
	ev := events.APIGatewayProxyRequest{
		Resource:                        "/{proxy+}",
		Path:                            path,
		HTTPMethod:                      strings.ToUpper(r.Method),
		Headers:                         headers,
		MultiValueHeaders:               multi,
		QueryStringParameters:           query,
		MultiValueQueryStringParameters: multiQuery,
		PathParameters:                  map[string]string{"proxy": strings.TrimPrefix(path, "/")},
		StageVariables:                  o.StageVariables,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:        o.AccountID,
			ResourceID:       "123456",
			Stage:            stage,
			RequestID:        o.RequestID,
			Identity:         events.APIGatewayRequestIdentity{SourceIP: sourceIP, UserAgent: r.UserAgent()},
			ResourcePath:     "/{proxy+}",
			Path:             "/" + stage + path,
			HTTPMethod:       strings.ToUpper(r.Method),
			RequestTime:      at.Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: at.UnixMilli(),
			APIID:            o.APIID,
			DomainName:       or(o.DomainName, o.APIID+".execute-api."+o.Region+".amazonaws.com"),
			Protocol:         r.Proto,
		},
	}
	ev.Body, ev.IsBase64Encoded = encodeBody(r.Header.Get("Content-Type"), body)
	return mustJSON(ev)
}

// queryParameters decodes a raw query string as AWS does for
// queryStringParameters: a repeated name's values joined with commas. A
// query that does not parse keeps the pairs that do.
func queryParameters(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	values, _ := url.ParseQuery(raw)
	if len(values) == 0 {
		return nil
	}
	out := make(map[string]string, len(values))
	for k, vs := range values {
		out[k] = strings.Join(vs, ",")
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("httpfn: encode an event: " + err.Error())
	}
	return b
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
