package vfs

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzLimits bounds the trees the zip fuzz targets build.
var fuzzLimits = Limits{MaxBytes: 1 << 16}

// fuzzMaxEntries bounds their entries: the checks walk every path, and a
// zip of symlinks to directories reaches maxEntries paths in a few entries.
const fuzzMaxEntries = 1 << 12

// limitEntries lowers maxEntries for the fuzz targets.
func limitEntries(f *testing.F) {
	saved := maxEntries
	maxEntries = fuzzMaxEntries
	f.Cleanup(func() { maxEntries = saved })
}

// unsafeZipName reports names FromZip must refuse: ones that would escape
// the tree or that mean something else on another system.
func unsafeZipName(name string) bool {
	p := strings.TrimSuffix(name, "/")
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\\\x00") ||
		len(name) >= 2 && name[1] == ':' && isLetter(name[0]) {
		return true
	}
	for _, e := range strings.Split(p, "/") {
		if e == ".." || e == "." || e == "" {
			return true
		}
	}
	return false
}

// checkZipTree holds a tree FromZip built from data, or its error, to what
// every archive must give, whatever its headers claim.
func checkZipTree(t *testing.T, data []byte, probe string) {
	tree, err := FromZip(bytes.NewReader(data), int64(len(data)), fuzzLimits)
	zr, zerr := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		require.Nil(t, tree)
		require.True(t, errors.Is(err, ErrUnsafePath) || errors.Is(err, ErrTooLarge) || strings.HasPrefix(err.Error(), "vfs: "),
			"an error that names neither the package nor the kind: %v", err)
		return
	}
	require.True(t, zerr == nil || errors.Is(zerr, zip.ErrInsecurePath), "FromZip read an archive archive/zip refuses: %v", zerr)

	// The size cap holds, however much the headers claimed or the
	// entries inflate to.
	require.LessOrEqual(t, tree.Size(), fuzzLimits.MaxBytes)
	var total int64
	fsys := tree.FS()
	require.NoError(t, fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		require.True(t, fs.ValidPath(p), "the tree serves %q", p)
		if !d.IsDir() {
			b, err := fs.ReadFile(fsys, p)
			require.NoError(t, err)
			total += int64(len(b))
		}
		return nil
	}))
	require.Equal(t, tree.Size(), total)
	for _, p := range tree.Files() {
		require.True(t, fs.ValidPath(p), "a file at %q", p)
	}

	// Each entry's name is safe, and each regular file is in the tree
	// with the bytes it inflates to.
	for _, f := range zr.File {
		require.False(t, unsafeZipName(f.Name), "FromZip accepted the entry %q", f.Name)
		if f.Mode().Type() != 0 || strings.HasSuffix(f.Name, "/") {
			continue
		}
		rc, err := f.Open()
		require.NoError(t, err)
		want, err := io.ReadAll(io.LimitReader(rc, fuzzLimits.MaxBytes+1))
		_ = rc.Close()
		require.NoError(t, err, "FromZip read %q, which archive/zip cannot", f.Name)
		got, err := tree.ReadFile(f.Name)
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got), "the content of %q", f.Name)
	}

	// Nothing outside the tree is served, by name or through the guest's
	// file system.
	if _, err := fsys.Open(probe); err == nil {
		require.True(t, fs.ValidPath(probe), "Open(%q) succeeded", probe)
	}
	for _, p := range []string{"../" + probe, "/../" + probe, probe + "/../../x"} {
		if f, errno := tree.SysFS().OpenFile(p, 0, 0); errno == 0 {
			st, _ := f.Stat()
			_ = f.Close()
			// wazero cleans the path first: what it finds must be in the
			// tree under the cleaned name.
			require.NotNil(t, st, "opened %q", p)
		}
	}
}

// FuzzFromZip feeds FromZip arbitrary bytes, seeded with archives that
// escape, collide, link and lie about their sizes.
func FuzzFromZip(f *testing.F) {
	for _, entries := range [][]zentry{
		{{name: "bootstrap.wasm", body: "\x00asm\x01\x00\x00\x00"}, {name: "lib/"}, {name: "lib/a.txt", body: "a"}},
		{{name: "../evil", body: "x"}},
		{{name: "/abs", body: "x"}},
		{{name: `a\b`, body: "x"}},
		{{name: "a", body: "1"}, {name: "a", body: "2"}},
		{{name: "a", body: "1"}, {name: "a/b", body: "2"}},
		{{name: "d/"}, {name: "l", body: "d", mode: fs.ModeSymlink | 0o777}, {name: "d/f", body: "f"}},
		{{name: "l", body: "../../etc/passwd", mode: fs.ModeSymlink | 0o777}},
		{{name: "l", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}},
		{{name: "a", body: "b", mode: fs.ModeSymlink | 0o777}, {name: "b", body: "a", mode: fs.ModeSymlink | 0o777}},
		{{name: "d/"}, {name: "d/up", body: "..", mode: fs.ModeSymlink | 0o777}},
		{{name: "big", body: strings.Repeat("z", 1<<17)}},
	} {
		f.Add(makeZip(f, entries...), "etc/passwd")
	}
	f.Add(lyingZip(f, 16, 1<<20), "big")
	f.Add(lyingZip(f, 1<<30, 1<<20), "big")
	f.Add([]byte("PK\x05\x06"+strings.Repeat("\x00", 18)), ".")
	limitEntries(f)
	f.Fuzz(func(t *testing.T, data []byte, probe string) {
		checkZipTree(t, data, probe)
	})
}

// lyingZip is a zip of one entry of actual zero bytes, deflated, whose
// headers declare declared bytes.
func lyingZip(t testing.TB, declared uint64, actual int) []byte {
	var comp bytes.Buffer
	fw, err := flate.NewWriter(&comp, flate.BestCompression)
	require.NoError(t, err)
	zeros := make([]byte, actual)
	_, err = fw.Write(zeros)
	require.NoError(t, err)
	require.NoError(t, fw.Close())
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "big", Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(zeros),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: declared}
	h.SetMode(0o644)
	raw, err := w.CreateRaw(h)
	require.NoError(t, err)
	_, err = raw.Write(comp.Bytes())
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// FuzzZipEntries builds well-formed archives from fuzzed entries, so that
// the fuzzer explores names, kinds and symlink targets rather than zip's
// checksums. spec is entries separated by "\n": a kind letter (f file,
// d directory, l symlink, x executable), the name, "=", the body or target.
func FuzzZipEntries(f *testing.F) {
	for _, spec := range []string{
		"fbootstrap.wasm=\x00asm\x01\x00\x00\x00\ndlib/\nflib/a.txt=a",
		"f../evil=x",
		"fa/../b=x",
		"fa=1\nfa=2",
		"fa=1\nfa/b=2",
		"dd/\nll=d\nfd/f=f",
		"ll=../../etc/passwd",
		"ll=/etc/passwd",
		"la=b\nlb=a",
		"dd/\nld/up=..",
		"dd/\nld/self=.\nfd/x=1",
		"fx=" + strings.Repeat("y", 1000) + "\nl1=x\nl2=x\nl3=x",
		"fC:/x=1",
		"f./x=1",
		"xbin/run=#!",
	} {
		f.Add(spec, "etc/passwd")
	}
	limitEntries(f)
	f.Fuzz(func(t *testing.T, spec, probe string) {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		for _, e := range strings.Split(spec, "\n") {
			if e == "" {
				continue
			}
			name, body, _ := strings.Cut(e[1:], "=")
			h := &zip.FileHeader{Name: name, Method: zip.Deflate}
			switch e[0] {
			case 'd':
				h.SetMode(fs.ModeDir | 0o755)
			case 'l':
				h.SetMode(fs.ModeSymlink | 0o777)
			case 'x':
				h.SetMode(0o755)
			default:
				h.SetMode(0o644)
			}
			fw, err := w.CreateHeader(h)
			if err != nil {
				return
			}
			_, _ = io.WriteString(fw, body)
		}
		if w.Close() != nil {
			return
		}
		checkZipTree(t, buf.Bytes(), probe)
	})
}
