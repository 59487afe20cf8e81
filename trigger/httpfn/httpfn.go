// Package httpfn is the HTTP trigger: a function as an http.Handler, behind
// the front door of a Lambda function URL, an API Gateway HTTP API or an
// API Gateway REST API. Each request is a synchronous invocation, whose
// event is the request as that front door sends it, and whose response is
// written back as it would write it.
//
//	t := httpfn.New(httpfn.Options{})            // a function URL
//	if _, err := fn.Attach(ctx, "url", t); err != nil { … }
//	mux.Handle("/", t)
//
// The Trigger is attached to its function for its counters and its
// lifetime: before Start and after Stop it answers 503. With Options.Addr
// it also listens on that address itself, from Start to Stop. (The CLI's
// run mounts its HTTP triggers on a mux per port instead, as below.)
//
// # Mounting several functions on one mux
//
// A function URL's path is everything after its domain, and an HTTP API's
// route sees the whole path. To give each function its own prefix of one
// mux, strip the prefix, so that each sees the paths it would see on AWS:
//
//	mux.Handle("/orders/", http.StripPrefix("/orders", orders))
//	mux.Handle("/users/", http.StripPrefix("/users", users))
//
// Without StripPrefix a function sees the whole path, /orders/… included,
// as it would behind an HTTP API route "ANY /orders/{proxy+}".
//
// # Events
//
// FunctionURL and HTTPAPI send payload format 2.0 (EventJSON documents
// each field), and RESTAPI payload format 1.0, on the greedy route
// /{proxy+}. A body is text when its content type is text/*,
// application/json, application/javascript, application/xml,
// application/yaml, or a +json or +xml type; any other body, one without
// a content type and application/x-www-form-urlencoded included, is
// base64 with isBase64Encoded set, as function URLs and HTTP APIs decide
// it. (A REST API sends base64 for its binaryMediaTypes only; the trigger
// acts as if those were the non-text types.)
//
// # Responses
//
// A response object (events.LambdaFunctionURLResponse,
// events.APIGatewayV2HTTPResponse, events.APIGatewayProxyResponse: a JSON
// object with a statusCode) gives the status, the headers and
// multiValueHeaders, the cookies (each a Set-Cookie header) and the body,
// base64-decoded when isBase64Encoded is set. A function URL without a
// content type answers application/json. With payload format 2.0, any
// other result, a JSON object without statusCode, a string or a number, is
// the body of a 200 response of type application/json, as AWS infers it;
// a REST API answers 502 to it.
//
// # Errors
//
// As the front door answers, with its body:
//
//	                             function URL            HTTP API                                REST API
//	function error, crash,       502 Internal Server     502 {"message":"Internal Server Error"}  502 {"message": "Internal server error"}
//	  timeout, bad response      Error
//	throttle                     429 Too Many Requests   429 {"message":"Too Many Requests"}     429 {"message": "Too Many Requests"}
//	request over the limit       413 Request Entity      413 {"message":"Request Entity Too      413 {"message": "Request Entity Too Large"}
//	                             Too Large                 Large"}
//	integration timeout          (none: the function's   503 {"message":"Service Unavailable"}   504 {"message": "Endpoint request timed out"}
//	                             timeout governs)          after 30 s                              after 29 s
//
// The request's context governs the invocation: a client that goes away
// cancels it, and the guest is stopped.
//
// # Response streaming
//
// With Options.Streaming (a function URL's RESPONSE_STREAM invoke mode),
// the guest may stream: package guest/lambdaurl does when its handler
// flushes. The stream is a JSON prelude with the status, headers and
// cookies, 8 NUL bytes, then the body (AWS's
// application/vnd.awslambda.http-integration-response); the trigger writes
// the status and headers when the prelude is complete and flushes each
// chunk of the body to the client as the guest hands it over, within the
// invocation's deadline. A guest that streams nothing answers as in
// BUFFERED mode. A function error after the status was sent aborts the
// response.
package httpfn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/uuid"
)

// Default integration timeouts of API Gateway.
const (
	// HTTPAPITimeout is an HTTP API's largest integration timeout.
	HTTPAPITimeout = 30 * time.Second
	// RESTAPITimeout is a REST API's default integration timeout.
	RESTAPITimeout = 29 * time.Second
	// DefaultMaxStreamBytes is AWS's default limit on a streamed
	// response: 20 MiB.
	DefaultMaxStreamBytes = 20 << 20
)

// Options configure a Trigger. A zero field means its default.
type Options struct {
	// Front is the front door the trigger mirrors. Default FunctionURL.
	Front Front
	// Addr, when set, is an address the trigger listens on from Start to
	// Stop, such as "127.0.0.1:8080" (":0" picks a port: see Addr).
	// Default none: mount the Trigger, an http.Handler, on a mux.
	Addr string
	// Streaming turns on response streaming (a function URL's
	// RESPONSE_STREAM mode). FunctionURL only.
	Streaming bool
	// MaxStreamBytes bounds a streamed response's body: past it, the
	// guest's write fails and the response is cut short. Default
	// DefaultMaxStreamBytes.
	MaxStreamBytes int
	// IntegrationTimeout bounds an invocation through an API Gateway
	// front door: past it the client gets 503 (HTTP API) or 504 (REST
	// API) and the invocation is cancelled. Default HTTPAPITimeout or
	// RESTAPITimeout; a function URL has none, and ignores it.
	IntegrationTimeout time.Duration
	// APIID is the API's ID, or the function URL's url-id, in the
	// events' requestContext. Default "r3pmxmplak" for API Gateway and
	// "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6" for a function URL, the
	// samples' of sam local generate-event.
	APIID string
	// DomainName is the events' requestContext.domainName. Default the
	// request's Host, where the client sent it.
	DomainName string
	// RouteKey, Stage and StageVariables are an API Gateway's, in the
	// events. Default "$default" (HTTP API), "prod" (REST API) and none.
	RouteKey       string
	Stage          string
	StageVariables map[string]string
	// Clock is the time of the events' requestContext. Default
	// lambda.RealClock().
	Clock lambda.Clock
}

// Trigger is the HTTP trigger: an http.Handler that invokes its function,
// once attached, for each request. Make one with New.
type Trigger struct {
	o Options

	mu       sync.Mutex
	tc       *lambda.TriggerContext
	stopped  bool
	inflight sync.WaitGroup
	srv      *http.Server
	ln       net.Listener
	served   chan struct{}
}

var (
	_ lambda.Trigger = (*Trigger)(nil)
	_ http.Handler   = (*Trigger)(nil)
)

// New returns a Trigger with o.
func New(o Options) *Trigger {
	if o.Clock == nil {
		o.Clock = lambda.RealClock()
	}
	if o.MaxStreamBytes == 0 {
		o.MaxStreamBytes = DefaultMaxStreamBytes
	}
	if o.IntegrationTimeout == 0 {
		switch o.Front {
		case HTTPAPI:
			o.IntegrationTimeout = HTTPAPITimeout
		case RESTAPI:
			o.IntegrationTimeout = RESTAPITimeout
		}
	}
	if o.APIID == "" {
		o.APIID = "r3pmxmplak"
		if o.Front == FunctionURL {
			o.APIID = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"
		}
	}
	return &Trigger{o: o}
}

// Start attaches the trigger to tc's function, and with Options.Addr
// starts listening.
//
// # Errors
//
//   - lambda.ErrInvalidConfig: an unknown Front, Streaming on an API
//     Gateway front door, a negative MaxStreamBytes or
//     IntegrationTimeout, or a trigger started twice.
//   - the listener's error, such as an address in use.
func (t *Trigger) Start(ctx context.Context, tc *lambda.TriggerContext) error {
	switch {
	case t.o.Front < FunctionURL || t.o.Front > RESTAPI:
		return invalid("unknown Front %d", int(t.o.Front))
	case t.o.Streaming && t.o.Front != FunctionURL:
		return invalid("Streaming is a function URL's (RESPONSE_STREAM), not an %s's", t.o.Front)
	case t.o.MaxStreamBytes < 0 || t.o.IntegrationTimeout < 0:
		return invalid("MaxStreamBytes and IntegrationTimeout may not be negative")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tc != nil {
		return invalid("trigger %s is started already: a Trigger serves one function", tc.Name())
	}
	if t.o.Addr != "" {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", t.o.Addr)
		if err != nil {
			return fmt.Errorf("httpfn: listen on %s: %w", t.o.Addr, err)
		}
		t.ln, t.served = ln, make(chan struct{})
		t.srv = &http.Server{Handler: t, ReadHeaderTimeout: 30 * time.Second}
		go func() {
			defer close(t.served)
			if err := t.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				tc.ReportError(fmt.Errorf("serve on %s: %w", ln.Addr(), err))
			}
		}()
		tc.Logger.Info("listening", slog.String("addr", ln.Addr().String()))
	}
	t.tc = tc
	return nil
}

// Addr is the address the trigger listens on, once started with
// Options.Addr (the port picked, for ":0"), or "".
func (t *Trigger) Addr() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ln == nil {
		return ""
	}
	return t.ln.Addr().String()
}

// Stop stops the trigger: it answers 503 from now on, stops listening,
// and waits for the requests in flight, within ctx.
func (t *Trigger) Stop(ctx context.Context) error {
	t.mu.Lock()
	t.stopped = true
	srv := t.srv
	t.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Shutdown(ctx)
		if err != nil {
			srv.Close()
		}
		<-t.served
	}
	done := make(chan struct{})
	go func() { t.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return errors.Join(err, fmt.Errorf("httpfn: requests still in flight: %w", ctx.Err()))
	}
	return err
}

// ServeHTTP invokes the function with r.
func (t *Trigger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	tc := t.tc
	if tc == nil || t.stopped {
		t.mu.Unlock()
		http.Error(w, "the function's HTTP trigger is not attached", http.StatusServiceUnavailable)
		return
	}
	t.inflight.Add(1)
	t.mu.Unlock()
	defer t.inflight.Done()
	t.serve(w, r, tc)
}

func (t *Trigger) serve(w http.ResponseWriter, r *http.Request, tc *lambda.TriggerContext) {
	fn := tc.Function
	limit := fn.Config().MaxRequestBytes
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(limit)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			t.fail(w, http.StatusRequestEntityTooLarge)
			return
		}
		tc.ReportError(fmt.Errorf("read the request body: %w", err))
		return // the client is gone
	}
	eo := EventOptions{
		Front:          t.o.Front,
		APIID:          t.o.APIID,
		DomainName:     or(t.o.DomainName, r.Host),
		Region:         fn.Region(),
		AccountID:      fn.AccountID(),
		RequestID:      uuid.New(),
		Time:           t.o.Clock.Now(),
		RouteKey:       t.o.RouteKey,
		Stage:          t.o.Stage,
		StageVariables: t.o.StageVariables,
	}
	var payload []byte
	if t.o.Front == RESTAPI {
		payload = restEvent(r, body, eo)
	} else {
		payload = EventJSON(NewEventRequest(r, body), eo)
	}

	ctx := r.Context()
	var integration time.Time // the integration's deadline, if any
	if t.o.IntegrationTimeout > 0 && t.o.Front != FunctionURL {
		integration = time.Now().Add(t.o.IntegrationTimeout)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadlineCause(ctx, integration, errIntegrationTimeout)
		defer cancel()
	}
	var sw *streamWriter
	var opts []lambda.InvokeOption
	if t.o.Streaming {
		sw = &streamWriter{w: w, limit: t.o.MaxStreamBytes}
		opts = append(opts, lambda.WithResponseStream(sw))
	}
	out, err := tc.Invoke(ctx, payload, opts...)
	streamed := false
	if sw != nil {
		streamed = sw.finish()
	}
	if streamed {
		if err != nil {
			// The status is sent: cut the response short, as AWS does.
			panic(http.ErrAbortHandler)
		}
		if len(out) > 0 && string(out) != "null" {
			_, _ = w.Write(out)
		}
		return
	}
	if err != nil {
		t.failInvoke(w, ctx, integration, err)
		return
	}
	if err := writeResponse(w, t.o.Front, out); err != nil {
		tc.ReportError(fmt.Errorf("the function's response: %w", err))
		t.fail(w, http.StatusBadGateway)
	}
}

// errIntegrationTimeout is the cause of an API Gateway integration
// timeout.
var errIntegrationTimeout = errors.New("the integration timed out")

// failInvoke answers an invocation's error as the front door does.
// integration is the integration's deadline, or the zero time: once it has
// passed, the integration timed out, even if the invocation saw its
// deadline before the context's timer fired.
func (t *Trigger) failInvoke(w http.ResponseWriter, ctx context.Context, integration time.Time, err error) {
	var se *lambda.ServiceError
	switch {
	case errors.Is(context.Cause(ctx), errIntegrationTimeout),
		!integration.IsZero() && !time.Now().Before(integration):
		if t.o.Front == RESTAPI {
			t.fail(w, http.StatusGatewayTimeout)
		} else {
			t.fail(w, http.StatusServiceUnavailable)
		}
	case errors.Is(err, lambda.ErrThrottled):
		t.fail(w, http.StatusTooManyRequests)
	case errors.As(err, &se) && errors.Is(err, lambda.ErrPayloadTooLarge):
		t.fail(w, http.StatusRequestEntityTooLarge)
	case ctx.Err() != nil:
		// The client went away: no one reads an answer.
	default:
		t.fail(w, http.StatusBadGateway)
	}
}

// fail writes the front door's error response of status.
func (t *Trigger) fail(w http.ResponseWriter, status int) {
	body, ct := errorBody(t.o.Front, status)
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// errorBody is the body and content type of the front door's error
// response of status.
func errorBody(front Front, status int) (string, string) {
	msg := http.StatusText(status)
	switch {
	case status == http.StatusGatewayTimeout && front == RESTAPI:
		msg = "Endpoint request timed out"
	case status == http.StatusBadGateway && front == RESTAPI:
		msg = "Internal server error"
	case status == http.StatusBadGateway:
		msg = "Internal Server Error"
	}
	switch front {
	case HTTPAPI:
		return `{"message":"` + msg + `"}`, "application/json"
	case RESTAPI:
		return `{"message": "` + msg + `"}`, "application/json"
	}
	return msg, "text/plain; charset=utf-8"
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: httpfn: %s", lambda.ErrInvalidConfig, fmt.Sprintf(format, args...))
}
