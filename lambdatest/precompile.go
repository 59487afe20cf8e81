package lambdatest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/gobuild"
)

// Under the race detector wazero compiles a Go guest about 12 times slower
// than without it: some 12 s for a small guest on a small machine, a minute
// for a large one. So, in a test binary built with -race, Deploy first
// compiles the guest into its runtime's compilation cache with a program
// built without -race (the command precompile of internal/testguest, which
// this module's own tests use the same way), and the runtime then finds it
// there. It is only a head start: when it fails, the runtime compiles the
// guest itself, as it would have anyway.

// precompilePackage compiles guests into a compilation cache exactly as the
// runtime does.
const precompilePackage = "github.com/wasmlambda/lambda/internal/testguest/precompile"

// cacheDirs maps each runtime NewRuntime made to its compilation cache
// directory, for Deploy to precompile into.
var cacheDirs sync.Map // *lambda.Runtime to string

// precompileDeploy precompiles cfg's module for rt when the race detector
// is on and rt is one of NewRuntime's.
func precompileDeploy(t testing.TB, rt *lambda.Runtime, cfg lambda.FunctionConfig) {
	if !raceEnabled {
		return
	}
	dir, ok := cacheDirs.Load(rt)
	if !ok {
		return
	}
	code := cfg.Code
	if code == nil && cfg.CodePath != "" {
		code, _ = os.ReadFile(cfg.CodePath)
	}
	if !bytes.HasPrefix(code, []byte("\x00asm")) {
		return // a zip, or nothing: the runtime says what is wrong
	}
	precompile(t, code, dir.(string))
}

// precompile compiles code into the compilation cache cacheDir with a build
// of precompilePackage made without -race, once per module and cache.
func precompile(t testing.TB, code []byte, cacheDir string) {
	t.Helper()
	version := wazeroVersion()
	sum := sha256.Sum256(code)
	marker := filepath.Join(cacheDir, "precompiled", hex.EncodeToString(sum[:12])+"-"+version)
	if _, err := os.Stat(marker); err == nil {
		return
	}
	start := time.Now()
	// The tool claims the wazero version this binary sees, which wazero
	// writes into each cache entry and checks when it reads one.
	tool, err := gobuild.Build(t.Context(), ".", gobuild.Options{
		Host:    true,
		Package: precompilePackage,
		Flags:   []string{"-ldflags=-X github.com/tetratelabs/wazero/internal/version.version=" + version},
	})
	if err != nil {
		t.Logf("lambdatest: no precompile under -race, the runtime compiles the guest itself: %v", err)
		return
	}
	f, err := os.CreateTemp("", "lambdatest-precompile-*.wasm")
	if err != nil {
		return
	}
	defer os.Remove(f.Name())
	_, err = f.Write(code)
	if cerr := f.Close(); err != nil || cerr != nil {
		return
	}
	if out, err := exec.CommandContext(t.Context(), tool.Path, "-cache", cacheDir, f.Name()).CombinedOutput(); err != nil {
		t.Logf("lambdatest: precompile under -race failed, the runtime compiles the guest itself: %v\n%s", err, out)
		return
	}
	if os.MkdirAll(filepath.Dir(marker), 0o755) == nil {
		_ = os.WriteFile(marker, nil, 0o644)
	}
	t.Logf("lambdatest: compiled the guest without -race in %v", time.Since(start).Round(time.Millisecond))
}

// wazeroVersion is the version wazero finds for itself in this binary, by
// wazero's own rule (internal/version.GetWazeroVersion), as
// internal/testguest reads it.
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
