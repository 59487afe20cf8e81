package lambda_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/lambdatest"
	"github.com/wasmlambda/lambda/trigger/schedule"
)

type verWhoami struct {
	FunctionVersion    string `json:"functionVersion"`
	InvokedFunctionArn string `json:"invokedFunctionArn"`
}

func invokeWhoami(t *testing.T, f *lambda.Function, opts ...lambda.InvokeOption) (verWhoami, string) {
	t.Helper()
	var executed string
	out, err := f.Invoke(t.Context(), []byte(`"whoami"`), append(opts, lambda.WithExecutedVersion(&executed))...)
	require.NoError(t, err)
	var w verWhoami
	require.NoError(t, json.Unmarshal(out, &w), string(out))
	return w, executed
}

// TestVersionsPublishAndInvoke publishes versions, invokes each through a
// qualifier and checks what the guest sees and what the caller is told.
func TestVersionsPublishAndInvoke(t *testing.T) {
	rt := newRuntime(t, lambda.Options{Region: "eu-west-1", AccountID: "123456789012"})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "ver", Code: testguest.C(t, "echo", true)})
	arn := "arn:aws:lambda:eu-west-1:123456789012:function:ver"

	w, executed := invokeWhoami(t, f)
	require.Equal(t, verWhoami{"$LATEST", arn}, w)
	require.Equal(t, "$LATEST", executed)

	v1, err := f.PublishVersion(t.Context(), "first")
	require.NoError(t, err)
	require.Equal(t, "1", v1)
	again, err := f.PublishVersion(t.Context(), "unchanged")
	require.NoError(t, err)
	require.Equal(t, "1", again, "nothing changed since version 1: AWS returns it")

	require.NoError(t, f.Update(t.Context(), lambda.FunctionConfig{Environment: map[string]string{"STAGE": "two"}}))
	v2, err := f.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.Equal(t, "2", v2)
	require.Equal(t, "two", f.Config().Environment["STAGE"], "Config is $LATEST's")

	for _, tc := range []struct{ qualifier, version, arn string }{
		{"1", "1", arn + ":1"},
		{"2", "2", arn + ":2"},
		{"$LATEST", "$LATEST", arn + ":$LATEST"},
	} {
		w, executed := invokeWhoami(t, f, lambda.WithQualifier(tc.qualifier))
		require.Equal(t, verWhoami{tc.version, tc.arn}, w, tc.qualifier)
		require.Equal(t, tc.version, executed)
	}

	vs := f.Versions()
	require.Len(t, vs, 3)
	require.Equal(t, []string{"$LATEST", "1", "2"}, []string{vs[0].Version, vs[1].Version, vs[2].Version})
	require.Equal(t, "first", vs[1].Description)
	require.Equal(t, vs[1].CodeSHA256, vs[2].CodeSHA256, "the same code")
	require.Empty(t, vs[1].Config.Environment)
	require.Equal(t, "two", vs[2].Config.Environment["STAGE"])

	// Each version has its own pool.
	require.NoError(t, f.PutProvisionedConcurrency(t.Context(), "1", 2))
	require.Error(t, f.PutProvisionedConcurrency(t.Context(), "$LATEST", 1))
}

// TestVersionsFromCodePath checks that a function deployed from CodePath
// keeps its code as it was: a version published after the file changed
// runs the code deployed, and Update from CodePath, or without code, takes
// the code as the file held it then.
func TestVersionsFromCodePath(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	echo, counter := testguest.C(t, "echo", true), testguest.WAT(t, "counter")
	sha := func(code []byte) string {
		sum := sha256.Sum256(code)
		return base64.StdEncoding.EncodeToString(sum[:])
	}
	path := filepath.Join(t.TempDir(), "fn.wasm")
	require.NoError(t, os.WriteFile(path, echo, 0o600))
	f := deploy(t, rt, lambda.FunctionConfig{Name: "path", CodePath: path})
	// whoami answers the echo guest's version; the counter echoes it.
	runs := func(qualifier string) string {
		t.Helper()
		out, err := f.Invoke(t.Context(), []byte(`"whoami"`), lambda.WithQualifier(qualifier))
		require.NoError(t, err)
		if string(out) == `"whoami"` {
			return "counter"
		}
		return "echo"
	}

	require.NoError(t, os.WriteFile(path, counter, 0o600))
	v1, err := f.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.Equal(t, "echo", runs(v1), "the code deployed, not what the file holds now")
	require.Equal(t, "echo", runs(""))
	require.Equal(t, 1, lambda.SharedModules(rt), "the version shares the compiled code, found by its SHA-256")

	require.NoError(t, f.Update(t.Context(), lambda.FunctionConfig{CodePath: path}))
	require.NoError(t, os.WriteFile(path, echo, 0o600))
	require.Equal(t, "counter", runs(""))
	require.NoError(t, f.Update(t.Context(), lambda.FunctionConfig{Environment: map[string]string{"STAGE": "two"}}))
	require.Equal(t, "counter", runs(""), "an Update without code keeps the code")
	v2, err := f.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.Equal(t, "counter", runs(v2))
	require.Equal(t, "echo", runs(v1))
	require.Equal(t, 2, lambda.SharedModules(rt), "one compiled code for each of the two modules")
	require.Empty(t, f.Config().CodePath)

	vs := f.Versions()
	require.Len(t, vs, 3)
	require.Equal(t, []string{sha(counter), sha(echo), sha(counter)}, []string{vs[0].CodeSHA256, vs[1].CodeSHA256, vs[2].CodeSHA256})
}

// TestVersionGuestSees checks AWS_LAMBDA_FUNCTION_VERSION and lambdacontext
// in a Go guest, per version.
func TestVersionGuestSees(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "vctx", Code: testguest.Go(t, "behave")})
	_, err := f.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, f.CreateAlias(lambda.Alias{Name: "live", FunctionVersion: "1"}))
	for _, tc := range []struct{ qualifier, version, arnSuffix string }{
		{"", "$LATEST", ""}, {"1", "1", ":1"}, {"live", "1", ":live"},
	} {
		out, err := f.Invoke(t.Context(), []byte(`{"op":"context"}`), lambda.WithQualifier(tc.qualifier))
		require.NoError(t, err)
		var c struct {
			FunctionVersion string   `json:"function_version"`
			ARN             string   `json:"invoked_function_arn"`
			Env             []string `json:"env"`
		}
		require.NoError(t, json.Unmarshal(out, &c))
		require.Equal(t, tc.version, c.FunctionVersion, "lambdacontext.FunctionVersion")
		require.Contains(t, c.Env, "AWS_LAMBDA_FUNCTION_VERSION="+tc.version)
		require.Equal(t, f.ARN()+tc.arnSuffix, c.ARN)
	}
}

// TestQualifierErrors checks the errors of qualifiers that do not resolve,
// in AWS's shape.
func TestQualifierErrors(t *testing.T) {
	rt := newRuntime(t, lambda.Options{Region: "us-east-1", AccountID: "123456789012"})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "qerr", Code: testguest.WAT(t, "counter")})
	_, err := f.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, f.Update(t.Context(), lambda.FunctionConfig{Timeout: 2 * time.Second}))
	_, err = f.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, f.CreateAlias(lambda.Alias{Name: "live", FunctionVersion: "1"}))
	arn := "arn:aws:lambda:us-east-1:123456789012:function:qerr"

	for _, tc := range []struct {
		name    string
		call    func() error
		kind    *lambda.ServiceError
		code    string
		status  int
		message string
	}{
		{"unknown version", func() error { _, err := f.Invoke(t.Context(), []byte(`1`), lambda.WithQualifier("7")); return err },
			lambda.ErrNotFound, "ResourceNotFoundException", 404, "Function not found: " + arn + ":7"},
		{"unknown alias", func() error { _, err := f.Invoke(t.Context(), []byte(`1`), lambda.WithQualifier("prod")); return err },
			lambda.ErrNotFound, "ResourceNotFoundException", 404, "Function not found: " + arn + ":prod"},
		{"unknown alias, async", func() error {
			_, err := f.InvokeAsync(t.Context(), []byte(`1`), lambda.WithQualifier("prod"))
			return err
		},
			lambda.ErrNotFound, "ResourceNotFoundException", 404, "Function not found: " + arn + ":prod"},
		{"malformed qualifier", func() error { _, err := f.Invoke(t.Context(), []byte(`1`), lambda.WithQualifier("a b")); return err },
			lambda.ErrValidation, "ValidationException", 400, "1 validation error detected: Value 'a b' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"},
		{"alias to an alias", func() error { return f.CreateAlias(lambda.Alias{Name: "canary", FunctionVersion: "live"}) },
			lambda.ErrValidation, "ValidationException", 400, "1 validation error detected: Value 'live' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+): live is an alias, and an alias points to a version, not to another alias"},
		{"weights on $LATEST", func() error {
			return f.CreateAlias(lambda.Alias{Name: "canary", FunctionVersion: "$LATEST", AdditionalVersionWeights: map[string]float64{"1": 0.1}})
		}, lambda.ErrInvalidConfig, "InvalidParameterValueException", 400, "$LATEST is not supported for an alias pointing to more than 1 version"},
		{"weight to $LATEST", func() error {
			return f.CreateAlias(lambda.Alias{Name: "canary", FunctionVersion: "1", AdditionalVersionWeights: map[string]float64{"$LATEST": 0.1}})
		}, lambda.ErrInvalidConfig, "InvalidParameterValueException", 400, "$LATEST is not supported for an alias pointing to more than 1 version"},
		{"alias to an unknown version", func() error { return f.CreateAlias(lambda.Alias{Name: "canary", FunctionVersion: "9"}) },
			lambda.ErrNotFound, "ResourceNotFoundException", 404, "Function not found: " + arn + ":9"},
		{"weight out of range", func() error {
			return f.CreateAlias(lambda.Alias{Name: "canary", FunctionVersion: "1", AdditionalVersionWeights: map[string]float64{"2": 1.5}})
		}, lambda.ErrValidation, "ValidationException", 400, "1 validation error detected: Value '1.5' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]"},
		{"the same version twice", func() error {
			return f.CreateAlias(lambda.Alias{Name: "canary", FunctionVersion: "1", AdditionalVersionWeights: map[string]float64{"1": 0.5}})
		}, lambda.ErrInvalidConfig, "InvalidParameterValueException", 400, "Invalid function version 1. Function version 1 is already included in routing configuration."},
		{"alias exists", func() error { return f.CreateAlias(lambda.Alias{Name: "live", FunctionVersion: "2"}) },
			lambda.ErrConflict, "ResourceConflictException", 409, "Alias already exists: " + arn + ":live"},
		{"update an unknown alias", func() error { return f.UpdateAlias(lambda.Alias{Name: "prod", FunctionVersion: "2"}) },
			lambda.ErrNotFound, "ResourceNotFoundException", 404, "Alias not found: " + arn + ":prod"},
		{"numeric alias name", func() error { return f.CreateAlias(lambda.Alias{Name: "12", FunctionVersion: "2"}) },
			lambda.ErrValidation, "ValidationException", 400, "1 validation error detected: Value '12' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"},
		{"attach to an unknown alias", func() error {
			_, err := f.Attach(t.Context(), "s", &schedule.Schedule{Expression: "rate(1 hour)"}, lambda.AttachQualifier("prod"))
			return err
		}, lambda.ErrNotFound, "ResourceNotFoundException", 404, "Function not found: " + arn + ":prod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.ErrorIs(t, err, tc.kind)
			var se *lambda.ServiceError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tc.code, se.Code)
			require.Equal(t, tc.status, se.StatusCode)
			require.Equal(t, tc.message, se.Message)
		})
	}
	a, err := f.GetAlias("live")
	require.NoError(t, err)
	require.Equal(t, "1", a.FunctionVersion, "no failed call changed the alias")
	require.Len(t, f.Aliases(), 1)
}

// TestAliasWeightedRouting sends 10,000 invocations through an alias with
// a weight on a second version and checks the split against a binomial
// bound, then moves the alias.
func TestAliasWeightedRouting(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "canary", Code: testguest.WAT(t, "counter")})
	_, err := f.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, f.Update(t.Context(), lambda.FunctionConfig{Environment: map[string]string{"VERSION_TWO": "yes"}}))
	_, err = f.PublishVersion(t.Context(), "")
	require.NoError(t, err)

	const n, weight = 10000, 0.1
	require.NoError(t, f.CreateAlias(lambda.Alias{Name: "live", FunctionVersion: "1", AdditionalVersionWeights: map[string]float64{"2": weight}}))
	counts := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			for range n / 4 {
				var v string
				_, err := f.Invoke(t.Context(), []byte(strconv.Itoa(g)), lambda.WithQualifier("live"), lambda.WithExecutedVersion(&v))
				if err != nil {
					t.Error(err)
					return
				}
				local[v]++
			}
			mu.Lock()
			for k, c := range local {
				counts[k] += c
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Binomial(10,000, 0.1): mean 1,000, standard deviation 30. Five
	// deviations either side fail a correct router about once in 1.7
	// million runs.
	require.Equal(t, n, counts["1"]+counts["2"], counts)
	require.InDelta(t, n*weight, counts["2"], 150, counts)

	// Moving the alias is atomic: all of the next invocations go to 2.
	require.NoError(t, f.UpdateAlias(lambda.Alias{Name: "live", FunctionVersion: "2"}))
	for range 100 {
		var v string
		_, err := f.Invoke(t.Context(), []byte(`1`), lambda.WithQualifier("live"), lambda.WithExecutedVersion(&v))
		require.NoError(t, err)
		require.Equal(t, "2", v)
	}
}

// TestUpdateFailedCompileKeepsServing updates $LATEST with code that does
// not compile: the old code keeps serving and the error says why.
func TestUpdateFailedCompileKeepsServing(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "keep", Code: testguest.WAT(t, "counter")})
	err := f.Update(t.Context(), lambda.FunctionConfig{Code: []byte("\x00asm\x01\x00\x00\x00garbage")})
	require.ErrorIs(t, err, lambda.ErrInvalidCode)
	require.Contains(t, err.Error(), "update function keep: the code in service is unchanged")
	out, err := f.Invoke(t.Context(), []byte(`"still here"`))
	require.NoError(t, err)
	require.Equal(t, `"still here"`, string(out))

	err = f.Update(t.Context(), lambda.FunctionConfig{Name: "other"})
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	err = f.Update(t.Context(), lambda.FunctionConfig{Async: lambda.AsyncConfig{MaxEventAge: time.Minute}})
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
}

// TestLiveUpdateUnderLoad updates $LATEST 20 times while 8 goroutines
// invoke it, asynchronous events flow and a schedule fires. No invocation
// fails, each response comes from the code in service at some moment of
// its invocation (the generation it reports lies between the ones
// published before and after it), and no event is lost.
func TestLiveUpdateUnderLoad(t *testing.T) {
	code := testguest.C(t, "hostcall", true)
	results := new(lambdatest.RecordSink)
	failures := new(lambdatest.RecordSink)
	// The C guest answers the event "setting" with its setting greeting,
	// which each update changes: the response names the generation of the
	// code and configuration that ran it.
	config := func(gen int) lambda.FunctionConfig {
		return lambda.FunctionConfig{
			Capabilities: []string{"test", lambda.CapabilitySettings, lambda.CapabilityLog},
			Settings:     map[string]string{"greeting": strconv.Itoa(gen)},
		}
	}
	cfg := config(0)
	cfg.Name, cfg.Code = "live", code
	cfg.Async = lambda.AsyncConfig{OnSuccess: results, OnFailure: failures, RetryBackoff: []time.Duration{time.Millisecond}}
	f, _ := hostFunction(t, nil, cfg)
	clock := lambdatest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	att, err := f.Attach(t.Context(), "tick", &schedule.Schedule{Expression: "rate(1 minute)", Input: []byte(`"setting"`), Clock: clock})
	require.NoError(t, err)

	// An invocation that starts once generation committed is in service,
	// and ends before generation upcoming is, runs one between them.
	var committed, upcoming atomic.Int64
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var invocations, asyncSent, ticks atomic.Int64
	errs := make(chan error, 100)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				from := committed.Load()
				out, err := f.Invoke(t.Context(), []byte(`"setting"`))
				to := upcoming.Load()
				if err != nil {
					errs <- err
					return
				}
				g, err := strconv.ParseInt(string(out), 10, 64)
				if err != nil || g < from || g > to {
					errs <- fmt.Errorf("response %s to an invocation made between generations %d and %d (%v)", out, from, to, err)
					return
				}
				invocations.Add(1)
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if _, err := f.InvokeAsync(t.Context(), []byte(`"setting"`)); err != nil {
				errs <- err
				return
			}
			asyncSent.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			// One firing at a time, each taken before the next.
			if _, err := clock.AdvanceToNextTimer(ctx); err != nil {
				return
			}
			n := ticks.Add(1)
			for att.Stats().Events+att.Stats().Errors < n && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
		}
	}()

	for i := 1; i <= 20; i++ {
		// Half replace the code (the same module, compiled again), half
		// only the configuration.
		cfg := config(i)
		if i%2 == 0 {
			cfg.Code = code
		}
		upcoming.Store(int64(i))
		require.NoError(t, f.Update(t.Context(), cfg))
		committed.Store(int64(i))
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Positive(t, invocations.Load())

	// Every asynchronous event and every firing succeeded, once each.
	wctx := lambdatest.WaitContext(t)
	require.Zero(t, att.Stats().Errors)
	want := int(asyncSent.Load() + att.Stats().Events)
	require.NoError(t, results.WaitLen(wctx, want))
	require.Zero(t, failures.Len())
	seen := map[string]bool{}
	for _, r := range results.Records() {
		require.False(t, seen[r.RequestContext.RequestID])
		seen[r.RequestContext.RequestID] = true
	}
	require.Equal(t, want, len(seen))

	// The old code's sandboxes drain and are freed.
	require.Eventually(t, func() bool { return lambda.RetiringVersions(f) == 0 }, time.Minute, 10*time.Millisecond)
	out, err := f.Invoke(t.Context(), []byte(`"setting"`))
	require.NoError(t, err)
	require.Equal(t, "20", string(out))
	t.Logf("%d invocations, %d asynchronous events, %d firings across 20 updates", invocations.Load(), asyncSent.Load(), att.Stats().Events)
}

// TestTriggerAndDestinationTargetAlias attaches a schedule to an alias and
// points a destination at another alias.
func TestTriggerAndDestinationTargetAlias(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	code := testguest.Go(t, "behave")
	results := new(lambdatest.RecordSink)
	sink := deploy(t, rt, lambda.FunctionConfig{Name: "sink", Code: testguest.C(t, "echo", true), Async: lambda.AsyncConfig{OnSuccess: results}})
	_, err := sink.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, sink.CreateAlias(lambda.Alias{Name: "prod", FunctionVersion: "1"}))

	f := deploy(t, rt, lambda.FunctionConfig{Name: "src", Code: code, Async: lambda.AsyncConfig{
		OnSuccess: &lambda.FunctionDestination{Function: sink, Qualifier: "prod"},
	}})
	_, err = f.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, f.CreateAlias(lambda.Alias{Name: "live", FunctionVersion: "1"}))
	clock := lambdatest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	att, err := f.Attach(t.Context(), "tick", &schedule.Schedule{Expression: "rate(1 minute)", Input: []byte(`{"op":"echo","data":"tick"}`), Clock: clock}, lambda.AttachQualifier("live"))
	require.NoError(t, err)
	lambdatest.FireNextTimer(t, clock)
	lambdatest.WaitTriggerEvents(t, att, 1)

	// src's record went to sink:prod, whose record says so.
	rec := lambdatest.WaitRecords(t, results, 1)[0]
	require.Equal(t, sink.ARN()+":prod", rec.RequestContext.FunctionARN)
	require.Equal(t, "1", rec.ResponseContext.ExecutedVersion)
	var inner lambda.InvocationRecord
	require.NoError(t, json.Unmarshal(rec.RequestPayload, &inner))
	require.Equal(t, f.ARN()+":live", inner.RequestContext.FunctionARN)
	require.Equal(t, "1", inner.ResponseContext.ExecutedVersion)
	require.NoError(t, att.Detach(t.Context()))
}

// TestProvisionedConcurrencyOnAlias puts provisioned concurrency on an
// alias: it warms the alias's version, splits by the weight between two,
// follows the alias as it moves, and is refused with $LATEST.
func TestProvisionedConcurrencyOnAlias(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "pcalias", Code: testguest.WAT(t, "counter"), IdleTimeout: 50 * time.Millisecond})
	v1, err := f.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, f.Update(t.Context(), lambda.FunctionConfig{Timeout: 2 * time.Second}))
	v2, err := f.PublishVersion(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, f.CreateAlias(lambda.Alias{Name: "live", FunctionVersion: v1}))
	warm := func(v string) (minWarm, idle int) {
		s := lambda.VersionStats(f, v)
		return s.MinWarm, s.Idle
	}
	eventually := func(v string, want int) {
		t.Helper()
		require.Eventually(t, func() bool { m, i := warm(v); return m == want && i >= want }, 30*time.Second, 10*time.Millisecond, "version %s: want %d warm", v)
	}

	require.NoError(t, f.PutProvisionedConcurrency(t.Context(), "live", 4))
	m, idle := warm(v1)
	require.Equal(t, 4, m, "the alias's version is kept warm")
	require.Equal(t, 4, idle, "warm once the call returns")
	m, _ = warm(v2)
	require.Zero(t, m)

	// A version's own setting adds to its aliases'.
	require.NoError(t, f.PutProvisionedConcurrency(t.Context(), v1, 1))
	m, _ = warm(v1)
	require.Equal(t, 5, m)
	require.NoError(t, f.PutProvisionedConcurrency(t.Context(), v1, 0))

	// Weights split it: 25% of 4 to version 2.
	require.NoError(t, f.UpdateAlias(lambda.Alias{Name: "live", FunctionVersion: v1, AdditionalVersionWeights: map[string]float64{v2: 0.25}}))
	eventually(v1, 3)
	eventually(v2, 1)

	// Moved, it follows the alias.
	require.NoError(t, f.UpdateAlias(lambda.Alias{Name: "live", FunctionVersion: v2}))
	eventually(v2, 4)
	m, _ = warm(v1)
	require.Zero(t, m)
	require.Eventually(t, func() bool { return lambda.VersionStats(f, v1).Open == 0 }, 30*time.Second, 10*time.Millisecond, "the old version's sandboxes close once idle")

	// $LATEST takes none, directly or through an alias.
	err = f.UpdateAlias(lambda.Alias{Name: "live", FunctionVersion: "$LATEST"})
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	require.Contains(t, err.Error(), "Provisioned Concurrency Configs cannot be applied to unpublished function versions")
	require.NoError(t, f.CreateAlias(lambda.Alias{Name: "head", FunctionVersion: "$LATEST"}))
	err = f.PutProvisionedConcurrency(t.Context(), "head", 1)
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	require.ErrorIs(t, f.PutProvisionedConcurrency(t.Context(), "nope", 1), lambda.ErrNotFound)

	// Deleting the alias, or putting 0, removes it.
	require.NoError(t, f.DeleteAlias("live"))
	m, _ = warm(v2)
	require.Zero(t, m)
}

// TestVersionLabel checks FunctionConfig.Version: unset, the unqualified
// function reports $LATEST everywhere, as AWS does; a label is reported
// instead, and one that is a number cannot be published, since a version
// would share it.
func TestVersionLabel(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	code := testguest.C(t, "echo", true)
	for _, tc := range []struct {
		label, want string
		publish     bool
	}{
		{"", "$LATEST", true},
		{"build-42", "build-42", true},
		{"7", "7", false},
	} {
		t.Run(tc.want, func(t *testing.T) {
			f := deploy(t, rt, lambda.FunctionConfig{Name: "label" + strconv.Itoa(len(tc.label)), Code: code, Version: tc.label})
			w, executed := invokeWhoami(t, f)
			require.Equal(t, tc.want, w.FunctionVersion)
			require.Equal(t, tc.want, executed)
			require.Equal(t, f.ARN(), w.InvokedFunctionArn)
			v, err := f.PublishVersion(t.Context(), "")
			if !tc.publish {
				require.ErrorIs(t, err, lambda.ErrInvalidConfig)
				require.Contains(t, err.Error(), `FunctionConfig.Version "7"`)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "1", v)
			w, executed = invokeWhoami(t, f, lambda.WithQualifier(v))
			require.Equal(t, "1", w.FunctionVersion)
			require.Equal(t, "1", executed)
			_, executed = invokeWhoami(t, f)
			require.Equal(t, tc.want, executed, "the unqualified function is still $LATEST")
		})
	}
}
