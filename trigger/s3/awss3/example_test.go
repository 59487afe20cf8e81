package awss3_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/s3"
	"github.com/wasmlambda/lambda/trigger/s3/awss3"
)

// A Poller watches a store that sends no notifications, here gofakes3
// in the process; its changes feed the S3 trigger as the embedded bucket's
// do. An FS lets a function's guest read the objects, and a WriteFS write
// some.
func Example() {
	ctx := context.Background()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer srv.Close()
	client := sdk.New(sdk.Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:  srv.Client(),
	}, awss3.WithEndpoint(srv.URL))
	_, _ = client.CreateBucket(ctx, &sdk.CreateBucketInput{Bucket: aws.String("photos")})

	dir, _ := os.MkdirTemp("", "cursor")
	defer os.RemoveAll(dir)
	poller := &s3.Poller{
		BucketName: "photos",
		Prefix:     "in/",
		Lister:     &awss3.Lister{API: client, Bucket: "photos"},
		Interval:   10 * time.Millisecond,
		Cursor:     filepath.Join(dir, "photos.cursor"),
	}
	changes := make(chan s3.Change, 10)
	watchCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() {
		done <- poller.Watch(watchCtx, func(_ context.Context, c s3.Change) error { changes <- c; return nil })
	}()
	for poller.Stats().Listings == 0 {
		time.Sleep(5 * time.Millisecond) // the first listing sets the cursor
	}

	out := awss3.NewWriteFS(client, "photos", "in/")
	w, _ := out.Create("cat.jpg")
	_, _ = w.Write([]byte("not really a cat"))
	_ = w.Close()
	c := <-changes
	fmt.Println(c.Event, c.Key, c.Size)
	stop()
	<-done

	in := awss3.NewFS(client, "photos", "in/")
	b, _ := fs.ReadFile(in, "cat.jpg")
	fmt.Println(strings.ToUpper(string(b)))
	// For a function: the prefix read-only at /mnt/in.
	_ = lambda.Mount{Path: "/mnt/in", FS: in}
	// Output:
	// ObjectCreated:Put in/cat.jpg 16
	// NOT REALLY A CAT
}
