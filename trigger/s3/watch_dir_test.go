package s3

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// bktWatched opens a watched directory-backed bucket, and a recorder of
// its changes.
func bktWatched(t *testing.T, opts BucketOptions) (*Bucket, *bktRecorder) {
	t.Helper()
	opts.Dir = t.TempDir()
	opts.WatchDir = true
	if opts.Quiet == 0 {
		opts.Quiet = 100 * time.Millisecond
	}
	b, err := NewBucket("dropbox", opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	rec := &bktRecorder{}
	bktWatch(t, b, rec.deliver)
	return b, rec
}

type bktEv struct{ Event, Key, ETag string }

func bktEvents(cs []Change) []bktEv {
	var out []bktEv
	for _, c := range cs {
		out = append(out, bktEv{c.Event, c.Key, c.ETag})
	}
	return out
}

func TestWatchDirOtherPrograms(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	b, rec := bktWatched(t, BucketOptions{})
	dir := b.dir.root
	write := func(rel, body string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}

	write("in/cat.jpg", "meow")
	require.Equal(t, []bktEv{{ObjectCreatedPut, "in/cat.jpg", md5hex([]byte("meow"))}}, bktEvents(rec.waitFor(t, 1)))
	require.Equal(t, "meow", bktRead(t, b, "in/cat.jpg"))

	write("in/cat.jpg", "purr purr")
	got := rec.waitFor(t, 2)
	require.Equal(t, bktEv{ObjectCreatedPut, "in/cat.jpg", md5hex([]byte("purr purr"))}, bktEvents(got)[1])
	require.Equal(t, int64(9), got[1].Size)

	require.NoError(t, os.Remove(filepath.Join(dir, "in", "cat.jpg")))
	require.Equal(t, bktEv{ObjectRemovedDelete, "in/cat.jpg", ""}, bktEvents(rec.waitFor(t, 3))[2])
	require.Empty(t, bktKeys(t, b, ""))

	// A directory moved in, files and all.
	staging := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(staging, "batch", "deep"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(staging, "batch", "one"), []byte("1"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(staging, "batch", "deep", "two"), []byte("2"), 0o644))
	require.NoError(t, os.Rename(filepath.Join(staging, "batch"), filepath.Join(dir, "batch")))
	got = rec.waitFor(t, 5)
	require.ElementsMatch(t, []bktEv{
		{ObjectCreatedPut, "batch/one", md5hex([]byte("1"))},
		{ObjectCreatedPut, "batch/deep/two", md5hex([]byte("2"))},
	}, bktEvents(got[3:]))
	// ...a file later created in its new subdirectory...
	write("batch/deep/three", "3")
	require.Equal(t, bktEv{ObjectCreatedPut, "batch/deep/three", md5hex([]byte("3"))}, bktEvents(rec.waitFor(t, 6))[5])
	// ...and the directory moved out.
	require.NoError(t, os.Rename(filepath.Join(dir, "batch"), filepath.Join(staging, "gone")))
	got = rec.waitFor(t, 9)
	require.ElementsMatch(t, []bktEv{
		{ObjectRemovedDelete, "batch/one", ""},
		{ObjectRemovedDelete, "batch/deep/two", ""},
		{ObjectRemovedDelete, "batch/deep/three", ""},
	}, bktEvents(got[6:]))

	// The bucket's own changes are not seen again as another program's:
	// the sentinel's change comes after any such echo, as the watch
	// looks at paths in the order of their events.
	bktPut(t, b, "mine", "put through the bucket")
	_, err := b.Copy(context.Background(), "mine/copy", "mine")
	require.NoError(t, err)
	_, err = b.Delete(context.Background(), "mine/copy")
	require.NoError(t, err)
	write("sentinel", "s")
	got = rec.waitFor(t, 13)
	require.Equal(t, []bktEv{
		{ObjectCreatedPut, "mine", md5hex([]byte("put through the bucket"))},
		{ObjectCreatedCopy, "mine/copy", md5hex([]byte("put through the bucket"))},
		{ObjectRemovedDelete, "mine/copy", ""},
		{ObjectCreatedPut, "sentinel", md5hex([]byte("s"))},
	}, bktEvents(got[9:]))
	require.Equal(t, []string{"mine", "sentinel"}, bktKeys(t, b, ""))

	// Changes keep the order of the events.
	write("zz", "1")
	write("yy", "2")
	write("xx", "3")
	got = rec.waitFor(t, 16)
	require.Equal(t, []bktEv{
		{ObjectCreatedPut, "zz", md5hex([]byte("1"))},
		{ObjectCreatedPut, "yy", md5hex([]byte("2"))},
		{ObjectCreatedPut, "xx", md5hex([]byte("3"))},
	}, bktEvents(got[13:]))

	// A file that is no key raises nothing.
	write("%junk", "?")
	write("sentinel2", "s")
	got = rec.waitFor(t, 17)
	require.Equal(t, bktEv{ObjectCreatedPut, "sentinel2", md5hex([]byte("s"))}, bktEvents(got)[16])
}

func TestWatchDirSlowWriter(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	const quiet = 800 * time.Millisecond
	b, rec := bktWatched(t, BucketOptions{Quiet: quiet})
	f, err := os.Create(filepath.Join(b.dir.root, "upload.bin"))
	require.NoError(t, err)
	var all strings.Builder
	for i := range 4 {
		chunk := strings.Repeat(string(rune('a'+i)), 1000)
		all.WriteString(chunk)
		_, err := f.WriteString(chunk)
		require.NoError(t, err)
		time.Sleep(quiet / 8) // well within the quiet period
	}
	require.NoError(t, f.Close())
	write := func(rel, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(b.dir.root, rel), []byte(body), 0o644))
	}
	write("sentinel", "s")
	got := rec.waitFor(t, 2)
	require.Equal(t, []bktEv{
		{ObjectCreatedPut, "upload.bin", md5hex([]byte(all.String()))},
		{ObjectCreatedPut, "sentinel", md5hex([]byte("s"))},
	}, bktEvents(got), "one change, once the file is complete")
	require.Equal(t, int64(4000), got[0].Size)
}

func TestWatchDirVersioned(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	b, rec := bktWatched(t, BucketOptions{Versioning: true})
	v1 := bktPut(t, b, "doc", "one")
	v2 := bktPut(t, b, "doc", "two")
	// Another program removes the current version's file: that version is
	// gone for good, and the one before is current again.
	require.NoError(t, os.Remove(filepath.Join(b.dir.root, "doc")))
	got := rec.waitFor(t, 3)
	require.Equal(t, ObjectRemovedDelete, got[2].Event)
	require.Equal(t, v2.VersionID, got[2].VersionID)
	require.Eventually(t, func() bool {
		h, err := b.Head(context.Background(), "doc")
		return err == nil && h.VersionID == v1.VersionID
	}, 30*time.Second, time.Millisecond)
	require.Equal(t, "one", bktRead(t, b, "doc"))
	data, err := os.ReadFile(filepath.Join(b.dir.root, "doc"))
	require.NoError(t, err)
	require.Equal(t, "one", string(data), "the current version is in its place")
	// A file dropped in is a new version.
	require.NoError(t, os.WriteFile(filepath.Join(b.dir.root, "doc"), []byte("three"), 0o644))
	got = rec.waitFor(t, 4)
	require.Equal(t, ObjectCreatedPut, got[3].Event)
	require.NotEmpty(t, got[3].VersionID)
	require.NotEqual(t, v1.VersionID, got[3].VersionID)
	require.Len(t, got, 4, "restoring the earlier version raised nothing")
}

func TestWatchDirNeedsDir(t *testing.T) {
	_, err := NewBucket("b", BucketOptions{WatchDir: true})
	require.ErrorContains(t, err, "WatchDir needs Dir")
}
