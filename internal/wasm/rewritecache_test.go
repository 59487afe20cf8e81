package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/testguest"
)

// newProcess stands for a new process on a cache directory: the rewrites
// this one remembers are forgotten and the cache is opened afresh.
func newProcess(t *testing.T, dir string) *Cache {
	t.Helper()
	ForgetRewrites()
	c, err := NewCache(dir, 0)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// compileRuns compiles code with cache and returns how many rewrites that
// took.
func compileRuns(t *testing.T, code []byte, cache *Cache) int64 {
	t.Helper()
	before := rewriteRuns.Load()
	m, err := Compile(context.Background(), Config{Code: code, MemoryLimitPages: testMemoryPages, Cache: cache})
	require.NoError(t, err)
	require.NoError(t, m.Close(context.Background()))
	return rewriteRuns.Load() - before
}

// TestRewriteCacheAcrossProcesses checks that a second runtime on the same
// cache directory takes the rewrite from disk instead of redoing it, and
// that an entry that is not sound is ignored and written again.
func TestRewriteCacheAcrossProcesses(t *testing.T) {
	code := testguest.WAT(t, "counter")
	other := testguest.WAT(t, "loop")
	want, err := instrument(code)
	require.NoError(t, err)
	key := sha256.Sum256(code)

	for _, tc := range []struct {
		name string
		// spoil changes the entry the first process wrote at path.
		spoil func(t *testing.T, dir, path string)
		runs  int64 // rewrites the second process makes
	}{
		{"sound", func(*testing.T, string, string) {}, 0},
		{"a flipped byte in the module", func(t *testing.T, _, path string) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			b[len(b)-3] ^= 0x40
			require.NoError(t, os.WriteFile(path, b, 0o600))
		}, 1},
		{"a flipped byte in the header", func(t *testing.T, _, path string) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			b[10] ^= 1
			require.NoError(t, os.WriteFile(path, b, 0o600))
		}, 1},
		{"written by another version of the rewriter", func(t *testing.T, _, path string) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			binary.LittleEndian.PutUint32(b[len(rewriteMagic)+sha256.Size:], rewriterVersion+1)
			require.NoError(t, os.WriteFile(path, b, 0o600))
		}, 1},
		{"cut short", func(t *testing.T, _, path string) {
			require.NoError(t, os.Truncate(path, 20))
		}, 1},
		{"empty", func(t *testing.T, _, path string) {
			require.NoError(t, os.Truncate(path, 0))
		}, 1},
		{"another module's entry under this name", func(t *testing.T, dir, path string) {
			require.Equal(t, int64(1), compileRuns(t, other, newProcess(t, dir)))
			require.NoError(t, os.Rename(newRewriteStore(dir).path(other), path))
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := newRewriteStore(dir).path(code)
			require.Equal(t, filepath.Join(dir, "rewrite"), filepath.Dir(path))
			require.Equal(t, int64(1), compileRuns(t, code, newProcess(t, dir)), "the first process rewrites")
			require.FileExists(t, path)

			tc.spoil(t, dir, path)
			require.Equal(t, tc.runs, compileRuns(t, code, newProcess(t, dir)), "rewrites in the second process")
			stored, got, ok := newRewriteStore(dir).load(code)
			require.True(t, ok, "the entry is sound after the second process")
			require.Equal(t, key, stored)
			require.Equal(t, want, got)
			require.Equal(t, int64(0), compileRuns(t, code, newProcess(t, dir)), "a third process reads it")
			tmp, err := filepath.Glob(filepath.Join(dir, "rewrite", ".tmp-*"))
			require.NoError(t, err)
			require.Empty(t, tmp, "no temporary file is left behind")
		})
	}
}

// TestRewriteCacheUnwritable checks that a cache directory where no entry
// can be written costs the rewrite but fails no deploy.
func TestRewriteCacheUnwritable(t *testing.T) {
	code := testguest.WAT(t, "counter")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rewrite"), nil, 0o600)) // a file, not a directory
	require.Equal(t, int64(1), compileRuns(t, code, newProcess(t, dir)))
	require.Equal(t, int64(1), compileRuns(t, code, newProcess(t, dir)))
}

// TestRewriteCacheWithoutDir checks that a cache without a directory keeps
// the rewrites in memory only.
func TestRewriteCacheWithoutDir(t *testing.T) {
	code := testguest.WAT(t, "counter")
	require.Equal(t, int64(1), compileRuns(t, code, newProcess(t, "")))
	c := newProcess(t, "")
	require.Nil(t, c.rewrites)
	require.Equal(t, int64(1), compileRuns(t, code, c))
	require.Equal(t, int64(0), compileRuns(t, code, c), "the memo remembers it within the process")
}

// TestCompileCodeFile checks Config.CodeFile: a module in a file whose
// rewrite is cached is hashed but never read whole, one whose rewrite is
// not is read and rewritten, what the file holds at the time is what is
// compiled, and an empty file or one that is not wasm is refused as Code
// would be.
func TestCompileCodeFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "module.wasm")
	compileFile := func(t *testing.T, cache *Cache) (*Module, error) {
		t.Helper()
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		return Compile(context.Background(), Config{CodeFile: f, MemoryLimitPages: testMemoryPages, Cache: cache})
	}
	// runs compiles the file and returns the rewrites and the whole reads
	// of the file that took.
	runs := func(t *testing.T, cache *Cache) (rewrites, reads int64) {
		t.Helper()
		r0, f0 := rewriteRuns.Load(), fileReads.Load()
		m, err := compileFile(t, cache)
		require.NoError(t, err)
		require.NoError(t, m.Close(context.Background()))
		return rewriteRuns.Load() - r0, fileReads.Load() - f0
	}
	cacheDir := t.TempDir()

	require.NoError(t, os.WriteFile(path, testguest.WAT(t, "counter"), 0o600))
	rewrites, reads := runs(t, newProcess(t, cacheDir))
	require.Equal(t, [2]int64{1, 1}, [2]int64{rewrites, reads}, "the first process reads and rewrites the module")
	rewrites, reads = runs(t, newProcess(t, cacheDir))
	require.Equal(t, [2]int64{0, 0}, [2]int64{rewrites, reads}, "a second process finds the rewrite by the file's hash alone")
	c := newProcess(t, "")
	rewrites, reads = runs(t, c)
	require.Equal(t, [2]int64{1, 1}, [2]int64{rewrites, reads}, "without a directory, the first compile reads and rewrites")
	rewrites, reads = runs(t, c)
	require.Equal(t, [2]int64{0, 0}, [2]int64{rewrites, reads}, "and the memo has it after")

	// A module compiled from the file keeps its rewrite, which compiles
	// it again once the file has changed, with neither a read nor a
	// rewrite.
	counter, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := compileFile(t, newProcess(t, cacheDir))
	require.NoError(t, err)
	rw := m.Rewrite()
	require.NotNil(t, rw)
	require.Equal(t, sha256.Sum256(counter), rw.SHA256)
	require.NoError(t, m.Close(context.Background()))
	other := testguest.WAT(t, "loop")
	require.NoError(t, os.WriteFile(path, other, 0o600))
	r0, f0 := rewriteRuns.Load(), fileReads.Load()
	m, err = Compile(context.Background(), Config{Rewrite: rw, MemoryLimitPages: testMemoryPages, Cache: newProcess(t, cacheDir)})
	require.NoError(t, err)
	require.Equal(t, [2]int64{0, 0}, [2]int64{rewriteRuns.Load() - r0, fileReads.Load() - f0})
	require.Same(t, rw, m.Rewrite())
	want, err := instrument(counter)
	require.NoError(t, err)
	require.Equal(t, want, rw.code, "the rewrite is the module's that was in the file")
	require.NoError(t, m.Close(context.Background()))
	m, err = Compile(context.Background(), Config{Code: counter, MemoryLimitPages: testMemoryPages})
	require.NoError(t, err)
	require.Nil(t, m.Rewrite(), "a module compiled from Code keeps no rewrite")
	require.NoError(t, m.Close(context.Background()))

	rewrites, reads = runs(t, newProcess(t, cacheDir))
	require.Equal(t, [2]int64{1, 1}, [2]int64{rewrites, reads}, "a changed file is a new module")
	stored, got, ok := newRewriteStore(cacheDir).load(other)
	require.True(t, ok)
	require.Equal(t, sha256.Sum256(other), stored)
	want, err = instrument(other)
	require.NoError(t, err)
	require.Equal(t, want, got, "the rewrite is the new module's")

	for _, tc := range []struct{ name, content, err string }{
		{"empty", "", "the module is empty"},
		{"not wasm", "hello, I am not wasm", "malformed wasm module: not a wasm binary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o600))
			_, err := compileFile(t, newProcess(t, cacheDir))
			require.ErrorContains(t, err, tc.err)
			_, err = Compile(context.Background(), Config{Code: []byte(tc.content), MemoryLimitPages: testMemoryPages})
			require.ErrorContains(t, err, tc.err, "as for Code")
		})
	}
}

// TestSharedBySHA256: a module compiled from a file, or from a kept
// rewrite, shares the engine's compiled code of the same original, found by
// its SHA-256, whether that code came from memory or from a file; other
// code is compiled apart, and every entry is freed with its last module.
func TestSharedBySHA256(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	counter, loop := testguest.WAT(t, "counter"), testguest.WAT(t, "loop")
	write := func(t *testing.T, name string, code []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, code, 0o600))
		return path
	}
	counterPath, loopPath := write(t, "counter.wasm", counter), write(t, "loop.wasm", loop)
	fromFile := func(t *testing.T, c *Cache, path string) *Module {
		t.Helper()
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		m, err := Compile(ctx, Config{CodeFile: f, MemoryLimitPages: testMemoryPages, Cache: c})
		require.NoError(t, err)
		return m
	}
	compile := func(t *testing.T, cfg Config) *Module {
		t.Helper()
		cfg.MemoryLimitPages = testMemoryPages
		m, err := Compile(ctx, cfg)
		require.NoError(t, err)
		return m
	}
	closeAll := func(t *testing.T, c *Cache, ms ...*Module) {
		t.Helper()
		for _, m := range ms {
			require.NoError(t, m.Close(ctx))
		}
		require.Zero(t, c.Modules())
		c.eng.mu.Lock()
		defer c.eng.mu.Unlock()
		require.Empty(t, c.eng.bySHA)
		require.Empty(t, c.eng.modules)
	}

	t.Run("memory then file", func(t *testing.T) {
		c := newProcess(t, "")
		a := compile(t, Config{Code: counter, Cache: c})
		b := fromFile(t, c, counterPath)
		require.Same(t, a.sh, b.sh, "the file's module shares the code compiled from memory")
		v := compile(t, Config{Rewrite: b.Rewrite(), Cache: c})
		require.Same(t, a.sh, v.sh, "and so does its kept rewrite")
		o := fromFile(t, c, loopPath)
		require.NotSame(t, a.sh, o.sh, "other code is compiled apart")
		require.Equal(t, 2, c.Modules())
		closeAll(t, c, a, b, v, o)
	})
	t.Run("file then memory", func(t *testing.T) {
		c := newProcess(t, "")
		a := fromFile(t, c, counterPath)
		v := compile(t, Config{Rewrite: a.Rewrite(), Cache: c})
		require.Same(t, a.sh, v.sh)
		b := compile(t, Config{Code: counter, Cache: c})
		require.NotSame(t, a.sh, b.sh, "memory is not hashed whole: a second entry, of the same code")
		require.Equal(t, 2, c.Modules())
		o := compile(t, Config{Code: loop, Cache: c})
		require.Equal(t, 3, c.Modules())
		closeAll(t, c, a, v, b, o)
	})
	t.Run("rewrite after its entry is freed", func(t *testing.T) {
		c := newProcess(t, "")
		a := fromFile(t, c, counterPath)
		rw := a.Rewrite()
		require.NoError(t, a.Close(ctx))
		require.Zero(t, c.Modules())
		v := compile(t, Config{Rewrite: rw, Cache: c})
		require.Equal(t, 1, c.Modules())
		closeAll(t, c, v)
	})
}
