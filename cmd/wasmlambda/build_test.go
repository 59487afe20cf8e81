package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/lambdatest"
)

// stdlibModule writes a module whose main package uses the standard
// library only, and returns its directory.
func stdlibModule(t *testing.T, src string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hello")
	writeFile(t, dir, "go.mod", "module example.com/hello\n\ngo 1.25\n")
	writeFile(t, dir, "main.go", src)
	return dir
}

func TestBuild(t *testing.T) {
	t.Parallel()
	// A build cache of the test's own, so that the first build compiles.
	env := []string{"XDG_CACHE_HOME=" + t.TempDir()}
	pkg := stdlibModule(t, "package main\n\nfunc main() {}\n")
	work := t.TempDir()

	r := cliEnv(t, env, work, "", "build", pkg)
	require.Equal(t, 0, r.code, "%s", r)
	require.Regexp(t, `(?m)^wasmlambda: built .*hello: hello\.wasm \([0-9.]+ MiB, compiled in [0-9.]+m?s\)$`, r.stderr)
	wasm, err := os.ReadFile(filepath.Join(work, "hello.wasm"))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(wasm, []byte("\x00asm")), "a wasm module")
	require.Contains(t, string(wasm), "_initialize", "a reactor")

	out := filepath.Join(work, "again.wasm")
	r = cliEnv(t, env, work, "", "build", pkg, "-o", out)
	require.Equal(t, 0, r.code, "%s", r)
	require.Contains(t, r.stderr, "from the build cache", "an unchanged package is not compiled again")
	again, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, wasm, again)

	r = cliEnv(t, env, work, "", "build", pkg, "--command", "-o", "cmd.wasm")
	require.Equal(t, 0, r.code, "%s", r)
	require.Contains(t, r.stderr, "compiled in", "a command is another build")
	cmd, err := os.ReadFile(filepath.Join(work, "cmd.wasm"))
	require.NoError(t, err)
	require.Contains(t, string(cmd), "_start", "a WASI command")
	require.NotContains(t, string(cmd), "_initialize")
}

// TestBuildIsTheKits checks that build makes the module lambdatest.Build
// makes, from the same cache.
func TestBuildIsTheKits(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(testguest.Root(), "examples", "unit-testing")
	kit := lambdatest.Build(t, dir)
	out := filepath.Join(t.TempDir(), "orders.wasm")
	r := cli(t, "", "", "build", dir, "-o", out)
	require.Equal(t, 0, r.code, "%s", r)
	require.Contains(t, r.stderr, "from the build cache")
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, kit.Wasm, got)
}

func TestBuildBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, dir, "main.go", "package main\n")
	broken := stdlibModule(t, "package main\n\nfunc main() { nope() }\n")
	library := stdlibModule(t, "package hello\n")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"a missing directory", []string{"build", filepath.Join(dir, "missing")}, []string{"build " + filepath.Join(dir, "missing") + ": no such file or directory"}},
		{"a file", []string{"build", file}, []string{"build " + file + ": not a directory; want a Go package directory"}},
		{"a package that does not compile", []string{"build", broken}, []string{"undefined: nope"}},
		{"a package that is not main", []string{"build", library}, []string{"is package hello, not a main package"}},
		{"two directories", []string{"build", dir, dir}, []string{"accepts at most 1 arg(s), received 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, dir, "", tt.args...)
			require.Equal(t, exitError, r.code, "%s", r)
			for _, w := range tt.want {
				require.Contains(t, r.stderr, w)
			}
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "no module written")
		})
	}
}
