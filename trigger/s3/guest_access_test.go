package s3_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/s3"
)

// TestGuestAccess checks object access through a function's grants: the
// guest reads the triggering bucket's prefix through a read-only mount,
// writes an object through a writable mount of an output prefix, and
// reaches nothing else: not the rest of the bucket, not another bucket on
// the same host, not a path that climbs out of its mounts.
func TestGuestAccess(t *testing.T) {
	noLeaksAfter(t)
	ctx := context.Background()
	photos, err := s3.NewBucket("photos", s3.BucketOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = photos.Close() })
	secrets, err := s3.NewBucket("secrets", s3.BucketOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = secrets.Close() })
	for key, body := range map[string]string{"in/cat.jpg": "meow", "private/key": "photos-private"} {
		_, err := photos.Put(ctx, key, strings.NewReader(body))
		require.NoError(t, err)
	}
	_, err = secrets.Put(ctx, "password", strings.NewReader("hunter2"))
	require.NoError(t, err)

	rt := testkit.NewRuntime(t, lambda.Options{})
	fn := testkit.Deploy(t, rt, lambda.FunctionConfig{
		Name: "ops", Code: testguest.Go(t, "fileops"),
		Mounts: []lambda.Mount{
			{Path: "/mnt/in", FS: photos.FS("in/")},
			{Path: "/mnt/out", FS: photos.WriteFS("out/"), ReadWrite: true},
		},
	})
	ops := []string{
		"read:/mnt/in/cat.jpg",
		"write:/mnt/out/cat.txt=a cat",
		"write:/mnt/in/new.jpg=x",
		"read:/mnt/in/../private/key",
		"read:/mnt/in/private/key",
		"ls:/mnt",
		"read:/password",
		"read:/mnt/secrets/password",
	}
	payload, err := json.Marshal(map[string][]string{"ops": ops})
	require.NoError(t, err)
	out, err := fn.Invoke(ctx, payload)
	require.NoError(t, err)
	var res struct{ Results []string }
	require.NoError(t, json.Unmarshal(out, &res))
	require.Len(t, res.Results, len(ops))
	t.Log(strings.Join(res.Results, "\n"))

	require.Contains(t, res.Results[0], `"meow" ok`, "the granted prefix is readable")
	require.Contains(t, res.Results[1], "ok", "the output prefix is writable")
	require.Contains(t, res.Results[2], "EROFS", "the input mount is read-only")
	for _, r := range res.Results[3:5] {
		require.NotContains(t, r, "photos-private", "the rest of the bucket is out of reach")
		require.NotContains(t, r, " ok", r)
	}
	require.NotContains(t, res.Results[5], "private")
	for _, r := range res.Results[6:] {
		require.NotContains(t, r, "hunter2", "another bucket is out of reach")
		require.NotContains(t, r, " ok", r)
	}

	// The file the guest closed is an object of the bucket.
	r, err := photos.Get(ctx, "out/cat.txt")
	require.NoError(t, err)
	defer r.Close()
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, "a cat", string(data))
}
