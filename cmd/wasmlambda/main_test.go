package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/lambdatest"
)

// The tests run the command as a user does: a binary built once, in
// TestMain, by go build, run as a process for each case.
//
// Under -race, a second binary is built with -race for the tests of run,
// whose deploys, triggers and shutdown run concurrently. The others use the
// plain one: a race-built command spends seconds on each deploy (the
// module's rewrite runs twelve times slower), and their code runs on one
// goroutine.

// binary is the built command, and raceBinary the same built with -race
// when the tests are (else the same binary).
var binary, raceBinary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wasmlambda-cli-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "wasmlambda")
	raceBinary = binary
	builds := [][]string{{"build", "-o", binary, "."}}
	if raceEnabled {
		raceBinary = filepath.Join(dir, "wasmlambda-race")
		builds = append(builds, []string{"build", "-race", "-o", raceBinary, "."})
	}
	for _, args := range builds {
		build := exec.Command("go", args...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "go %s: %v\n", strings.Join(args, " "), err)
			return 1
		}
	}
	return m.Run()
}

// commandTimeout bounds one run of the command: generous, for a loaded
// machine and a first compile under -race.
const commandTimeout = 3 * time.Minute

// result is what one run of the command did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s\n--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// cli runs the command with args in dir ("" for the test's working
// directory), stdin as its standard input.
func cli(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	return cliEnv(t, nil, dir, stdin, args...)
}

// cliEnv is cli with more environment variables, "KEY=value".
func cliEnv(t *testing.T, env []string, dir, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		t.Fatalf("wasmlambda %s: did not finish in %v\n%s", strings.Join(args, " "), commandTimeout, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("wasmlambda %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// cacheDir is the compilation cache of the tests: the one every test of the
// module shares, which testguest fills under -race with a precompiler built
// without it.
func cacheDir() string { return testguest.CacheDir() }

// guestFile writes the test guest name, built by testguest, to a .wasm file
// of the test's.
func guestFile(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".wasm")
	require.NoError(t, os.WriteFile(path, testguest.Go(t, name), 0o644))
	return path
}

// warmGoDir builds the Go package in dir as the command does (gobuild, the
// same cache) and compiles it into cacheDir(), so that the command finds
// it: under -race, lambdatest.Deploy compiles it with a program built
// without -race, twelve times faster than the race-built command would.
func warmGoDir(t *testing.T, dir string) {
	t.Helper()
	code := lambdatest.Build(t, dir)
	rt := lambdatest.NewRuntime(t, lambda.Options{CacheDir: cacheDir()})
	lambdatest.Deploy(t, rt, lambda.FunctionConfig{Name: "warm", Code: code.Wasm})
}

// writeFile writes text to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

// lockedBuffer collects a running process's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// started is a run of the command in the background.
type started struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan struct{}
	err            error
}

// start starts the command, built with -race under -race, with args in
// dir, in the background; the test's end kills it if it still runs.
func start(t *testing.T, dir string, args ...string) *started {
	t.Helper()
	return startEnv(t, nil, dir, args...)
}

// startEnv is start with more environment variables, "KEY=value".
func startEnv(t *testing.T, env []string, dir string, args ...string) *started {
	t.Helper()
	s := &started{cmd: exec.Command(raceBinary, args...), stdout: new(lockedBuffer), stderr: new(lockedBuffer), done: make(chan struct{})}
	s.cmd.Dir = dir
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdin = strings.NewReader("")
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, io.MultiWriter(s.stderr, testWriter{t})
	require.NoError(t, s.cmd.Start())
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// waitOutput waits for the command's standard error to contain each of
// want, failing the test after timeout or when the command ends first.
func (s *started) waitOutput(t *testing.T, timeout time.Duration, want ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		missing := ""
		for _, w := range want {
			if !strings.Contains(s.stderr.String(), w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		select {
		case <-s.done:
			t.Fatalf("the command ended (%v) before it printed %q; stderr:\n%s", s.err, missing, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %v; stderr:\n%s", missing, timeout, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait waits for the command to end and returns its exit status.
func (s *started) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("the command did not end within %v; stderr:\n%s", timeout, s.stderr)
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, s.err)
	return 0
}

// testWriter logs a process's output to the test's log, for a failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a write after the test ended
	w.t.Logf("%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
