// Package testkit holds the helpers that the tests of the root package and
// of every trigger package share: a runtime on the tests' shared compilation
// cache, closed with the test, asynchronous backoffs of test size, and a
// destination that keeps what it receives. It is for this module's own
// tests; package lambdatest is the kit for users.
package testkit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// NewRuntime returns a runtime on the shared compilation cache, closed when
// the test ends.
func NewRuntime(t testing.TB, opts lambda.Options) *lambda.Runtime {
	t.Helper()
	opts.CacheDir = testguest.CacheDir()
	rt, err := lambda.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close(context.Background())) })
	return rt
}

// Deploy deploys cfg on rt and fails the test if it cannot.
func Deploy(t testing.TB, rt *lambda.Runtime, cfg lambda.FunctionConfig) *lambda.Function {
	t.Helper()
	f, err := rt.Deploy(context.Background(), cfg)
	require.NoError(t, err)
	return f
}

// FastAsync is an AsyncConfig whose backoffs take milliseconds.
func FastAsync() lambda.AsyncConfig {
	return lambda.AsyncConfig{
		RetryBackoff:       []time.Duration{5 * time.Millisecond, 10 * time.Millisecond},
		ThrottleBackoffMin: 5 * time.Millisecond,
		ThrottleBackoffMax: 20 * time.Millisecond,
		DeliveryBackoffMin: time.Millisecond,
		DeliveryBackoffMax: 5 * time.Millisecond,
	}
}

// WaitCtx is a context for a wait in a test: it ends after 30 s, or with
// the test.
func WaitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// RecordSink is a Destination that keeps the records it gets. It is safe
// for concurrent use.
type RecordSink struct {
	mu      sync.Mutex
	records []lambda.InvocationRecord
	got     chan struct{}
}

var _ lambda.Destination = (*RecordSink)(nil)

// NewRecordSink returns an empty RecordSink.
func NewRecordSink() *RecordSink { return &RecordSink{got: make(chan struct{}, 1000)} }

// Deliver keeps rec.
func (r *RecordSink) Deliver(_ context.Context, rec *lambda.InvocationRecord) error {
	r.mu.Lock()
	r.records = append(r.records, *rec)
	r.mu.Unlock()
	r.got <- struct{}{}
	return nil
}

// Records returns the records received so far.
func (r *RecordSink) Records() []lambda.InvocationRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]lambda.InvocationRecord(nil), r.records...)
}

// Wait waits up to 30 s for each of n more records, and returns all those
// received so far.
func (r *RecordSink) Wait(t testing.TB, n int) []lambda.InvocationRecord {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-r.got:
		case <-time.After(30 * time.Second):
			t.Fatalf("waited for record %d of %d", i+1, n)
		}
	}
	return r.Records()
}
