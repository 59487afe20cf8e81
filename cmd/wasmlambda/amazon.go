package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	sdksqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/wasmlambda/lambda/trigger/sqs/awssqs"
)

// The amazon forms of queues and buckets reach AWS (or an endpoint that
// speaks its protocol) with the SDK's default configuration: credentials
// from the environment (AWS_ACCESS_KEY_ID, AWS_PROFILE and the like), the
// shared config and credentials files, SSO, or the instance's role.

// openAmazonQueue opens the Amazon SQS queue of q.
func openAmazonQueue(ctx context.Context, q *amazonQueue, defaultRegion string) (*awssqs.Queue, error) {
	region := q.Region
	if region == "" {
		region = regionOfURL(q.URL, "sqs")
	}
	if region == "" {
		region = defaultRegion
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	client := sdksqs.NewFromConfig(cfg, func(o *sdksqs.Options) {
		if q.Endpoint != "" {
			o.BaseEndpoint = aws.String(q.Endpoint)
		}
	})
	return awssqs.New(ctx, client, q.URL)
}

// regionOfURL is the region in an AWS service URL such as
// https://sqs.eu-west-1.amazonaws.com/123456789012/orders, or "".
func regionOfURL(raw, service string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 4 && parts[0] == service && strings.HasSuffix(u.Hostname(), ".amazonaws.com") {
		return parts[1]
	}
	return ""
}

// checkAmazonBucket checks a bucket of the amazon form.
//
// The adapter for Amazon S3 (trigger/s3/awss3, with S3 notifications over
// SQS and a poller) is not part of this build yet, so an amazon bucket is
// refused with an error that says so.
func checkAmazonBucket(d *decoder, b *bucketConfig) {
	d.failField(b.At, "amazon", "amazon buckets are not supported yet by this build of wasmlambda; use an embedded bucket (embedded: {dir: ..., watch: true})")
}
