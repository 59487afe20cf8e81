package lambdatest

import (
	"os"
	"testing"

	"github.com/wasmlambda/lambda/internal/gobuild"
)

// BuildResult is a Go handler package built to wasm.
type BuildResult struct {
	// Wasm is the module, for lambda.FunctionConfig.Code.
	Wasm []byte
	// Path is the module's file in the build cache, for
	// lambda.FunctionConfig.CodePath. The cache never changes it in place.
	Path string
	// CacheHit reports that the module came from the build cache: nothing
	// was compiled.
	CacheHit bool
}

// BuildOption changes how Build builds.
type BuildOption func(*buildOptions)

type buildOptions struct{ gobuild.Options }

// BuildCacheDir keeps built modules in dir instead of
// DefaultBuildCacheDir().
func BuildCacheDir(dir string) BuildOption {
	return func(o *buildOptions) { o.CacheDir = dir }
}

// BuildFlags passes more flags to go build (and to the go list that finds
// the sources), such as "-tags=integration".
func BuildFlags(flags ...string) BuildOption {
	return func(o *buildOptions) { o.Flags = append(o.Flags, flags...) }
}

// BuildEnv sets environment variables, as "KEY=value", for the go command.
// GOOS and GOARCH are always wasip1 and wasm.
func BuildEnv(env ...string) BuildOption {
	return func(o *buildOptions) { o.Env = append(o.Env, env...) }
}

// BuildCommand builds a WASI command, which wasmlambda runs in
// compatibility mode (a fresh instance per event), instead of a reactor.
func BuildCommand() BuildOption {
	return func(o *buildOptions) { o.Command = true }
}

// DefaultBuildCacheDir is where Build keeps built modules by default:
// wasmlambda/build in the user's cache directory.
func DefaultBuildCacheDir() string { return gobuild.DefaultCacheDir() }

// Build compiles the Go handler package in dir (a main package that
// registers its handler with the guest SDK, github.com/wasmlambda/lambda/guest)
// to wasm, as a reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildvcs=false -buildmode=c-shared
//
// The module is cached, keyed by a hash of what the build reads: the
// package's files and those of the packages of its module it imports, the
// versions of the other modules, go.mod and go.sum, the toolchain's
// version and the flags. A second Build of an unchanged package, in this
// test binary or the next go test, compiles nothing and reports CacheHit.
// Builds in parallel test binaries are safe: one compiles, the others wait
// for it and find its module.
//
// A package that does not compile fails the test with the compiler's
// messages.
func Build(t testing.TB, dir string, opts ...BuildOption) BuildResult {
	t.Helper()
	var o buildOptions
	for _, opt := range opts {
		opt(&o)
	}
	res, err := gobuild.Build(t.Context(), dir, o.Options)
	if err != nil {
		t.Fatalf("lambdatest: %v", err)
	}
	code, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatalf("lambdatest: read the build of %s: %v", dir, err)
	}
	if res.CacheHit {
		t.Logf("lambdatest: %s: built module from the cache, %s", dir, res.Path)
	} else {
		t.Logf("lambdatest: %s: compiled to %s", dir, res.Path)
	}
	return BuildResult{Wasm: code, Path: res.Path, CacheHit: res.CacheHit}
}
