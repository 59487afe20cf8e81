package schedule_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newRuntime returns a runtime on the shared compilation cache, closed when
// the test ends.
func newRuntime(t testing.TB, opts lambda.Options) *lambda.Runtime {
	t.Helper()
	opts.CacheDir = testguest.CacheDir()
	rt, err := lambda.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close(context.Background())) })
	return rt
}

func deploy(t testing.TB, rt *lambda.Runtime, cfg lambda.FunctionConfig) *lambda.Function {
	t.Helper()
	f, err := rt.Deploy(context.Background(), cfg)
	require.NoError(t, err)
	return f
}

// fastAsync is an AsyncConfig whose backoffs take milliseconds.
func fastAsync() lambda.AsyncConfig {
	return lambda.AsyncConfig{
		RetryBackoff:       []time.Duration{5 * time.Millisecond, 10 * time.Millisecond},
		ThrottleBackoffMin: 5 * time.Millisecond,
		ThrottleBackoffMax: 20 * time.Millisecond,
		DeliveryBackoffMin: time.Millisecond,
		DeliveryBackoffMax: 5 * time.Millisecond,
	}
}

// recordSink is a Destination that keeps the records it gets.
type recordSink struct {
	mu      sync.Mutex
	records []lambda.InvocationRecord
	got     chan struct{}
}

func newRecordSink() *recordSink { return &recordSink{got: make(chan struct{}, 1000)} }

func (r *recordSink) Deliver(_ context.Context, rec *lambda.InvocationRecord) error {
	r.mu.Lock()
	r.records = append(r.records, *rec)
	r.mu.Unlock()
	r.got <- struct{}{}
	return nil
}

// wait waits for n more records and returns all those received.
func (r *recordSink) wait(t *testing.T, n int) []lambda.InvocationRecord {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-r.got:
		case <-time.After(30 * time.Second):
			t.Fatalf("waited for record %d of %d", i+1, n)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]lambda.InvocationRecord(nil), r.records...)
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
