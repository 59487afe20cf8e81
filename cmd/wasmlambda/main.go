// Command wasmlambda runs AWS Lambda functions compiled to WebAssembly on
// the local machine, with no Docker and no network:
//
//	wasmlambda invoke CODE [-e EVENT]      invoke a function once, print its result, logs and REPORT
//	wasmlambda generate-event KIND ...     print a sample event: s3 put|delete, sqs receive-message, schedule, http
//	wasmlambda build [DIR] [-o FILE]       compile a Go handler package to wasm
//	wasmlambda run --config FILE           run functions, layers and triggers from a YAML file until stopped
//
// CODE is a .wasm module, a zip (AWS's deployment package), or a Go handler
// package directory, built on the fly with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared and cached by a hash of its sources.
//
// # Exit status
//
// 0 when the command succeeded; 1 when the function failed (invoke prints
// AWS's error JSON as the result); 2 for anything else: bad flags or input,
// a config error, code that does not build or deploy.
//
// # Environment
//
// WASMLAMBDA_CPUPROFILE=FILE writes a CPU profile of the command to FILE,
// for go tool pprof.
//
// # Caches
//
// Built modules are kept in wasmlambda/build and wazero's compiled code in
// wasmlambda/compile under the user's cache directory (~/.cache on Linux),
// the directories lambdatest uses, so that a module compiled once, by a test
// or by this command, deploys in milliseconds after. Deleting them is always
// safe.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/spf13/cobra"

	lambda "github.com/wasmlambda/lambda"
)

// Exit statuses.
const (
	exitOK            = 0
	exitFunctionError = 1
	exitError         = 2
)

// functionFailed is the error of a command whose function failed: it has
// been reported already, and the process exits with exitFunctionError.
type functionFailed struct{ err *lambda.FunctionError }

func (e functionFailed) Error() string { return e.err.Error() }

func main() {
	stop := startCPUProfile(os.Getenv("WASMLAMBDA_CPUPROFILE"), os.Stderr)
	code := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// startCPUProfile writes a CPU profile of the command to path, when path
// is not empty, until the function it returns is called. It is for
// measuring the command (see docs/PERFORMANCE.md).
func startCPUProfile(path string, stderr io.Writer) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "wasmlambda: WASMLAMBDA_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "wasmlambda: WASMLAMBDA_CPUPROFILE: %v\n", err)
		}
	}
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var failed functionFailed
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &failed):
		return exitFunctionError
	default:
		fmt.Fprintf(stderr, "wasmlambda: %v\n", err)
		return exitError
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "wasmlambda",
		Short: "Run AWS Lambda functions compiled to WebAssembly, locally, in milliseconds",
		Long: `wasmlambda runs AWS Lambda functions compiled to WebAssembly on this machine,
in wazero sandboxes, with no Docker and no network.

A function's code is a .wasm module, a zip (AWS's deployment package), or a
Go handler package directory, which is built on the fly (GOOS=wasip1
GOARCH=wasm -buildmode=c-shared) and cached by a hash of its sources.

Exit status: 0 on success, 1 when the function failed, 2 for any other error.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.AddCommand(newInvokeCommand(), newGenerateEventCommand(), newBuildCommand(), newRunCommand())
	return root
}

// version is the module's version from the build information.
func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
