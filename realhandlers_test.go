package lambda_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
			require.Equal(t, tt.wantMode, f.Mode())
			require.Equal(t, tt.wantMode, rt.Stats().Functions[0].Mode)
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

// rotatingRole hands out new credentials at each Retrieve, each expiring
// within the refresh window, so that every invocation refreshes them.
type rotatingRole struct {
	mu    sync.Mutex
	n     int
	fail  error
	given []lambda.Credentials
}

func (r *rotatingRole) Retrieve(context.Context) (lambda.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return lambda.Credentials{}, r.fail
	}
	r.n++
	c := lambda.Credentials{
		AccessKeyID:     fmt.Sprintf("AKIAROTATING%04d", r.n),
		SecretAccessKey: fmt.Sprintf("rotating-secret-%04d", r.n),
		SessionToken:    fmt.Sprintf("rotating-token-%04d", r.n),
		Expires:         time.Now().Add(time.Minute),
	}
	r.given = append(r.given, c)
	return c, nil
}

func (r *rotatingRole) last() lambda.Credentials {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.given[len(r.given)-1]
}

type guestCreds struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken"`
}

type lifecycleResponse struct {
	Now  guestCreds `json:"now"`
	Init guestCreds `json:"init"`
}

func asGuestCreds(c lambda.Credentials) guestCreds {
	return guestCreds{c.AccessKeyID, c.SecretAccessKey, c.SessionToken}
}

// TestExecutionRole: the guest sees its role's credentials in its
// environment, from init on; a warm guest gets them anew when they are
// refreshed before they expire; a provider that fails fails the
// invocation with ErrCredentials, and nothing logs the credentials.
func TestExecutionRole(t *testing.T) {
	code := testguest.Go(t, "lifecycle")
	ctx := context.Background()
	var out syncBuf
	rt := newRuntime(t, lambda.Options{Logger: slog.New(slog.NewTextHandler(&out, nil))})

	t.Run("static", func(t *testing.T) {
		static := lambda.StaticCredentials{AccessKeyID: "AKIASTATIC", SecretAccessKey: "static-secret"}
		f := deploy(t, rt, lambda.FunctionConfig{Name: "role-static", Code: code, Role: static})
		for range 2 {
			r, err := lambda.InvokeJSON[lifecycleResponse](ctx, f, struct{}{})
			require.NoError(t, err)
			want := guestCreds{AccessKeyID: "AKIASTATIC", SecretAccessKey: "static-secret"}
			require.Equal(t, lifecycleResponse{Now: want, Init: want}, r)
		}
	})
	t.Run("refreshed", func(t *testing.T) {
		role := &rotatingRole{}
		f := deploy(t, rt, lambda.FunctionConfig{Name: "role-rotating", Code: code, Role: role})
		r, err := lambda.InvokeJSON[lifecycleResponse](ctx, f, struct{}{})
		require.NoError(t, err)
		require.Equal(t, asGuestCreds(role.last()), r.Now)
		require.Equal(t, r.Init, r.Now)
		for range 2 {
			r, err = lambda.InvokeJSON[lifecycleResponse](ctx, f, struct{}{})
			require.NoError(t, err)
			require.Equal(t, asGuestCreds(role.last()), r.Now, "the warm guest sees the refreshed credentials")
			require.NotEqual(t, r.Init, r.Now)
		}
		require.Equal(t, int64(1), f.Stats().ColdStarts, "refreshed in the warm sandbox")

		// A provider that fails while the credentials are still valid
		// leaves them in use; one that has none to give fails the
		// invocation.
		role.mu.Lock()
		role.fail = errors.New("sts: AssumeRole denied")
		role.mu.Unlock()
		r, err = lambda.InvokeJSON[lifecycleResponse](ctx, f, struct{}{})
		require.NoError(t, err)
		require.Equal(t, asGuestCreds(role.last()), r.Now)
		failing := deploy(t, rt, lambda.FunctionConfig{Name: "role-failing", Code: code, Role: &rotatingRole{fail: errors.New("sts: AssumeRole denied")}})
		_, err = failing.Invoke(ctx, nil)
		require.ErrorIs(t, err, lambda.ErrCredentials)
		require.ErrorContains(t, err, "sts: AssumeRole denied")
		require.ErrorContains(t, err, "FunctionConfig.Role")
		for _, c := range role.given {
			requireNoSecret(t, err.Error(), c)
		}
		for _, c := range role.given {
			requireNoSecret(t, out.take(), c)
		}
	})
	t.Run("printed", func(t *testing.T) {
		c := lambda.Credentials{AccessKeyID: "AKIAPRINTED", SecretAccessKey: "printed-secret", SessionToken: "printed-token"}
		requireNoSecret(t, fmt.Sprint(c)+fmt.Sprintf("%v %+v %#v %s", c, c, c, c), c)
	})
}

// requireNoSecret fails if s holds any of c's values.
func requireNoSecret(t *testing.T, s string, c lambda.Credentials) {
	t.Helper()
	for _, v := range []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken} {
		if v != "" {
			require.NotContains(t, s, v)
		}
	}
}
