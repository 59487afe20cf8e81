// Package awss3 is the Amazon S3 backend of the S3 trigger, with
// aws-sdk-go-v2, against Amazon S3 or any store that speaks its protocol:
//
//   - Lister, which lists a bucket with ListObjectsV2, for s3.Poller;
//   - FS, a bucket (or a prefix of it) as a read-only fs.FS, read lazily
//     with HeadObject and ranged GetObject requests, to mount for a guest;
//   - WriteFS, a bucket (or a prefix) a guest may write to, a
//     lambda.WriteFS whose files become objects, with PutObject, when they
//     are closed.
//
// S3's notifications reach a function through an SQS queue, with
// s3.QueueNotifications and awssqs's queue. This package keeps the AWS SDK
// out of package s3.
//
// For a local server, give the client its endpoint with path-style
// addressing: s3.New(opts, awss3.WithEndpoint("http://127.0.0.1:9000")).
package awss3

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"strings"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// API is the part of *s3.Client (aws-sdk-go-v2) that FS and WriteFS
// call.
type API interface {
	awss3.ListObjectsV2APIClient
	HeadObject(ctx context.Context, in *awss3.HeadObjectInput, optFns ...func(*awss3.Options)) (*awss3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *awss3.GetObjectInput, optFns ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *awss3.PutObjectInput, optFns ...func(*awss3.Options)) (*awss3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *awss3.DeleteObjectInput, optFns ...func(*awss3.Options)) (*awss3.DeleteObjectOutput, error)
}

var _ API = (*awss3.Client)(nil)

// WithEndpoint sets a client's endpoint, with path-style addressing
// (http://host/bucket/key), as local servers such as MinIO's want it. Pass
// it to s3.New or s3.NewFromConfig.
func WithEndpoint(url string) func(*awss3.Options) {
	return func(o *awss3.Options) {
		o.BaseEndpoint = &url
		o.UsePathStyle = true
	}
}

// statusError is the HTTP status of an SDK error.
type statusError interface{ HTTPStatusCode() int }

// fsError maps an S3 error to the fs package's: a missing key or bucket to
// fs.ErrNotExist, a denied request to fs.ErrPermission, themselves and not
// wrapping the S3 error, so that wazero, which compares a *fs.PathError's
// Err with them, gives the guest ENOENT and EPERM. Other errors are
// returned as they are (the guest sees EIO).
func fsError(err error) error {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var nb *types.NoSuchBucket
	if errors.As(err, &nsk) || errors.As(err, &nf) || errors.As(err, &nb) {
		return fs.ErrNotExist
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey") {
		return fs.ErrNotExist
	}
	var se statusError
	if errors.As(err, &se) {
		switch se.HTTPStatusCode() {
		case http.StatusNotFound:
			return fs.ErrNotExist
		case http.StatusForbidden:
			return fs.ErrPermission
		}
	}
	return err
}

// cleanPrefix makes prefix a folder: "" or ending in "/".
func cleanPrefix(prefix string) string {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return prefix
}
