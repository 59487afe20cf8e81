package s3

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestBucketDirReopen(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := context.Background()
	dir := t.TempDir()
	b, err := NewBucket("b", BucketOptions{Dir: dir, Versioning: true})
	require.NoError(t, err)
	v1 := bktPut(t, b, "doc", "one")
	v2 := bktPut(t, b, "doc", "two")
	bktPut(t, b, "a", "prefix and key")
	bktPut(t, b, "a/b", "under it")
	bktPut(t, b, "gone", "x")
	m, err := b.Delete(ctx, "gone")
	require.NoError(t, err)
	id, err := b.CreateMultipartUpload(ctx, "multi")
	require.NoError(t, err)
	big := bytes.Repeat([]byte("m"), MinPartSize)
	e1, err := b.UploadPart(ctx, "multi", id, 1, bytes.NewReader(big))
	require.NoError(t, err)
	e2, err := b.UploadPart(ctx, "multi", id, 2, strings.NewReader("end"))
	require.NoError(t, err)
	mo, err := b.CompleteMultipartUpload(ctx, "multi", id, []CompletedPart{{1, e1}, {2, e2}})
	require.NoError(t, err)
	id2, err := b.CreateMultipartUpload(ctx, "unfinished")
	require.NoError(t, err)
	require.NoError(t, b.Close())

	// The files are where a reader of the directory expects them.
	data, err := os.ReadFile(filepath.Join(dir, "doc"))
	require.NoError(t, err)
	require.Equal(t, "two", string(data))
	data, err = os.ReadFile(filepath.Join(dir, "a", dirSelfName))
	require.NoError(t, err)
	require.Equal(t, "prefix and key", string(data))

	b, err = NewBucket("b", BucketOptions{Dir: dir, Versioning: true})
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, []string{"a", "a/b", "doc", "multi"}, bktKeys(t, b, ""))
	h, err := b.Head(ctx, "multi")
	require.NoError(t, err)
	require.Equal(t, mo.ETag, h.ETag, "a multipart ETag is kept")
	require.Equal(t, mo.VersionID, h.VersionID)
	vs, err := b.Versions(ctx, "doc")
	require.NoError(t, err)
	require.Len(t, vs, 2)
	require.Equal(t, v2.VersionID, vs[0].VersionID)
	require.Equal(t, v1.VersionID, vs[1].VersionID)
	r, err := b.GetVersion(ctx, "doc", v1.VersionID)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	vs, err = b.Versions(ctx, "gone")
	require.NoError(t, err)
	require.Len(t, vs, 2)
	require.Equal(t, m.VersionID, vs[0].VersionID)
	require.True(t, vs[0].DeleteMarker)
	require.Equal(t, "prefix and key", bktRead(t, b, "a"))
	require.Empty(t, b.Uploads("unfinished"), "uploads in progress do not survive")
	require.ErrorIs(t, b.AbortMultipartUpload(ctx, "unfinished", id2), ErrNoSuchUpload)

	// Deleting "a/b" leaves "a" where it is, readable.
	_, err = b.Delete(ctx, "a/b")
	require.NoError(t, err)
	require.Equal(t, "prefix and key", bktRead(t, b, "a"))

	// Versioning is the directory's.
	require.NoError(t, b.Close())
	_, err = NewBucket("b", BucketOptions{Dir: dir})
	require.ErrorContains(t, err, "versioning")
}

func TestBucketDirChangedWhileClosed(t *testing.T) {
	for _, versioned := range []bool{false, true} {
		t.Run(map[bool]string{false: "unversioned", true: "versioned"}[versioned], func(t *testing.T) {
			defer goleak.VerifyNone(t)
			ctx := context.Background()
			dir := t.TempDir()
			opts := BucketOptions{Dir: dir, Versioning: versioned}
			b, err := NewBucket("b", opts)
			require.NoError(t, err)
			bktPut(t, b, "kept", "same")
			bktPut(t, b, "changed", "before")
			bktPut(t, b, "removed", "x")
			bktPut(t, b, "layers", "old")
			old := bktPut(t, b, "layers", "new")
			require.NoError(t, b.Close())

			require.NoError(t, os.WriteFile(filepath.Join(dir, "changed"), []byte("after!"), 0o644))
			require.NoError(t, os.Remove(filepath.Join(dir, "removed")))
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "dropped", "in"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "dropped", "in", "file.txt"), []byte("hi"), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "%not-a-key"), []byte("?"), 0o644))
			require.NoError(t, os.Remove(filepath.Join(dir, "layers")))

			b, err = NewBucket("b", opts)
			require.NoError(t, err)
			defer b.Close()
			want := []string{"changed", "dropped/in/file.txt", "kept"}
			if versioned {
				want = []string{"changed", "dropped/in/file.txt", "kept", "layers"}
			}
			require.Equal(t, want, bktKeys(t, b, ""))
			h, err := b.Head(ctx, "changed")
			require.NoError(t, err)
			require.Equal(t, md5hex([]byte("after!")), h.ETag)
			require.Equal(t, int64(6), h.Size)
			h, err = b.Head(ctx, "dropped/in/file.txt")
			require.NoError(t, err)
			require.Equal(t, md5hex([]byte("hi")), h.ETag)
			require.Equal(t, versioned, h.VersionID != "")
			if versioned {
				// The current version's file was removed: the one before
				// is current again, in its place.
				require.Equal(t, "old", bktRead(t, b, "layers"))
				vs, err := b.Versions(ctx, "layers")
				require.NoError(t, err)
				require.Len(t, vs, 1)
				require.NotEqual(t, old.VersionID, vs[0].VersionID)
				data, err := os.ReadFile(filepath.Join(dir, "layers"))
				require.NoError(t, err)
				require.Equal(t, "old", string(data))
			}
		})
	}
}

// TestBucketDirRelocateCrash checks that an object moved aside, to make its
// key a directory, is found again when a crash stopped the move halfway.
func TestBucketDirRelocateCrash(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	b, err := NewBucket("b", BucketOptions{Dir: dir})
	require.NoError(t, err)
	bktPut(t, b, "a", "the object a")
	require.NoError(t, b.Close())
	// The first step of relocate, as a crash would leave it.
	require.NoError(t, os.Rename(filepath.Join(dir, "a"), b.dir.relocPath("a")))

	b, err = NewBucket("b", BucketOptions{Dir: dir})
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, "the object a", bktRead(t, b, "a"))
	bktPut(t, b, "a/b", "below")
	require.Equal(t, "the object a", bktRead(t, b, "a"))
	require.Equal(t, []string{"a", "a/b"}, bktKeys(t, b, ""))
}

// TestBucketMultipartCompleteFails checks that an upload whose completion
// fails past its checks, here in storing the object, stays to be completed
// again.
func TestBucketMultipartCompleteFails(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := context.Background()
	dir := t.TempDir()
	b, err := NewBucket("b", BucketOptions{Dir: dir})
	require.NoError(t, err)
	defer b.Close()
	// A symbolic link where the key needs a directory: the bucket does not
	// follow it.
	require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(dir, "blocked")))
	id, err := b.CreateMultipartUpload(ctx, "blocked/obj")
	require.NoError(t, err)
	e1, err := b.UploadPart(ctx, "blocked/obj", id, 1, strings.NewReader("only part"))
	require.NoError(t, err)
	_, err = b.CompleteMultipartUpload(ctx, "blocked/obj", id, []CompletedPart{{1, e1}})
	require.ErrorContains(t, err, "neither a file nor a directory")
	require.Equal(t, []string{id}, b.Uploads("blocked/obj"))

	require.NoError(t, os.Remove(filepath.Join(dir, "blocked")))
	o, err := b.CompleteMultipartUpload(ctx, "blocked/obj", id, []CompletedPart{{1, e1}})
	require.NoError(t, err)
	require.Equal(t, md5hex(md5sum([]byte("only part")))+"-1", o.ETag)
	require.Equal(t, "only part", bktRead(t, b, "blocked/obj"))
}
