package awss3

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	lambda "github.com/wasmlambda/lambda"
)

// WriteFS is a bucket, or a prefix of it, that a guest may write to: a
// lambda.WriteFS, mounted with lambda.Mount{Path: "/mnt/out", FS: w,
// ReadWrite: true}. It reads as FS does. A file created with Create is
// written to a temporary file, and uploaded with one PutObject when it is
// closed: the object appears then, whole, or not at all (a failed upload
// fails Close; a file never closed is never uploaded). Its Content-Type
// is the one its extension has (mime.TypeByExtension), if any.
//
// A bucket written to is a bucket that notifies: a function that writes
// into the bucket (or the prefix) that triggers it triggers itself. Write
// elsewhere, or filter the rule so that its output does not match.
type WriteFS struct {
	*FS
	// TempDir is where files are buffered until they are closed. Empty
	// means os.TempDir.
	TempDir string
}

var _ lambda.WriteFS = (*WriteFS)(nil)

// NewWriteFS returns the objects of bucket under prefix as a file system
// that can be written to; prefix is a folder, as for NewFS.
func NewWriteFS(api API, bucket, prefix string) *WriteFS {
	return &WriteFS{FS: NewFS(api, bucket, prefix)}
}

// WithContext returns a copy of w whose requests use ctx.
func (w *WriteFS) WithContext(ctx context.Context) *WriteFS {
	c := *w
	c.FS = w.FS.WithContext(ctx)
	return &c
}

// Create creates the file name for writing; the object name is written,
// replacing any, when the file is closed.
func (w *WriteFS) Create(name string) (io.WriteCloser, error) {
	if !fs.ValidPath(name) || name == "." {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrInvalid}
	}
	tmp, err := os.CreateTemp(w.TempDir, "wasmlambda-awss3-*")
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	o := &objectWriter{fs: w.FS, name: name, tmp: tmp}
	// Unlinked at once where the system allows it: the space is freed
	// when the file is closed, or collected, even if Close never comes.
	if os.Remove(tmp.Name()) != nil {
		o.removeAtClose = true
	}
	return o, nil
}

// Remove deletes the object name. It fails with fs.ErrNotExist if there
// is none.
func (w *WriteFS) Remove(name string) error {
	if !fs.ValidPath(name) || name == "." {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrInvalid}
	}
	key := w.key(name)
	if _, err := w.api.HeadObject(w.ctx, &awss3.HeadObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(key)}); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fsError(err)}
	}
	if _, err := w.api.DeleteObject(w.ctx, &awss3.DeleteObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(key)}); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fsError(err)}
	}
	return nil
}

// objectWriter buffers a file in a temporary file until Close uploads it.
type objectWriter struct {
	fs            *FS
	name          string
	tmp           *os.File
	removeAtClose bool

	mu     sync.Mutex
	closed bool
}

func (o *objectWriter) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, &fs.PathError{Op: "write", Path: o.name, Err: fs.ErrClosed}
	}
	n, err := o.tmp.Write(p)
	if err != nil {
		return n, &fs.PathError{Op: "write", Path: o.name, Err: err}
	}
	return n, nil
}

// Close uploads the file; an error means the object was not written.
func (o *objectWriter) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return &fs.PathError{Op: "close", Path: o.name, Err: fs.ErrClosed}
	}
	o.closed = true
	defer func() {
		_ = o.tmp.Close()
		if o.removeAtClose {
			_ = os.Remove(o.tmp.Name())
		}
	}()
	size, err := o.tmp.Seek(0, io.SeekEnd)
	if err != nil {
		return &fs.PathError{Op: "close", Path: o.name, Err: err}
	}
	in := &awss3.PutObjectInput{
		Bucket:        aws.String(o.fs.bucket),
		Key:           aws.String(o.fs.key(o.name)),
		Body:          io.NewSectionReader(o.tmp, 0, size),
		ContentLength: aws.Int64(size),
	}
	if ct := mime.TypeByExtension(path.Ext(o.name)); ct != "" {
		in.ContentType = aws.String(ct)
	}
	if _, err := o.fs.api.PutObject(o.fs.ctx, in); err != nil {
		return &fs.PathError{Op: "close", Path: o.name, Err: errors.Join(errors.New("the object was not written"), fsError(err))}
	}
	return nil
}
