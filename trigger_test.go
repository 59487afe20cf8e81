package lambda_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// countingTrigger is a trigger written outside the package: it sends n
// events as fast as the function takes them, then waits to be stopped. With
// startErr set, it does not start.
type countingTrigger struct {
	n        int
	startErr error
	stop     chan struct{}
	done     chan struct{}
}

func (c *countingTrigger) Start(_ context.Context, tc *lambda.TriggerContext) error {
	if c.startErr != nil {
		return c.startErr
	}
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(c.done)
		for i := 0; i < c.n; i++ {
			select {
			case <-c.stop:
				return
			default:
			}
			_, _ = tc.InvokeAsync(context.Background(), []byte(`{"n":1}`))
		}
		tc.ReportError(errors.New("ran out of events"))
		<-c.stop
	}()
	return nil
}

func (c *countingTrigger) Stop(ctx context.Context) error {
	close(c.stop)
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestCustomTriggerAndLifecycle(t *testing.T) {
	t.Parallel()
	rec := &logRecorder{}
	rt := newRuntime(t, lambda.Options{Logger: slog.New(rec)})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "custom", Code: testguest.Go(t, "echo"), Async: fastAsync()})
	att, err := f.Attach(context.Background(), "mine", &countingTrigger{n: 25})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return att.Stats().Errors == 1 }, 10*time.Second, time.Millisecond)
	s := att.Stats()
	require.Equal(t, int64(25), s.Events)
	require.Equal(t, "ran out of events", s.LastError)
	errs := rec.find("trigger error")
	require.NotEmpty(t, errs)
	require.Equal(t, "mine", errs[0].Attrs["trigger"])
	require.Equal(t, "custom", errs[0].Attrs["function"])

	_, err = f.Attach(context.Background(), "mine", &countingTrigger{})
	require.ErrorIs(t, err, lambda.ErrConflict)
	refused := errors.New("no such queue")
	_, err = f.Attach(context.Background(), "bad", &countingTrigger{startErr: refused})
	require.ErrorIs(t, err, refused, "a trigger that does not start is not attached")
	require.Len(t, f.Triggers(), 1)

	// Closing the function stops its triggers first; every event accepted
	// still finishes.
	require.NoError(t, f.Close(context.Background()))
	require.Empty(t, f.Triggers())
	require.Equal(t, int64(25), f.AsyncStats().Succeeded)
	_, err = f.Attach(context.Background(), "late", &countingTrigger{})
	require.ErrorIs(t, err, lambda.ErrClosed)
}

// identityTrigger keeps what its TriggerContext tells it at Start.
type identityTrigger struct {
	name, fn, version, arn, region, account string
	cfg                                     lambda.FunctionConfig
}

func (it *identityTrigger) Start(_ context.Context, tc *lambda.TriggerContext) error {
	f := tc.Function
	it.name, it.fn, it.version, it.arn = tc.Name(), f.Name(), f.Version(), f.ARN()
	it.region, it.account, it.cfg = f.Region(), f.AccountID(), f.Config()
	return nil
}

func (it *identityTrigger) Stop(context.Context) error { return nil }

// TestTriggerSeesItsFunction checks that a trigger written outside the
// package learns, from exported API alone, what the built-in ones need:
// its name, its function's identity, and its limits.
func TestTriggerSeesItsFunction(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name            string
		opts            lambda.Options
		region, account string
	}{
		{"defaults", lambda.Options{}, "us-east-1", "000000000000"},
		{"set", lambda.Options{Region: "eu-central-1", AccountID: "123456789012"}, "eu-central-1", "123456789012"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRuntime(t, tc.opts)
			async := fastAsync()
			async.MaxPayloadBytes = 1000
			async.MaxEventAge = 2 * time.Minute
			f := deploy(t, rt, lambda.FunctionConfig{Name: "ident", Version: "7", Code: testguest.Go(t, "echo"), MaxRequestBytes: 5000, Async: async})
			it := &identityTrigger{}
			att, err := f.Attach(context.Background(), "feed", it)
			require.NoError(t, err)
			require.Equal(t, "feed", it.name)
			require.Equal(t, att.Name(), it.name)
			require.Equal(t, "ident", it.fn)
			require.Equal(t, "7", it.version)
			require.Equal(t, tc.region, it.region)
			require.Equal(t, tc.account, it.account)
			require.Equal(t, "arn:aws:lambda:"+tc.region+":"+tc.account+":function:ident", it.arn)
			require.Equal(t, 5000, it.cfg.MaxRequestBytes)
			require.Equal(t, 1000, it.cfg.Async.MaxPayloadBytes)
			require.Equal(t, 2*time.Minute, it.cfg.Async.MaxEventAge)
			require.Equal(t, lambda.DefaultMaxRetryAttempts, *it.cfg.Async.MaxRetryAttempts, "resolved")
			require.NoError(t, att.Detach(context.Background()))
		})
	}
}
