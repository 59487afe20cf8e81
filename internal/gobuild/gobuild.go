// Package gobuild compiles a Go handler package to WebAssembly for
// wasmlambda, with the flags a guest needs, and keeps the result in an
// on-disk cache keyed by a hash of everything the build reads, so that an
// unchanged package is compiled once, whichever test binary or command
// asks for it.
//
// A reactor (the default) is built with
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildvcs=false -buildmode=c-shared
//
// and a WASI command (Options.Command) without -buildmode=c-shared. A
// program for the machine that runs the build (Options.Host), such as a
// tool the build of a guest needs, is built and cached the same way.
//
// # The cache key
//
// The key hashes:
//   - the content, and the path within its module, of every file the build
//     compiles or embeds from a package of a main module (the module of
//     dir, or of a go.work), or of a module replaced by a local directory,
//     found with go list -deps;
//   - the path and version of every other module a package comes from,
//     whose content the go.sum fixes;
//   - the go.mod and go.sum of every main module, and the go.work and
//     go.work.sum if there is one;
//   - the toolchain's version (go env GOVERSION), GOOS, GOARCH, the build
//     mode, the flags, and GOFLAGS, GOEXPERIMENT and GOWASM.
//
// With -trimpath the output does not depend on where the module is, so
// neither does the key: two checkouts of the same code share an entry.
//
// # Parallel builds
//
// Builds may run at once in any number of processes. A build takes a lock
// file for its key (flock, where the system has it) before it looks in the
// cache, so that of several builds of the same code one compiles and the
// others wait and then find its result; the result is written to a temporary
// file and renamed into place, so that no reader ever sees half of it.
// Where there is no file locking, two builds may both compile, and the
// second rename wins with the same bytes.
package gobuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// keyVersion changes when what the key covers, or how the build runs,
// changes, so that older entries are not reused.
const keyVersion = "wasmlambda-gobuild-1"

// Options configures a build. The zero value builds a reactor into the
// default cache.
type Options struct {
	// CacheDir holds the built modules. Default DefaultCacheDir(). It is
	// created if needed.
	CacheDir string

	// Command builds a WASI command, which wasmlambda runs in compatibility
	// mode (one fresh instance per event), instead of a reactor
	// (-buildmode=c-shared).
	Command bool

	// Host builds a program for the machine that runs the build (this
	// process's GOOS and GOARCH) rather than a guest: a tool, such as one
	// that fills a compilation cache. Command is then ignored.
	Host bool

	// Package is the main package to build, as the go command names it
	// from dir: an import path, or a directory relative to dir. Default
	// ".", the package in dir.
	Package string

	// Flags are more go build flags, such as "-tags=integration" or
	// "-ldflags=-X main.version=1". They are passed to go list too, so that
	// build tags select the same files, and they are part of the key. A
	// flag that writes elsewhere (-o) is refused.
	Flags []string

	// Env holds more environment variables for the go command, as
	// "KEY=value"; they override the process's environment and are part
	// of the key. GOOS and GOARCH are always wasip1 and wasm, or the
	// host's with Host.
	Env []string

	// GoCommand is the go command to run. Default "go", found in PATH.
	GoCommand string
}

// Result is a built module.
type Result struct {
	// Path is the module's file in the cache. It is never modified in
	// place, so it may be read while other builds run.
	Path string
	// Key is the cache key, a hex SHA-256.
	Key string
	// CacheHit reports that the module was found in the cache: this build
	// compiled nothing.
	CacheHit bool
}

// Error is a failed go command: go list, which could not load the package,
// or go build, which could not compile it. Output is what the command
// printed, the compiler's messages for a compile error.
type Error struct {
	// Dir is the package directory.
	Dir string
	// Args is the command line.
	Args []string
	// Output is the command's output.
	Output string
	// Err is the command's error, such as an *exec.ExitError.
	Err error
}

// Error returns the command, its error and its output.
func (e *Error) Error() string {
	msg := fmt.Sprintf("build %s: %s: %v", e.Dir, strings.Join(e.Args, " "), e.Err)
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += "\n" + out
	}
	return msg
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// UserCacheDir is wasmlambda's directory in the user's cache directory
// (os.UserCacheDir, such as ~/.cache/wasmlambda), or in os.TempDir() when
// there is none.
func UserCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil || dir == "" {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "wasmlambda")
}

// DefaultCacheDir is where builds are kept by default: "build" in
// UserCacheDir().
func DefaultCacheDir() string { return filepath.Join(UserCacheDir(), "build") }

// Test hooks, nil outside tests: testHookCompile is called, with the lock
// held, just before the compiler runs, and testHookLockBusy each time a
// build finds the lock of its key taken.
var (
	testHookCompile  func()
	testHookLockBusy func()
)

// Build compiles the main package in dir (or opts.Package, named from dir)
// to wasm, or for the host with opts.Host, or finds it in the cache. The
// returned Result.Path is the cached file.
//
// # Errors
//
// A package that go list cannot load, that is not a main package, or that
// does not compile is an *Error with the go command's output. ctx ends the
// go commands and the wait for another build of the same key.
func Build(ctx context.Context, dir string, opts Options) (Result, error) {
	if opts.GoCommand == "" {
		opts.GoCommand = "go"
	}
	if opts.CacheDir == "" {
		opts.CacheDir = DefaultCacheDir()
	}
	for _, f := range opts.Flags {
		if f == "-o" || strings.HasPrefix(f, "-o=") || f == "--o" || strings.HasPrefix(f, "--o=") {
			return Result{}, fmt.Errorf("build %s: flag %q: the output is the cache's to name", dir, f)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Result{}, fmt.Errorf("build %s: %w", dir, err)
	}
	key, err := cacheKey(ctx, abs, opts)
	if err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("build %s: cache: %w", dir, err)
	}
	res := Result{Path: filepath.Join(opts.CacheDir, key+outputSuffix(opts)), Key: key}
	if _, err := os.Stat(res.Path); err == nil {
		res.CacheHit = true
		return res, nil
	}

	unlock, err := lockKey(ctx, filepath.Join(opts.CacheDir, key+".lock"))
	if err != nil {
		return Result{}, fmt.Errorf("build %s: cache lock: %w", dir, err)
	}
	defer unlock()
	if _, err := os.Stat(res.Path); err == nil {
		res.CacheHit = true // another build made it while this one waited
		return res, nil
	}
	if testHookCompile != nil {
		testHookCompile()
	}
	if err := compile(ctx, abs, opts, res.Path); err != nil {
		return Result{}, err
	}
	return res, nil
}

// buildArgs are the go build arguments, less -o and the package.
func buildArgs(opts Options) []string {
	args := []string{"build", "-trimpath", "-buildvcs=false"}
	if !opts.Command && !opts.Host {
		args = append(args, "-buildmode=c-shared")
	}
	return append(args, opts.Flags...)
}

// goEnv is the go command's environment for a build.
func goEnv(opts Options) []string {
	env := append(os.Environ(), opts.Env...)
	goos, goarch := target(opts)
	return append(env, "GOOS="+goos, "GOARCH="+goarch)
}

// target is the GOOS and GOARCH of a build.
func target(opts Options) (goos, goarch string) {
	if opts.Host {
		return runtime.GOOS, runtime.GOARCH
	}
	return "wasip1", "wasm"
}

// outputSuffix ends the name of a build's file in the cache.
func outputSuffix(opts Options) string {
	switch {
	case !opts.Host:
		return ".wasm"
	case runtime.GOOS == "windows":
		return ".exe"
	default:
		return ""
	}
}

// compile builds into a temporary file beside out and renames it to out.
func compile(ctx context.Context, dir string, opts Options, out string) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".build-*"+outputSuffix(opts))
	if err != nil {
		return fmt.Errorf("build %s: cache: %w", dir, err)
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(tmpName) // gone after the rename; removes a failed build's file

	args := append(buildArgs(opts), "-o", tmpName, pkgArg(opts))
	cmd := exec.CommandContext(ctx, opts.GoCommand, args...)
	cmd.Dir = dir
	cmd.Env = goEnv(opts)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return &Error{Dir: dir, Args: append([]string{opts.GoCommand}, args...), Output: output.String(), Err: err}
	}
	if err := os.Rename(tmpName, out); err != nil {
		return fmt.Errorf("build %s: cache: %w", dir, err)
	}
	return nil
}

// listedPackage is what go list -json says of a package, the fields the
// key needs.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Standard   bool
	Module     *listedModule
	GoFiles    []string
	CgoFiles   []string
	SFiles     []string
	HFiles     []string
	CFiles     []string
	CXXFiles   []string
	SysoFiles  []string
	EmbedFiles []string
	DepOnly    bool
}

type listedModule struct {
	Path    string
	Version string
	Main    bool
	Dir     string
	GoMod   string
	Replace *listedModule
}

const listFields = "ImportPath,Name,Dir,Standard,Module,GoFiles,CgoFiles,SFiles,HFiles,CFiles,CXXFiles,SysoFiles,EmbedFiles,DepOnly"

// goEnvVars are the go env variables the key includes; GOWORK names the
// workspace file, if any.
var goEnvVars = []string{"GOVERSION", "GOFLAGS", "GOEXPERIMENT", "GOWASM", "GOWORK"}

// cacheKey hashes everything the build of dir reads; see the package doc.
func cacheKey(ctx context.Context, dir string, opts Options) (string, error) {
	envOut, err := runGo(ctx, dir, opts, append([]string{"env", "-json"}, goEnvVars...))
	if err != nil {
		return "", err
	}
	var env map[string]string
	if err := json.Unmarshal(envOut, &env); err != nil {
		return "", fmt.Errorf("build %s: go env: %w", dir, err)
	}
	listArgs := append([]string{"list", "-deps", "-json=" + listFields}, opts.Flags...)
	listOut, err := runGo(ctx, dir, opts, append(listArgs, pkgArg(opts)))
	if err != nil {
		return "", err
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(listOut))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return "", fmt.Errorf("build %s: go list: %w", dir, err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		return "", fmt.Errorf("build %s: go list found no package", dir)
	}
	root := pkgs[len(pkgs)-1] // -deps lists the named package last
	if root.Name != "main" {
		return "", fmt.Errorf("build %s: package %s is package %s, not a main package", dir, root.ImportPath, root.Name)
	}

	h := sha256.New()
	goos, goarch := target(opts)
	fmt.Fprintf(h, "%s\nroot %s\nGOOS=%s GOARCH=%s command=%t host=%t\n", keyVersion, root.ImportPath, goos, goarch, opts.Command, opts.Host)
	fmt.Fprintf(h, "args %q\nenv %q\n", buildArgs(opts), opts.Env)
	for _, k := range goEnvVars {
		if k != "GOWORK" {
			fmt.Fprintf(h, "%s=%s\n", k, env[k])
		}
	}

	// The module files: each main module's go.mod and go.sum, and the
	// workspace's files.
	var modFiles []string
	mains := map[string]*listedModule{}
	for _, p := range pkgs {
		if m := p.Module; m != nil && m.Main && mains[m.Path] == nil {
			mains[m.Path] = m
			if m.GoMod != "" {
				modFiles = append(modFiles, m.GoMod, filepath.Join(filepath.Dir(m.GoMod), "go.sum"))
			}
		}
	}
	if w := env["GOWORK"]; w != "" && w != "off" {
		modFiles = append(modFiles, w, w+".sum")
	}
	slices.Sort(modFiles)
	for _, f := range slices.Compact(modFiles) {
		if err := hashFile(h, "mod "+filepath.Base(f), f); err != nil {
			return "", fmt.Errorf("build %s: %w", dir, err)
		}
	}

	for _, p := range pkgs {
		if p.Standard {
			continue // fixed by GOVERSION
		}
		fmt.Fprintf(h, "package %s\n", p.ImportPath)
		m := p.Module
		if m == nil {
			// GOPATH mode, or a package outside any module: hash its files
			// by their place in the package.
			if err := hashPackage(h, p, p.Dir); err != nil {
				return "", fmt.Errorf("build %s: %w", dir, err)
			}
			continue
		}
		local := m.Main || (m.Replace != nil && m.Replace.Version == "")
		if !local {
			for _, mm := range mains {
				if mm.Dir != "" && within(mm.Dir, p.Dir) {
					local = true // vendored, or otherwise inside a main module
				}
			}
		}
		if !local {
			fmt.Fprintf(h, "module %s@%s", m.Path, m.Version)
			if r := m.Replace; r != nil {
				fmt.Fprintf(h, " => %s@%s", r.Path, r.Version)
			}
			fmt.Fprintln(h)
			continue
		}
		base := m.Dir
		if r := m.Replace; r != nil && r.Dir != "" {
			base = r.Dir
		}
		if base == "" || !within(base, p.Dir) {
			base = p.Dir
		}
		fmt.Fprintf(h, "module %s local\n", m.Path)
		if err := hashPackage(h, p, base); err != nil {
			return "", fmt.Errorf("build %s: %w", dir, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// pkgArg is the package argument of the go commands.
func pkgArg(opts Options) string {
	if opts.Package == "" {
		return "."
	}
	return opts.Package
}

// within reports whether path is dir or inside it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// hashPackage hashes each file the build reads from p, named by its path
// relative to base.
func hashPackage(h io.Writer, p listedPackage, base string) error {
	var files []string
	for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.SFiles, p.HFiles, p.CFiles, p.CXXFiles, p.SysoFiles, p.EmbedFiles} {
		files = append(files, list...)
	}
	slices.Sort(files)
	for _, f := range slices.Compact(files) {
		path := filepath.Join(p.Dir, f)
		rel, err := filepath.Rel(base, path)
		if err != nil {
			rel = path
		}
		if err := hashFile(h, "file "+filepath.ToSlash(rel), path); err != nil {
			return err
		}
	}
	return nil
}

// hashFile hashes the name, the size and the content of the file at
// path; a missing file hashes as missing.
func hashFile(h io.Writer, name, path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(h, "%s missing\n", name)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "%s %d\n", name, len(b))
	_, err = h.Write(b)
	return err
}

// runGo runs the go command in dir with the build's environment and
// returns its standard output.
func runGo(ctx context.Context, dir string, opts Options, args []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, opts.GoCommand, args...)
	cmd.Dir = dir
	cmd.Env = goEnv(opts)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &Error{Dir: dir, Args: append([]string{opts.GoCommand}, args...), Output: stderr.String(), Err: err}
	}
	return stdout.Bytes(), nil
}

// lockPoll is how often a build waiting for another build's lock tries
// again.
const lockPoll = 20 * time.Millisecond
