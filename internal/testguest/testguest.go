// Package testguest builds the test guests from source, once per source
// version, and gives every test one shared on-disk compilation cache, so
// that wazero compiles each guest once per run rather than once per test.
//
// Builds land in $TMPDIR/wasmlambda-test/guests, named by a hash of their
// sources and toolchain; the compilation cache is $TMPDIR/wasmlambda-test/cache.
// Under -race, each Go guest is compiled into that cache by a program built
// without -race (cmd precompile), twelve times faster.
// A missing toolchain skips the test, except under CI=true, where it fails.
package testguest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Root is the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func workDir() string { return filepath.Join(os.TempDir(), "wasmlambda-test") }

// CacheDir is the compilation cache directory every test shares.
func CacheDir() string { return filepath.Join(workDir(), "cache") }

// Go builds testdata/guests/go/NAME as a reactor (-buildmode=c-shared), or
// as a plain WASI command when command is true.
func Go(t testing.TB, name string) []byte {
	t.Helper()
	return GoDir(t, filepath.Join(Root(), "testdata", "guests", "go", name), name == "command")
}

// MustGo is Go for examples, which have no testing.TB: it panics on error.
func MustGo(name string) []byte {
	b, err := goBuild(filepath.Join(Root(), "testdata", "guests", "go", name), name == "command")
	if err != nil {
		panic(err)
	}
	return b
}

// GoDir builds the Go guest in dir; see Go.
func GoDir(t testing.TB, dir string, command bool) []byte {
	t.Helper()
	return must(t, "go", func() ([]byte, error) { return goBuild(dir, command) })
}

func goBuild(dir string, command bool) ([]byte, error) {
	args := []string{"build", "-trimpath"}
	if !command {
		args = append(args, "-buildmode=c-shared")
	}
	root := Root()
	inputs := []string{dir, filepath.Join(root, "guest"), filepath.Join(root, "internal", "abi"), filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum")}
	b, err := build("go", inputs, args, func(out string) *exec.Cmd {
		cmd := exec.Command("go", append(args, "-o", out, ".")...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		return cmd
	})
	if err == nil && raceEnabled {
		precompile(b)
	}
	return b, err
}

// precompile fills the shared compilation cache with a Go guest, once per
// distinct module, from a build of cmd precompile without -race: under
// -race wazero takes about 12 s to compile a Go guest, and about a second
// without. It is only a head start: when it fails, the test compiles the
// guest itself, as it would have anyway.
func precompile(code []byte) {
	sum := sha256.Sum256(code)
	marker := filepath.Join(CacheDir(), "precompiled", hex.EncodeToString(sum[:12]))
	if _, err := os.Stat(marker); err == nil {
		return
	}
	tool, err := precompiler()
	if err != nil {
		return
	}
	f, err := os.CreateTemp(workDir(), "precompile-*.wasm")
	if err != nil {
		return
	}
	defer os.Remove(f.Name())
	_, err = f.Write(code)
	if cerr := f.Close(); err != nil || cerr != nil {
		return
	}
	if err := exec.Command(tool, "-cache", CacheDir(), f.Name()).Run(); err != nil {
		return
	}
	if os.MkdirAll(filepath.Dir(marker), 0o755) == nil {
		_ = os.WriteFile(marker, nil, 0o644)
	}
}

// precompiler builds cmd precompile without -race, once per version of its
// sources, and returns its path.
//
// Wazero writes its own version into every cache entry and refuses an entry
// of another version. It reads that version from the binary's build
// information, which a test binary lacks ("dev") and a built command has
// ("v1.12.0"), so the command is built to claim the version this binary
// sees.
func precompiler() (string, error) {
	root := Root()
	var inputs []string
	for _, p := range []string{"internal/wasm", "internal/abi", "internal/testguest/precompile", "go.mod", "go.sum"} {
		inputs = append(inputs, filepath.Join(root, p))
	}
	ldflags := "-X github.com/tetratelabs/wazero/internal/version.version=" + wazeroVersion()
	return buildTool("precompile", inputs, []string{ldflags}, func(out string) *exec.Cmd {
		cmd := exec.Command("go", "build", "-ldflags="+ldflags, "-o", out, "./internal/testguest/precompile")
		cmd.Dir = root
		return cmd
	})
}

// wazeroVersion is the version wazero finds for itself in this binary, by
// wazero's own rule (internal/version.GetWazeroVersion).
func wazeroVersion() string {
	v := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if strings.Contains(dep.Path, "github.com/tetratelabs/wazero") {
				v = dep.Version
			}
		}
		if v == "" || v == "(devel)" {
			v = info.Main.Version
		}
	}
	if v == "" || v == "(devel)" {
		return "dev"
	}
	return v
}

// C builds testdata/guests/c/NAME.c with clang for wasm32-wasi: as a
// reactor, unless reactor is false.
func C(t testing.TB, name string, reactor bool) []byte {
	t.Helper()
	src := filepath.Join(Root(), "testdata", "guests", "c", name+".c")
	args := []string{"--target=wasm32-wasi", "-O2", "-Wl,--strip-debug"}
	if reactor {
		args = append(args, "-mexec-model=reactor")
	}
	return must(t, "clang", func() ([]byte, error) {
		return build("clang", []string{src}, args, func(out string) *exec.Cmd {
			return exec.Command("clang", append(args, "-o", out, src)...)
		})
	})
}

// WAT assembles testdata/guests/wat/NAME.wat with wat2wasm.
func WAT(t testing.TB, name string) []byte {
	t.Helper()
	src := filepath.Join(Root(), "testdata", "guests", "wat", name+".wat")
	return must(t, "wat2wasm", func() ([]byte, error) {
		return build("wat2wasm", []string{src}, nil, func(out string) *exec.Cmd {
			return exec.Command("wat2wasm", src, "-o", out)
		})
	})
}

// must runs a build for a test: a missing tool skips it, except under
// CI=true, and a failed build fails it.
func must(t testing.TB, tool string, build func() ([]byte, error)) []byte {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required to build test guests under CI: %v", tool, err)
		}
		t.Skipf("%s not installed: %v", tool, err)
	}
	b, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var mu sync.Mutex

func build(tool string, inputs, args []string, cmd func(out string) *exec.Cmd) ([]byte, error) {
	key, err := hashInputs(tool, inputs, args)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(workDir(), "guests", key+".wasm")
	if err := buildOnce(out, cmd); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// buildTool builds a host program from inputs, once per version of them,
// into the work directory, and returns its path.
func buildTool(name string, inputs, args []string, cmd func(out string) *exec.Cmd) (string, error) {
	key, err := hashInputs("go", inputs, append([]string{"build", name}, args...))
	if err != nil {
		return "", err
	}
	out := filepath.Join(workDir(), "bin", name+"-"+key)
	return out, buildOnce(out, cmd)
}

// buildOnce runs cmd to make out, unless out exists. The result lands by
// rename, so that parallel test binaries never see half a file.
func buildOnce(out string, cmd func(out string) *exec.Cmd) error {
	mu.Lock()
	defer mu.Unlock()
	if _, err := os.Stat(out); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	c := cmd(tmp)
	var stderr bytes.Buffer
	c.Stdout, c.Stderr = &stderr, &stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("build: %s: %v\n%s", strings.Join(c.Args, " "), err, stderr.String())
	}
	return os.Rename(tmp, out)
}

// hashInputs hashes the tool's version, the arguments and every file under
// the inputs.
func hashInputs(tool string, inputs, args []string) (string, error) {
	h := sha256.New()
	// GOEXPERIMENT changes what the go command builds.
	fmt.Fprintln(h, tool, runtime.Version(), strings.Join(args, " "), os.Getenv("GOEXPERIMENT"))
	if v, err := exec.Command(tool, "--version").CombinedOutput(); err == nil {
		h.Write(v)
	}
	var files []string
	for _, in := range inputs {
		err := filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && !strings.HasSuffix(p, "_test.go") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("hash guest sources: %w", err)
		}
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}
