package lambda_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// TestEventInvokeConfigPerQualifier gives an alias an asynchronous
// configuration of its own: its events follow it, and the others the
// function's.
func TestEventInvokeConfigPerQualifier(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	fnFailed, liveFailed, liveOK := newRecordSink(), newRecordSink(), newRecordSink()
	cfg := fastAsync()
	cfg.OnFailure = fnFailed
	f := deploy(t, rt, lambda.FunctionConfig{Name: "perq", Code: testguest.Go(t, "behave"), Async: cfg})
	v1, err := f.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, f.CreateAlias(lambda.Alias{Name: "live", FunctionVersion: v1}))

	_, err = f.FunctionEventInvokeConfig("live")
	require.ErrorIs(t, err, lambda.ErrNotFound, "none put yet")
	require.NoError(t, f.PutFunctionEventInvokeConfig(t.Context(), "live", lambda.EventInvokeConfig{
		MaxRetryAttempts: lambda.Retries(0), OnFailure: liveFailed, OnSuccess: liveOK,
	}))
	got, err := f.FunctionEventInvokeConfig("live")
	require.NoError(t, err)
	require.Equal(t, 0, *got.MaxRetryAttempts)
	require.Equal(t, lambda.DefaultMaxEventAge, got.MaxEventAge, "the default filled in, as AWS returns it")

	fail := []byte(`{"op":"error","message":"boom"}`)
	_, err = f.InvokeAsync(t.Context(), fail, lambda.WithQualifier("live"))
	require.NoError(t, err)
	recs := liveFailed.Wait(t, 1)
	require.Equal(t, 1, recs[0].RequestContext.ApproximateInvokeCount, "the alias's config: no retries")
	require.Equal(t, f.ARN()+":live", recs[0].RequestContext.FunctionARN)
	require.Equal(t, "1", recs[0].ResponseContext.ExecutedVersion)

	_, err = f.InvokeAsync(t.Context(), []byte(`{"op":"echo"}`), lambda.WithQualifier("live"))
	require.NoError(t, err)
	require.Len(t, liveOK.Wait(t, 1), 1, "the alias's on-success destination")

	for _, q := range []string{"", "1", "$LATEST"} {
		_, err = f.InvokeAsync(t.Context(), fail, lambda.WithQualifier(q))
		require.NoError(t, err)
	}
	recs = fnFailed.Wait(t, 3)
	for _, r := range recs {
		require.Equal(t, 3, r.RequestContext.ApproximateInvokeCount, "the function's config: %s", r.RequestContext.FunctionARN)
	}

	// Deleted, the alias's events follow the function's again.
	require.NoError(t, f.DeleteFunctionEventInvokeConfig(t.Context(), "live"))
	require.ErrorIs(t, f.DeleteFunctionEventInvokeConfig(t.Context(), "live"), lambda.ErrNotFound)
	_, err = f.InvokeAsync(t.Context(), fail, lambda.WithQualifier("live"))
	require.NoError(t, err)
	recs = fnFailed.Wait(t, 1)
	require.Len(t, recs, 4)
	require.Equal(t, 3, recs[3].RequestContext.ApproximateInvokeCount)
	require.NoError(t, f.Close(context.Background()))
	require.Len(t, liveFailed.Records(), 1)
}

// TestEventInvokeConfigLatest puts a configuration on $LATEST: the
// unqualified function's events follow it too, as on AWS, where the two
// are one resource.
func TestEventInvokeConfigLatest(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	sink := &lambda.MemorySink{}
	cfg := fastAsync()
	cfg.DeadLetter = sink
	f := deploy(t, rt, lambda.FunctionConfig{Name: "latestq", Code: testguest.Go(t, "behave"), Async: cfg})
	require.NoError(t, f.PutFunctionEventInvokeConfig(t.Context(), "", lambda.EventInvokeConfig{MaxRetryAttempts: lambda.Retries(1)}))
	_, err := f.FunctionEventInvokeConfig("$LATEST")
	require.NoError(t, err, "the unqualified function's config is $LATEST's")
	for _, q := range []string{"", "$LATEST"} {
		_, err = f.InvokeAsync(t.Context(), []byte(`{"op":"error","message":"x"}`), lambda.WithQualifier(q))
		require.NoError(t, err)
	}
	require.NoError(t, sink.WaitLen(waitCtx(t), 2))
	for _, dl := range sink.Letters() {
		require.Equal(t, 2, dl.Attempts, "1 + MaxRetryAttempts, and the dead letter is still the function's")
	}
	require.NoError(t, f.Close(context.Background()))
}

// TestEventInvokeConfigErrors checks AWS's errors.
func TestEventInvokeConfigErrors(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "eicerr", Code: testguest.C(t, "echo", true)})
	for _, tc := range []struct {
		name      string
		qualifier string
		cfg       lambda.EventInvokeConfig
		kind      error
		msg       string
	}{
		{"too many retries", "", lambda.EventInvokeConfig{MaxRetryAttempts: lambda.Retries(3)}, lambda.ErrValidation,
			"1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"},
		{"negative retries", "", lambda.EventInvokeConfig{MaxRetryAttempts: lambda.Retries(-1)}, lambda.ErrValidation,
			"1 validation error detected: Value '-1' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{"age too short", "", lambda.EventInvokeConfig{MaxEventAge: 30 * time.Second}, lambda.ErrValidation,
			"1 validation error detected: Value '30' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"},
		{"age too long", "", lambda.EventInvokeConfig{MaxEventAge: 7 * time.Hour}, lambda.ErrValidation,
			"1 validation error detected: Value '25200' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 21600"},
		{"age not whole seconds", "", lambda.EventInvokeConfig{MaxEventAge: 90500 * time.Millisecond}, lambda.ErrValidation,
			"maximumEventAgeInSeconds"},
		{"unknown alias", "nope", lambda.EventInvokeConfig{}, lambda.ErrNotFound, "Function not found: " + f.ARN() + ":nope"},
		{"unknown version", "4", lambda.EventInvokeConfig{}, lambda.ErrNotFound, "Function not found: " + f.ARN() + ":4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.PutFunctionEventInvokeConfig(t.Context(), tc.qualifier, tc.cfg)
			require.ErrorIs(t, err, tc.kind)
			var se *lambda.ServiceError
			require.True(t, errors.As(err, &se))
			require.Contains(t, se.Message, tc.msg)
		})
	}
	err := f.DeleteFunctionEventInvokeConfig(t.Context(), "")
	require.ErrorIs(t, err, lambda.ErrNotFound)
	require.Contains(t, err.Error(), "doesn't have an EventInvokeConfig")
}

// TestEventInvokeConfigRecovered restarts a runtime with an alias's events
// in its state directory: after the restart they wait, without an attempt,
// until the host has made the alias and put its configuration again, and
// then follow that configuration.
func TestEventInvokeConfigRecovered(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	state := t.TempDir()
	cfg := fastAsync()
	cfg.Concurrency = 1

	rt1, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), StateDir: state})
	require.NoError(t, err)
	f1 := deploy(t, rt1, lambda.FunctionConfig{Name: "recq", Code: guest, Async: cfg})
	v1, err := f1.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, f1.CreateAlias(lambda.Alias{Name: "live", FunctionVersion: v1}))
	require.NoError(t, f1.PutFunctionEventInvokeConfig(t.Context(), "live", lambda.EventInvokeConfig{MaxRetryAttempts: lambda.Retries(0), OnFailure: newRecordSink()}))
	// The first event holds the one worker while the others queue.
	_, err = f1.InvokeAsync(t.Context(), []byte(`{"op":"sleep","ms":300}`))
	require.NoError(t, err)
	ids := map[string]bool{}
	for range 3 {
		id, err := f1.InvokeAsync(t.Context(), []byte(`{"op":"error","message":"boom"}`), lambda.WithQualifier("live"))
		require.NoError(t, err)
		ids[id] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, rt1.Close(ctx), context.DeadlineExceeded)
	require.Zero(t, f1.AsyncStats().DeadLettered)

	fnFailed, liveFailed := newRecordSink(), newRecordSink()
	cfg.OnFailure = fnFailed
	rt2 := newRuntime(t, lambda.Options{StateDir: state})
	f2 := deploy(t, rt2, lambda.FunctionConfig{Name: "recq", Code: guest, Async: cfg})
	require.Equal(t, int64(4), f2.AsyncStats().Recovered, "the sleeper, aborted, and the alias's three")
	// Before the alias exists again, nothing of it runs and nothing fails.
	time.Sleep(100 * time.Millisecond)
	require.Empty(t, fnFailed.Records())
	v1, err = f2.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, f2.CreateAlias(lambda.Alias{Name: "live", FunctionVersion: v1}))
	// The alias exists, its configuration not yet: still nothing.
	time.Sleep(100 * time.Millisecond)
	require.Empty(t, fnFailed.Records())
	require.NoError(t, f2.PutFunctionEventInvokeConfig(t.Context(), "live", lambda.EventInvokeConfig{MaxRetryAttempts: lambda.Retries(0), OnFailure: liveFailed}))
	recs := liveFailed.Wait(t, 3)
	for _, r := range recs {
		require.True(t, ids[r.RequestContext.RequestID])
		require.Equal(t, 1, r.RequestContext.ApproximateInvokeCount, "no attempt counted while it waited")
	}
	require.NoError(t, f2.Close(context.Background()))
	require.Empty(t, fnFailed.Records())
	require.FileExists(t, filepath.Join(state, "async.db"))
}
