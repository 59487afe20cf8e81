package vfs

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// zipTime is the modification time of the test zips' entries.
var zipTime = time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC)

// zentry is an entry of a test zip.
type zentry struct {
	name string
	body string
	mode fs.FileMode // 0: a regular file 0o644 (or a directory if name ends with "/")
}

// makeZip builds a zip archive of the entries, in order.
func makeZip(t testing.TB, entries ...zentry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: zipTime}
		switch {
		case e.mode != 0:
			h.SetMode(e.mode)
		case strings.HasSuffix(e.name, "/"):
			h.SetMode(fs.ModeDir | 0o755)
		default:
			h.SetMode(0o644)
		}
		fw, err := w.CreateHeader(h)
		require.NoError(t, err)
		if e.body != "" {
			_, err = io.WriteString(fw, e.body)
			require.NoError(t, err)
		}
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// fromZip loads a test zip.
func fromZip(t testing.TB, lim Limits, entries ...zentry) (*Tree, error) {
	t.Helper()
	b := makeZip(t, entries...)
	return FromZip(bytes.NewReader(b), int64(len(b)), lim)
}

// writeTree makes the files of m under dir: a name ending with "/" is a
// directory, a body starting with "->" a symlink to the rest.
func writeTree(t testing.TB, dir string, m map[string]string) {
	t.Helper()
	for name, body := range m {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		if target, ok := strings.CutPrefix(body, "->"); ok {
			require.NoError(t, os.Symlink(target, p))
			continue
		}
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
}

// readTree reads the files of a tree into a map.
func readTree(t testing.TB, tr *Tree) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, name := range tr.Files() {
		b, err := tr.ReadFile(name)
		require.NoError(t, err)
		m[name] = string(b)
	}
	return m
}
