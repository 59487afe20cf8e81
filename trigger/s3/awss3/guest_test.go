package awss3_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/s3/awss3"
)

func guestOp(f *lambda.Function, op, path string) (map[string]any, error) {
	return lambda.InvokeJSON[map[string]any](context.Background(), f, map[string]any{"op": op, "path": path, "text": "x"})
}

// TestGuestReadsThroughTheMount mounts a prefix of a bucket, over
// gofakes3, for a wasm guest: it reads the objects there, and nothing
// else of that bucket or of another.
func TestGuestReadsThroughTheMount(t *testing.T) {
	t.Parallel()
	c := fakeS3(t, "photos", "private")
	put(t, c, "photos", "in/Happy Face (v2).jpg", "pixels")
	put(t, c, "photos", "in/sub/b.txt", "bee")
	put(t, c, "photos", "out/secret", "not granted")
	put(t, c, "private", "in/x", "not granted either")

	rt := testkit.NewRuntime(t, lambda.Options{})
	f := testkit.Deploy(t, rt, lambda.FunctionConfig{
		Name:   "reader",
		Code:   testguest.Go(t, "behave"),
		Mounts: []lambda.Mount{{Path: "/mnt/in", FS: awss3.NewFS(c, "photos", "in/")}},
	})

	out, err := guestOp(f, "read", "/mnt/in/Happy Face (v2).jpg")
	require.NoError(t, err)
	require.Equal(t, "pixels", out["data"])
	out, err = guestOp(f, "read", "/mnt/in/sub/b.txt")
	require.NoError(t, err)
	require.Equal(t, "bee", out["data"])
	out, err = guestOp(f, "list", "/mnt/in")
	require.NoError(t, err)
	require.Equal(t, []any{"Happy Face (v2).jpg", "sub"}, out["entries"])

	for _, p := range []string{"/mnt/in/../out/secret", "/mnt/out/secret", "/mnt/in/secret", "/mnt/private/in/x", "/mnt/in/x"} {
		_, err := guestOp(f, "read", p)
		require.Error(t, err, p)
		require.Contains(t, strings.ToLower(err.Error()), "no such file", p)
	}
	_, err = guestOp(f, "write", "/mnt/in/new.txt")
	require.Error(t, err)
	require.Contains(t, strings.ToLower(err.Error()), "read-only file system")
}
