package guest

import (
	"context"
	"sync"
)

// Option configures the handler NewHandlerWithOptions and StartWithOptions
// build, as aws-lambda-go's lambda.Option does: the options have its names
// and its effects.
type Option func(*handlerOptions)

// handlerOptions are the options of one handler.
type handlerOptions struct {
	base          context.Context // WithContext's; nil: none given
	values        []contextValue  // WithContextValue's, in order
	useNumber     bool
	disallow      bool
	escapeHTML    bool
	indentPrefix  string
	indentValue   string
	enableSIGTERM bool
	sigterm       []func()
}

type contextValue struct{ key, value any }

// WithContext sets the base context of every invocation: the handler's
// context is derived from ctx, with the invocation's deadline and its
// *lambdacontext.LambdaContext, so that it carries ctx's values and ends
// when ctx does, as with aws-lambda-go.
func WithContext(ctx context.Context) Option {
	return func(o *handlerOptions) { o.base = ctx }
}

// WithContextValue adds a value to the base context of every invocation.
// If a base context is set with WithContext, it is the value's parent,
// whatever the order of the options.
func WithContextValue(key, value any) Option {
	return func(o *handlerOptions) { o.values = append(o.values, contextValue{key, value}) }
}

// WithSetEscapeHTML sets SetEscapeHTML on the encoder of the response:
// true escapes <, > and & in JSON strings as \u003c, \u003e and \u0026.
// The default is false, as aws-lambda-go's.
func WithSetEscapeHTML(escapeHTML bool) Option {
	return func(o *handlerOptions) { o.escapeHTML = escapeHTML }
}

// WithSetIndent sets SetIndent on the encoder of the response. With a
// prefix or an indent, the response keeps the encoder's trailing newline,
// as aws-lambda-go's does.
func WithSetIndent(prefix, indent string) Option {
	return func(o *handlerOptions) { o.indentPrefix, o.indentValue = prefix, indent }
}

// WithUseNumber sets UseNumber on the decoder of the event: a number in an
// interface{} becomes a json.Number rather than a float64.
func WithUseNumber(useNumber bool) Option {
	return func(o *handlerOptions) { o.useNumber = useNumber }
}

// WithDisallowUnknownFields sets DisallowUnknownFields on the decoder of
// the event: an object key that matches no field of a struct is an error.
func WithDisallowUnknownFields(disallowUnknownFields bool) Option {
	return func(o *handlerOptions) { o.disallow = disallowUnknownFields }
}

// WithEnableSIGTERM registers callbacks to run when the sandbox is shut
// down, as aws-lambda-go's does on AWS, where registering an extension
// makes Lambda send SIGTERM before it ends an execution environment. The
// host calls the guest's wasmlambda_v1_shutdown export (docs/ABI.md) when
// it closes a warm instance that is healthy: idle too long, recycled, or
// its function closed. The callbacks run in order, within the host's
// bound of 500 ms; an instance that trapped, timed out or panicked is not
// shut down this way, nor is a one-shot command.
//
// As with aws-lambda-go, the callbacks are registered when the handler is
// built, by NewHandlerWithOptions or StartWithOptions.
func WithEnableSIGTERM(callbacks ...func()) Option {
	return func(o *handlerOptions) {
		o.sigterm = append(o.sigterm, callbacks...)
		o.enableSIGTERM = true
	}
}

// sigtermHooks are the callbacks WithEnableSIGTERM registered, which the
// shutdown export runs.
var (
	sigtermMu    sync.Mutex
	sigtermHooks []func()
)

// runShutdownHooks runs the registered SIGTERM callbacks, each once.
func runShutdownHooks() {
	sigtermMu.Lock()
	hooks := sigtermHooks
	sigtermHooks = nil
	sigtermMu.Unlock()
	for _, f := range hooks {
		f()
	}
}

// optionsHandler is a Handler built with options: the handler and the
// base context StartWithOptions gives each invocation.
type optionsHandler struct {
	Handler
	base context.Context // nil: the SDK's own context, from Background
}

// NewHandlerWithOptions is NewHandler with aws-lambda-go's options: they
// change how the event is decoded and the response encoded, as
// aws-lambda-go's lambda.NewHandlerWithOptions does, byte for byte (the
// SDK's own handling of a json.RawMessage or []byte response is used only
// when neither WithSetEscapeHTML(true) nor WithSetIndent is). A handler
// that already implements Handler is used as it is, whatever the JSON
// options.
//
// The base context (WithContext, WithContextValue) is used by Start and
// StartWithOptions, which serve the returned Handler with it; its own
// Invoke method uses the context it is given, as aws-lambda-go's does.
// WithEnableSIGTERM registers its callbacks at once.
func NewHandlerWithOptions(handler any, options ...Option) (Handler, error) {
	if h, ok := handler.(*optionsHandler); ok {
		return h, nil // as aws-lambda-go: a handler built with options keeps its own
	}
	var o handlerOptions
	for _, opt := range options {
		opt(&o)
	}
	h, err := newHandler(handler, &o)
	if err != nil {
		return nil, err
	}
	oh := &optionsHandler{Handler: h, base: o.base}
	if len(o.values) > 0 && oh.base == nil {
		oh.base = context.Background()
	}
	for _, v := range o.values {
		oh.base = context.WithValue(oh.base, v.key, v.value)
	}
	if o.enableSIGTERM {
		sigtermMu.Lock()
		sigtermHooks = append(sigtermHooks, o.sigterm...)
		sigtermMu.Unlock()
	}
	return oh, nil
}

// StartWithOptions is Start with aws-lambda-go's options (see
// NewHandlerWithOptions): it validates handler, builds it with options and
// serves it, each invocation's context derived from the base context if
// one is set.
func StartWithOptions(handler any, options ...Option) {
	h, err := NewHandlerWithOptions(handler, options...)
	if err != nil {
		panic(err)
	}
	start(h)
}

// baseContext returns the base context h was built with, or nil.
func baseContext(h Handler) context.Context {
	if oh, ok := h.(*optionsHandler); ok {
		return oh.base
	}
	return nil
}
