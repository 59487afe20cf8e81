package s3

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestBucketFS(t *testing.T) {
	bktBackends(t, BucketOptions{}, func(t *testing.T, b *Bucket) {
		// The view is lazy: it is made before the objects are.
		whole, in := b.FS(""), b.FS("in")
		for k, v := range map[string]string{
			"in/a.jpg": "A", "in/sub/b.jpg": "BB", "in/sub/deeper/c": "CCC",
			"in/folder/": "", // a console's folder
			"in/x":       "file", "in/x/y": "dir wins", "in/x!": "sorts between",
			"in//odd": "not a path", "in/./dot": "not a path", "in/../up": "not a path",
			"out/z": "Z", "inside": "not under in/",
		} {
			bktPut(t, b, k, v)
		}
		require.NoError(t, fstest.TestFS(in, "a.jpg", "sub/b.jpg", "sub/deeper/c", "x/y", "x!", "folder"))
		require.NoError(t, fstest.TestFS(whole, "in/a.jpg", "out/z", "inside"))

		data, err := fs.ReadFile(in, "sub/b.jpg")
		require.NoError(t, err)
		require.Equal(t, "BB", string(data))
		fi, err := fs.Stat(in, "x")
		require.NoError(t, err)
		require.True(t, fi.IsDir(), "a key that is also a directory is the directory")
		// A directory lists its entries in the order of their names,
		// though the directory "x" sorts after the key "x!".
		d, err := in.Open(".")
		require.NoError(t, err)
		des, err := d.(fs.ReadDirFile).ReadDir(-1)
		require.NoError(t, err)
		require.NoError(t, d.Close())
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		require.Equal(t, []string{"a.jpg", "folder", "sub", "x", "x!"}, names)
		entries, err := fs.ReadDir(in, "folder")
		require.NoError(t, err)
		require.Empty(t, entries)

		for _, name := range []string{"../out/z", "/in/a.jpg", "sub/../a.jpg", "./a.jpg", "a.jpg/", ""} {
			_, err := in.Open(name)
			require.ErrorIs(t, err, fs.ErrInvalid, "%q", name)
		}
		for _, name := range []string{"nope", "inside", "z"} {
			_, err := in.Open(name)
			require.ErrorIs(t, err, fs.ErrNotExist, "%q", name)
		}

		// An open file keeps the version it opened; a new Open sees a
		// later one.
		f, err := in.Open("a.jpg")
		require.NoError(t, err)
		defer f.Close()
		bktPut(t, b, "in/a.jpg", "changed")
		data, err = io.ReadAll(f)
		require.NoError(t, err)
		require.Equal(t, "A", string(data))
		data, err = fs.ReadFile(in, "a.jpg")
		require.NoError(t, err)
		require.Equal(t, "changed", string(data))
	})
}

func TestBucketWriteFS(t *testing.T) {
	bktBackends(t, BucketOptions{}, func(t *testing.T, b *Bucket) {
		ctx := context.Background()
		rec := &bktRecorder{}
		bktWatch(t, b, rec.deliver)
		w := b.WriteFS("out/")

		f, err := w.Create("thumbs/cat.jpg")
		require.NoError(t, err)
		_, err = io.WriteString(f, "small ")
		require.NoError(t, err)
		_, err = io.WriteString(f, "cat")
		require.NoError(t, err)
		_, err = b.Head(ctx, "out/thumbs/cat.jpg")
		require.ErrorIs(t, err, ErrNoSuchKey, "not an object before it is closed")
		require.NoError(t, f.Close())
		require.Error(t, f.Close())
		_, err = f.Write([]byte("late"))
		require.ErrorIs(t, err, fs.ErrClosed)
		require.Equal(t, "small cat", bktRead(t, b, "out/thumbs/cat.jpg"))
		data, err := fs.ReadFile(w, "thumbs/cat.jpg")
		require.NoError(t, err)
		require.Equal(t, "small cat", string(data))

		// A file never closed is no object.
		g, err := w.Create("never")
		require.NoError(t, err)
		_, err = io.WriteString(g, "lost")
		require.NoError(t, err)
		_, err = b.Head(ctx, "out/never")
		require.ErrorIs(t, err, ErrNoSuchKey)
		// The runtime drops a file the guest never closed with
		// CloseWithError: nothing is committed, and nothing staged stays.
		require.NoError(t, g.(interface{ CloseWithError(error) error }).CloseWithError(errors.New("guest crashed")))
		require.ErrorIs(t, g.Close(), fs.ErrClosed)
		_, err = b.Head(ctx, "out/never")
		require.ErrorIs(t, err, ErrNoSuchKey)
		if b.dir != nil {
			staged, err := os.ReadDir(filepath.Join(b.dir.meta, "tmp"))
			require.NoError(t, err)
			require.Empty(t, staged, "a dropped file leaves nothing staged")
		}

		for _, name := range []string{"../escape", "/abs", ".", "a/../b", ""} {
			_, err := w.Create(name)
			require.ErrorIs(t, err, fs.ErrInvalid, "%q", name)
			require.ErrorIs(t, w.Remove(name), fs.ErrInvalid, "%q", name)
		}
		require.ErrorIs(t, w.Remove("nope"), fs.ErrNotExist)
		require.NoError(t, w.Remove("thumbs/cat.jpg"))
		_, err = fs.Stat(w, "thumbs/cat.jpg")
		require.ErrorIs(t, err, fs.ErrNotExist)

		got := rec.waitFor(t, 2)
		require.Len(t, got, 2)
		require.Equal(t, ObjectCreatedPut, got[0].Event)
		require.Equal(t, "out/thumbs/cat.jpg", got[0].Key)
		require.Equal(t, md5hex([]byte("small cat")), got[0].ETag)
		require.Equal(t, int64(9), got[0].Size)
		require.Equal(t, ObjectRemovedDelete, got[1].Event)

		// A close on a closed bucket fails, and commits nothing.
		h, err := w.Create("late")
		require.NoError(t, err)
		require.NoError(t, b.Close())
		err = h.Close()
		require.ErrorIs(t, err, ErrBucketClosed)
		var pe *fs.PathError
		require.True(t, errors.As(err, &pe))
	})
}
