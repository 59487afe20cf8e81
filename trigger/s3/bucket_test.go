package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// bktBackends runs f on a memory-backed and a directory-backed bucket.
func bktBackends(t *testing.T, opts BucketOptions, f func(t *testing.T, b *Bucket)) {
	t.Helper()
	for _, dir := range []bool{false, true} {
		name := "memory"
		if dir {
			name = "dir"
		}
		t.Run(name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			o := opts
			if dir {
				o.Dir = filepath.Join(t.TempDir(), "bucket")
			}
			b, err := NewBucket("photos", o)
			require.NoError(t, err)
			defer func() { require.NoError(t, b.Close()) }()
			f(t, b)
		})
	}
}

// bktRecorder records the changes a Watch delivers.
type bktRecorder struct {
	mu  sync.Mutex
	got []Change
}

func (r *bktRecorder) deliver(_ context.Context, c Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, c)
	return nil
}

func (r *bktRecorder) changes() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Change(nil), r.got...)
}

// waitFor waits until the recorder holds n changes, and returns them.
func (r *bktRecorder) waitFor(t *testing.T, n int) []Change {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.changes()) >= n }, 30*time.Second, time.Millisecond,
		"waiting for %d changes", n)
	return r.changes()
}

// bktWatch runs b.Watch with deliver until the test ends, and returns
// once the watch is registered, so that later changes reach it.
func bktWatch(t *testing.T, b *Bucket, deliver func(context.Context, Change) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	before := b.Watchers()
	done := make(chan error, 1)
	go func() { done <- b.Watch(ctx, deliver) }()
	require.Eventually(t, func() bool { return b.Watchers() > before }, 30*time.Second, time.Millisecond)
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("Watch did not return when its context ended")
				t.Error(err)
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func bktRead(t *testing.T, b *Bucket, key string) string {
	t.Helper()
	r, err := b.Get(context.Background(), key)
	require.NoError(t, err)
	defer r.Close()
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(data)
}

func bktPut(t *testing.T, b *Bucket, key, body string) Object {
	t.Helper()
	o, err := b.Put(context.Background(), key, strings.NewReader(body))
	require.NoError(t, err)
	return o
}

func bktKeys(t *testing.T, b *Bucket, prefix string) []string {
	t.Helper()
	var keys []string
	require.NoError(t, b.List(context.Background(), prefix, func(o Object) error {
		keys = append(keys, o.Key)
		return nil
	}))
	return keys
}

func TestBucketObjects(t *testing.T) {
	bktBackends(t, BucketOptions{Principal: "AIDAEXAMPLE", SourceIP: "10.0.0.1"}, func(t *testing.T, b *Bucket) {
		ctx := context.Background()
		rec := &bktRecorder{}
		bktWatch(t, b, rec.deliver)

		o := bktPut(t, b, "in/cat.jpg", "meow")
		require.Equal(t, md5hex([]byte("meow")), o.ETag)
		require.Equal(t, int64(4), o.Size)
		require.Empty(t, o.VersionID)
		require.Equal(t, "meow", bktRead(t, b, "in/cat.jpg"))
		h, err := b.Head(ctx, "in/cat.jpg")
		require.NoError(t, err)
		require.Equal(t, o, h)

		bktPut(t, b, "in/cat.jpg", "purr") // overwrite
		require.Equal(t, "purr", bktRead(t, b, "in/cat.jpg"))
		c, err := b.Copy(ctx, "out/cat.jpg", "in/cat.jpg")
		require.NoError(t, err)
		require.Equal(t, md5hex([]byte("purr")), c.ETag)
		bktPut(t, b, "in/dog.jpg", "woof")
		require.Equal(t, []string{"in/cat.jpg", "in/dog.jpg", "out/cat.jpg"}, bktKeys(t, b, ""))
		require.Equal(t, []string{"in/cat.jpg", "in/dog.jpg"}, bktKeys(t, b, "in/"))

		_, err = b.Delete(ctx, "in/cat.jpg")
		require.NoError(t, err)
		_, err = b.Get(ctx, "in/cat.jpg")
		require.ErrorIs(t, err, ErrNoSuchKey)
		_, err = b.Head(ctx, "in/cat.jpg")
		require.ErrorIs(t, err, ErrNoSuchKey)
		_, err = b.Delete(ctx, "never/was") // S3 notifies this too
		require.NoError(t, err)
		require.Equal(t, []string{"in/dog.jpg", "out/cat.jpg"}, bktKeys(t, b, ""))
		_, err = b.Copy(ctx, "x", "in/cat.jpg")
		require.ErrorIs(t, err, ErrNoSuchKey)

		got := rec.waitFor(t, 6)
		type ev struct {
			Event, Key, ETag string
			Size             int64
		}
		var evs []ev
		for _, c := range got {
			evs = append(evs, ev{c.Event, c.Key, c.ETag, c.Size})
			require.Equal(t, "photos", c.Bucket)
			require.Equal(t, "AIDAEXAMPLE", c.Principal)
			require.Equal(t, "10.0.0.1", c.SourceIP)
			require.Len(t, c.Sequencer, 16)
			require.False(t, c.Time.IsZero())
			require.Empty(t, c.VersionID)
		}
		require.Equal(t, []ev{
			{ObjectCreatedPut, "in/cat.jpg", md5hex([]byte("meow")), 4},
			{ObjectCreatedPut, "in/cat.jpg", md5hex([]byte("purr")), 4},
			{ObjectCreatedCopy, "out/cat.jpg", md5hex([]byte("purr")), 4},
			{ObjectCreatedPut, "in/dog.jpg", md5hex([]byte("woof")), 4},
			{ObjectRemovedDelete, "in/cat.jpg", "", 0},
			{ObjectRemovedDelete, "never/was", "", 0},
		}, evs)
		// The sequencer grows with each change, so for each key.
		for i := 1; i < len(got); i++ {
			require.Greater(t, got[i].Sequencer, got[i-1].Sequencer)
		}
	})
}

func TestBucketEmptyObjectAndReaders(t *testing.T) {
	bktBackends(t, BucketOptions{}, func(t *testing.T, b *Bucket) {
		ctx := context.Background()
		o := bktPut(t, b, "empty", "")
		require.Equal(t, "d41d8cd98f00b204e9800998ecf8427e", o.ETag) // S3's ETag of nothing
		require.Equal(t, "", bktRead(t, b, "empty"))

		bktPut(t, b, "k", "0123456789")
		r, err := b.Get(ctx, "k")
		require.NoError(t, err)
		defer r.Close()
		bktPut(t, b, "k", "changed!") // an open reader keeps its version
		p := make([]byte, 4)
		_, err = r.ReadAt(p, 3)
		require.NoError(t, err)
		require.Equal(t, "3456", string(p))
		_, err = r.Seek(8, io.SeekStart)
		require.NoError(t, err)
		rest, err := io.ReadAll(r)
		require.NoError(t, err)
		require.Equal(t, "89", string(rest))
	})
}

func TestBucketContextEnded(t *testing.T) {
	bktBackends(t, BucketOptions{}, func(t *testing.T, b *Bucket) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := b.Put(ctx, "k", strings.NewReader("x"))
		require.ErrorIs(t, err, context.Canceled)
		_, err = b.Delete(ctx, "k")
		require.ErrorIs(t, err, context.Canceled)
		// A reader that outlives ctx stops the put, which leaves nothing.
		ctx, cancel = context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			_, _ = pw.Write([]byte("part"))
			cancel()
			// The put reads no further than this: the pipe would end well.
			_, _ = pw.Write([]byte("more"))
			_ = pw.Close()
		}()
		_, err = b.Put(ctx, "k", pr)
		require.ErrorIs(t, err, context.Canceled)
		_ = pr.Close()
		<-wrote
		_, err = b.Head(context.Background(), "k")
		require.ErrorIs(t, err, ErrNoSuchKey)
		if b.dir != nil {
			tmps, err := os.ReadDir(filepath.Join(b.dir.meta, "tmp"))
			require.NoError(t, err)
			require.Empty(t, tmps, "a failed put leaves no temporary file")
		}
	})
}

func TestBucketKeyValidation(t *testing.T) {
	bktBackends(t, BucketOptions{}, func(t *testing.T, b *Bucket) {
		ctx := context.Background()
		for _, key := range []string{"", strings.Repeat("k", MaxKeyLength+1), "bad\xffutf8"} {
			_, err := b.Put(ctx, key, strings.NewReader("x"))
			require.ErrorIs(t, err, ErrInvalidKey, "%q", key)
		}
		long := strings.Repeat("k", MaxKeyLength)
		if b.dir != nil {
			// One segment longer than a file name can be is refused...
			_, err := b.Put(ctx, long, strings.NewReader("x"))
			require.ErrorIs(t, err, ErrInvalidKey)
			long = strings.Repeat(strings.Repeat("k", 200)+"/", 6)[:MaxKeyLength]
		}
		// ...but the longest key is held.
		bktPut(t, b, long, "x")
		require.Equal(t, "x", bktRead(t, b, long))
	})
}

// bktOddKeys are keys S3 allows that a file system cannot hold as they
// are, or that the escape must itself escape.
var bktOddKeys = []string{
	"a", "a/b", "a/b/c", "a/", "a//b", "/lead", "trail/", "a/../b", "./x", "..", ".",
	"%", "%%", "%s3", "%s3/x", "%2e2e", "a/%%", "nul\x00byte", "sp ace+plus=eq&amp(paren)",
	"héllo/wörld", "日本/語", "a\\b", "x/./y", "../escape", "a/../../escape",
}

func TestBucketOddKeys(t *testing.T) {
	bktBackends(t, BucketOptions{}, func(t *testing.T, b *Bucket) {
		for i, k := range bktOddKeys {
			bktPut(t, b, k, "body "+k+string(rune('A'+i)))
		}
		for i, k := range bktOddKeys {
			require.Equal(t, "body "+k+string(rune('A'+i)), bktRead(t, b, k), "%q", k)
		}
		require.Len(t, bktKeys(t, b, ""), len(bktOddKeys))
		if b.dir != nil {
			bktCheckInside(t, b.dir.root)
			around, err := os.ReadDir(filepath.Dir(b.dir.root))
			require.NoError(t, err)
			require.Len(t, around, 1, "nothing is written beside the bucket's directory")
		}
		for _, k := range bktOddKeys {
			_, err := b.Delete(context.Background(), k)
			require.NoError(t, err)
		}
		require.Empty(t, bktKeys(t, b, ""))
		if b.dir != nil {
			// Every object's file, and the directories made for them, are
			// gone.
			entries, err := os.ReadDir(b.dir.root)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			require.Equal(t, []string{dirMetaName}, names)
		}
	})
}

// bktCheckInside checks that every file under root is a regular file or
// a directory inside root.
func bktCheckInside(t *testing.T, root string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, err := filepath.Rel(root, p)
		require.NoError(t, err)
		require.False(t, rel == ".." || strings.HasPrefix(rel, "../"), p)
		require.True(t, de.IsDir() || de.Type().IsRegular(), p)
		return nil
	}))
}

func TestDirKeyEncoding(t *testing.T) {
	for _, tc := range []struct{ key, path string }{
		{"a/b.jpg", "a/b.jpg"},
		{"a//b", "a/%/b"},
		{"/a", "%/a"},
		{"a/", "a/%"},
		{"a/../b", "a/%2e2e/b"},
		{"./x", "%2e/x"},
		{"%", "%25"},
		{"%%", "%2525"},
		{"%s3", "%257333"},
		{"nul\x00", "%6e756c00"},
		{"héllo wörld", "héllo wörld"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			p, err := dirKeyPath(tc.key)
			require.NoError(t, err)
			require.Equal(t, tc.path, p)
			k, ok := dirPathKey(p)
			require.True(t, ok)
			require.Equal(t, tc.key, k)
			if !strings.HasSuffix(p, "/%") {
				k, ok = dirPathKey(p + "/" + dirSelfName)
				require.True(t, ok)
				require.Equal(t, tc.key, k)
			}
		})
	}
	// Names that store no key.
	for _, p := range []string{"%s3", "%s3/keys", "a/%zz", "%2E", "%61", "%%/a", "a/%2"} {
		_, ok := dirPathKey(p)
		require.False(t, ok, p)
	}
}

func FuzzDirKeyEncoding(f *testing.F) {
	for _, k := range bktOddKeys {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		p, err := dirKeyPath(key)
		if err != nil {
			return
		}
		for _, seg := range strings.Split(p, "/") {
			require.NotContains(t, []string{"", ".", ".."}, seg)
			require.NotContains(t, seg, "\x00")
		}
		require.NotEqual(t, dirMetaName, strings.Split(p, "/")[0])
		k, ok := dirPathKey(p)
		require.True(t, ok, p)
		require.Equal(t, key, k)
	})
}

func TestBucketVersioning(t *testing.T) {
	bktBackends(t, BucketOptions{Versioning: true}, func(t *testing.T, b *Bucket) {
		ctx := context.Background()
		rec := &bktRecorder{}
		bktWatch(t, b, rec.deliver)

		v1 := bktPut(t, b, "doc", "one")
		v2 := bktPut(t, b, "doc", "two")
		require.NotEmpty(t, v1.VersionID)
		require.NotEqual(t, v1.VersionID, v2.VersionID)
		require.Equal(t, "two", bktRead(t, b, "doc"))
		r, err := b.GetVersion(ctx, "doc", v1.VersionID)
		require.NoError(t, err)
		old, err := io.ReadAll(r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		require.Equal(t, "one", string(old))
		require.False(t, r.IsLatest)

		m, err := b.Delete(ctx, "doc")
		require.NoError(t, err)
		require.True(t, m.DeleteMarker)
		_, err = b.Get(ctx, "doc")
		require.ErrorIs(t, err, ErrNoSuchKey)
		_, err = b.GetVersion(ctx, "doc", m.VersionID)
		require.ErrorIs(t, err, ErrMethodNotAllowed)
		_, err = b.GetVersion(ctx, "doc", "nope")
		require.ErrorIs(t, err, ErrNoSuchVersion)
		require.Empty(t, bktKeys(t, b, ""))
		vs, err := b.Versions(ctx, "doc")
		require.NoError(t, err)
		require.Len(t, vs, 3)
		require.Equal(t, m.VersionID, vs[0].VersionID)
		require.True(t, vs[0].IsLatest && vs[0].DeleteMarker)

		// Removing the delete marker brings the object back.
		require.NoError(t, b.DeleteVersion(ctx, "doc", m.VersionID))
		require.Equal(t, "two", bktRead(t, b, "doc"))
		// Removing the current version makes the one before current.
		require.NoError(t, b.DeleteVersion(ctx, "doc", v2.VersionID))
		require.Equal(t, "one", bktRead(t, b, "doc"))
		require.ErrorIs(t, b.DeleteVersion(ctx, "doc", v2.VersionID), ErrNoSuchVersion)

		got := rec.waitFor(t, 5)
		type ev struct{ Event, VersionID string }
		var evs []ev
		for _, c := range got {
			evs = append(evs, ev{c.Event, c.VersionID})
		}
		require.Equal(t, []ev{
			{ObjectCreatedPut, v1.VersionID},
			{ObjectCreatedPut, v2.VersionID},
			{ObjectRemovedDeleteMarkerCreated, m.VersionID},
			{ObjectRemovedDelete, m.VersionID},
			{ObjectRemovedDelete, v2.VersionID},
		}, evs)
		require.Empty(t, got[2].ETag)
		require.Zero(t, got[2].Size)
	})
}

func TestBucketMultipart(t *testing.T) {
	bktBackends(t, BucketOptions{}, func(t *testing.T, b *Bucket) {
		ctx := context.Background()
		rec := &bktRecorder{}
		bktWatch(t, b, rec.deliver)

		part1 := bytes.Repeat([]byte("a"), MinPartSize)
		part2 := []byte("the end")
		id, err := b.CreateMultipartUpload(ctx, "big")
		require.NoError(t, err)
		require.Equal(t, []string{id}, b.Uploads("big"))
		e2, err := b.UploadPart(ctx, "big", id, 2, bytes.NewReader(part2))
		require.NoError(t, err)
		_, err = b.UploadPart(ctx, "big", id, 1, strings.NewReader("replaced below"))
		require.NoError(t, err)
		e1, err := b.UploadPart(ctx, "big", id, 1, bytes.NewReader(part1))
		require.NoError(t, err)
		require.Equal(t, md5hex(part1), e1)
		_, err = b.UploadPart(ctx, "big", id, 0, strings.NewReader("x"))
		require.ErrorIs(t, err, ErrInvalidPart)
		_, err = b.UploadPart(ctx, "big", "nope", 1, strings.NewReader("x"))
		require.ErrorIs(t, err, ErrNoSuchUpload)

		for _, tc := range []struct {
			name  string
			parts []CompletedPart
			want  error
		}{
			{"none", nil, ErrInvalidPart},
			{"order", []CompletedPart{{2, e2}, {1, e1}}, ErrInvalidPartOrder},
			{"etag", []CompletedPart{{1, e2}, {2, e2}}, ErrInvalidPart},
			{"missing", []CompletedPart{{1, e1}, {3, e2}}, ErrInvalidPart},
			{"unknown", []CompletedPart{{2, e2}, {3, e2}}, ErrInvalidPart},
		} {
			_, err := b.CompleteMultipartUpload(ctx, "big", id, tc.parts)
			require.ErrorIs(t, err, tc.want, tc.name)
		}
		// A part under the minimum is refused but for the last.
		id2, err := b.CreateMultipartUpload(ctx, "small")
		require.NoError(t, err)
		s1, err := b.UploadPart(ctx, "small", id2, 1, strings.NewReader("tiny"))
		require.NoError(t, err)
		s2, err := b.UploadPart(ctx, "small", id2, 2, strings.NewReader("tiny"))
		require.NoError(t, err)
		_, err = b.CompleteMultipartUpload(ctx, "small", id2, []CompletedPart{{1, s1}, {2, s2}})
		require.ErrorIs(t, err, ErrEntityTooSmall)
		require.NoError(t, b.AbortMultipartUpload(ctx, "small", id2))
		require.ErrorIs(t, b.AbortMultipartUpload(ctx, "small", id2), ErrNoSuchUpload)

		// Failed completions left the upload as it was.
		o, err := b.CompleteMultipartUpload(ctx, "big", id, []CompletedPart{{1, `"` + e1 + `"`}, {2, e2}})
		require.NoError(t, err)
		sums := md5.Sum(append(md5sum(part1), md5sum(part2)...))
		require.Equal(t, hex.EncodeToString(sums[:])+"-2", o.ETag)
		require.Equal(t, int64(len(part1)+len(part2)), o.Size)
		require.Equal(t, string(part1)+string(part2), bktRead(t, b, "big"))
		require.Empty(t, b.Uploads("big"))
		_, err = b.CompleteMultipartUpload(ctx, "big", id, []CompletedPart{{1, e1}, {2, e2}})
		require.ErrorIs(t, err, ErrNoSuchUpload)

		got := rec.waitFor(t, 1)
		require.Len(t, got, 1)
		require.Equal(t, ObjectCreatedCompleteMultipartUpload, got[0].Event)
		require.Equal(t, o.ETag, got[0].ETag)
		require.Equal(t, o.Size, got[0].Size)
		if b.dir != nil {
			tmps, err := os.ReadDir(filepath.Join(b.dir.meta, "tmp"))
			require.NoError(t, err)
			require.Empty(t, tmps, "the parts are gone")
		}
	})
}

func md5sum(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}

func TestBucketClosed(t *testing.T) {
	bktBackends(t, BucketOptions{}, func(t *testing.T, b *Bucket) {
		ctx := context.Background()
		bktPut(t, b, "k", "v")
		id, err := b.CreateMultipartUpload(ctx, "m")
		require.NoError(t, err)
		_, err = b.UploadPart(ctx, "m", id, 1, strings.NewReader("part"))
		require.NoError(t, err)
		require.NoError(t, b.Close())
		_, err = b.Put(ctx, "k", strings.NewReader("x"))
		require.ErrorIs(t, err, ErrBucketClosed)
		_, err = b.Get(ctx, "k")
		require.ErrorIs(t, err, ErrBucketClosed)
		require.ErrorIs(t, b.Watch(ctx, (&bktRecorder{}).deliver), ErrBucketClosed)
		if b.dir != nil {
			tmps, err := os.ReadDir(filepath.Join(b.dir.meta, "tmp"))
			require.NoError(t, err)
			require.Empty(t, tmps, "the upload's parts are gone")
		}
	})
}
