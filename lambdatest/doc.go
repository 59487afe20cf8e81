// Package lambdatest is the test kit for handlers that run on wasmlambda,
// in the manner of net/http/httptest: plain go test, no Docker, no network,
// and invocations that take milliseconds.
//
//   - Build compiles a Go handler package to wasm, with the GOOS, GOARCH and
//     build mode a guest needs, and keeps the result in a cache keyed by a
//     hash of the package's sources, so that a second go test, or a
//     parallel test binary, does not compile it again.
//   - NewRuntime gives a test a runtime that closes with it, on a shared
//     on-disk compilation cache, logging to the test's log; Deploy deploys
//     a function on it.
//   - Invoke, InvokeJSON, InvokeAsync and RequireFunctionError invoke and
//     assert on the result or on the function error.
//   - S3PutEvent, S3DeleteEvent, SQSEvent, ScheduledEvent,
//     APIGatewayV2Event and FunctionURLEvent are sample events in AWS's
//     JSON, with overrides: the kinds sam local generate-event offers for
//     wasmlambda's triggers.
//   - RecordSink, a destination that keeps the invocation records it gets,
//     WaitRecords, WaitRecord and WaitDeadLetters wait for the results of
//     asynchronous invocations and for dead letters; FastAsync cuts the
//     retry backoffs to milliseconds.
//   - ManualClock is a lambda.Clock that moves only when the test moves
//     it, for triggers such as trigger/schedule; FireNextTimer moves it to
//     a trigger's next firing, and WaitTriggerEvents waits for the events
//     a trigger sent.
//
// A test of a handler reads:
//
//	func TestOrder(t *testing.T) {
//		code := lambdatest.Build(t, ".")
//		rt := lambdatest.NewRuntime(t)
//		fn := lambdatest.Deploy(t, rt, lambda.FunctionConfig{Name: "orders", Code: code.Wasm})
//
//		got := lambdatest.InvokeJSON[Receipt](t, fn, Order{ID: "o-1", Cents: 250})
//		require.Equal(t, "o-1", got.OrderID)
//
//		_, err := fn.Invoke(t.Context(), []byte(`{"id":""}`))
//		lambdatest.RequireFunctionError(t, err, "ValidationError")
//	}
//
// The helpers that take a testing.TB fail the test with t.Fatal, so they
// must be called from the test's goroutine, as t.Fatal must.
//
// # Notes
//
// The kit's caches live in the user's cache directory (os.UserCacheDir, such
// as ~/.cache/wasmlambda): DefaultBuildCacheDir for built modules and
// DefaultCompileCacheDir for wazero's compiled code. Nothing removes old
// entries; deleting the directories is always safe.
//
// Under the race detector wazero compiles a Go guest about 12 times slower
// (some 12 s on a small machine, a minute for a large guest). So, in a test
// binary built with -race, Deploy first compiles the guest into the
// runtime's compilation cache with a program built without -race (built
// once, with Build's cache), and the runtime finds it there.
package lambdatest
