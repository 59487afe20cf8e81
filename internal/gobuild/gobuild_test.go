package gobuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperProcess())
	}
	goleak.VerifyTestMain(m)
}

// files writes files, by slash path under dir, creating directories.
func files(t *testing.T, dir string, fs map[string]string) {
	t.Helper()
	for name, content := range fs {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// fixture writes a module of the standard library only: a main package
// "app" that embeds a file and imports a package of its own module and one
// of a module replaced by a local directory, beside files the build does
// not read. It returns the main package's directory.
func fixture(t *testing.T, root string) string {
	t.Helper()
	files(t, root, map[string]string{
		"app/go.mod": "module example.com/app\n\ngo 1.25\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../lib\n",
		"app/main.go": `package main

import (
	_ "embed"

	"example.com/app/util"
	"example.com/lib"
)

//go:embed greeting.txt
var greeting string

//go:wasmexport answer
func answer() int32 { return int32(len(greeting) + util.N + lib.N) }

func main() {}
`,
		"app/greeting.txt":       "hello\n",
		"app/native.go":          "//go:build !wasip1\n\npackage main\n\nconst native = 1\n",
		"app/main_test.go":       "package main\n",
		"app/README.md":          "the fixture\n",
		"app/util/util.go":       "package util\n\n// N is a number.\nconst N = 1\n",
		"app/unused/unused.go":   "package unused\n",
		"app/notmain/notmain.go": "package notmain\n",
		"app/broken/main.go":     "package main\n\nfunc main() { undefined() }\n",
		"app/tool/main.go":       "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"tool\") }\n",
		"lib/go.mod":             "module example.com/lib\n\ngo 1.25\n",
		"lib/lib.go":             "package lib\n\n// N is a number.\nconst N = 2\n",
	})
	return filepath.Join(root, "app")
}

func key(t *testing.T, dir string, opts Options) string {
	t.Helper()
	if opts.GoCommand == "" {
		opts.GoCommand = "go"
	}
	k, err := cacheKey(context.Background(), dir, opts)
	require.NoError(t, err)
	return k
}

// isWasm reports whether the file at path is a wasm module.
func isWasm(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, []byte("\x00asm")), "%s is not wasm", path)
	return b
}

// exports reports whether a module's binary names the export, by its
// length-prefixed name.
func exports(b []byte, name string) bool {
	return bytes.Contains(b, append([]byte{byte(len(name))}, name...))
}

func TestBuildSecondBuildIsACacheHit(t *testing.T) {
	t.Parallel()
	dir := fixture(t, t.TempDir())
	cache := t.TempDir()
	ctx := context.Background()

	first, err := Build(ctx, dir, Options{CacheDir: cache})
	require.NoError(t, err)
	require.False(t, first.CacheHit, "the first build compiles")
	require.Equal(t, filepath.Join(cache, first.Key+".wasm"), first.Path)
	code := isWasm(t, first.Path)
	require.True(t, exports(code, "_initialize"), "a reactor")
	require.True(t, exports(code, "answer"))
	info, err := os.Stat(first.Path)
	require.NoError(t, err)

	second, err := Build(ctx, dir, Options{CacheDir: cache})
	require.NoError(t, err)
	require.True(t, second.CacheHit, "an unchanged package is not compiled again")
	require.Equal(t, first.Key, second.Key)
	require.Equal(t, first.Path, second.Path)
	again, err := os.Stat(second.Path)
	require.NoError(t, err)
	require.Equal(t, info.ModTime(), again.ModTime(), "the cached file is not rewritten")

	// A change is compiled, into an entry of its own.
	files(t, dir, map[string]string{"greeting.txt": "hello, world\n"})
	third, err := Build(ctx, dir, Options{CacheDir: cache})
	require.NoError(t, err)
	require.False(t, third.CacheHit)
	require.NotEqual(t, first.Key, third.Key)
	require.NotEqual(t, code, isWasm(t, third.Path))
	require.Equal(t, code, isWasm(t, first.Path), "the old entry stays")

	entries, err := os.ReadDir(cache)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.HasPrefix(e.Name(), ".build-"), "no temporary file is left: %s", e.Name())
	}
}

func TestBuildCommand(t *testing.T) {
	t.Parallel()
	dir := fixture(t, t.TempDir())
	cache := t.TempDir()
	res, err := Build(context.Background(), dir, Options{CacheDir: cache, Command: true})
	require.NoError(t, err)
	code := isWasm(t, res.Path)
	require.True(t, exports(code, "_start"))
	require.False(t, exports(code, "_initialize"), "a command, not a reactor")

	reactor, err := Build(context.Background(), dir, Options{CacheDir: cache})
	require.NoError(t, err)
	require.False(t, reactor.CacheHit, "the build mode is part of the key")
}

func TestBuildHostTool(t *testing.T) {
	t.Parallel()
	dir := fixture(t, t.TempDir())
	cache := t.TempDir()
	ctx := context.Background()
	opts := Options{CacheDir: cache, Host: true, Package: "./tool"}
	res, err := Build(ctx, dir, opts)
	require.NoError(t, err)
	require.False(t, res.CacheHit)
	out, err := exec.Command(res.Path).Output()
	require.NoError(t, err, "a program for this machine")
	require.Equal(t, "tool\n", string(out))

	again, err := Build(ctx, dir, opts)
	require.NoError(t, err)
	require.True(t, again.CacheHit)

	guest, err := Build(ctx, dir, Options{CacheDir: cache, Command: true, Package: "./tool"})
	require.NoError(t, err)
	require.False(t, guest.CacheHit, "the target is part of the key")
	isWasm(t, guest.Path)
}

// TestCacheKey checks what the key covers: each change either must give a
// new key (the build would differ) or must not (the build reads nothing it
// touched).
func TestCacheKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(t *testing.T, root string, opts *Options)
		same   bool
	}{
		{"a source file", func(t *testing.T, root string, _ *Options) {
			files(t, root, map[string]string{"app/main.go": "package main\n\nfunc main() {}\n"})
		}, false},
		{"a new source file", func(t *testing.T, root string, _ *Options) {
			files(t, root, map[string]string{"app/more.go": "package main\n"})
		}, false},
		{"an embedded file", func(t *testing.T, root string, _ *Options) {
			files(t, root, map[string]string{"app/greeting.txt": "hi\n"})
		}, false},
		{"a package of the module", func(t *testing.T, root string, _ *Options) {
			files(t, root, map[string]string{"app/util/util.go": "package util\n\n// N is a number.\nconst N = 3\n"})
		}, false},
		{"a module replaced by a directory", func(t *testing.T, root string, _ *Options) {
			files(t, root, map[string]string{"lib/lib.go": "package lib\n\n// N is a number.\nconst N = 3\n"})
		}, false},
		{"go.mod", func(t *testing.T, root string, _ *Options) {
			files(t, root, map[string]string{"app/go.mod": "module example.com/app\n\ngo 1.25\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../lib\n// a comment\n"})
		}, false},
		{"go.sum", func(t *testing.T, root string, _ *Options) {
			files(t, root, map[string]string{"app/go.sum": "\n"})
		}, false},
		{"a flag", func(t *testing.T, _ string, opts *Options) { opts.Flags = []string{"-tags=extra"} }, false},
		{"the environment", func(t *testing.T, _ string, opts *Options) { opts.Env = []string{"GOWASM=satconv"} }, false},
		{"the build mode", func(t *testing.T, _ string, opts *Options) { opts.Command = true }, false},
		{"the target", func(t *testing.T, _ string, opts *Options) { opts.Host = true }, false},
		{"a build tag that brings in a file", func(t *testing.T, root string, _ *Options) {
			files(t, root, map[string]string{"app/native.go": "//go:build wasip1\n\npackage main\n\nconst native = 1\n"})
		}, false},

		{"a test file", func(t *testing.T, root string, _ *Options) {
			files(t, root, map[string]string{"app/main_test.go": "package main\n\n// changed\n"})
		}, true},
		{"a file for another GOOS", func(t *testing.T, root string, _ *Options) {
			files(t, root, map[string]string{"app/native.go": "//go:build !wasip1\n\npackage main\n\nconst native = 2\n"})
		}, true},
		{"a package the build does not import", func(t *testing.T, root string, _ *Options) {
			files(t, root, map[string]string{"app/unused/unused.go": "package unused\n\n// changed\n"})
		}, true},
		{"a file that is not a source", func(t *testing.T, root string, _ *Options) {
			files(t, root, map[string]string{"app/README.md": "changed\n"})
		}, true},
		{"the cache directory", func(t *testing.T, _ string, opts *Options) { opts.CacheDir = t.TempDir() }, true},
		{"the modules' place on disk", func(t *testing.T, root string, _ *Options) {
			moved := t.TempDir()
			require.NoError(t, os.CopyFS(moved, os.DirFS(root)))
			require.NoError(t, os.RemoveAll(root))
			require.NoError(t, os.Rename(moved, root+"-moved"))
			require.NoError(t, os.Symlink(root+"-moved", root))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := filepath.Join(t.TempDir(), "mods")
			dir := fixture(t, root)
			var opts Options
			before := key(t, dir, opts)
			require.Equal(t, before, key(t, dir, opts), "the key is stable")
			tt.change(t, root, &opts)
			if tt.same {
				require.Equal(t, before, key(t, dir, opts))
			} else {
				require.NotEqual(t, before, key(t, dir, opts))
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	dir := fixture(t, t.TempDir())
	cache := t.TempDir()
	ctx := context.Background()
	tests := []struct {
		name string
		dir  string
		opts Options
		want []string
		cmd  bool // an *Error with the go command's output
	}{
		{"not a main package", filepath.Join(dir, "notmain"), Options{}, []string{"package example.com/app/notmain is package notmain, not a main package"}, false},
		{"a compile error", filepath.Join(dir, "broken"), Options{}, []string{"undefined: undefined", "go build"}, true},
		{"no such directory", filepath.Join(dir, "missing"), Options{}, []string{"missing"}, true},
		{"no Go files", filepath.Join(dir, ".."), Options{}, []string{"go list"}, true},
		{"an output flag", dir, Options{Flags: []string{"-o=x.wasm"}}, []string{`flag "-o=x.wasm"`}, false},
		{"no go command", dir, Options{GoCommand: filepath.Join(t.TempDir(), "go")}, []string{"no such file"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.CacheDir = cache
			_, err := Build(ctx, tt.dir, tt.opts)
			require.Error(t, err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			var ce *Error
			require.Equal(t, tt.cmd, errors.As(err, &ce), "%v", err)
		})
	}
}

func TestBuildWaitForLockEndsWithContext(t *testing.T) {
	t.Parallel()
	dir := fixture(t, t.TempDir())
	cache := t.TempDir()
	k := key(t, dir, Options{})
	unlock, err := lockKey(context.Background(), filepath.Join(cache, k+".lock"))
	require.NoError(t, err)
	defer unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = Build(ctx, dir, Options{CacheDir: cache})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "cache lock")
}

// holdUntilWaited makes the build that holds the lock wait, before it
// compiles, until another build has found the lock taken, or a minute has
// passed: so the builds overlap for certain, and without the lock both would
// compile.
func holdUntilWaited(markers string) (compile, busy func()) {
	waited := filepath.Join(markers, "waited")
	compile = func() {
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(waited); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	busy = func() { _ = os.WriteFile(waited, nil, 0o644) }
	return compile, busy
}

// TestBuildParallelGoroutines: two builds of one package at once, in one
// process, compile once; the other finds the first's result.
func TestBuildParallelGoroutines(t *testing.T) {
	// Not parallel: it sets the test hooks.
	dir := fixture(t, t.TempDir())
	cache := t.TempDir()
	testHookCompile, testHookLockBusy = holdUntilWaited(t.TempDir())
	t.Cleanup(func() { testHookCompile, testHookLockBusy = nil, nil })

	var wg sync.WaitGroup
	results := make([]Result, 2)
	errs := make([]error, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Build(context.Background(), dir, Options{CacheDir: cache})
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Equal(t, results[0].Path, results[1].Path)
	require.ElementsMatch(t, []bool{false, true}, []bool{results[0].CacheHit, results[1].CacheHit}, "one compiles, the other waits for it")
	isWasm(t, results[0].Path)
}

const (
	helperEnv      = "GOBUILD_TEST_HELPER" // the package directory to build
	helperCacheEnv = "GOBUILD_TEST_CACHE"
	helperMarkEnv  = "GOBUILD_TEST_MARKERS"
)

// helperProcess is a child of TestBuildParallelProcesses: it builds the
// package, with the hooks that make builds overlap, and prints the Result
// as JSON.
func helperProcess() int {
	testHookCompile, testHookLockBusy = holdUntilWaited(os.Getenv(helperMarkEnv))
	res, err := Build(context.Background(), os.Getenv(helperEnv), Options{CacheDir: os.Getenv(helperCacheEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

// TestBuildParallelProcesses: two processes that build one package at once
// into one cache compile it once, and both get the whole module.
func TestBuildParallelProcesses(t *testing.T) {
	t.Parallel()
	dir := fixture(t, t.TempDir())
	cache := t.TempDir()
	markers := t.TempDir()

	type child struct {
		cmd    *exec.Cmd
		stdout bytes.Buffer
		stderr bytes.Buffer
	}
	children := make([]*child, 2)
	for i := range children {
		c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
		c.cmd.Env = append(os.Environ(), helperEnv+"="+dir, helperCacheEnv+"="+cache, helperMarkEnv+"="+markers)
		c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
		require.NoError(t, c.cmd.Start())
		children[i] = c
	}
	var results []Result
	for _, c := range children {
		require.NoError(t, c.cmd.Wait(), c.stderr.String())
		var r Result
		require.NoError(t, json.Unmarshal(c.stdout.Bytes(), &r), c.stdout.String())
		results = append(results, r)
	}
	require.Equal(t, results[0].Path, results[1].Path)
	require.ElementsMatch(t, []bool{false, true}, []bool{results[0].CacheHit, results[1].CacheHit}, "one process compiles, the other waits for it")
	isWasm(t, results[0].Path)
	entries, err := os.ReadDir(cache)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{results[0].Key + ".wasm", results[0].Key + ".lock"}, names)
}
