package lambdatest_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/lambdatest"
)

func TestBuildCachesByContent(t *testing.T) {
	t.Parallel()
	dir := stdlibModule(t)
	cache := lambdatest.BuildCacheDir(t.TempDir())

	first := lambdatest.Build(t, dir, cache)
	require.False(t, first.CacheHit, "the first build compiles")
	require.True(t, bytes.HasPrefix(first.Wasm, []byte("\x00asm")))
	onDisk, err := os.ReadFile(first.Path)
	require.NoError(t, err)
	require.Equal(t, first.Wasm, onDisk)

	second := lambdatest.Build(t, dir, cache)
	require.True(t, second.CacheHit, "a second build of an unchanged package compiles nothing")
	require.Equal(t, first.Wasm, second.Wasm)
	require.Equal(t, first.Path, second.Path)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\n//go:wasmexport answer\nfunc answer() int32 { return 43 }\n\nfunc main() {}\n"), 0o644))
	changed := lambdatest.Build(t, dir, cache)
	require.False(t, changed.CacheHit, "a changed package is compiled")
	require.NotEqual(t, first.Wasm, changed.Wasm)

	for _, tt := range []struct {
		name string
		opt  lambdatest.BuildOption
	}{
		{"command", lambdatest.BuildCommand()},
		{"flags", lambdatest.BuildFlags("-tags=extra")},
		{"env", lambdatest.BuildEnv("GOWASM=satconv")},
	} {
		res := lambdatest.Build(t, dir, cache, tt.opt)
		require.False(t, res.CacheHit, "%s: part of the key", tt.name)
		require.True(t, lambdatest.Build(t, dir, cache, tt.opt).CacheHit, tt.name)
	}
}

func TestBuildFailsTheTest(t *testing.T) {
	t.Parallel()
	dir := stdlibModule(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { undefined() }\n"), 0o644))
	msg := fatal(t, nil, func(t testing.TB) { lambdatest.Build(t, dir, lambdatest.BuildCacheDir(t.TempDir())) })
	require.Contains(t, msg, "undefined: undefined", "the compiler's message")

	msg = fatal(t, nil, func(t testing.TB) { lambdatest.Build(t, filepath.Join(dir, "missing")) })
	require.Contains(t, msg, "lambdatest: build")
}

func TestBuildDefaultCacheDir(t *testing.T) {
	t.Parallel()
	res := lambdatest.Build(t, guestDir)
	require.Equal(t, lambdatest.DefaultBuildCacheDir(), filepath.Dir(res.Path))
	require.True(t, lambdatest.Build(t, guestDir).CacheHit)
}

// The environment of a child test binary of TestBuildAcrossTestBinaries.
const (
	childDirEnv   = "LAMBDATEST_CHILD_DIR"
	childCacheEnv = "LAMBDATEST_CHILD_CACHE"
	childOutEnv   = "LAMBDATEST_CHILD_OUT"
)

// TestBuildChild is a child of TestBuildAcrossTestBinaries: another test
// binary that builds the package, and writes what it got.
func TestBuildChild(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("run by TestBuildAcrossTestBinaries")
	}
	res := lambdatest.Build(t, dir, lambdatest.BuildCacheDir(os.Getenv(childCacheEnv)))
	b, err := json.Marshal(res)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(os.Getenv(childOutEnv), b, 0o644))
}

// TestBuildAcrossTestBinaries runs test binaries that build one package
// into one cache: two at once, of which one compiles and the other finds
// its module, and then a third, a later go test, which compiles nothing.
func TestBuildAcrossTestBinaries(t *testing.T) {
	t.Parallel()
	dir := stdlibModule(t)
	cache := t.TempDir()
	out := t.TempDir()
	start := func(name string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBuildChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childDirEnv+"="+dir, childCacheEnv+"="+cache, childOutEnv+"="+filepath.Join(out, name))
		var output bytes.Buffer
		cmd.Stdout, cmd.Stderr = &output, &output
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s:\n%s", name, output.String())
			}
		})
		return cmd
	}
	result := func(name string) lambdatest.BuildResult {
		var r lambdatest.BuildResult
		b, err := os.ReadFile(filepath.Join(out, name))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &r))
		return r
	}

	a, b := start("a"), start("b")
	require.NoError(t, a.Wait())
	require.NoError(t, b.Wait())
	ra, rb := result("a"), result("b")
	require.Equal(t, ra.Wasm, rb.Wasm)
	require.ElementsMatch(t, []bool{false, true}, []bool{ra.CacheHit, rb.CacheHit}, "of two binaries building at once, one compiles")

	require.NoError(t, start("c").Wait())
	require.True(t, result("c").CacheHit, "a later test binary compiles nothing")
	require.Equal(t, ra.Wasm, result("c").Wasm)
}
