package awss3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmlambda/lambda/trigger/s3"
	"github.com/wasmlambda/lambda/trigger/s3/awss3"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The SDK's HTTP transport keeps idle connections to the server.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// fakeS3 runs gofakes3 in memory on 127.0.0.1, with the buckets named,
// and returns a client of it.
func fakeS3(t *testing.T, buckets ...string) *sdk.Client {
	t.Helper()
	srv := httptest.NewUnstartedServer(gofakes3.New(s3mem.New()).Server())
	// gofakes3 writes some error responses' header twice: the server
	// would log it.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	c := sdk.New(sdk.Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:  srv.Client(),
	}, awss3.WithEndpoint(srv.URL))
	for _, b := range buckets {
		_, err := c.CreateBucket(context.Background(), &sdk.CreateBucketInput{Bucket: aws.String(b)})
		require.NoError(t, err)
	}
	return c
}

func put(t *testing.T, c awss3.API, bucket, key, body string) {
	t.Helper()
	_, err := c.PutObject(context.Background(), &sdk.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	require.NoError(t, err)
}

func del(t *testing.T, c awss3.API, bucket, key string) {
	t.Helper()
	_, err := c.DeleteObject(context.Background(), &sdk.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// spyAPI records the calls of FS and WriteFS, and can fail PutObject.
type spyAPI struct {
	awss3.API
	mu        sync.Mutex
	ranges    []string
	ifMatch   []string
	bodyBytes int64
	failPut   error
}

func (s *spyAPI) GetObject(ctx context.Context, in *sdk.GetObjectInput, opts ...func(*sdk.Options)) (*sdk.GetObjectOutput, error) {
	s.mu.Lock()
	s.ranges = append(s.ranges, aws.ToString(in.Range))
	s.ifMatch = append(s.ifMatch, aws.ToString(in.IfMatch))
	s.mu.Unlock()
	out, err := s.API.GetObject(ctx, in, opts...)
	if err == nil {
		out.Body = &countingBody{ReadCloser: out.Body, spy: s}
	}
	return out, err
}

func (s *spyAPI) PutObject(ctx context.Context, in *sdk.PutObjectInput, opts ...func(*sdk.Options)) (*sdk.PutObjectOutput, error) {
	s.mu.Lock()
	fail := s.failPut
	s.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	return s.API.PutObject(ctx, in, opts...)
}

type countingBody struct {
	io.ReadCloser
	spy *spyAPI
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.spy.mu.Lock()
	b.spy.bodyBytes += int64(n)
	b.spy.mu.Unlock()
	return n, err
}

func TestListerPages(t *testing.T) {
	t.Parallel()
	c := fakeS3(t, "bkt")
	keys := []string{"in/a", "in/b b", "in/c/d", "in/e+f", "in/é", "out/x"}
	for _, k := range keys {
		put(t, c, "bkt", k, "body of "+k)
	}
	for _, tc := range []struct {
		name     string
		pageSize int32
		prefix   string
		want     []string
	}{
		{"one page", 0, "", keys},
		{"pages of two", 2, "", keys},
		{"a prefix, pages of one", 1, "in/", keys[:5]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			l := &awss3.Lister{API: c, Bucket: "bkt", PageSize: tc.pageSize}
			err := l.List(context.Background(), tc.prefix, func(o s3.ObjectInfo) error {
				got = append(got, o.Key)
				require.Equal(t, md5hex("body of "+o.Key), o.ETag, "the ETag, without quotes")
				require.Equal(t, int64(len("body of "+o.Key)), o.Size)
				require.False(t, o.LastModified.IsZero())
				return nil
			})
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	stop := errors.New("stop")
	n := 0
	err := (&awss3.Lister{API: c, Bucket: "bkt", PageSize: 2}).List(context.Background(), "", func(s3.ObjectInfo) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 3, n)

	err = (&awss3.Lister{API: c, Bucket: "missing"}).List(context.Background(), "", func(s3.ObjectInfo) error { return nil })
	require.ErrorContains(t, err, "NoSuchBucket")
}

func TestFS(t *testing.T) {
	t.Parallel()
	c := fakeS3(t, "bkt", "other")
	objects := map[string]string{
		"in/a.txt":               "hello, world",
		"in/Happy Face (v2).jpg": "\xff\xd8\xff not really a jpeg",
		"in/empty":               "",
		"in/sub/b.txt":           "bee",
		"in/sub/c/d.txt":         strings.Repeat("d", 300),
		"in/marker/":             "",
		"in//odd":                "a key that is no path",
		"in/../up":               "nor is this",
		"out/secret":             "not under the prefix",
	}
	for k, v := range objects {
		put(t, c, "bkt", k, v)
	}
	put(t, c, "other", "in/a.txt", "another bucket")
	fsys := awss3.NewFS(c, "bkt", "in")
	require.Equal(t, "in/", fsys.Prefix())
	require.Equal(t, "bkt", fsys.Bucket())

	require.NoError(t, fstest.TestFS(fsys, "a.txt", "Happy Face (v2).jpg", "empty", "sub/b.txt", "sub/c/d.txt", "marker"))

	for name, want := range map[string]string{"a.txt": "hello, world", "sub/c/d.txt": objects["in/sub/c/d.txt"], "empty": ""} {
		b, err := fs.ReadFile(fsys, name)
		require.NoError(t, err, name)
		require.Equal(t, want, string(b), name)
	}
	entries, err := fs.ReadDir(fsys, ".")
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"Happy Face (v2).jpg", "a.txt", "empty", "marker", "sub"}, names, "no odd keys, nothing outside the prefix")

	for _, tc := range []struct {
		name string
		want error
	}{
		{"../out/secret", fs.ErrInvalid},
		{"/a.txt", fs.ErrInvalid},
		{"sub/../a.txt", fs.ErrInvalid},
		{"secret", fs.ErrNotExist},
		{"nope", fs.ErrNotExist},
		{"sub/nope", fs.ErrNotExist},
	} {
		t.Run("open "+tc.name, func(t *testing.T) {
			_, err := fsys.Open(tc.name)
			require.ErrorIs(t, err, tc.want)
			var pe *fs.PathError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tc.name, pe.Path)
			_, err = fsys.Stat(tc.name)
			require.ErrorIs(t, err, tc.want)
		})
	}
	_, err = fsys.ReadDir("a.txt")
	require.ErrorContains(t, err, "not a directory")
	_, err = fsys.ReadDir("nope")
	require.ErrorIs(t, err, fs.ErrNotExist)

	// The whole bucket, when the prefix is empty.
	b, err := fs.ReadFile(awss3.NewFS(c, "bkt", ""), "out/secret")
	require.NoError(t, err)
	require.Equal(t, "not under the prefix", string(b))
}

// TestFSReadsLazily checks that a file is read with ranged GetObjects,
// never whole, each with If-Match on the ETag Open saw.
func TestFSReadsLazily(t *testing.T) {
	t.Parallel()
	c := fakeS3(t, "bkt")
	big := bytes.Repeat([]byte("0123456789"), 400_000) // 4 MB
	_, err := c.PutObject(context.Background(), &sdk.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big"), Body: bytes.NewReader(big)})
	require.NoError(t, err)
	spy := &spyAPI{API: c}
	fsys := awss3.NewFS(spy, "bkt", "")
	f, err := fsys.Open("big")
	require.NoError(t, err)
	defer f.Close()
	info, err := f.Stat()
	require.NoError(t, err)
	require.Equal(t, int64(len(big)), info.Size())
	require.Empty(t, spy.ranges, "Open and Stat read nothing")

	ra := f.(io.ReaderAt)
	p := make([]byte, 10)
	n, err := ra.ReadAt(p, 1_000_003)
	require.NoError(t, err)
	require.Equal(t, 10, n)
	require.Equal(t, "3456789012", string(p))
	n, err = ra.ReadAt(p, int64(len(big))-4)
	require.Equal(t, io.EOF, err)
	require.Equal(t, 4, n)
	require.Equal(t, "6789", string(p[:n]))

	// Read streams from the offset; Seek moves it.
	_, err = f.(io.Seeker).Seek(2_000_000, io.SeekStart)
	require.NoError(t, err)
	n, err = io.ReadFull(f, p)
	require.NoError(t, err)
	require.Equal(t, "0123456789", string(p[:n]))
	n, err = io.ReadFull(f, p)
	require.NoError(t, err)
	require.Equal(t, "0123456789", string(p[:n]), "the same GetObject, read on")
	require.NoError(t, f.Close())

	spy.mu.Lock()
	defer spy.mu.Unlock()
	require.Equal(t, []string{"bytes=1000003-1000012", "bytes=3999996-3999999", "bytes=2000000-"}, spy.ranges)
	etag := `"` + md5hex(string(big)) + `"`
	require.Equal(t, []string{etag, etag, etag}, spy.ifMatch)
	require.Less(t, spy.bodyBytes, int64(len(big))/2, "nothing is downloaded whole: %d bytes read", spy.bodyBytes)
}

func TestFSClosedFile(t *testing.T) {
	t.Parallel()
	c := fakeS3(t, "bkt")
	put(t, c, "bkt", "k", "data")
	fsys := awss3.NewFS(c, "bkt", "")
	f, err := fsys.Open("k")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = f.Read(make([]byte, 1))
	require.ErrorIs(t, err, fs.ErrClosed)
	_, err = f.(io.ReaderAt).ReadAt(make([]byte, 1), 0)
	require.ErrorIs(t, err, fs.ErrClosed)
	require.ErrorIs(t, f.Close(), fs.ErrClosed)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = fsys.WithContext(ctx).Open("k")
	require.ErrorIs(t, err, context.Canceled)
}

func TestWriteFS(t *testing.T) {
	t.Parallel()
	c := fakeS3(t, "bkt")
	put(t, c, "bkt", "out/old.txt", "old")
	spy := &spyAPI{API: c}
	tmp := t.TempDir()
	w := awss3.NewWriteFS(spy, "bkt", "out/")
	w.TempDir = tmp

	// A file becomes an object when it is closed, not before.
	f, err := w.Create("thumbs/a.png")
	require.NoError(t, err)
	_, err = io.WriteString(f, "PNG ")
	require.NoError(t, err)
	_, err = io.WriteString(f, "bytes")
	require.NoError(t, err)
	_, err = w.Stat("thumbs/a.png")
	require.ErrorIs(t, err, fs.ErrNotExist, "not before Close")
	require.NoError(t, f.Close())
	b, err := fs.ReadFile(w, "thumbs/a.png")
	require.NoError(t, err)
	require.Equal(t, "PNG bytes", string(b))
	head, err := c.HeadObject(context.Background(), &sdk.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("out/thumbs/a.png")})
	require.NoError(t, err)
	require.Equal(t, "image/png", aws.ToString(head.ContentType))
	_, err = f.Write([]byte("x"))
	require.ErrorIs(t, err, fs.ErrClosed)
	require.ErrorIs(t, f.Close(), fs.ErrClosed)

	// An empty file is an empty object.
	f, err = w.Create("empty")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	info, err := w.Stat("empty")
	require.NoError(t, err)
	require.Zero(t, info.Size())

	// A file never closed is never an object.
	f, err = w.Create("never.txt")
	require.NoError(t, err)
	_, err = io.WriteString(f, "lost")
	require.NoError(t, err)
	_, err = w.Stat("never.txt")
	require.ErrorIs(t, err, fs.ErrNotExist)

	// A failed upload fails Close, and writes nothing.
	spy.mu.Lock()
	spy.failPut = errors.New("connection reset")
	spy.mu.Unlock()
	f, err = w.Create("old.txt")
	require.NoError(t, err)
	_, err = io.WriteString(f, "new")
	require.NoError(t, err)
	err = f.Close()
	require.ErrorContains(t, err, "the object was not written")
	require.ErrorContains(t, err, "connection reset")
	b, err = fs.ReadFile(w, "old.txt")
	require.NoError(t, err)
	require.Equal(t, "old", string(b))

	// Remove.
	require.NoError(t, w.Remove("old.txt"))
	_, err = w.Stat("old.txt")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorIs(t, w.Remove("old.txt"), fs.ErrNotExist)

	for _, name := range []string{"../escape", "/abs", ".", "a/../b", ""} {
		_, err := w.Create(name)
		require.ErrorIs(t, err, fs.ErrInvalid, name)
		require.ErrorIs(t, w.Remove(name), fs.ErrInvalid, name)
	}

	// Nothing stays in the temporary directory, closed or not.
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left)

	// Nothing was written outside the prefix.
	var keys []string
	require.NoError(t, (&awss3.Lister{API: c, Bucket: "bkt"}).List(context.Background(), "", func(o s3.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}))
	require.Equal(t, []string{"out/empty", "out/thumbs/a.png"}, keys)
}
