package guest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wasmlambda/lambda/internal/abi"
)

// invocation is the context a handler sees: what
// lambdacontext.NewContext(context.WithDeadline(context.Background(),
// deadline), lc) would give, in one allocation and without a timer.
//
// A handler seldom waits on ctx.Done(), yet the standard context starts a
// timer for every call, and a timer costs more than the rest of a warm
// invocation in a Go guest. Here Deadline and Value are plain fields, and
// Err compares the clock with the deadline. Only the first call to Done
// (which a derived context makes) builds what a standard context has from
// the start: a *context.cancelCtx, std below, which is cancelled when the
// invocation is, with the invocation's error, and a timer that cancels the
// invocation at its deadline. Value hands std to the context package, which
// looks for it under its own key: every context derived from the
// invocation, directly or through WithValue, is then std's child, and is
// cancelled with it, synchronously, as the child of a standard context is,
// without a goroutine to watch it.
type invocation struct {
	lc       lambdacontext.LambdaContext
	deadline time.Time // zero: no deadline
	traceID  string    // the X-Ray trace ID, under traceIDKey

	// state is live, or how the invocation ended. It is written under mu
	// and read without it.
	state atomic.Uint32

	mu        sync.Mutex
	std       atomic.Value       // of context.Context: std, made by the first Done
	stdCancel context.CancelFunc // std's own cancel function
	onCancel  func()             // cancels std: what std registered with (*invocationBase).AfterFunc
	timer     *time.Timer        // cancels the invocation at its deadline, from the first Done

	// id holds the request ID's bytes, which lc.AwsRequestID points to when
	// they fit: the ID then costs no allocation of its own. It is written
	// once, before the string is made.
	id [48]byte
}

// The states of an invocation.
const (
	live uint32 = iota
	canceled
	deadlineExceeded
)

// stateErr is the error of an ended invocation.
func stateErr(state uint32) error {
	switch state {
	case canceled:
		return context.Canceled
	case deadlineExceeded:
		return context.DeadlineExceeded
	}
	return nil
}

// invocationBase is std's parent: the invocation seen as a context that is
// done exactly when the invocation ends. It implements the AfterFunc method
// the context package looks for (afterFuncer), so that std is tied to it by
// a function the invocation calls when it ends, rather than by a goroutine.
// Its methods take no lock: the context package calls them while the
// invocation holds mu, building std.
type invocationBase invocation

// neverClosed is the Done channel of a live invocationBase: std's
// construction only checks that it is neither nil nor closed, and std is
// cancelled through AfterFunc, never by this channel.
var neverClosed = make(chan struct{})

func (b *invocationBase) Deadline() (time.Time, bool) { return (*invocation)(b).Deadline() }

func (b *invocationBase) Done() <-chan struct{} {
	if b.state.Load() == live {
		return neverClosed
	}
	return closedChan
}

func (b *invocationBase) Err() error { return stateErr(b.state.Load()) }

func (b *invocationBase) Value(any) any { return nil }

// AfterFunc records f, which cancels std, for the invocation to call when
// it ends. The context package calls it from context.WithCancel, in
// (*invocation).makeStd, with mu held, once per invocation.
func (b *invocationBase) AfterFunc(f func()) (stop func() bool) {
	b.onCancel = f
	return func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		stopped := b.onCancel != nil
		b.onCancel = nil
		return stopped
	}
}

// closedChan is the Done channel of an ended invocationBase, which cancels
// std at once if the invocation ended before Done was first called.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// lambdaContextKey is the key lambdacontext.FromContext looks up, which
// lambdacontext does not export: it is caught by asking FromContext once,
// of a context that records the key it is asked for.
var lambdaContextKey = func() any {
	var p keyProbe
	lambdacontext.FromContext(&p)
	return p.key
}()

// keyProbe records the key of the last Value call.
type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	p.key = key
	return nil
}

// lastARN is the invoked function ARN of the previous invocation, which
// the next one almost always shares: it is reused rather than copied again.
var lastARN atomic.Pointer[string]

// newInvocation builds the context of the invocation req describes: its
// deadline (none if req.DeadlineMs is not positive) and its
// *lambdacontext.LambdaContext. The context keeps no reference to req.
func newInvocation(req *abi.RequestView) (*invocation, error) {
	c := &invocation{}
	if n := copy(c.id[:], req.RequestID); n == len(req.RequestID) {
		c.lc.AwsRequestID = unsafe.String(unsafe.SliceData(c.id[:]), n)
	} else {
		c.lc.AwsRequestID = string(req.RequestID)
	}
	if arn := lastARN.Load(); arn != nil && *arn == string(req.InvokedFunctionARN) {
		c.lc.InvokedFunctionArn = *arn
	} else {
		s := string(req.InvokedFunctionARN)
		lastARN.Store(&s)
		c.lc.InvokedFunctionArn = s
	}
	if len(req.ClientContext) > 0 {
		if err := json.Unmarshal(req.ClientContext, &c.lc.ClientContext); err != nil {
			return nil, fmt.Errorf("failed to unmarshal client context json: %v", err)
		}
	}
	if len(req.Identity) > 0 {
		if err := json.Unmarshal(req.Identity, &c.lc.Identity); err != nil {
			return nil, fmt.Errorf("failed to unmarshal cognito identity json: %v", err)
		}
	}
	if req.DeadlineMs > 0 {
		c.deadline = time.UnixMilli(req.DeadlineMs)
	}
	c.traceID = setTraceEnv(req.TraceID)
	return c, nil
}

// traceIDKey is the key under which aws-lambda-go puts the invocation's
// X-Ray trace ID in its context, a plain string, as here.
const traceIDKey = "x-amzn-trace-id"

// traceEnv is the value _X_AMZN_TRACE_ID was last set to.
var traceEnv struct {
	sync.Mutex
	v string
}

// setTraceEnv sets _X_AMZN_TRACE_ID to the invocation's trace ID, as
// aws-lambda-go does for every invocation, and returns it as a string. It
// touches the environment only when the value changes: an invocation
// without a trace ID after one without costs nothing.
func setTraceEnv(id []byte) string {
	traceEnv.Lock()
	defer traceEnv.Unlock()
	if string(id) == traceEnv.v {
		return traceEnv.v
	}
	traceEnv.v = string(id)
	_ = os.Setenv(abi.EnvTraceID, traceEnv.v)
	return traceEnv.v
}

// Deadline returns the invocation's deadline, if it has one.
func (c *invocation) Deadline() (time.Time, bool) {
	return c.deadline, !c.deadline.IsZero()
}

// Done returns a channel that is closed when the invocation ends: its
// handler returned, or its deadline passed. The first call builds std,
// whose channel it is, and with a deadline the timer that ends the
// invocation then.
func (c *invocation) Done() <-chan struct{} {
	if s, ok := c.std.Load().(context.Context); ok {
		return s.Done()
	}
	return c.makeStd().Done()
}

// makeStd builds std, unless it exists, and returns it.
func (c *invocation) makeStd() context.Context {
	c.mu.Lock()
	if s, ok := c.std.Load().(context.Context); ok {
		c.mu.Unlock()
		return s
	}
	// WithCancel calls (*invocationBase).AfterFunc, which sets onCancel;
	// or, if the invocation has ended, cancels std at once.
	s, cancel := context.WithCancel((*invocationBase)(c))
	c.stdCancel = cancel
	c.std.Store(s)
	expired := false
	if c.state.Load() == live && !c.deadline.IsZero() {
		if dur := time.Until(c.deadline); dur > 0 {
			c.timer = time.AfterFunc(dur, c.expire)
		} else {
			expired = true
		}
	}
	c.mu.Unlock()
	if expired {
		c.cancel(deadlineExceeded)
	}
	return s
}

// expire is the deadline's timer.
func (c *invocation) expire() { c.cancel(deadlineExceeded) }

// Err returns nil while the invocation is live, context.DeadlineExceeded
// once its deadline has passed (whether or not anything waits on Done),
// and context.Canceled once its handler has returned. The first of these
// to happen sticks.
func (c *invocation) Err() error {
	if state := c.state.Load(); state != live {
		if _, ok := c.std.Load().(context.Context); ok {
			<-c.Done() // as a standard context: once Err is not nil, Done is closed
		}
		return stateErr(state)
	}
	if c.deadline.IsZero() || time.Now().Before(c.deadline) {
		return nil
	}
	c.cancel(deadlineExceeded)
	return c.Err()
}

// Value returns the invocation's *lambdacontext.LambdaContext for
// lambdacontext's key. Any other key is std's, once std exists: the
// context package finds std under its own key. Otherwise it is nil: the
// parent is Background.
func (c *invocation) Value(key any) any {
	if key == lambdaContextKey {
		return &c.lc
	}
	if key == traceIDKey {
		return c.traceID
	}
	if s, ok := c.std.Load().(context.Context); ok {
		return s.Value(key)
	}
	return nil
}

// cancel ends the invocation with state, unless it has ended already: it
// stops the timer and cancels std, and with it every context derived from
// the invocation.
func (c *invocation) cancel(state uint32) {
	c.mu.Lock()
	if c.state.Load() != live {
		c.mu.Unlock()
		return
	}
	c.state.Store(state)
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	onCancel, stdCancel := c.onCancel, c.stdCancel
	c.onCancel, c.stdCancel = nil, nil
	c.mu.Unlock()
	if onCancel != nil {
		onCancel() // std ends with the invocation's error
	}
	if stdCancel != nil {
		stdCancel() // releases std; it has ended already
	}
}

// String describes the context as the standard contexts it stands for
// describe themselves.
func (c *invocation) String() string {
	s := "context.Background.WithCancel"
	if d, ok := c.Deadline(); ok {
		s = "context.Background.WithDeadline(" + d.String() + " [" + time.Until(d).String() + "])"
	}
	return s + ".WithValue(" + reflect.TypeOf(lambdaContextKey).String() + ", " + reflect.TypeOf(&c.lc).String() + ")"
}
