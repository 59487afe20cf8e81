package vfs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmlambda/lambda/internal/testguest"
)

// TestGuest mounts trees and host directories in wazero and runs file
// operations from a real WASI guest (testdata/fsguest) through them.
func TestGuest(t *testing.T) {
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

	layer, err := fromZip(t, Limits{}, zentry{name: "lib/a.txt", body: "layer"}, zentry{name: "bin/x", body: "#!", mode: 0o755})
	require.NoError(t, err)
	base := t.TempDir()
	tmp, outside, shared := filepath.Join(base, "tmp"), filepath.Join(base, "outside"), filepath.Join(base, "shared")
	writeTree(t, outside, map[string]string{"secret": "S"})
	writeTree(t, shared, map[string]string{"s.txt": "shared", "out": "->../outside/secret"})
	require.NoError(t, os.Mkdir(tmp, 0o755))
	scratch, err := NewHostDir(tmp, false, 100)
	require.NoError(t, err)
	ro, err := NewHostDir(shared, true, 0)
	require.NoError(t, err)

	run := func(t *testing.T, ops ...string) []string {
		t.Helper()
		fsc := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(layer.SysFS(), "/opt")
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(scratch, "/tmp")
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(ro, "/mnt/shared")
		var out bytes.Buffer
		cfg := wazero.NewModuleConfig().WithFSConfig(fsc).WithArgs(append([]string{"fsguest"}, ops...)...).
			WithStdout(&out).WithStderr(&out).WithName("")
		mod, err := r.InstantiateModule(ctx, compiled, cfg)
		require.NoError(t, err, out.String())
		mod.Close(ctx)
		return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	}

	for _, tc := range []struct {
		op, want string
	}{
		{"read:/opt/lib/a.txt", `"layer" ok`},
		{"stat:/opt/bin/x", `"2 dir=false" ok`},
		{"stat:/opt/lib", `"0 dir=true" ok`},
		{"ls:/opt", `"bin,lib" ok`},
		{"write:/opt/lib/a.txt=x", `"" EROFS`},
		{"write:/opt/new=x", `"" EROFS`},
		{"mkdir:/opt/d", `"" EROFS`},
		{"remove:/opt/lib/a.txt", `"" EROFS`},
		{"rename:/opt/lib/a.txt=/opt/b", `"" EROFS`},
		{"read:/mnt/shared/s.txt", `"shared" ok`},
		{"read:/mnt/shared/out", `"" EACCES`},
		{"write:/mnt/shared/s.txt=x", `"" EROFS`},
		{"remove:/mnt/shared/s.txt", `"" EROFS`},
		{"write:/tmp/a=hello", `"" ok`},
		{"append:/tmp/a= world", `"" ok`},
		{"read:/tmp/a", `"hello world" ok`},
		{"fill:/tmp/big=89", `"" ok`},
		{"fill:/tmp/big=1", `"" EIO`}, // the quota: 11+89 bytes
		{"stat:/tmp/big", `"89 dir=false" ok`},
		{"truncate:/tmp/big=90", `"" EIO`},
		{"truncate:/tmp/big=50", `"" ok`},
		{"fill:/tmp/big=39", `"" ok`},
		{"remove:/tmp/big", `"" ok`},
		{"fill:/tmp/c=89", `"" ok`},
		{"rename:/tmp/c=/tmp/a", `"" ok`},
		{"fill:/tmp/c=11", `"" ok`},
		{"symlink:../outside/secret=/tmp/esc", `"" ok`},
		{"read:/tmp/esc", `"" EACCES`},
		{"write:/tmp/esc=x", `"" EACCES`},
		{"symlink:../outside=/tmp/escdir", `"" ok`},
		{"read:/tmp/escdir/secret", `"" EACCES`},
		{"write:/tmp/escdir/new=x", `"" EACCES`},
		{"ls:/tmp/escdir", `"" EACCES`},
		{"mkdir:/tmp/d", `"" ok`},
		{"symlink:../a=/tmp/d/l", `"" ok`},
		{"read:/tmp/d/l", `"` + strings.Repeat("\\x00", 89) + `" ok`},
		{"ls:/tmp", `"a,c,d,esc,escdir" ok`},
		{"read:/tmp/../outside/secret", `"" EBADF`}, // cleaned by the guest to /outside: no mount
	} {
		got := run(t, tc.op)
		require.Equal(t, []string{tc.op + " => " + tc.want}, got)
	}
	require.Equal(t, int64(100), scratch.Used())

	tr, err := FromDir(outside, Limits{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"secret": "S"}, readTree(t, tr), "nothing changed outside")
}
