package lambda_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// memBucket is an in-memory lambda.WriteFS: a file is committed when its
// writer is closed. It is safe for concurrent use.
type memBucket struct {
	mu      sync.Mutex
	objects fstest.MapFS
	// discarded lists the files discarded through CloseWithError.
	discarded []string
}

var _ lambda.WriteFS = (*memBucket)(nil)

func newMemBucket(objects map[string]string) *memBucket {
	b := &memBucket{objects: fstest.MapFS{}}
	for k, v := range objects {
		b.objects[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return b
}

// Open opens name in a snapshot: a committed file's data is never changed,
// only replaced.
func (b *memBucket) Open(name string) (fs.File, error) {
	b.mu.Lock()
	snap := maps.Clone(b.objects)
	b.mu.Unlock()
	return snap.Open(name)
}

func (b *memBucket) Create(name string) (io.WriteCloser, error) {
	if !fs.ValidPath(name) || name == "." {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrInvalid}
	}
	return &bucketWriter{b: b, name: name}, nil
}

func (b *memBucket) Remove(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objects[name]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(b.objects, name)
	return nil
}

func (b *memBucket) contents() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]string{}
	for k, f := range b.objects {
		out[k] = string(f.Data)
	}
	return out
}

func (b *memBucket) discards() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.discarded...)
}

type bucketWriter struct {
	b    *memBucket
	name string
	buf  bytes.Buffer
	done bool
}

func (w *bucketWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("write after close")
	}
	return w.buf.Write(p)
}

func (w *bucketWriter) Close() error {
	if w.done {
		return errors.New("closed twice")
	}
	w.done = true
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	w.b.objects[w.name] = &fstest.MapFile{Data: bytes.Clone(w.buf.Bytes())}
	return nil
}

func (w *bucketWriter) CloseWithError(err error) error {
	if err == nil {
		return w.Close()
	}
	w.done = true
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	w.b.discarded = append(w.b.discarded, w.name)
	return nil
}

// fileOps invokes the fileops guest and returns its result lines.
func fileOps(t *testing.T, f *lambda.Function, ops ...string) ([]string, error) {
	t.Helper()
	out, err := lambda.InvokeJSON[struct {
		Results []string `json:"results"`
	}](context.Background(), f, map[string]any{"ops": ops})
	return out.Results, err
}

// checkOps runs each op alone and requires its result.
func checkOps(t *testing.T, f *lambda.Function, ops [][2]string) {
	t.Helper()
	for _, op := range ops {
		got, err := fileOps(t, f, op[0])
		require.NoError(t, err, op[0])
		require.Equal(t, []string{op[0] + " => " + op[1]}, got)
	}
}

func TestWriteFSMount(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "fileops")
	rt := newRuntime(t, lambda.Options{})
	in := newMemBucket(map[string]string{"photos/cat.jpg": "meow", "photos/dog.jpg": "woof"})
	out := newMemBucket(map[string]string{"old.txt": "old"})
	other := newMemBucket(map[string]string{"secret.txt": "secret"})
	f := deploy(t, rt, lambda.FunctionConfig{
		Name: "objects",
		Code: guest,
		Mounts: []lambda.Mount{
			{Path: "/mnt/in", FS: in},
			{Path: "/mnt/out", FS: out, ReadWrite: true},
		},
	})
	checkOps(t, f, [][2]string{
		// The triggering bucket, read-only.
		{"ls:/mnt/in/photos", `"cat.jpg,dog.jpg" ok`},
		{"read:/mnt/in/photos/cat.jpg", `"meow" ok`},
		{"write:/mnt/in/photos/cat.jpg=x", `"" EROFS`},
		{"write:/mnt/in/new.txt=x", `"" EROFS`},
		{"remove:/mnt/in/photos/dog.jpg", `"" EROFS`},
		// The output bucket.
		{"write:/mnt/out/thumbs/cat.jpg=small meow", `"" ok`},
		{"read:/mnt/out/thumbs/cat.jpg", `"small meow" ok`},
		{"stat:/mnt/out/thumbs", `"0 dir=true" ok`},
		{"create:/mnt/out/thumbs/dog.jpg=small woof", `"" ok`},
		{"write:/mnt/out/old.txt=new", `"" ok`},
		{"append:/mnt/out/old.txt=more", `"" EPERM`},
		{"append:/mnt/out/log.txt=first", `"" ok`},
		{"truncate:/mnt/out/log.txt=1", `"" EPERM`},
		{"seek:/mnt/out/seek.txt=abc", `"" EINVAL`},
		{"sync:/mnt/out/sync.txt=abc", `"" EBADF`},
		{"rename:/mnt/out/log.txt=/mnt/out/log2.txt", `"" ENOSYS`},
		{"symlink:log.txt=/mnt/out/link", `"" EPERM`},
		{"mkdirall:/mnt/out/a/b/c", `"" ok`},
		{"stat:/mnt/out/a", `"" ENOENT`},
		{"write:/mnt/out/a/b/c/d.txt=deep", `"" ok`},
		{"ls:/mnt/out/a/b/c", `"d.txt" ok`},
		{"remove:/mnt/out/a/b/c/d.txt", `"" ok`},
		{"ls:/mnt/out", `"log.txt,old.txt,seek.txt,sync.txt,thumbs" ok`},
		{"write:/mnt/out/log.txt/x=x", `"" ENOTDIR`},
		// Nothing else.
		{"read:/mnt/other/secret.txt", `"" ENOENT`},
		{"write:/mnt/other/x=x", `"" ENOENT`},
		{"read:/mnt/out/../../etc/passwd", `"" ENOENT`},
	})
	require.Equal(t, map[string]string{
		"thumbs/cat.jpg": "small meow",
		"thumbs/dog.jpg": "small woof",
		"old.txt":        "new",
		"log.txt":        "first",
		"seek.txt":       "abc",
		"sync.txt":       "abc",
	}, out.contents())
	require.Equal(t, map[string]string{"photos/cat.jpg": "meow", "photos/dog.jpg": "woof"}, in.contents())
	require.Equal(t, map[string]string{"secret.txt": "secret"}, other.contents())
	require.Empty(t, out.discards())
}

func TestWriteFSMountIsChecked(t *testing.T) {
	guest := testguest.Go(t, "fileops")
	rt := newRuntime(t, lambda.Options{})
	_, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "m", Code: guest,
		Mounts: []lambda.Mount{{Path: "/mnt/out", FS: fstest.MapFS{}, ReadWrite: true}}})
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	require.ErrorContains(t, err, "Mounts[0] (/mnt/out): ReadWrite needs an FS that is a WriteFS")
	require.ErrorContains(t, err, "fstest.MapFS is read-only")

	// A WriteFS mounted without ReadWrite is read-only.
	b := newMemBucket(map[string]string{"a.txt": "A"})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "ro", Code: guest,
		Mounts: []lambda.Mount{{Path: "/mnt/b", FS: b}}})
	checkOps(t, f, [][2]string{
		{"read:/mnt/b/a.txt", `"A" ok`},
		{"write:/mnt/b/a.txt=x", `"" EROFS`},
		{"write:/mnt/b/new.txt=x", `"" EROFS`},
		{"remove:/mnt/b/a.txt", `"" EROFS`},
	})
	require.Equal(t, map[string]string{"a.txt": "A"}, b.contents())
}

// TestWriteFSMountUnclosed checks that a file the guest does not close is
// never committed: not when the guest crashes while writing, nor when its
// sandbox is closed, nor when a command exits; and that one closed in a
// later invocation of the same sandbox is.
func TestWriteFSMountUnclosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newRuntime(t, lambda.Options{})

	t.Run("crash", func(t *testing.T) {
		out := newMemBucket(nil)
		f := deploy(t, rt, lambda.FunctionConfig{Name: "crash", Code: testguest.Go(t, "fileops"), MaxConcurrency: 1,
			Mounts: []lambda.Mount{{Path: "/mnt/out", FS: out, ReadWrite: true}}})
		_, err := fileOps(t, f, "write:/mnt/out/whole.txt=whole", "crash:/mnt/out/partial.txt=half")
		var fe *lambda.FunctionError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, lambda.ErrorTypeExit, fe.Type, fe.Message)
		require.Equal(t, map[string]string{"whole.txt": "whole"}, out.contents(), "the partial file is not committed")
		require.Equal(t, []string{"partial.txt"}, out.discards())
		require.Equal(t, 0, f.Stats().Open, "the sandbox was discarded")

		// A new sandbox writes it whole.
		checkOps(t, f, [][2]string{{"write:/mnt/out/partial.txt=whole", `"" ok`}})
		require.Equal(t, map[string]string{"whole.txt": "whole", "partial.txt": "whole"}, out.contents())
	})

	t.Run("held across invocations", func(t *testing.T) {
		out := newMemBucket(nil)
		f := deploy(t, rt, lambda.FunctionConfig{Name: "held", Code: testguest.Go(t, "fileops"), MaxConcurrency: 1,
			Mounts: []lambda.Mount{{Path: "/mnt/out", FS: out, ReadWrite: true}}})
		checkOps(t, f, [][2]string{
			{"hold:/mnt/out/a.txt=a", `"" ok`},
			{"stat:/mnt/out/a.txt", `"" ENOENT`},
			{"release", `"" ok`},
			{"read:/mnt/out/a.txt", `"a" ok`},
			{"hold:/mnt/out/b.txt=b", `"" ok`},
		})
		require.NoError(t, f.Close(ctx))
		require.Equal(t, map[string]string{"a.txt": "a"}, out.contents(), "b.txt was open when the sandbox closed")
		require.Equal(t, []string{"b.txt"}, out.discards())
	})

	t.Run("command", func(t *testing.T) {
		out := newMemBucket(nil)
		code := testguest.GoDir(t, filepath.Join(testguest.Root(), "testdata", "guests", "go", "fileops"), true)
		f := deploy(t, rt, lambda.FunctionConfig{Name: "command", Code: code, MaxConcurrency: 1,
			Mounts: []lambda.Mount{{Path: "/mnt/out", FS: out, ReadWrite: true}}})
		checkOps(t, f, [][2]string{
			{"write:/mnt/out/a.txt=a", `"" ok`},
			{"read:/mnt/out/a.txt", `"a" ok`},
			{"hold:/mnt/out/b.txt=b", `"" ok`},
			{"stat:/mnt/out/b.txt", `"" ENOENT`},
			{"write:/mnt/out/c.txt=c", `"" ok`},
		})
		require.Equal(t, map[string]string{"a.txt": "a", "c.txt": "c"}, out.contents(), "b.txt was open when the command exited")
		require.Equal(t, []string{"b.txt"}, out.discards())
	})
}

// TestWriteFSMountConcurrent writes from several sandboxes at once into
// one WriteFS, some to the same names: each object is one invocation's
// whole file.
func TestWriteFSMountConcurrent(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	out := newMemBucket(nil)
	f := deploy(t, rt, lambda.FunctionConfig{Name: "many", Code: testguest.Go(t, "fileops"), MaxConcurrency: 4,
		Mounts: []lambda.Mount{{Path: "/mnt/out", FS: out, ReadWrite: true}}})
	const invokes = 12
	var wg sync.WaitGroup
	errs := make(chan error, invokes)
	for i := range invokes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := strings.Repeat(string(rune('a'+i)), 1000+i)
			got, err := fileOps(t, f, fmt.Sprintf("write:/mnt/out/own/%d.txt=%s", i, data), "write:/mnt/out/shared.txt="+data)
			if err == nil && (len(got) != 2 || !strings.HasSuffix(got[0], " ok") || !strings.HasSuffix(got[1], " ok")) {
				err = fmt.Errorf("invoke %d: %q", i, got)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got := out.contents()
	require.Len(t, got, invokes+1)
	for name, data := range got {
		require.Equal(t, strings.Repeat(data[:1], len(data)), data, name)
	}
	require.Empty(t, out.discards())
}
