package lambdatest_test

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/lambdatest"
)

// cacheEntries lists the files of a compilation cache, less the markers of
// what was precompiled.
func cacheEntries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() || strings.HasPrefix(rel, "precompiled"+string(filepath.Separator)) {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	require.NoError(t, err)
	return out
}

// TestPrecompileFillsTheRuntimesCache: what the program built without
// -race compiles is what the runtime looks for, so a deploy after it
// compiles nothing more.
func TestPrecompileFillsTheRuntimesCache(t *testing.T) {
	code := lambdatest.Build(t, guestDir).Wasm
	dir := t.TempDir()
	ft := &fakeT{}
	require.Empty(t, fatal(t, ft, func(t testing.TB) { lambdatest.Precompile(t, code, dir) }))
	require.Contains(t, strings.Join(ft.Logs(), "\n"), "compiled the guest without -race")
	precompiled := cacheEntries(t, dir)
	require.NotEmpty(t, precompiled)

	rt := lambdatest.NewRuntime(t, lambda.Options{CacheDir: dir})
	fn := lambdatest.Deploy(t, rt, lambda.FunctionConfig{Name: "f", Code: code})
	require.JSONEq(t, `{"ok":true}`, string(lambdatest.Invoke(t, fn, []byte(`{"ok":true}`))))
	require.Equal(t, precompiled, cacheEntries(t, dir), "the runtime found the guest compiled")
}

// TestDeployPrecompilesUnderRace: under the race detector, Deploy on a
// runtime of NewRuntime's precompiles the guest; without it, it does not.
func TestDeployPrecompilesUnderRace(t *testing.T) {
	code := lambdatest.Build(t, guestDir).Wasm
	dir := t.TempDir()
	ft := &fakeT{}
	require.Empty(t, fatal(t, ft, func(t testing.TB) {
		rt := lambdatest.NewRuntime(t, lambda.Options{CacheDir: dir})
		lambdatest.Deploy(t, rt, lambda.FunctionConfig{Name: "f", Code: code})
	}))
	markers, _ := filepath.Glob(filepath.Join(dir, "precompiled", "*"))
	if lambdatest.RaceEnabled {
		require.Len(t, markers, 1)
		require.Contains(t, strings.Join(ft.Logs(), "\n"), "compiled the guest without -race")
	} else {
		require.Empty(t, markers)
	}
}
