package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/lambdatest"
)

type invokeOptions struct {
	event    string
	timeout  time.Duration
	memory   int
	env      []string
	layers   []string
	mounts   []string
	name     string
	handler  string
	region   string
	cacheDir string
	quiet    bool
	build    buildOptions
}

func newInvokeCommand() *cobra.Command {
	var o invokeOptions
	cmd := &cobra.Command{
		Use:   "invoke CODE",
		Short: "Invoke a function once with an event, and print its result, logs and REPORT line",
		Long: `Invoke deploys the function in CODE and invokes it once, synchronously, with
the event. CODE is a .wasm module, a zip (AWS's deployment package), or a Go
handler package directory, built on the fly.

The result goes to standard output; the function's logs, with AWS's START,
END and REPORT lines, go to standard error. When the function fails, the
result is AWS's error JSON ({"errorMessage":...,"errorType":...}) and the
exit status is 1.

The first invoke of a module compiles it, about a second; later ones find it
in the compilation cache and take milliseconds.`,
		Example: `  wasmlambda invoke ./orders -e event.json
  wasmlambda generate-event sqs receive-message --body '{"id":"o-1"}' | wasmlambda invoke orders.wasm -e -
  wasmlambda invoke function.zip --timeout 10s --memory 256 --env TABLE=orders --layer ./layer`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("invoke takes one CODE, a .wasm file, a zip or a Go package directory; got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args[0])
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVarP(&o.event, "event", "e", "", "event file, or - for standard input (default {})")
	f.VarP(durationValue{&o.timeout}, "timeout", "t", "timeout, in seconds or as 1m30s (default 3s)")
	f.IntVarP(&o.memory, "memory", "m", 0, "memory in MB, 128 to 10240 (default 128)")
	f.StringArrayVar(&o.env, "env", nil, "environment variable `KEY=VALUE` (repeatable)")
	f.StringArrayVarP(&o.layers, "layer", "l", nil, "layer, a `directory or zip`, merged under /opt in order (repeatable)")
	f.StringArrayVar(&o.mounts, "mount", nil, "host directory at a guest path, `HOST_DIR:GUEST_PATH[:rw]`, read-only unless :rw (repeatable)")
	f.StringVar(&o.name, "name", "", "function name (default the code's file or directory name)")
	f.StringVar(&o.handler, "handler", "", "_HANDLER, and the module's name in a zip (default bootstrap)")
	f.StringVar(&o.region, "region", "", "AWS_REGION the function sees (default us-east-1)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print the result only: no logs, no progress")
	f.BoolVar(&o.build.Command, "command", false, "build a Go package directory as a WASI command (one instance per event) rather than a reactor")
	f.StringVar(&o.build.Tags, "tags", "", "build tags for a Go package directory")
	f.StringVar(&o.cacheDir, "cache-dir", "", "compilation cache directory (default wasmlambda/compile in the user's cache directory)")
	return cmd
}

func (o *invokeOptions) run(cmd *cobra.Command, codePath string) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	resumeGC := pauseGC()
	defer resumeGC()

	event, err := readEvent(o.event, cmd.InOrStdin())
	if err != nil {
		return err
	}
	env, err := keyValues("env", o.env)
	if err != nil {
		return err
	}
	var mounts []lambda.Mount
	for _, m := range o.mounts {
		host, guest, rw, err := parseMount(m)
		if err != nil {
			return err
		}
		mounts = append(mounts, lambda.Mount{Path: guest, HostDir: host, ReadWrite: rw})
	}

	progressOut := stderr
	if o.quiet {
		progressOut = io.Discard
	}
	p := newProgress(progressOut)
	defer p.Close()
	name := o.name
	if name == "" {
		name = functionName(codePath)
	}
	c, err := loadCode(ctx, p, name, codePath, o.build)
	if err != nil {
		return err
	}

	opts := lambda.Options{CacheDir: o.cacheDir, Region: o.region}
	if opts.CacheDir == "" {
		opts.CacheDir = lambdatest.DefaultCompileCacheDir()
	}
	if !o.quiet {
		opts.Logger = newLogger(p, false, 0)
	}
	rt, err := lambda.New(opts)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rt.Close(closeCtx)
	}()

	layers, err := publishLayers(ctx, rt, o.layers)
	if err != nil {
		return err
	}
	fn, err := deploy(ctx, p, rt, lambda.FunctionConfig{
		Name:        name,
		Handler:     o.handler,
		Timeout:     o.timeout,
		MemorySize:  o.memory,
		Environment: env,
		Layers:      layers,
		Mounts:      mounts,
	}, c, false)
	if err != nil {
		return fmt.Errorf("deploy %s: %w", codePath, err)
	}

	resp, err := fn.Invoke(ctx, event)
	var fe *lambda.FunctionError
	switch {
	case errors.As(err, &fe):
		fmt.Fprintf(stdout, "%s\n", fe.Payload())
		return functionFailed{fe}
	case err != nil:
		return fmt.Errorf("invoke %s: %w", name, err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", resp)
	return err
}

// readEvent reads the event from path, "-" for r, or gives {} for "", and
// checks that it is JSON, as Lambda's Invoke API does.
func readEvent(path string, r io.Reader) ([]byte, error) {
	var (
		b    []byte
		err  error
		name = path
	)
	switch path {
	case "":
		return []byte("{}"), nil
	case "-":
		name = "standard input"
		b, err = io.ReadAll(r)
	default:
		b, err = os.ReadFile(path)
		if err != nil {
			err = unwrapPathError(err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", name, err)
	}
	if err := checkJSON(b); err != nil {
		return nil, fmt.Errorf("event %s: %w", name, err)
	}
	return b, nil
}

// checkJSON checks that b is one JSON value, and says where it is not.
func checkJSON(b []byte) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return errors.New("empty: want a JSON event, such as {}")
	}
	if json.Valid(b) {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	err := dec.Decode(&v)
	offset := dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		offset = se.Offset - 1 // the offending byte
	} else if err == nil {
		err = errors.New("more than one JSON value")
		for offset < int64(len(b)) && strings.ContainsRune(" \t\r\n", rune(b[offset])) {
			offset++ // to where the next value begins
		}
	} else if errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("unexpected end of JSON input")
		offset = int64(len(b))
	}
	line, col := lineColumn(b, offset)
	return fmt.Errorf("not valid JSON: line %d, column %d: %v", line, col, err)
}

// lineColumn is the line and column, from 1, of the byte at offset.
func lineColumn(b []byte, offset int64) (int, int) {
	offset = min(max(offset, 0), int64(len(b)))
	before := b[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// publishLayers publishes each path, a directory or a zip, as a layer
// named after it.
func publishLayers(ctx context.Context, rt *lambda.Runtime, paths []string) ([]*lambda.LayerVersion, error) {
	var out []*lambda.LayerVersion
	for i, path := range paths {
		content, err := layerContent(path)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%s-%d", functionName(path), i+1)
		lv, err := rt.PublishLayerVersion(ctx, name, content)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", path, err)
		}
		out = append(out, lv)
	}
	return out, nil
}

// layerContent is the layer at path: a directory or a zip.
func layerContent(path string) (lambda.LayerContent, error) {
	st, err := os.Stat(path)
	if err != nil {
		return lambda.LayerContent{}, fmt.Errorf("layer %s: %w", path, unwrapPathError(err))
	}
	if st.IsDir() {
		return lambda.LayerContent{Dir: path}, nil
	}
	kind, err := sniffCode(path)
	if err != nil || kind != "zip" {
		return lambda.LayerContent{}, fmt.Errorf("layer %s: not a directory or a zip", filepath.Clean(path))
	}
	return lambda.LayerContent{ZipFile: path}, nil
}
