package lambda_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// goGuestDir is the directory of the Go test guest name.
func goGuestDir(name string) string {
	return filepath.Join(testguest.Root(), "testdata", "guests", "go", name)
}

// TestCommandBuildTrap: a Go guest built without -buildmode=c-shared
// carries the ABI v1 exports but is a WASI command, run one-shot. Deploy
// says so, naming the fix, and the pool's stats report its mode; a
// reactor deploys without a word, and a WASI command without the ABI
// exports (a C command) is not warned about either.
func TestCommandBuildTrap(t *testing.T) {
	tests := []struct {
		name     string
		code     func(t *testing.T) []byte
		wantMode lambda.Mode
		warned   bool
	}{
		{"a Go guest built as a command", func(t *testing.T) []byte { return testguest.GoDir(t, goGuestDir("echo"), true) }, lambda.ModeCommand, true},
		{"a Go reactor", func(t *testing.T) []byte { return testguest.Go(t, "echo") }, lambda.ModeReactor, false},
		{"a C command", func(t *testing.T) []byte { return testguest.C(t, "cat", false) }, lambda.ModeCommand, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out syncBuf
			rt := newRuntime(t, lambda.Options{Logger: slog.New(slog.NewTextHandler(&out, nil))})
			f := deploy(t, rt, lambda.FunctionConfig{Name: "trap" + string(rune('a'+i)), Code: tt.code(t)})
			require.Equal(t, tt.wantMode, f.Stats().Mode)
			require.Equal(t, tt.wantMode, rt.Stats().Functions[0].Pool.Mode)
			logs := out.take()
			if !tt.warned {
				require.NotContains(t, logs, "WARN")
				return
			}
			require.Contains(t, logs, "level=WARN")
			require.Contains(t, logs, "-buildmode=c-shared")
			require.Contains(t, logs, "one-shot")
			require.Contains(t, logs, "function="+f.Name())
			resp, err := f.Invoke(context.Background(), []byte(`"still works"`))
			require.NoError(t, err)
			require.Equal(t, `"still works"`, string(resp))
		})
	}
}

// TestShutdownHooks: the guest's WithEnableSIGTERM callbacks run when the
// host closes a healthy sandbox, as AWS sends SIGTERM: when the function
// is closed, and when MaxUses recycles one; their output is logged. A
// sandbox discarded after a crash is not shut down.
func TestShutdownHooks(t *testing.T) {
	code := testguest.Go(t, "lifecycle")
	ctx := context.Background()
	t.Run("closed", func(t *testing.T) {
		var out syncBuf
		rt := newRuntime(t, lambda.Options{Logger: slog.New(slog.NewTextHandler(&out, nil))})
		f := deploy(t, rt, lambda.FunctionConfig{Name: "sigterm", Code: code})
		resp, err := f.Invoke(ctx, nil)
		require.NoError(t, err)
		require.True(t, strings.HasSuffix(string(resp), "}\n"), "indented, with its newline, as aws-lambda-go's WithSetIndent: %q", resp)
		require.NotContains(t, out.take(), "SIGTERM hook")
		require.NoError(t, f.Close(ctx))
		logs := out.take()
		i1, i2 := strings.Index(logs, "SIGTERM hook 1 ran"), strings.Index(logs, "SIGTERM hook 2 ran")
		require.True(t, i1 >= 0 && i2 > i1, "both hooks, in order: %s", logs)
	})
	t.Run("recycled", func(t *testing.T) {
		var out syncBuf
		rt := newRuntime(t, lambda.Options{Logger: slog.New(slog.NewTextHandler(&out, nil))})
		f := deploy(t, rt, lambda.FunctionConfig{Name: "sigterm", Code: code, MaxUses: 1})
		_, err := f.Invoke(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, int64(1), f.Stats().Recycled)
		require.Contains(t, out.take(), "SIGTERM hook 2 ran")
	})
}
