package awss3

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wasmlambda/lambda/trigger/s3"
)

// Lister lists a bucket with ListObjectsV2, page by page: the s3.Lister
// of an s3.Poller.
//
//	p := &s3.Poller{BucketName: "photos", Lister: &awss3.Lister{API: client, Bucket: "photos"},
//		Cursor: "/var/lib/app/photos.cursor"}
type Lister struct {
	// API is the client: an *s3.Client. Required.
	API awss3.ListObjectsV2APIClient
	// Bucket is the bucket to list. Required.
	Bucket string
	// PageSize is the most keys a request asks for: 1 to 1,000. Default
	// 1,000, S3's most.
	PageSize int32
}

var _ s3.Lister = (*Lister)(nil)

// List calls fn with each object whose key begins with prefix, in key
// order. ListObjectsV2 gives no version IDs, so ObjectInfo.VersionID is
// empty; the ETag is without its quotes.
func (l *Lister) List(ctx context.Context, prefix string, fn func(s3.ObjectInfo) error) error {
	if l.API == nil || l.Bucket == "" {
		return fmt.Errorf("awss3: a Lister needs an API and a Bucket")
	}
	in := &awss3.ListObjectsV2Input{Bucket: aws.String(l.Bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if l.PageSize > 0 {
		in.MaxKeys = aws.Int32(l.PageSize)
	}
	pages := awss3.NewListObjectsV2Paginator(l.API, in)
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("awss3: list %s/%s: %w", l.Bucket, prefix, err)
		}
		for _, o := range out.Contents {
			info := s3.ObjectInfo{
				Key:          aws.ToString(o.Key),
				Size:         aws.ToInt64(o.Size),
				ETag:         strings.Trim(aws.ToString(o.ETag), `"`),
				LastModified: aws.ToTime(o.LastModified),
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}
