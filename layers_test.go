package lambda_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// zipEntry is a file, a directory (name ending in "/") or, with link set,
// a symlink to link.
type zipEntry struct {
	name, body, link string
}

func makeZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if len(e.body) > 64<<10 {
			// A module is stored: deflating megabytes under -race takes
			// seconds, and the small entries exercise Deflate already.
			h.Method = zip.Store
		}
		body := e.body
		switch {
		case e.link != "":
			h.SetMode(fs.ModeSymlink | 0o777)
			body = e.link
		case strings.HasSuffix(e.name, "/"):
			h.SetMode(fs.ModeDir | 0o755)
		default:
			h.SetMode(0o644)
		}
		fw, err := w.CreateHeader(h)
		require.NoError(t, err)
		_, err = fw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// fsOp invokes the behave guest's file op and returns its JSON or error.
func fsOp(f *lambda.Function, op, path string, extra map[string]any) (map[string]any, error) {
	ev := map[string]any{"op": op, "path": path}
	for k, v := range extra {
		ev[k] = v
	}
	return lambda.InvokeJSON[map[string]any](context.Background(), f, ev)
}

// requireErrorFold requires an error whose text contains want, in any
// case: Go's wasip1 port capitalises the OS's messages.
func requireErrorFold(t *testing.T, err error, want string, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.Contains(t, strings.ToLower(err.Error()), want, msgAndArgs...)
}

func readGuest(t *testing.T, f *lambda.Function, path string) string {
	t.Helper()
	out, err := fsOp(f, "read", path, nil)
	require.NoError(t, err, path)
	return out["data"].(string)
}

func listGuest(t *testing.T, f *lambda.Function, path string) []string {
	t.Helper()
	out, err := fsOp(f, "list", path, nil)
	require.NoError(t, err, path)
	var names []string
	for _, n := range out["entries"].([]any) {
		names = append(names, n.(string))
	}
	return names
}

func TestLayersMergeInOrder(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})
	ctx := context.Background()

	base, err := rt.PublishLayerVersion(ctx, "base", lambda.LayerContent{FS: fstest.MapFS{
		"config.json":   {Data: []byte(`{"from":"base"}`)},
		"lib/a.txt":     {Data: []byte("a from base")},
		"lib/both.txt":  {Data: []byte("both from base")},
		"only-base.txt": {Data: []byte("base")},
		"dir-or-file/x": {Data: []byte("a directory in base")},
	}})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "lib"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lib", "b.txt"), []byte("b from mid"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lib", "both.txt"), []byte("both from mid"), 0o644))
	mid, err := rt.PublishLayerVersion(ctx, "mid", lambda.LayerContent{Dir: dir})
	require.NoError(t, err)
	top, err := rt.PublishLayerVersion(ctx, "top", lambda.LayerContent{Zip: makeZip(t,
		zipEntry{name: "config.json", body: `{"from":"top"}`},
		zipEntry{name: "dir-or-file", body: "a file in top"},
	)})
	require.NoError(t, err)

	f := deploy(t, rt, lambda.FunctionConfig{Name: "layered", Code: guest, Layers: []*lambda.LayerVersion{base, mid, top}})
	require.Equal(t, `{"from":"top"}`, readGuest(t, f, "/opt/config.json"), "the last layer wins")
	require.Equal(t, "both from mid", readGuest(t, f, "/opt/lib/both.txt"))
	require.Equal(t, []string{"a.txt", "b.txt", "both.txt"}, listGuest(t, f, "/opt/lib"), "folders merge")
	require.Equal(t, "base", readGuest(t, f, "/opt/only-base.txt"))
	require.Equal(t, "a file in top", readGuest(t, f, "/opt/dir-or-file"), "a file replaces a directory")
	require.Equal(t, []string{"config.json", "dir-or-file", "lib", "only-base.txt"}, listGuest(t, f, "/opt"))

	// The other order: base wins.
	g := deploy(t, rt, lambda.FunctionConfig{Name: "reversed", Code: guest, Layers: []*lambda.LayerVersion{top, mid, base}})
	require.Equal(t, `{"from":"base"}`, readGuest(t, g, "/opt/config.json"))
	require.Equal(t, "both from base", readGuest(t, g, "/opt/lib/both.txt"))
	require.Equal(t, "a directory in base", readGuest(t, g, "/opt/dir-or-file/x"))
}

func TestLayerVersions(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{Region: "eu-west-1", AccountID: "123456789012"})
	ctx := context.Background()
	publish := func(text string) *lambda.LayerVersion {
		l, err := rt.PublishLayerVersion(ctx, "shared", lambda.LayerContent{FS: fstest.MapFS{"v.txt": {Data: []byte(text)}}})
		require.NoError(t, err)
		return l
	}
	v1, v2, v3 := publish("one"), publish("two"), publish("three")
	require.Equal(t, []int{1, 2, 3}, []int{v1.Version(), v2.Version(), v3.Version()})
	require.Equal(t, "arn:aws:lambda:eu-west-1:123456789012:layer:shared:2", v2.ARN())
	require.Equal(t, "shared", v2.Name())
	require.Equal(t, int64(3), v2.Size())
	b, err := fs.ReadFile(v2.FS(), "v.txt")
	require.NoError(t, err)
	require.Equal(t, "two", string(b))

	f := deploy(t, rt, lambda.FunctionConfig{Name: "uses-v2", Code: guest, Layers: []*lambda.LayerVersion{v2}})
	require.NoError(t, rt.DeleteLayerVersion("shared", 2))
	require.True(t, v2.Deleted())
	require.Equal(t, "two", readGuest(t, f, "/opt/v.txt"), "a deleted version stays usable by its functions")

	var listed []int
	for _, l := range rt.LayerVersions("shared") {
		listed = append(listed, l.Version())
	}
	require.Equal(t, []int{3, 1}, listed)
	_, ok := rt.LayerVersion("shared", 2)
	require.False(t, ok)
	require.Equal(t, 4, publish("four").Version(), "numbers are never reused")
	latest, ok := rt.LayerVersion("shared", 0)
	require.True(t, ok)
	require.Equal(t, 4, latest.Version())
	require.NoError(t, rt.DeleteLayerVersion("shared", 99), "deleting a missing version is not an error")

	_, err = rt.Deploy(ctx, lambda.FunctionConfig{Name: "late", Code: guest, Layers: []*lambda.LayerVersion{v2}})
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	require.ErrorContains(t, err, "layer:shared:2 was deleted")
	_, err = rt.Deploy(ctx, lambda.FunctionConfig{Name: "twice", Code: guest, Layers: []*lambda.LayerVersion{v1, v3}})
	require.ErrorContains(t, err, "two versions of layer shared")
	_, err = rt.PublishLayerVersion(ctx, "bad name!", lambda.LayerContent{FS: fstest.MapFS{}})
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	_, err = rt.PublishLayerVersion(ctx, "none", lambda.LayerContent{})
	require.ErrorContains(t, err, "exactly one of Dir, ZipFile, Zip and FS")
}

func TestFunctionPackage(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})
	pkg := makeZip(t,
		zipEntry{name: "bootstrap", body: string(guest)},
		zipEntry{name: "templates/"},
		zipEntry{name: "templates/hello.txt", body: "Hello, {{name}}!"},
	)
	path := filepath.Join(t.TempDir(), "function.zip")
	require.NoError(t, os.WriteFile(path, pkg, 0o644))
	f := deploy(t, rt, lambda.FunctionConfig{Name: "packaged", CodePath: path})
	require.Equal(t, "Hello, {{name}}!", readGuest(t, f, "/var/task/templates/hello.txt"))
	require.Contains(t, listGuest(t, f, "/var/task"), "bootstrap")

	// The module may be Handler.wasm, or the only .wasm at the root.
	for name, zipped := range map[string][]byte{
		"handler-wasm": makeZip(t, zipEntry{name: "main.wasm", body: string(guest)}, zipEntry{name: "other.txt", body: "x"}),
		"only-wasm":    makeZip(t, zipEntry{name: "app.wasm", body: string(guest)}),
	} {
		cfg := lambda.FunctionConfig{Name: name, Code: zipped}
		if name == "handler-wasm" {
			cfg.Handler = "main"
		}
		g := deploy(t, rt, cfg)
		out, err := lambda.InvokeJSON[int](context.Background(), g, map[string]any{"op": "echo", "data": 7})
		require.NoError(t, err)
		require.Equal(t, 7, out)
	}

	for name, tc := range map[string]struct {
		zip  []byte
		want string
	}{
		"no module":  {makeZip(t, zipEntry{name: "README", body: "x"}), "no module: want a wasm file named bootstrap or bootstrap.wasm"},
		"two":        {makeZip(t, zipEntry{name: "a.wasm", body: string(guest)}, zipEntry{name: "b.wasm", body: string(guest)}), "2 .wasm files at the root (a.wasm, b.wasm)"},
		"zip slip":   {makeZip(t, zipEntry{name: "bootstrap", body: string(guest)}, zipEntry{name: "../escape.txt", body: "x"}), "../escape.txt"},
		"corrupt":    {[]byte("PK\x03\x04 not really a zip"), "zip"},
		"not wasm":   {makeZip(t, zipEntry{name: "bootstrap", body: "#!/bin/sh"}), "no module"},
		"link out":   {makeZip(t, zipEntry{name: "bootstrap", body: string(guest)}, zipEntry{name: "passwd", link: "/etc/passwd"}), "passwd"},
		"absolute":   {makeZip(t, zipEntry{name: "bootstrap", body: string(guest)}, zipEntry{name: "/etc/cron.d/x", body: "x"}), "/etc/cron.d/x"},
		"link above": {makeZip(t, zipEntry{name: "bootstrap", body: string(guest)}, zipEntry{name: "a/up", link: "../../x"}), "a/up"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "bad", Code: tc.zip})
			require.Error(t, err)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestSandboxFilesAreReadOnlyExceptTmp(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})
	ctx := context.Background()
	layer, err := rt.PublishLayerVersion(ctx, "conf", lambda.LayerContent{FS: fstest.MapFS{"conf.txt": {Data: []byte("x")}}})
	require.NoError(t, err)
	ro, rw := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(ro, "data.txt"), []byte("host data"), 0o644))
	f := deploy(t, rt, lambda.FunctionConfig{
		Name:   "ro",
		Code:   makeZip(t, zipEntry{name: "bootstrap", body: string(guest)}, zipEntry{name: "tpl.txt", body: "t"}),
		Layers: []*lambda.LayerVersion{layer},
		Mounts: []lambda.Mount{
			{Path: "/mnt/ro", HostDir: ro},
			{Path: "/mnt/rw", HostDir: rw, ReadWrite: true},
			{Path: "/mnt/embedded", FS: fstest.MapFS{"e.txt": {Data: []byte("embedded")}}},
		},
	})
	for _, p := range []string{"/opt/conf.txt", "/opt/new.txt", "/var/task/tpl.txt", "/var/task/new.txt", "/mnt/ro/data.txt", "/mnt/embedded/e.txt"} {
		_, err := fsOp(f, "write", p, map[string]any{"text": "overwritten"})
		requireErrorFold(t, err, "read-only file system", p)
	}
	_, err = fsOp(f, "remove", "/opt/conf.txt", nil)
	requireErrorFold(t, err, "read-only file system")
	require.Equal(t, "x", readGuest(t, f, "/opt/conf.txt"))
	require.Equal(t, "host data", readGuest(t, f, "/mnt/ro/data.txt"))
	require.Equal(t, "embedded", readGuest(t, f, "/mnt/embedded/e.txt"))

	_, err = fsOp(f, "write", "/mnt/rw/out.txt", map[string]any{"text": "from the guest"})
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(rw, "out.txt"))
	require.NoError(t, err)
	require.Equal(t, "from the guest", string(b))

	// Nothing else of the host is visible.
	for _, p := range []string{"/etc/passwd", "/tmp/../etc/passwd", "/", "/var", "/mnt"} {
		_, err := fsOp(f, "read", p, nil)
		require.Error(t, err, p)
	}
}

func TestSandboxEscapesAreRefused(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})
	ctx := context.Background()
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o644))

	// A layer directory with a symlink that leads out.
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "secret")))
	_, err := rt.PublishLayerVersion(ctx, "leaky", lambda.LayerContent{Dir: dir})
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	require.ErrorContains(t, err, "secret")

	// A symlink within the layer is fine: it is followed at publish.
	inside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(inside, "real.txt"), []byte("real"), 0o644))
	require.NoError(t, os.Symlink("real.txt", filepath.Join(inside, "alias.txt")))
	ok, err := rt.PublishLayerVersion(ctx, "aliased", lambda.LayerContent{Dir: inside})
	require.NoError(t, err)

	for name, z := range map[string][]byte{
		"../evil.txt":   makeZip(t, zipEntry{name: "../evil.txt", body: "x"}),
		"a/../../b.txt": makeZip(t, zipEntry{name: "a/../../b.txt", body: "x"}),
		"/abs.txt":      makeZip(t, zipEntry{name: "/abs.txt", body: "x"}),
		`dir\evil.txt`:  makeZip(t, zipEntry{name: `..\evil.txt`, body: "x"}),
		"link":          makeZip(t, zipEntry{name: "link", link: "/etc/passwd"}),
	} {
		_, err := rt.PublishLayerVersion(ctx, "slip", lambda.LayerContent{Zip: z})
		require.ErrorIs(t, err, lambda.ErrInvalidConfig, name)
		require.ErrorContains(t, err, "layer slip", name)
	}

	// A mounted host directory with a symlink that leads out.
	mnt := t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(mnt, "out")))
	_, err = rt.Deploy(ctx, lambda.FunctionConfig{Name: "leak", Code: guest, Mounts: []lambda.Mount{{Path: "/data", HostDir: mnt}}})
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	require.ErrorContains(t, err, "out")

	// A guest that makes its own way out, through a symlink in /tmp or in a
	// writable mount, is stopped when it follows the link.
	rw := t.TempDir()
	f := deploy(t, rt, lambda.FunctionConfig{Name: "climber", Code: guest, MaxConcurrency: 1,
		Layers: []*lambda.LayerVersion{ok}, Mounts: []lambda.Mount{{Path: "/data", HostDir: rw, ReadWrite: true}}})
	require.Equal(t, "real", readGuest(t, f, "/opt/alias.txt"))
	_, err = fsOp(f, "symlink", "/tmp/abs", map[string]any{"target": filepath.Join(outside, "secret.txt")})
	requireErrorFold(t, err, "operation not permitted", "an absolute target is refused")
	up := strings.Repeat("../", 20) + strings.TrimPrefix(outside, "/") + "/secret.txt"
	for _, link := range []string{"/tmp/link", "/data/link"} {
		_, err := fsOp(f, "symlink", link, map[string]any{"target": up})
		require.NoError(t, err, "making a relative link is allowed")
		_, err = fsOp(f, "read", link, nil)
		require.Error(t, err, link)
		require.NotContains(t, err.Error(), "secret\"")
	}
	_, err = fsOp(f, "symlink", "/tmp/up", map[string]any{"target": "../../../../.."})
	require.NoError(t, err)
	_, err = fsOp(f, "read", "/tmp/up"+outside+"/secret.txt", nil)
	require.Error(t, err)
}

func TestTmpPersistsPerSandboxAndIsFreed(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	scratch := t.TempDir()
	rt := newRuntime(t, lambda.Options{ScratchDir: scratch})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "scratch", Code: guest, MaxConcurrency: 2})

	// One sandbox: /tmp survives its warm invocations.
	_, err := fsOp(f, "write", "/tmp/state.txt", map[string]any{"text": "kept"})
	require.NoError(t, err)
	require.Equal(t, "kept", readGuest(t, f, "/tmp/state.txt"))

	// A second sandbox, opened while the first is busy, has its own /tmp.
	busy := make(chan error)
	go func() {
		_, err := fsOp(f, "sleep", "", map[string]any{"ms": 400})
		busy <- err
	}()
	require.Eventually(t, func() bool { return f.Stats().InUse == 1 }, 10*time.Second, time.Millisecond)
	_, err = fsOp(f, "read", "/tmp/state.txt", nil)
	requireErrorFold(t, err, "no such file or directory")
	require.Empty(t, listGuest(t, f, "/tmp"))
	require.NoError(t, <-busy)
	require.Equal(t, 2, f.Stats().Open)
	dirs, err := os.ReadDir(scratch)
	require.NoError(t, err)
	require.Len(t, dirs, 2, "one host directory per sandbox")

	// A sandbox that crashes is discarded with its /tmp.
	_, err = fsOp(f, "panic", "", map[string]any{"message": "boom"})
	require.Error(t, err)
	dirs, err = os.ReadDir(scratch)
	require.NoError(t, err)
	require.Len(t, dirs, 1)
	require.NoError(t, f.Close(context.Background()))
	dirs, err = os.ReadDir(scratch)
	require.NoError(t, err)
	require.Empty(t, dirs, "closing frees every /tmp")
}

func TestSizeCaps(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave")
	ctx := context.Background()

	t.Run("tmp", func(t *testing.T) {
		rt := newRuntime(t, lambda.Options{})
		f := deploy(t, rt, lambda.FunctionConfig{Name: "small-tmp", Code: guest, EphemeralStorageMB: 1, MaxConcurrency: 1})
		_, err := fsOp(f, "write", "/tmp/a", map[string]any{"bytes": 700 << 10})
		require.NoError(t, err)
		_, err = fsOp(f, "write", "/tmp/b", map[string]any{"bytes": 400 << 10})
		requireErrorFold(t, err, "i/o error", "wazero has no ENOSPC")
		_, err = fsOp(f, "remove", "/tmp/a", nil)
		require.NoError(t, err)
		_, err = fsOp(f, "write", "/tmp/b", map[string]any{"bytes": 400 << 10})
		require.NoError(t, err, "removing a file frees its space")
		_, err = rt.Deploy(ctx, lambda.FunctionConfig{Name: "huge", Code: guest, EphemeralStorageMB: 10241})
		require.ErrorContains(t, err, "EphemeralStorageMB 10241")
	})

	t.Run("unzipped", func(t *testing.T) {
		rt := newRuntime(t, lambda.Options{MaxUnzippedSize: int64(len(guest)) + 1000})
		big := strings.Repeat("x", 2000)
		_, err := rt.PublishLayerVersion(ctx, "big", lambda.LayerContent{Zip: makeZip(t, zipEntry{name: "big.txt", body: strings.Repeat("x", len(guest)+2000)})})
		require.ErrorIs(t, err, lambda.ErrInvalidConfig)
		require.ErrorContains(t, err, "layer big")
		small, err := rt.PublishLayerVersion(ctx, "small", lambda.LayerContent{FS: fstest.MapFS{"s.txt": {Data: []byte(big[:600])}}})
		require.NoError(t, err)
		other, err := rt.PublishLayerVersion(ctx, "other", lambda.LayerContent{FS: fstest.MapFS{"o.txt": {Data: []byte(big[:600])}}})
		require.NoError(t, err)
		deploy(t, rt, lambda.FunctionConfig{Name: "fits", Code: guest, Layers: []*lambda.LayerVersion{small}})
		_, err = rt.Deploy(ctx, lambda.FunctionConfig{Name: "over", Code: guest, Layers: []*lambda.LayerVersion{small, other}})
		require.ErrorIs(t, err, lambda.ErrInvalidConfig)
		require.ErrorContains(t, err, fmt.Sprintf("%d bytes unzipped, over the limit of %d", len(guest)+1200, len(guest)+1000))
		path := filepath.Join(t.TempDir(), "behave.wasm")
		require.NoError(t, os.WriteFile(path, guest, 0o600))
		_, err = rt.Deploy(ctx, lambda.FunctionConfig{Name: "over-file", CodePath: path, Layers: []*lambda.LayerVersion{small, other}})
		require.ErrorContains(t, err, fmt.Sprintf("%d bytes unzipped, over the limit of %d", len(guest)+1200, len(guest)+1000), "a module at CodePath counts as much")
	})

	t.Run("layers", func(t *testing.T) {
		rt := newRuntime(t, lambda.Options{})
		var ls []*lambda.LayerVersion
		for i := 0; i < 6; i++ {
			l, err := rt.PublishLayerVersion(ctx, fmt.Sprint("l", i), lambda.LayerContent{FS: fstest.MapFS{}})
			require.NoError(t, err)
			ls = append(ls, l)
		}
		deploy(t, rt, lambda.FunctionConfig{Name: "five", Code: guest, Layers: ls[:5]})
		_, err := rt.Deploy(ctx, lambda.FunctionConfig{Name: "six", Code: guest, Layers: ls})
		require.ErrorContains(t, err, "6 layers, over the limit of 5")
		rt7 := newRuntime(t, lambda.Options{MaxLayers: 7})
		for i, l := range ls {
			ls[i], err = rt7.PublishLayerVersion(ctx, l.Name(), lambda.LayerContent{FS: l.FS()})
			require.NoError(t, err)
		}
		deploy(t, rt7, lambda.FunctionConfig{Name: "six", Code: guest, Layers: ls})
	})
}

func TestMountsAreChecked(t *testing.T) {
	guest := testguest.Go(t, "behave")
	rt := newRuntime(t, lambda.Options{})
	dir := t.TempDir()
	for _, tc := range []struct {
		m    lambda.Mount
		want string
	}{
		{lambda.Mount{Path: "relative", HostDir: dir}, "want an absolute, clean path"},
		{lambda.Mount{Path: "/", HostDir: dir}, "want an absolute, clean path"},
		{lambda.Mount{Path: "/opt/x", HostDir: dir}, "overlaps /opt"},
		{lambda.Mount{Path: "/var", HostDir: dir}, "overlaps /var/task"},
		{lambda.Mount{Path: "/tmp", HostDir: dir}, "overlaps /tmp"},
		{lambda.Mount{Path: "/data"}, "exactly one of HostDir and FS"},
		{lambda.Mount{Path: "/data", FS: fstest.MapFS{}, ReadWrite: true}, "read-only"},
		{lambda.Mount{Path: "/data", HostDir: filepath.Join(dir, "missing")}, "is not a directory"},
	} {
		_, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "m", Code: guest, Mounts: []lambda.Mount{tc.m}})
		require.ErrorIs(t, err, lambda.ErrInvalidConfig, tc.want)
		require.ErrorContains(t, err, tc.want)
	}
}
