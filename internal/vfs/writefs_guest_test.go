package vfs

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmlambda/lambda/internal/testguest"
)

// TestWriteFSGuest runs file operations of a real WASI guest
// (testdata/fsguest) on a WriteFS mount, through wazero's WASI layer.
func TestWriteFSGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a guest")
	}
	wasm := testguest.GoDir(t, filepath.Join(testguest.Root(), "internal", "vfs", "testdata", "fsguest"), true)
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(testguest.CacheDir())
	require.NoError(t, err)
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	t.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	compiled, err := r.CompileModule(ctx, wasm)
	require.NoError(t, err)

	m := newMemFS(map[string]string{"in/a.txt": "object", "old.txt": "old"})
	in := newMemFS(map[string]string{"src.txt": "source"})
	run := func(t *testing.T, ops ...string) []string {
		t.Helper()
		w := NewWriteFS(m)
		fsc := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(ReadOnly(in), "/mnt/in")
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(w, "/mnt/out")
		var out bytes.Buffer
		cfg := wazero.NewModuleConfig().WithFSConfig(fsc).WithArgs(append([]string{"fsguest"}, ops...)...).
			WithStdout(&out).WithStderr(&out).WithName("")
		// As the root does: what the guest leaves open is discarded
		// before wazero closes it.
		mod, err := r.InstantiateModule(AbortOnClose(ctx, w), compiled, cfg)
		require.NoError(t, err, out.String())
		mod.Close(ctx)
		require.Zero(t, w.Writing())
		return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	}

	for _, tc := range []struct {
		op, want string
	}{
		{"read:/mnt/in/src.txt", `"source" ok`},
		{"write:/mnt/in/src.txt=x", `"" EROFS`},
		{"read:/mnt/out/in/a.txt", `"object" ok`},
		{"ls:/mnt/out", `"in,old.txt" ok`},
		{"write:/mnt/out/new.txt=hello", `"" ok`},
		{"read:/mnt/out/new.txt", `"hello" ok`},
		{"stat:/mnt/out/new.txt", `"5 dir=false" ok`},
		{"write:/mnt/out/old.txt=replaced", `"" ok`},
		{"read:/mnt/out/old.txt", `"replaced" ok`},
		{"append:/mnt/out/old.txt=more", `"" EPERM`},
		{"append:/mnt/out/log.txt=first", `"" ok`},
		{"read:/mnt/out/log.txt", `"first" ok`},
		{"truncate:/mnt/out/log.txt=2", `"" EPERM`},
		{"mkdir:/mnt/out/dir", `"" ok`},
		{"stat:/mnt/out/dir", `"" ENOENT`},
		{"write:/mnt/out/dir/f.txt=in a directory", `"" ok`},
		{"stat:/mnt/out/dir", `"0 dir=true" ok`},
		{"mkdir:/mnt/out/dir", `"" EEXIST`},
		{"write:/mnt/out/new.txt/x=x", `"" ENOTDIR`},
		{"rename:/mnt/out/new.txt=/mnt/out/moved.txt", `"" ENOSYS`},
		{"rename:/mnt/in/src.txt=/mnt/out/src.txt", `"" ENOSYS`},
		{"symlink:new.txt=/mnt/out/link", `"" EPERM`},
		{"remove:/mnt/out/dir", `"" Directory not empty`},
		{"remove:/mnt/out/dir/f.txt", `"" ok`},
		{"remove:/mnt/out/dir/f.txt", `"" ENOENT`},
		{"stat:/mnt/out/dir", `"" ENOENT`},
		{"read:/mnt/out/../in/src.txt", `"source" ok`}, // cleaned by the guest
		{"read:/mnt/out/../../etc/passwd", `"" EBADF`}, // /etc/passwd: no mount
		{"write:/mnt/out/../x=x", `"" EBADF`},          // /mnt/x: no mount
	} {
		got := run(t, tc.op)
		require.Equal(t, []string{tc.op + " => " + tc.want}, got)
	}
	require.Equal(t, map[string]string{
		"in/a.txt": "object",
		"old.txt":  "replaced",
		"new.txt":  "hello",
		"log.txt":  "first",
	}, m.contents())
	require.Equal(t, map[string]string{"src.txt": "source"}, in.contents())
}
