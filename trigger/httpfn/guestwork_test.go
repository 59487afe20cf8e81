package httpfn_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmlambda/lambda/internal/abi"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/trigger/httpfn"
)

// callCounter counts the calls of a module's functions, its imports (the
// host's) apart.
type callCounter struct{ guest, host int }

func (c *callCounter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	host := def.GoFunction() != nil
	return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
		if host {
			c.host++
		} else {
			c.guest++
		}
	})
}

// TestGuestWorkPerRequest counts the function calls that the test guest
// httpserve (an http.ServeMux behind guest/lambdaurl) makes to serve
// GET /cookies, the request of BenchmarkHandler, as the trigger sends it.
// In a Go guest compiled to WebAssembly, calls are a large part of the
// cost (docs/PERFORMANCE.md), and their count, unlike a time, does not
// depend on the machine's load. Decoding the event with encoding/json took
// some 1,650 calls more than lambdaurl's own decoder (2,839 in all). The request makes no call
// to the host (WASI's clock or poll_oneoff included): nothing in the guest
// waits, sleeps or polls.
func TestGuestWorkPerRequest(t *testing.T) {
	code := testguest.Go(t, "httpserve")
	ctx := context.Background()
	var counter callCounter
	lctx := experimental.WithFunctionListenerFactory(ctx, &counter)
	// The interpreter: no compilation, and a handful of calls to run.
	rt := wazero.NewRuntimeWithConfig(lctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { _ = rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(lctx, rt)
	cm, err := rt.CompileModule(lctx, code)
	require.NoError(t, err)
	// The guest's other imports, which GET /cookies does not call.
	hosts := map[string]wazero.HostModuleBuilder{}
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		if mod == wasi_snapshot_preview1.ModuleName {
			continue
		}
		if hosts[mod] == nil {
			hosts[mod] = rt.NewHostModuleBuilder(mod)
		}
		hosts[mod].NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) {
			panic("not called by GET /cookies")
		}), d.ParamTypes(), d.ResultTypes()).Export(name)
	}
	for _, b := range hosts {
		_, err := b.Instantiate(lctx)
		require.NoError(t, err)
	}
	mod, err := rt.InstantiateModule(lctx, cm, wazero.NewModuleConfig().WithStartFunctions().WithSysNanotime().WithSysWalltime())
	require.NoError(t, err)
	_, err = mod.ExportedFunction(abi.ExportInitialize).Call(ctx)
	require.NoError(t, err)

	r := httptest.NewRequest("GET", "/cookies", nil)
	req := &abi.Request{
		RequestID:  "r",
		DeadlineMs: time.Now().Add(time.Hour).UnixMilli(),
		Payload:    httpfn.EventJSON(httpfn.NewEventRequest(r, nil), httpfn.EventOptions{}),
	}
	buf := make([]byte, req.Size())
	req.Encode(buf)
	invoke := func() string {
		res, err := mod.ExportedFunction(abi.ExportAlloc).Call(ctx, uint64(len(buf)))
		require.NoError(t, err)
		require.True(t, mod.Memory().Write(uint32(res[0]), buf))
		res, err = mod.ExportedFunction(abi.ExportInvoke).Call(ctx, res[0], uint64(len(buf)))
		require.NoError(t, err)
		rec, ok := mod.Memory().Read(uint32(res[0]), abi.ResultSize)
		require.True(t, ok)
		status, ptr, n := abi.DecodeResult(rec)
		out, ok := mod.Memory().Read(ptr, n)
		require.True(t, ok)
		require.Equal(t, abi.StatusOK, status, "%s", out)
		return string(out)
	}
	for range 3 { // warm: the first calls fill caches
		invoke()
	}
	const n = 10
	counter = callCounter{}
	for range n {
		require.Contains(t, invoke(), `"statusCode":201`)
	}
	perRequest := counter.guest / n
	t.Logf("%d guest function calls and %d host calls per request", perRequest, counter.host/n)
	require.Less(t, counter.host, n, "calls to the host, WASI's included: a request should need none")
	require.Less(t, perRequest, 1500, "guest function calls per request")
}
