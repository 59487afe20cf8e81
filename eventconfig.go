package lambda

import (
	"context"
	"maps"
	"time"
)

// EventInvokeConfig is the asynchronous configuration of one version or
// alias of a function, as AWS's FunctionEventInvokeConfig: the retries,
// the maximum age and the destinations of the events sent to it. Put it
// with Function.PutFunctionEventInvokeConfig.
//
// The rest of the asynchronous configuration is the function's, in its
// FunctionConfig.Async, whatever the qualifier: the dead-letter sink (on
// AWS too the dead-letter queue is the function's, not a qualifier's), the
// backoffs, the queue and the concurrency.
type EventInvokeConfig struct {
	// MaxRetryAttempts is AWS's MaximumRetryAttempts: 0 to 2. Nil means
	// AWS's default, 2; Retries(0) turns retries off.
	MaxRetryAttempts *int
	// MaxEventAge is AWS's MaximumEventAgeInSeconds: whole seconds from
	// 60 seconds to 6 hours. Zero means the default, 6 hours.
	MaxEventAge time.Duration
	// OnSuccess and OnFailure are AWS's DestinationConfig. Default none:
	// a failed event then goes to the function's dead-letter sink.
	OnSuccess Destination
	OnFailure Destination
}

// eventConfig is what the attempts and deliveries of an event follow: the
// configuration of the qualifier it was sent to, or the function's.
type eventConfig struct {
	put       EventInvokeConfig // as FunctionEventInvokeConfig returns it
	own       bool              // put for a qualifier, not the function's
	retries   int
	maxAge    time.Duration
	onSuccess Destination
	onFailure Destination
}

// configKey is the key of qualifier q's configuration: the unqualified
// function's is $LATEST's, as on AWS.
func configKey(q string) string {
	if q == "" {
		return LatestVersion
	}
	return q
}

// eventConfig returns the configuration of the events sent to qualifier q
// now.
func (e *asyncEngine) eventConfig(q string) *eventConfig {
	if m := e.qualified.Load(); m != nil {
		if c := (*m)[configKey(q)]; c != nil {
			return c
		}
	}
	return e.def
}

// setEventConfig puts (c non-nil) or deletes q's configuration, and
// reports whether it had one. The caller serialises the calls.
func (e *asyncEngine) setEventConfig(q string, c *eventConfig) bool {
	var next map[string]*eventConfig
	if m := e.qualified.Load(); m != nil {
		next = maps.Clone(*m)
	} else {
		next = map[string]*eventConfig{}
	}
	_, had := next[configKey(q)]
	if c == nil {
		delete(next, configKey(q))
	} else {
		next[configKey(q)] = c
	}
	e.qualified.Store(&next)
	return had
}

// PutFunctionEventInvokeConfig sets the asynchronous configuration of a
// version or an alias of the function, as AWS's
// PutFunctionEventInvokeConfig, replacing any it had. A qualifier of "" or
// "$LATEST" sets the unqualified function's, which is $LATEST's, in place
// of FunctionConfig.Async's retries, age and destinations. A version or
// alias without a configuration of its own follows FunctionConfig.Async,
// not what was put for $LATEST.
//
// An event follows the configuration of the qualifier it was sent to, as
// it is at each attempt and at each delivery: put, changed or deleted
// while the event waits, the new one applies from its next attempt. Like
// aliases, configurations are kept in memory. With a state directory, an
// event recovered at Deploy that was sent to a qualifier with a
// configuration of its own waits, without an attempt and within its
// maximum age, until the host has made that qualifier and put its
// configuration again, so that it is not run by another's.
//
// # Errors
//
//   - ErrValidation (ValidationException): a qualifier outside AWS's
//     pattern, MaxRetryAttempts outside 0 to 2, or MaxEventAge outside 60
//     to 21600 whole seconds.
//   - ErrNotFound (ResourceNotFoundException): no such version or alias.
//   - ErrClosed: the function is closing.
//   - ctx's error, when ctx has ended.
func (f *Function) PutFunctionEventInvokeConfig(ctx context.Context, qualifier string, cfg EventInvokeConfig) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &eventConfig{put: cfg, own: true, retries: DefaultMaxRetryAttempts, maxAge: DefaultMaxEventAge, onSuccess: cfg.OnSuccess, onFailure: cfg.OnFailure}
	if r := cfg.MaxRetryAttempts; r != nil {
		switch {
		case *r < 0:
			return validationError("1 validation error detected: Value '%d' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to 0", *r)
		case *r > MaxRetryAttempts:
			return validationError("1 validation error detected: Value '%d' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to %d", *r, MaxRetryAttempts)
		}
		c.retries = *r
	}
	if age := cfg.MaxEventAge; age != 0 {
		secs := int64(age / time.Second)
		switch {
		case age%time.Second != 0:
			return validationError("1 validation error detected: Value '%v' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must be a whole number of seconds", age.Seconds())
		case secs < 60:
			return validationError("1 validation error detected: Value '%d' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60", secs)
		case age > MaxEventAge:
			return validationError("1 validation error detected: Value '%d' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to %d", secs, int64(MaxEventAge/time.Second))
		}
		c.maxAge = age
	}
	c.put.MaxRetryAttempts = Retries(c.retries)
	c.put.MaxEventAge = c.maxAge
	vs := f.vs
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if qualifier != "" && qualifier != LatestVersion {
		if _, err := vs.lookup(qualifier); err != nil {
			return err
		}
	} else if vs.closed.Load() {
		return serviceError(ErrClosed, "Function not found: %s (closed)", f.arn)
	}
	f.async.setEventConfig(qualifier, c)
	return nil
}

// FunctionEventInvokeConfig returns the asynchronous configuration put for
// a version or an alias ("" or "$LATEST" for the unqualified function), as
// AWS's GetFunctionEventInvokeConfig, with its defaults filled in; or
// ErrNotFound when none was put.
func (f *Function) FunctionEventInvokeConfig(qualifier string) (EventInvokeConfig, error) {
	if m := f.async.qualified.Load(); m != nil {
		if c := (*m)[configKey(qualifier)]; c != nil {
			out := c.put
			out.MaxRetryAttempts = Retries(*c.put.MaxRetryAttempts)
			return out, nil
		}
	}
	return EventInvokeConfig{}, f.noEventConfig(qualifier)
}

// DeleteFunctionEventInvokeConfig deletes the asynchronous configuration
// of a version or an alias, as AWS's DeleteFunctionEventInvokeConfig: its
// events follow the function's from their next attempt. It fails with
// ErrNotFound when none was put.
func (f *Function) DeleteFunctionEventInvokeConfig(ctx context.Context, qualifier string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.vs.mu.Lock()
	defer f.vs.mu.Unlock()
	if _, err := f.FunctionEventInvokeConfig(qualifier); err != nil {
		return err
	}
	f.async.setEventConfig(qualifier, nil)
	return nil
}

func (f *Function) noEventConfig(qualifier string) error {
	return serviceError(ErrNotFound, "The function %s:%s doesn't have an EventInvokeConfig", f.arn, configKey(qualifier))
}
