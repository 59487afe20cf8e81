package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/gobuild"
	"github.com/wasmlambda/lambda/internal/lazyregexp"
)

// buildOptions say how a Go package directory is built.
type buildOptions struct {
	// Command builds a WASI command rather than a reactor.
	Command bool
	// Tags are build tags, passed as -tags.
	Tags string
	// Flags are more go build flags.
	Flags []string
	// CacheDir is the build cache. Default gobuild's.
	CacheDir string
}

// gobuildOptions converts o for gobuild.
func (o buildOptions) gobuildOptions() gobuild.Options {
	flags := append([]string(nil), o.Flags...)
	if o.Tags != "" {
		flags = append(flags, "-tags="+o.Tags)
	}
	return gobuild.Options{CacheDir: o.CacheDir, Command: o.Command, Flags: flags}
}

// code is a function's code, ready to deploy.
type code struct {
	// Path is a .wasm module or a zip.
	Path string
	// Size is the file's size.
	Size int64
	// Zip is set for a zip.
	Zip bool
}

// buildDelay is how long a build may take before progress shows it: a
// build found in the cache says nothing.
const buildDelay = 300 * time.Millisecond

// loadCode finds the code at path: a .wasm module or a zip as it is, or a
// Go package directory, built to wasm. name names the function in
// progress lines.
func loadCode(ctx context.Context, p *progress, name, path string, bo buildOptions) (code, error) {
	st, err := os.Stat(path)
	if err != nil {
		return code{}, fmt.Errorf("code %s: %w", path, unwrapPathError(err))
	}
	if st.IsDir() {
		s := p.Start(fmt.Sprintf("building %s from %s (go build, GOOS=wasip1)", name, path), buildDelay)
		res, err := gobuild.Build(ctx, path, bo.gobuildOptions())
		if err != nil {
			s.Done("", false)
			return code{}, fmt.Errorf("code %s: %w", path, err)
		}
		st, err := os.Stat(res.Path)
		if err != nil {
			s.Done("", false)
			return code{}, fmt.Errorf("code %s: %w", path, err)
		}
		s.Done(fmt.Sprintf("built %s in %s (%s)", name, formatDuration(s.Elapsed()), formatSize(st.Size())), false)
		return code{Path: res.Path, Size: st.Size()}, nil
	}
	kind, err := sniffCode(path)
	if err != nil {
		return code{}, err
	}
	return code{Path: path, Size: st.Size(), Zip: kind == "zip"}, nil
}

// sniffCode tells a wasm module ("wasm") from a zip ("zip") by their first
// bytes, and refuses anything else with an error that says what it is.
func sniffCode(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("code %s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	head := make([]byte, 8)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("code %s: %w", path, err)
	}
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("\x00asm")):
		return "wasm", nil
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return "zip", nil
	case n == 0:
		return "", fmt.Errorf("code %s: the file is empty; want a wasm module (.wasm), a zip or a Go package directory", path)
	default:
		return "", fmt.Errorf("code %s: not a wasm module or a zip (it begins %q); want a .wasm file, a zip or a Go package directory", path, head)
	}
}

// unwrapPathError drops the *fs.PathError's repetition of the path.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var invalidName = lazyregexp.New(`[^a-zA-Z0-9_-]+`)

// functionName derives a function name from a code path: its base name
// without extension, in the letters a name may use.
func functionName(path string) string {
	abs, err := filepath.Abs(path)
	if err == nil {
		path = abs
	}
	base := filepath.Base(path)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	base = strings.Trim(invalidName.ReplaceAllString(base, "-"), "-")
	if len(base) > 64 {
		base = base[:64]
	}
	if base == "" {
		return "function"
	}
	return base
}

// compileDelay is how long a deploy may take before progress shows it: a
// module found in the compilation cache deploys in milliseconds.
const compileDelay = 300 * time.Millisecond

// deploy deploys cfg with progress: compiling a module takes about a
// second, unless it is in the compilation cache.
func deploy(ctx context.Context, p *progress, rt *lambda.Runtime, cfg lambda.FunctionConfig, c code, always bool) (*lambda.Function, error) {
	cfg.CodePath = c.Path
	s := p.Start(fmt.Sprintf("compiling %s, %s", cfg.Name, formatSize(c.Size)), compileDelay)
	fn, err := rt.Deploy(ctx, cfg)
	if err != nil {
		s.Done("", false)
		return nil, err
	}
	s.Done(fmt.Sprintf("%s ready in %s", cfg.Name, formatDuration(s.Elapsed())), always)
	return fn, nil
}
