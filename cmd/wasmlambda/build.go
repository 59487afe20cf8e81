package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wasmlambda/lambda/internal/gobuild"
)

type buildCommandOptions struct {
	output string
	build  buildOptions
}

func newBuildCommand() *cobra.Command {
	var o buildCommandOptions
	cmd := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Compile a Go handler package to wasm",
		Long: `Build compiles the Go handler package in DIR (default .) to a wasm module, as
wasmlambda runs it:

  GOOS=wasip1 GOARCH=wasm go build -trimpath -buildvcs=false -buildmode=c-shared

The package registers its handler with the guest SDK
(github.com/wasmlambda/lambda/guest) from init. With --command it is built
as a WASI command instead, which runs one instance per event.

The module is cached by a hash of everything the build reads (the sources,
go.mod and go.sum, the toolchain, the flags), in the cache that invoke, run
and lambdatest share: building an unchanged package again compiles nothing.`,
		Example: `  wasmlambda build ./orders -o orders.wasm
  wasmlambda build --tags integration`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return o.run(cmd, dir)
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVarP(&o.output, "output", "o", "", "the module's file (default DIR's name with .wasm, in the current directory)")
	f.BoolVar(&o.build.Command, "command", false, "build a WASI command (one instance per event) rather than a reactor")
	f.StringVar(&o.build.Tags, "tags", "", "build tags")
	f.StringArrayVar(&o.build.Flags, "flag", nil, "more go build flags, such as -ldflags=-X=main.v=1 (repeatable)")
	return cmd
}

func (o *buildCommandOptions) run(cmd *cobra.Command, dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("build %s: %w", dir, unwrapPathError(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("build %s: not a directory; want a Go package directory", dir)
	}
	out := o.output
	if out == "" {
		out = functionName(dir) + ".wasm"
	}
	p := newProgress(cmd.ErrOrStderr())
	defer p.Close()
	s := p.Start("building "+dir, buildDelay)
	res, err := gobuild.Build(cmd.Context(), dir, o.build.gobuildOptions())
	if err != nil {
		s.Done("", false)
		return err
	}
	n, err := copyFile(out, res.Path)
	if err != nil {
		s.Done("", false)
		return fmt.Errorf("build %s: %w", dir, err)
	}
	how := "compiled in " + formatDuration(s.Elapsed())
	if res.CacheHit {
		how = "from the build cache"
	}
	s.Done(fmt.Sprintf("built %s: %s (%s, %s)", dir, out, formatSize(n), how), true)
	return nil
}

// copyFile copies src to dst through a temporary file renamed into place.
func copyFile(dst, src string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+"-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	return n, err
}
