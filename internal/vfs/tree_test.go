package vfs

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFromDir(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"a.txt":         "A",
		"sub/b.txt":     "BB",
		"sub/deep/c":    "CCC",
		"empty/":        "",
		"bin/tool":      "#!/bin/sh",
		"links/file":    "->../a.txt",
		"links/dir":     "->../sub",
		"links/chain":   "->file",
		"links/abs":     "->" + filepath.Join(dir, "sub", "b.txt"),
		"links/self/":   "",
		"links/up/x":    "->../../sub/deep/c",
		"links/dotslas": "->./../a.txt",
	})
	require.NoError(t, os.Chmod(filepath.Join(dir, "bin/tool"), 0o755))
	mtime := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	require.NoError(t, os.Chtimes(filepath.Join(dir, "a.txt"), mtime, mtime))
	require.NoError(t, os.Chtimes(filepath.Join(dir, "sub"), mtime, mtime))

	tr, err := FromDir(dir, Limits{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"a.txt":            "A",
		"sub/b.txt":        "BB",
		"sub/deep/c":       "CCC",
		"bin/tool":         "#!/bin/sh",
		"links/file":       "A",
		"links/dir/b.txt":  "BB",
		"links/dir/deep/c": "CCC",
		"links/chain":      "A",
		"links/abs":        "BB",
		"links/up/x":       "CCC",
		"links/dotslas":    "A",
	}, readTree(t, tr))
	require.Equal(t, int64(1+2+3+9+1+2+3+1+2+3+1), tr.Size())

	fi, err := tr.Stat("a.txt")
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o444), fi.Mode())
	require.True(t, fi.ModTime().Equal(mtime))
	fi, err = tr.Stat("bin/tool")
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o555), fi.Mode())
	fi, err = tr.Stat("sub")
	require.NoError(t, err)
	require.Equal(t, fs.ModeDir|0o555, fi.Mode())
	require.True(t, fi.ModTime().Equal(mtime))
	fi, err = tr.Stat("empty")
	require.NoError(t, err)
	require.True(t, fi.IsDir())

	require.NoError(t, fstest.TestFS(tr.FS(), "a.txt", "sub/b.txt", "sub/deep/c", "bin/tool", "links/dir/deep/c", "empty"))
}

func TestFromDirThroughSymlinkedRoot(t *testing.T) {
	real := t.TempDir()
	writeTree(t, real, map[string]string{"x": "X", "l": "->x"})
	link := filepath.Join(t.TempDir(), "root")
	require.NoError(t, os.Symlink(real, link))
	// An absolute target naming the directory by its unresolved path.
	require.NoError(t, os.Symlink(filepath.Join(link, "x"), filepath.Join(real, "abs")))
	tr, err := FromDir(link, Limits{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"x": "X", "l": "X", "abs": "X"}, readTree(t, tr))
}

func TestFromDirUnsafeSymlinks(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret": "S", "d/f": "F"})
	for _, tc := range []struct {
		name   string
		files  map[string]string
		link   string // the link named in the error
		target string
		why    string
	}{
		{"absolute outside", map[string]string{"l": "->/etc/passwd"}, "l", "/etc/passwd", "outside"},
		{"absolute outside dir", map[string]string{"a/l": "->" + outside}, "a/l", outside, "outside"},
		{"relative up", map[string]string{"a/l": "->../../x"}, "a/l", "../../x", "outside"},
		{"relative to a sibling", map[string]string{"l": "->../" + filepath.Base(outside) + "/secret"}, "l", "../" + filepath.Base(outside) + "/secret", "outside"},
		{"root parent", map[string]string{"l": "->.."}, "l", "..", "outside"},
		{"dangling", map[string]string{"l": "->nope"}, "l", "nope", "dangles"},
		{"dangling in a dir", map[string]string{"d/x": "x", "l": "->d/nope/x"}, "l", "d/nope/x", "dangles"},
		{"through a file", map[string]string{"f": "x", "l": "->f/x"}, "l", "f/x", "not a directory"},
		{"file with a slash", map[string]string{"f": "x", "l": "->f/"}, "l", "f/", "not a directory"},
		{"loop of two", map[string]string{"a": "->b", "b": "->a"}, "a", "b", "loops"},
		{"self loop", map[string]string{"l": "->l"}, "l", "l", "loops"},
		{"to its directory", map[string]string{"d/l": "->."}, "d/l", ".", "loops"},
		{"to an ancestor", map[string]string{"d/e/l": "->../.."}, "d/e/l", "../..", "loops"},
		{"to the root", map[string]string{"d/l": "->" + "/"}, "d/l", "/", "outside"},
		{"chain leaving", map[string]string{"a": "->b", "b": "->/etc"}, "a", "b", "outside"},
		{"inside a linked dir", map[string]string{"d/l": "->../../x", "m": "->d"}, "d/l", "../../x", "outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tc.files)
			_, err := FromDir(dir, Limits{})
			require.ErrorIs(t, err, ErrUnsafePath)
			require.ErrorContains(t, err, "symlink "+strconv.Quote(tc.link)+" -> "+strconv.Quote(tc.target))
			require.ErrorContains(t, err, tc.why)
		})
	}
}

func TestFromDirAbsoluteInside(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"d/f": "F", "l": "->" + filepath.Join(dir, "d"), "r": "->" + dir + "/d/../d/f"})
	tr, err := FromDir(dir, Limits{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"d/f": "F", "l/f": "F", "r": "F"}, readTree(t, tr))
}

func TestFromDirLimits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		max   int64
		err   bool
	}{
		{"under", map[string]string{"a": "12345", "b/c": "12345"}, 11, false},
		{"exactly", map[string]string{"a": "12345", "b/c": "12345"}, 10, false},
		{"over", map[string]string{"a": "12345", "b/c": "12345"}, 9, true},
		{"one big file", map[string]string{"a": strings.Repeat("x", 1000)}, 999, true},
		{"materialized links count", map[string]string{"a": "123456", "l": "->a"}, 10, true},
		{"linked dir counts", map[string]string{"d/a": "123456", "l": "->d"}, 10, true},
		{"no limit", map[string]string{"a": strings.Repeat("x", 1000)}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tc.files)
			tr, err := FromDir(dir, Limits{MaxBytes: tc.max})
			if tc.err {
				require.ErrorIs(t, err, ErrTooLarge)
				return
			}
			require.NoError(t, err)
			if tc.max > 0 {
				require.LessOrEqual(t, tr.Size(), tc.max)
			}
		})
	}
}

func TestFromDirNotADirectory(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	_, err := FromDir(f, Limits{})
	require.ErrorContains(t, err, "not a directory")
	_, err = FromDir(filepath.Join(dir, "missing"), Limits{})
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestFromZip(t *testing.T) {
	tr, err := fromZip(t, Limits{},
		zentry{name: "a.txt", body: "A"},
		zentry{name: "dir/"},
		zentry{name: "dir/b.txt", body: "BB"},
		zentry{name: "implied/deep/c", body: "CCC"},
		zentry{name: "bin/run", body: "#!", mode: 0o755},
		zentry{name: "empty/"},
		zentry{name: "empty/"}, // a directory listed twice is harmless
		zentry{name: "zero"},
	)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a.txt": "A", "dir/b.txt": "BB", "implied/deep/c": "CCC", "bin/run": "#!", "zero": ""}, readTree(t, tr))
	require.Equal(t, []string{"a.txt", "bin/run", "dir/b.txt", "implied/deep/c", "zero"}, tr.Files())
	require.Equal(t, int64(8), tr.Size())

	fi, err := tr.Stat("a.txt")
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o444), fi.Mode())
	require.True(t, fi.ModTime().Equal(zipTime), fi.ModTime())
	fi, err = tr.Stat("bin/run")
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o555), fi.Mode())
	fi, err = tr.Stat("dir")
	require.NoError(t, err)
	require.Equal(t, fs.ModeDir|0o555, fi.Mode())
	require.True(t, fi.ModTime().Equal(zipTime))
	fi, err = tr.Stat("implied")
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.True(t, fi.ModTime().Equal(time.Unix(0, 0)), "a missing time is the epoch")
	fi, err = tr.Stat("empty")
	require.NoError(t, err)
	require.True(t, fi.IsDir())

	require.NoError(t, fstest.TestFS(tr.FS(), "a.txt", "dir/b.txt", "implied/deep/c", "bin/run", "empty", "zero"))
}

func TestFromZipUnsafeNames(t *testing.T) {
	for _, name := range []string{
		"../x",
		"a/../../x",
		"a/../b",
		"a/..",
		"..",
		"/etc/x",
		"/",
		`C:\x`,
		"C:x",
		"c:/x",
		`a\b`,
		`..\x`,
		"",
		".",
		"./",
		"./a",
		"a/./b",
		"a//b",
		"a\x00b",
	} {
		t.Run(strconv.Quote(name), func(t *testing.T) {
			body := "evil"
			if strings.HasSuffix(name, "/") {
				body = "" // a directory entry
			}
			_, err := fromZip(t, Limits{}, zentry{name: "ok", body: "x"}, zentry{name: name, body: body})
			require.ErrorIs(t, err, ErrUnsafePath)
			require.ErrorContains(t, err, strconv.Quote(name))
		})
	}
}

func TestFromZipSymlinks(t *testing.T) {
	link := fs.ModeSymlink | 0o777
	tr, err := fromZip(t, Limits{},
		zentry{name: "a.txt", body: "A"},
		zentry{name: "d/b.txt", body: "B"},
		zentry{name: "d/e/c.txt", body: "C"},
		zentry{name: "l/file", body: "../a.txt", mode: link},
		zentry{name: "l/dir", body: "../d", mode: link},
		zentry{name: "l/chain", body: "file", mode: link},
		zentry{name: "l/deep", body: "dir/e/c.txt", mode: link},
		zentry{name: "l/trail", body: "../d/", mode: link},
		zentry{name: "early", body: "late/x", mode: link}, // resolved after all entries are read
		zentry{name: "late/x", body: "X"},
		zentry{name: "d/e/up", body: "../../a.txt", mode: link},
	)
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"a.txt":           "A",
		"d/b.txt":         "B",
		"d/e/c.txt":       "C",
		"d/e/up":          "A",
		"l/file":          "A",
		"l/dir/b.txt":     "B",
		"l/dir/e/c.txt":   "C",
		"l/dir/e/up":      "A",
		"l/chain":         "A",
		"l/deep":          "C",
		"l/trail/b.txt":   "B",
		"l/trail/e/c.txt": "C",
		"l/trail/e/up":    "A",
		"early":           "X",
		"late/x":          "X",
	}, readTree(t, tr))
	fi, err := tr.Stat("l/dir")
	require.NoError(t, err)
	require.Equal(t, fs.ModeDir|0o555, fi.Mode())
	require.NoError(t, fstest.TestFS(tr.FS(), "l/dir/e/c.txt", "l/file", "early"))
}

func TestFromZipUnsafeSymlinks(t *testing.T) {
	link := fs.ModeSymlink | 0o777
	for _, tc := range []struct {
		name    string
		entries []zentry
		link    string
		target  string
		why     string
	}{
		{"etc passwd", []zentry{{name: "l", body: "/etc/passwd", mode: link}}, "l", "/etc/passwd", "outside"},
		{"up twice", []zentry{{name: "a/l", body: "../../x", mode: link}}, "a/l", "../../x", "outside"},
		{"up once at the root", []zentry{{name: "l", body: "../x", mode: link}}, "l", "../x", "outside"},
		{"drive letter", []zentry{{name: "l", body: `C:\x`, mode: link}}, "l", `C:\x`, "outside"},
		{"backslash", []zentry{{name: "l", body: `..\..\x`, mode: link}}, "l", `..\..\x`, "outside"},
		{"dangling", []zentry{{name: "l", body: "nope", mode: link}}, "l", "nope", "dangles"},
		{"loop", []zentry{{name: "a", body: "b", mode: link}, {name: "b", body: "a", mode: link}}, "a", "b", "loops"},
		{"self", []zentry{{name: "l", body: "l", mode: link}}, "l", "l", "loops"},
		{"to the root", []zentry{{name: "d/l", body: "..", mode: link}}, "d/l", "..", "loops"},
		{"to itself dir", []zentry{{name: "d/l", body: ".", mode: link}}, "d/l", ".", "loops"},
		{"chain outside", []zentry{{name: "a", body: "b/x", mode: link}, {name: "b", body: "/etc", mode: link}}, "a", "b/x", "outside"},
		{"through a file", []zentry{{name: "f", body: "x"}, {name: "l", body: "f/x", mode: link}}, "l", "f/x", "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fromZip(t, Limits{}, tc.entries...)
			require.ErrorIs(t, err, ErrUnsafePath)
			require.ErrorContains(t, err, "symlink "+strconv.Quote(tc.link)+" -> "+strconv.Quote(tc.target))
			require.ErrorContains(t, err, tc.why)
		})
	}

	t.Run("empty target", func(t *testing.T) {
		_, err := fromZip(t, Limits{}, zentry{name: "l", mode: link})
		require.ErrorIs(t, err, ErrUnsafePath)
		require.ErrorContains(t, err, `"l"`)
	})
	t.Run("long target", func(t *testing.T) {
		_, err := fromZip(t, Limits{}, zentry{name: "l", body: strings.Repeat("a/", 4000), mode: link})
		require.ErrorContains(t, err, "symlink target longer")
	})
}

func TestFromZipConflicts(t *testing.T) {
	link := fs.ModeSymlink | 0o777
	for _, tc := range []struct {
		name    string
		entries []zentry
		want    string
	}{
		{"file then dir", []zentry{{name: "a", body: "x"}, {name: "a/"}}, "both a file and a directory"},
		{"dir then file", []zentry{{name: "a/"}, {name: "a", body: "x"}}, "both a file and a directory"},
		{"file then child", []zentry{{name: "a", body: "x"}, {name: "a/b", body: "y"}}, "both a file and a directory"},
		{"child then file", []zentry{{name: "a/b", body: "y"}, {name: "a", body: "x"}}, "both a file and a directory"},
		{"deep", []zentry{{name: "a/b", body: "y"}, {name: "a/b/c/d", body: "x"}}, "both a file and a directory"},
		{"duplicate file", []zentry{{name: "a", body: "x"}, {name: "a", body: "y"}}, "duplicate entry"},
		{"link and file", []zentry{{name: "a", body: "b", mode: link}, {name: "a", body: "y"}}, "duplicate entry"},
		{"link then child", []zentry{{name: "b/"}, {name: "a", body: "b", mode: link}, {name: "a/c", body: "y"}}, "both a file and a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fromZip(t, Limits{}, tc.entries...)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestFromZipSpecialFile(t *testing.T) {
	_, err := fromZip(t, Limits{}, zentry{name: "fifo", mode: fs.ModeNamedPipe | 0o644})
	require.ErrorContains(t, err, "unsupported file type")
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// deflated returns n zero bytes deflated, with their CRC-32.
func deflated(t testing.TB, n int) ([]byte, uint32) {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	fw, err := w.CreateHeader(&zip.FileHeader{Name: "x", Method: zip.Deflate})
	require.NoError(t, err)
	zeros := make([]byte, 1<<20)
	crc := crc32.NewIEEE()
	for left := n; left > 0; left -= len(zeros) {
		chunk := zeros[:min(left, len(zeros))]
		_, err = fw.Write(chunk)
		require.NoError(t, err)
		crc.Write(chunk)
	}
	require.NoError(t, w.Close())
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	raw, err := zr.File[0].OpenRaw()
	require.NoError(t, err)
	data, err := io.ReadAll(raw)
	require.NoError(t, err)
	return data, crc.Sum32()
}

// rawZip builds a zip of one deflated entry whose header claims size bytes.
func rawZip(t testing.TB, compressed []byte, crc uint32, size uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	fw, err := w.CreateRaw(&zip.FileHeader{
		Name: "bomb", Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(len(compressed)), UncompressedSize64: size,
	})
	require.NoError(t, err)
	_, err = fw.Write(compressed)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func TestFromZipBomb(t *testing.T) {
	const big = 64 << 20
	const limit = 1 << 20
	compressed, crc := deflated(t, big)
	require.Less(t, len(compressed), big/100, "zeros compress well")

	t.Run("honest header", func(t *testing.T) {
		z := rawZip(t, compressed, crc, big)
		var err error
		alloc := allocated(func() { _, err = FromZip(bytes.NewReader(z), int64(len(z)), Limits{MaxBytes: limit}) })
		require.ErrorIs(t, err, ErrTooLarge)
		require.ErrorContains(t, err, "bomb")
		require.Less(t, alloc, uint64(16<<20), "stopped at the limit, not after inflating it all")
	})
	t.Run("header claims small", func(t *testing.T) {
		z := rawZip(t, compressed, crc, 10)
		var err error
		alloc := allocated(func() { _, err = FromZip(bytes.NewReader(z), int64(len(z)), Limits{MaxBytes: limit}) })
		require.Error(t, err)
		require.ErrorContains(t, err, "zip")
		require.Less(t, alloc, uint64(16<<20))
	})
	t.Run("header claims small, no limit", func(t *testing.T) {
		z := rawZip(t, compressed, crc, 10)
		_, err := FromZip(bytes.NewReader(z), int64(len(z)), Limits{})
		require.ErrorIs(t, err, zip.ErrFormat, "archive/zip stops at the declared size")
		require.ErrorContains(t, err, "zip entry \"bomb\"")
	})
	t.Run("header claims huge", func(t *testing.T) {
		small, smallCRC := deflated(t, 10)
		z := rawZip(t, small, smallCRC, 1<<50)
		var err error
		alloc := allocated(func() { _, err = FromZip(bytes.NewReader(z), int64(len(z)), Limits{}) })
		require.Error(t, err)
		require.ErrorContains(t, err, "zip")
		require.Less(t, alloc, uint64(16<<20), "no allocation from the declared size")
	})
	t.Run("many entries over the limit together", func(t *testing.T) {
		var entries []zentry
		for i := range 10 {
			entries = append(entries, zentry{name: fmt.Sprintf("f%d", i), body: strings.Repeat("x", 200<<10)})
		}
		_, err := fromZip(t, Limits{MaxBytes: limit}, entries...)
		require.ErrorIs(t, err, ErrTooLarge)
		tr, err := fromZip(t, Limits{MaxBytes: 10 * 200 << 10}, entries...)
		require.NoError(t, err)
		require.Equal(t, int64(10*200<<10), tr.Size())
	})
	t.Run("symlinks amplify", func(t *testing.T) {
		entries := []zentry{{name: "f", body: strings.Repeat("x", 100<<10)}}
		for i := range 20 {
			entries = append(entries, zentry{name: fmt.Sprintf("l%d", i), body: "f", mode: fs.ModeSymlink | 0o777})
		}
		_, err := fromZip(t, Limits{MaxBytes: limit}, entries...)
		require.ErrorIs(t, err, ErrTooLarge)
		tr, err := fromZip(t, Limits{}, entries...)
		require.NoError(t, err)
		require.Equal(t, int64(21*100<<10), tr.Size())
		// The copies share their data.
		require.Same(t, &lookup(tr.root, "f").data[0], &lookup(tr.root, "l7").data[0])
	})
	t.Run("nested directory symlinks", func(t *testing.T) {
		// Level i holds two links to level i-1: 2^30 paths from 61 entries.
		entries := []zentry{{name: "d0/f", body: "x"}}
		for i := 1; i <= 30; i++ {
			for _, l := range []string{"a", "b"} {
				entries = append(entries, zentry{name: fmt.Sprintf("d%d/%s", i, l), body: fmt.Sprintf("../d%d", i-1), mode: fs.ModeSymlink | 0o777})
			}
		}
		start := time.Now()
		_, err := fromZip(t, Limits{}, entries...)
		require.ErrorIs(t, err, ErrTooLarge)
		require.ErrorContains(t, err, "files and directories")
		require.Less(t, time.Since(start), 10*time.Second)
		_, err = fromZip(t, Limits{}, entries[:1+2*10]...) // 2^10 copies are fine
		require.NoError(t, err)
	})
}

func TestFromZipCorrupt(t *testing.T) {
	good := makeZip(t, zentry{name: "a", body: strings.Repeat("hello ", 100)})
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"garbage", []byte("this is not a zip archive at all, no sir")},
		{"empty", nil},
		{"truncated", good[:len(good)/2]},
		{"bad crc", func() []byte {
			compressed, _ := deflated(t, 1000)
			return rawZip(t, compressed, 12345, 1000)
		}()},
		{"corrupt data", func() []byte {
			compressed, crc := deflated(t, 100000)
			bad := bytes.Clone(compressed)
			for i := range bad {
				bad[i] ^= 0x55
			}
			return rawZip(t, bad, crc, 100000)
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromZip(bytes.NewReader(tc.data), int64(len(tc.data)), Limits{})
			require.Error(t, err)
			require.ErrorContains(t, err, "zip")
		})
	}
}

func TestFromFS(t *testing.T) {
	m := fstest.MapFS{
		"a.txt":       {Data: []byte("A"), Mode: 0o644, ModTime: zipTime},
		"d/b.txt":     {Data: []byte("BB"), Mode: 0o600},
		"d/e/run":     {Data: []byte("#!"), Mode: 0o755},
		"empty":       {Mode: fs.ModeDir | 0o755},
		"d/e/zero.md": {},
	}
	tr, err := FromFS(m, Limits{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a.txt": "A", "d/b.txt": "BB", "d/e/run": "#!", "d/e/zero.md": ""}, readTree(t, tr))
	fi, err := tr.Stat("a.txt")
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o444), fi.Mode())
	require.True(t, fi.ModTime().Equal(time.Unix(0, 0)), "a missing time is the epoch")
	fi, err = tr.Stat("d/e/run")
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o555), fi.Mode())
	require.NoError(t, fstest.TestFS(tr.FS(), "a.txt", "d/b.txt", "d/e/run", "empty"))

	_, err = FromFS(m, Limits{MaxBytes: 4})
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = FromFS(m, Limits{MaxBytes: 5})
	require.NoError(t, err)
}

func TestFromFSRefuses(t *testing.T) {
	t.Run("MapFS symlink", func(t *testing.T) {
		_, err := FromFS(fstest.MapFS{"ok": {}, "l": {Data: []byte("/etc/passwd"), Mode: fs.ModeSymlink | 0o777}}, Limits{})
		require.ErrorIs(t, err, ErrUnsafePath)
		require.ErrorContains(t, err, "l is a symlink")
	})
	t.Run("os.DirFS symlink", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"a": "A", "d/l": "->../a"})
		_, err := FromFS(os.DirFS(dir), Limits{})
		require.ErrorIs(t, err, ErrUnsafePath)
		require.ErrorContains(t, err, "d/l")
	})
	t.Run("device", func(t *testing.T) {
		_, err := FromFS(fstest.MapFS{"dev": {Mode: fs.ModeDevice | 0o644}}, Limits{})
		require.ErrorContains(t, err, "unsupported file type")
	})
	t.Run("root is a file", func(t *testing.T) {
		_, err := FromFS(fstest.MapFS{".": {Data: []byte("x")}}, Limits{})
		require.Error(t, err)
	})
	t.Run("read error", func(t *testing.T) {
		_, err := FromFS(errFS{fstest.MapFS{"a": {Data: []byte("A")}}}, Limits{})
		require.ErrorContains(t, err, "boom")
	})
}

// errFS fails to open files.
type errFS struct{ fstest.MapFS }

func (e errFS) Open(name string) (fs.File, error) {
	if name != "." {
		return nil, errors.New("boom")
	}
	return e.MapFS.Open(name)
}

func TestMerge(t *testing.T) {
	mk := func(files map[string]string) *Tree {
		m := fstest.MapFS{}
		for name, body := range files {
			if strings.HasSuffix(name, "/") {
				m[strings.TrimSuffix(name, "/")] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
			} else {
				m[name] = &fstest.MapFile{Data: []byte(body)}
			}
		}
		tr, err := FromFS(m, Limits{})
		require.NoError(t, err)
		return tr
	}
	t1 := mk(map[string]string{
		"only1":                   "1",
		"all":                     "1",
		"d/x":                     "1",
		"d/one":                   "1",
		"becomes-file/":           "",
		"becomes-file/inner/deep": "1",
		"becomes-dir":             "1",
		"empty1/":                 "",
	})
	t2 := mk(map[string]string{
		"only2":             "2",
		"all":               "2",
		"d/x":               "2",
		"d/two":             "2",
		"becomes-file":      "2",
		"becomes-dir/inner": "2",
	})
	t3 := mk(map[string]string{
		"all":     "3",
		"d/x":     "3",
		"d/three": "3",
		"t3/f":    "3",
	})
	before1, before2, before3 := readTree(t, t1), readTree(t, t2), readTree(t, t3)

	m := Merge(t1, nil, t2, t3)
	want := map[string]string{
		"only1":             "1",
		"only2":             "2",
		"all":               "3",
		"d/x":               "3",
		"d/one":             "1",
		"d/two":             "2",
		"d/three":           "3",
		"becomes-file":      "2",
		"becomes-dir/inner": "2",
		"t3/f":              "3",
	}
	require.Equal(t, want, readTree(t, m))
	require.Equal(t, int64(len(want)), m.Size())
	fi, err := m.Stat("empty1")
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.NoError(t, fstest.TestFS(m.FS(), "only1", "d/x", "d/three", "becomes-dir/inner", "empty1"))

	// The inputs are unchanged, and their data is shared.
	require.Equal(t, before1, readTree(t, t1))
	require.Equal(t, before2, readTree(t, t2))
	require.Equal(t, before3, readTree(t, t3))
	require.Same(t, &lookup(t3.root, "d/x").data[0], &lookup(m.root, "d/x").data[0])
	require.Same(t, &lookup(t1.root, "d/one").data[0], &lookup(m.root, "d/one").data[0])

	// Order matters.
	rev := Merge(t3, t2, t1)
	got := readTree(t, rev)
	require.Equal(t, "1", got["all"])
	require.Equal(t, "1", got["becomes-file/inner/deep"])
	require.NotContains(t, got, "becomes-file")
	require.Equal(t, "1", got["becomes-dir"])
	require.NotContains(t, got, "becomes-dir/inner")

	// Degenerate merges.
	empty := Merge()
	require.Empty(t, empty.Files())
	require.Zero(t, empty.Size())
	require.NoError(t, fstest.TestFS(empty.FS()))
	require.Equal(t, readTree(t, t2), readTree(t, Merge(nil, t2)))
	require.Equal(t, readTree(t, t2), readTree(t, Merge(t2, t2)))
}

func TestMergeFromZipAndDir(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"lib/a.py": "dir", "bin/x": "dir"})
	fromDir, err := FromDir(dir, Limits{})
	require.NoError(t, err)
	fromZ, err := fromZip(t, Limits{}, zentry{name: "lib/a.py", body: "zip"}, zentry{name: "lib/b.py", body: "zip"})
	require.NoError(t, err)
	m := Merge(fromDir, fromZ)
	require.Equal(t, map[string]string{"lib/a.py": "zip", "lib/b.py": "zip", "bin/x": "dir"}, readTree(t, m))
	require.NoError(t, fstest.TestFS(m.FS(), "lib/a.py", "lib/b.py", "bin/x"))
}

func TestTreeFS(t *testing.T) {
	tr, err := fromZip(t, Limits{}, zentry{name: "d/b", body: "0123456789"}, zentry{name: "d/a", body: "A"}, zentry{name: "c/"})
	require.NoError(t, err)
	fsys := tr.FS()

	for _, name := range []string{"/d/a", "d/../d/a", "d/", "./d", ""} {
		_, err := fsys.Open(name)
		require.ErrorIs(t, err, fs.ErrInvalid, name)
		_, err = tr.ReadFile(name)
		require.ErrorIs(t, err, fs.ErrInvalid, name)
		_, err = tr.Stat(name)
		require.ErrorIs(t, err, fs.ErrInvalid, name)
	}
	for _, name := range []string{"x", "d/x", "d/a/x", "c/x"} {
		_, err := fsys.Open(name)
		require.ErrorIs(t, err, fs.ErrNotExist, name)
		_, err = tr.ReadFile(name)
		require.ErrorIs(t, err, fs.ErrNotExist, name)
	}
	_, err = tr.ReadFile("d")
	require.Error(t, err)
	_, err = fs.ReadDir(fsys, "d/a")
	require.Error(t, err)

	entries, err := fs.ReadDir(fsys, "d")
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Equal(t, "a", entries[0].Name())
	require.Equal(t, "b", entries[1].Name())

	// ReadFile returns a copy.
	b, err := tr.ReadFile("d/a")
	require.NoError(t, err)
	b[0] = 'Z'
	b, err = tr.ReadFile("d/a")
	require.NoError(t, err)
	require.Equal(t, "A", string(b))

	// Files are io.ReaderAt and io.Seeker.
	f, err := fsys.Open("d/b")
	require.NoError(t, err)
	buf := make([]byte, 3)
	n, err := f.(io.ReaderAt).ReadAt(buf, 4)
	require.NoError(t, err)
	require.Equal(t, "456", string(buf[:n]))
	_, err = f.(io.ReaderAt).ReadAt(buf, -1)
	require.Error(t, err)
	off, err := f.(io.Seeker).Seek(-2, io.SeekEnd)
	require.NoError(t, err)
	require.Equal(t, int64(8), off)
	rest, err := io.ReadAll(f)
	require.NoError(t, err)
	require.Equal(t, "89", string(rest))
	_, err = f.(io.Seeker).Seek(-100, io.SeekCurrent)
	require.Error(t, err)
	require.NoError(t, f.Close())
	require.Error(t, f.Close())
	_, err = f.Read(buf)
	require.ErrorIs(t, err, fs.ErrClosed)
	_, err = f.Stat()
	require.ErrorIs(t, err, fs.ErrClosed)

	d, err := fsys.Open("d")
	require.NoError(t, err)
	_, err = d.Read(buf)
	require.Error(t, err)
	first, err := d.(fs.ReadDirFile).ReadDir(1)
	require.NoError(t, err)
	require.Equal(t, "a", first[0].Name())
	second, err := d.(fs.ReadDirFile).ReadDir(5)
	require.NoError(t, err)
	require.Equal(t, "b", second[0].Name())
	_, err = d.(fs.ReadDirFile).ReadDir(1)
	require.ErrorIs(t, err, io.EOF)
	none, err := d.(fs.ReadDirFile).ReadDir(-1)
	require.NoError(t, err)
	require.Empty(t, none)
	require.NoError(t, d.Close())
	_, err = d.(fs.ReadDirFile).ReadDir(-1)
	require.ErrorIs(t, err, fs.ErrClosed)

	fi, err := tr.Stat(".")
	require.NoError(t, err)
	require.Equal(t, ".", fi.Name())
	require.True(t, fi.IsDir())
	require.Nil(t, fi.Sys())
}

func TestNilAndZeroTree(t *testing.T) {
	for _, tr := range []*Tree{nil, {}} {
		require.Zero(t, tr.Size())
		require.Empty(t, tr.Files())
		_, err := tr.ReadFile("x")
		require.ErrorIs(t, err, fs.ErrNotExist)
		fi, err := tr.Stat(".")
		require.NoError(t, err)
		require.True(t, fi.IsDir())
		require.NoError(t, fstest.TestFS(tr.FS()))
	}
}

func TestTreeConcurrentReads(t *testing.T) {
	var entries []zentry
	for i := range 50 {
		entries = append(entries, zentry{name: fmt.Sprintf("d%d/f%d", i%5, i), body: strings.Repeat(strconv.Itoa(i), 100)})
	}
	tr, err := fromZip(t, Limits{}, entries...)
	require.NoError(t, err)
	sfs := tr.SysFS()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				name := fmt.Sprintf("d%d/f%d", i%5, i)
				b, err := fs.ReadFile(tr.FS(), name)
				if !assertEqual(t, strings.Repeat(strconv.Itoa(i), 100), string(b), err) {
					return
				}
				f, errno := sfs.OpenFile(name, 0, 0)
				if errno != 0 {
					t.Errorf("open %s: %v", name, errno)
					return
				}
				buf := make([]byte, 10)
				if n, errno := f.Pread(buf, int64(g)); errno != 0 || n != 10 {
					t.Errorf("pread %s: %d %v", name, n, errno)
				}
				f.Close()
			}
			_ = Merge(tr, tr).Files()
		})
	}
	wg.Wait()
}

func assertEqual(t *testing.T, want, got string, err error) bool {
	t.Helper()
	if err != nil || want != got {
		t.Errorf("got %q, %v; want %q", got, err, want)
		return false
	}
	return true
}

func TestMaxEntries(t *testing.T) {
	defer func(n int64) { maxEntries = n }(maxEntries)
	maxEntries = 5
	five := map[string]string{"a": "", "b/c": "", "b/d": "", "e/": ""}
	six := map[string]string{"a": "", "b/c": "", "b/d": "", "e/": "", "f": ""}
	for _, tc := range []struct {
		name  string
		files map[string]string
		err   bool
	}{
		{"at the bound", five, false},
		{"over", six, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(t *testing.T, err error) {
				t.Helper()
				if tc.err {
					require.ErrorIs(t, err, ErrTooLarge)
					require.ErrorContains(t, err, "more than 5 files and directories")
				} else {
					require.NoError(t, err)
				}
			}
			dir := t.TempDir()
			writeTree(t, dir, tc.files)
			_, err := FromDir(dir, Limits{})
			check(t, err)
			_, err = FromFS(os.DirFS(dir), Limits{})
			check(t, err)
			var entries []zentry
			for name := range tc.files {
				entries = append(entries, zentry{name: name})
			}
			_, err = fromZip(t, Limits{}, entries...)
			if tc.err {
				require.ErrorIs(t, err, ErrTooLarge) // the implied "b" counts only once materialized
			} else {
				require.NoError(t, err)
			}
		})
	}
	t.Run("symlinks count once materialized", func(t *testing.T) {
		_, err := fromZip(t, Limits{}, zentry{name: "d/a"}, zentry{name: "d/b"}, zentry{name: "l", body: "d", mode: fs.ModeSymlink | 0o777})
		require.ErrorIs(t, err, ErrTooLarge)
	})
}

func TestFileDataCapacity(t *testing.T) {
	body := strings.Repeat("x", 100_000)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"f": body})
	fromD, err := FromDir(dir, Limits{})
	require.NoError(t, err)
	fromZ, err := fromZip(t, Limits{MaxBytes: 1 << 20}, zentry{name: "f", body: body})
	require.NoError(t, err)
	fromZNoLimit, err := fromZip(t, Limits{}, zentry{name: "f", body: body})
	require.NoError(t, err)
	fromF, err := FromFS(fstest.MapFS{"f": {Data: []byte(body)}}, Limits{})
	require.NoError(t, err)
	for _, tr := range []*Tree{fromD, fromZ, fromZNoLimit, fromF} {
		data := lookup(tr.root, "f").data
		require.Equal(t, body, string(data))
		require.LessOrEqual(t, cap(data), len(data)+len(data)/8+512, "no slack kept in memory")
	}
}
