package lambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// behaveCommand is the behave guest built as a plain WASI command, which the
// host runs one-shot in compatibility mode.
func behaveCommand(t testing.TB) []byte {
	t.Helper()
	return testguest.GoDir(t, filepath.Join(testguest.Root(), "testdata", "guests", "go", "behave"), true)
}

// TestOutOfMemoryIsReported: a guest that passes its memory limit gets
// Runtime.OutOfMemory however it allocated, and its sandbox is discarded.
// Large chunks leave megabytes between the last memory that grew and the
// limit, and the Go runtime's fatal error is followed by a long goroutine
// dump, so neither the memory's size nor the end of stderr shows it.
func TestOutOfMemoryIsReported(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{Logger: slog.New(&logRecorder{})})
	ctx := context.Background()
	goGuest := testguest.Go(t, "behave")
	tests := []struct {
		name  string
		code  []byte
		event string
		// after is an event that succeeds on a fresh sandbox, and want its
		// response.
		after, want string
	}{
		{"go 1 MiB chunks", goGuest, `{"op":"alloc","mb":400,"chunk_mb":1}`, `{"op":"counter"}`, "1"},
		{"go 2 MiB chunks", goGuest, `{"op":"alloc","mb":400,"chunk_mb":2}`, `{"op":"counter"}`, "1"},
		{"go 4 MiB chunks", goGuest, `{"op":"alloc","mb":400,"chunk_mb":4}`, `{"op":"counter"}`, "1"},
		{"go 16 MiB chunks", goGuest, `{"op":"alloc","mb":400,"chunk_mb":16}`, `{"op":"counter"}`, "1"},
		{"go one 200 MB make", goGuest, `{"op":"alloc","mb":200,"chunk_mb":200}`, `{"op":"counter"}`, "1"},
		{"go command, 16 MiB chunks", behaveCommand(t), `{"op":"alloc","mb":400,"chunk_mb":16}`, `{"op":"echo","data":"ok"}`, `"ok"`},
		{"c malloc fails, abort", testguest.C(t, "oom", true), `"abort"`, `"x"`, "1"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := deploy(t, rt, lambda.FunctionConfig{Name: fmt.Sprintf("oom-%d", i), Code: tt.code, MemorySize: 128, Timeout: time.Minute})
			_, err := f.Invoke(ctx, []byte(tt.event), lambda.WithRequestID("req-oom"))
			var fe *lambda.FunctionError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, lambda.ErrorTypeOutOfMemory, fe.Type, fe.Message)
			require.Contains(t, fe.Message, "RequestId: req-oom Error: Runtime exited with memory at its 128 MB limit")
			require.EqualValues(t, 1, f.Stats().Discarded, "a sandbox out of memory is discarded")
			out, err := f.Invoke(ctx, []byte(tt.after))
			require.NoError(t, err)
			require.Equal(t, tt.want, string(out), "the function goes on in a fresh sandbox")
		})
	}
}

// TestOutOfMemoryHandledByTheGuest: a guest that sees malloc fail and
// answers with an error of its own gets that error, and keeps its sandbox;
// the refused grow of one invocation does not mark the next.
func TestOutOfMemoryHandledByTheGuest(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	ctx := context.Background()
	f := deploy(t, rt, lambda.FunctionConfig{Name: "oom-handled", Code: testguest.C(t, "oom", true), MemorySize: 128})
	_, err := f.Invoke(ctx, []byte(`"error"`))
	var fe *lambda.FunctionError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "OutOfMemoryError", fe.Type)
	require.Regexp(t, `^malloc failed after \d+ MiB$`, fe.Message)
	out, err := f.Invoke(ctx, []byte(`"x"`))
	require.NoError(t, err)
	require.Equal(t, "2", string(out), "the sandbox stays warm")
	require.EqualValues(t, 0, f.Stats().Discarded)
}

// TestWorkingDirectoryIsTaskRoot: a guest starts in /var/task, as AWS
// starts the bootstrap there, so a relative path names a file of the
// function's package.
func TestWorkingDirectoryIsTaskRoot(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	ctx := context.Background()
	layer, err := rt.PublishLayerVersion(ctx, "shadow", lambda.LayerContent{Zip: makeZip(t, zipEntry{name: "data.txt", body: "from the layer"})})
	require.NoError(t, err)
	pkg := func(module []byte) []byte {
		return makeZip(t, zipEntry{name: "bootstrap", body: string(module)}, zipEntry{name: "data.txt", body: "from the package"})
	}
	tests := []struct {
		name  string
		code  []byte
		event string
		want  map[string]any
	}{
		{"go reactor", pkg(testguest.Go(t, "behave")), `{"op":"read","path":"data.txt"}`, map[string]any{"data": "from the package"}},
		{"go command", pkg(behaveCommand(t)), `{"op":"read","path":"data.txt"}`, map[string]any{"data": "from the package"}},
		{"c command", pkg(testguest.C(t, "readfile", false)), `"data.txt"`, map[string]any{"cwd": "/", "data": "from the package"}},
		{"c command, ./", pkg(testguest.C(t, "readfile", false)), `"./data.txt"`, map[string]any{"cwd": "/", "data": "from the package"}},
		{"c command, absolute", pkg(testguest.C(t, "readfile", false)), `"/opt/data.txt"`, map[string]any{"cwd": "/", "data": "from the layer"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := deploy(t, rt, lambda.FunctionConfig{Name: fmt.Sprintf("cwd-%d", i), Code: tt.code, Layers: []*lambda.LayerVersion{layer}})
			out, err := f.Invoke(ctx, []byte(tt.event))
			require.NoError(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(out, &got))
			require.Equal(t, tt.want, got)
		})
	}
	t.Run("go lists the package", func(t *testing.T) {
		f := deploy(t, rt, lambda.FunctionConfig{Name: "cwd-list", Code: pkg(testguest.Go(t, "behave"))})
		require.ElementsMatch(t, []string{"bootstrap", "data.txt"}, listGuest(t, f, "."))
	})
}

// TestCommandStatsAndTmp: in compatibility mode no sandbox stays open or
// idle between one-shot runs, a run that traps or times out counts as
// discarded, REPORT gives the memory the run used, and a file a crashed or
// timed-out run wrote to /tmp is still there at the next invocation (AWS's
// reset after a crash does not clear /tmp).
func TestCommandStatsAndTmp(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	scratch := t.TempDir()
	rt := newRuntime(t, lambda.Options{Logger: slog.New(logs), ScratchDir: scratch})
	ctx := context.Background()
	f := deploy(t, rt, lambda.FunctionConfig{Name: "cmd", Code: behaveCommand(t), Timeout: 2 * time.Second})
	idle := func(t *testing.T, discarded int64) {
		t.Helper()
		s := f.Stats()
		require.Equal(t, 0, s.Open, "no sandbox stays open between one-shot runs")
		require.Equal(t, 0, s.Idle)
		require.Equal(t, 0, s.InUse)
		require.Equal(t, discarded, s.Discarded)
	}
	maxMemory := func(t *testing.T, requestID string) uint64 {
		t.Helper()
		for _, r := range logs.find("REPORT") {
			if r.Attrs["request_id"] == requestID {
				return r.Attrs["max_memory_used_mb"].(uint64)
			}
		}
		t.Fatalf("no REPORT for %s", requestID)
		return 0
	}

	_, err := fsOp(f, "write", "/tmp/first.txt", map[string]any{"text": "first"})
	require.NoError(t, err)
	idle(t, 0)

	_, err = f.Invoke(ctx, []byte(`{"op":"write","path":"/tmp/crash.txt","text":"crashed","then":"trap"}`), lambda.WithRequestID("req-trap"))
	var fe *lambda.FunctionError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, lambda.ErrorTypeExit, fe.Type)
	idle(t, 1)
	require.Greater(t, maxMemory(t, "req-trap"), uint64(0), "REPORT measures a command's memory")

	_, err = f.Invoke(ctx, []byte(`{"op":"write","path":"/tmp/slow.txt","text":"timed out","then":"loop"}`))
	require.ErrorIs(t, err, lambda.ErrTimeout)
	idle(t, 2)

	_, err = f.Invoke(ctx, []byte(`{"op":"exit","code":3}`))
	require.ErrorAs(t, err, &fe)
	require.Equal(t, lambda.ErrorTypeExit, fe.Type)
	idle(t, 2) // a non-zero exit is the command's answer, not a broken sandbox

	out, err := f.Invoke(ctx, []byte(`{"op":"list","path":"/tmp"}`), lambda.WithRequestID("req-list"))
	require.NoError(t, err)
	require.JSONEq(t, `{"entries":["crash.txt","first.txt","slow.txt"]}`, string(out),
		"/tmp outlives the crash and the timeout, as AWS's reset leaves it")
	require.Equal(t, "crashed", readGuest(t, f, "/tmp/crash.txt"))
	idle(t, 2)
	require.Greater(t, maxMemory(t, "req-list"), uint64(0))

	s := f.Stats()
	require.EqualValues(t, 6, s.Invocations)
	require.EqualValues(t, 6, s.ColdStarts, "every command invocation is a cold start")

	require.NoError(t, f.Close(ctx))
	dirs, err := os.ReadDir(scratch)
	require.NoError(t, err)
	require.Empty(t, dirs, "closing frees /tmp")
}

// TestLargeMemorySize: a memory size of 4096 MB or more is a limit a wasm32
// guest cannot reach, as its memory ends at 4 GiB; there the guest runs out
// of memory.
func TestLargeMemorySize(t *testing.T) {
	logs := &logRecorder{}
	rt := newRuntime(t, lambda.Options{Logger: slog.New(logs)})
	for _, mb := range []int{4096, 5000, lambda.MaxMemorySize} {
		t.Run(fmt.Sprint(mb), func(t *testing.T) {
			f := deploy(t, rt, lambda.FunctionConfig{Name: fmt.Sprintf("grow-%d", mb), Code: testguest.WAT(t, "grow"), MemorySize: mb})
			id := fmt.Sprintf("req-grow-%d", mb)
			_, err := f.Invoke(context.Background(), []byte(`{}`), lambda.WithRequestID(id))
			var fe *lambda.FunctionError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, lambda.ErrorTypeOutOfMemory, fe.Type)
			require.Contains(t, fe.Message, fmt.Sprintf("its %d MB limit", mb))
			var used any
			for _, r := range logs.find("REPORT") {
				if r.Attrs["request_id"] == id {
					used = r.Attrs["max_memory_used_mb"]
				}
			}
			require.Equal(t, uint64(4096), used, "the guest grew to 4 GiB, untouched")
		})
	}
}

// TestOutOfMemoryMessage: a guest that dies saying the Go runtime's "out of
// memory", however long the goroutine dump after it and however its writes
// cut the message, is out of memory, though no grow was refused (as when a
// grow would pass 4 GiB). Any other death is not.
func TestOutOfMemoryMessage(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	code := testguest.Go(t, "behave")
	tests := []struct {
		message string
		want    string
	}{
		{"fatal error: out of memory", lambda.ErrorTypeOutOfMemory},
		{"runtime: out of memory: cannot allocate 4194304-byte block (130023424 in use)", lambda.ErrorTypeOutOfMemory},
		{"fatal error: all goroutines are asleep - deadlock!", lambda.ErrorTypeExit},
	}
	for i, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			f := deploy(t, rt, lambda.FunctionConfig{Name: fmt.Sprintf("fatal-%d", i), Code: code})
			_, err := behave(context.Background(), f, "fatal", map[string]any{"message": tt.message, "lines": 200})
			var fe *lambda.FunctionError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.want, fe.Type, fe.Message)
			require.EqualValues(t, 1, f.Stats().Discarded)
		})
	}
	t.Run("each invocation on its own", func(t *testing.T) {
		f := deploy(t, rt, lambda.FunctionConfig{Name: "fatal-next", Code: code})
		_, err := behave(context.Background(), f, "stderr", map[string]any{"message": "fatal error: out of memory", "lines": 1})
		require.NoError(t, err, "a guest may say it, and go on")
		_, err = behave(context.Background(), f, "fatal", map[string]any{"message": "fatal error: out of range", "lines": 1})
		var fe *lambda.FunctionError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, lambda.ErrorTypeExit, fe.Type, "what an earlier invocation said does not count")
	})
}
