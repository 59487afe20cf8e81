package lambda

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// DeadLetterSource is a sink whose dead letters can be read back and
// removed, for Function.Redrive. MemorySink and FileSink are sources.
type DeadLetterSource interface {
	// DeadLetters returns the dead letters held, oldest first.
	DeadLetters(ctx context.Context) ([]DeadLetter, error)
	// Remove drops the dead letters with the given request IDs.
	Remove(ctx context.Context, requestIDs ...string) error
}

// RedriveOptions tune Function.Redrive. As for every configuration in this
// package (see the package doc), a zero field means the documented default.
type RedriveOptions struct {
	// Filter picks the dead letters to replay. Default: those of the
	// function's name.
	Filter func(dl *DeadLetter) bool
	// Concurrency is how many run at once. Default the function's
	// Async.Concurrency; a negative value is refused.
	Concurrency int
	// Keep leaves the dead letters that succeeded in the source. By
	// default they are removed from it.
	Keep bool
}

// RedriveReport says what a redrive did.
type RedriveReport struct {
	// Succeeded holds the request IDs of the dead letters whose replay
	// succeeded, in the source's order.
	Succeeded []string
	// Failed holds those whose replay failed, with the error; they stay in
	// the source.
	Failed []RedriveFailure
	// Skipped counts dead letters the filter left out.
	Skipped int
}

// RedriveFailure is a dead letter whose replay failed.
type RedriveFailure struct {
	RequestID string
	Err       error
}

// Redrive replays dead letters from src through the function: "we fixed
// the bug, now replay the failures". Each payload is invoked once,
// synchronously, with its original request ID, so that the report can say
// which succeeded; those are then removed from src unless opts.Keep is set.
// Deploy the fixed code first, under the same name or another with a
// Filter.
//
// # Errors
//
// Redrive fails when src cannot be read or updated, or ctx ends; the
// report then holds what was done. A replay that fails is not an error of
// Redrive: it is in the report's Failed. A negative opts.Concurrency is an
// ErrInvalidConfig, and nothing is read or replayed.
func (f *Function) Redrive(ctx context.Context, src DeadLetterSource, opts RedriveOptions) (RedriveReport, error) {
	var rep RedriveReport
	if opts.Concurrency < 0 {
		return rep, invalidConfig("redrive to %s: Concurrency %d: want 0 (the function's Async.Concurrency) or more", f.name, opts.Concurrency)
	}
	letters, err := src.DeadLetters(ctx)
	if err != nil {
		return rep, fmt.Errorf("redrive to %s: read the dead letters: %w", f.name, err)
	}
	filter := opts.Filter
	if filter == nil {
		filter = func(dl *DeadLetter) bool { return dl.FunctionName == f.name }
	}
	picked := letters[:0]
	for i := range letters {
		if filter(&letters[i]) {
			picked = append(picked, letters[i])
		} else {
			rep.Skipped++
		}
	}
	conc := opts.Concurrency
	if conc == 0 {
		conc = f.cfg.Async.Concurrency
	}
	errs := make([]error, len(picked))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for i := range picked {
		if gctx.Err() != nil {
			errs[i] = gctx.Err()
			continue
		}
		g.Go(func() error {
			_, errs[i] = f.Invoke(gctx, picked[i].Payload, WithRequestID(picked[i].RequestID))
			return nil
		})
	}
	_ = g.Wait()
	for i := range picked {
		if errs[i] == nil {
			rep.Succeeded = append(rep.Succeeded, picked[i].RequestID)
		} else {
			rep.Failed = append(rep.Failed, RedriveFailure{RequestID: picked[i].RequestID, Err: errs[i]})
		}
	}
	if !opts.Keep && len(rep.Succeeded) > 0 {
		if err := src.Remove(context.WithoutCancel(ctx), rep.Succeeded...); err != nil {
			return rep, fmt.Errorf("redrive to %s: remove the replayed dead letters: %w", f.name, err)
		}
	}
	return rep, ctx.Err()
}
