package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	sdksqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/wasmlambda/lambda/trigger/s3/awss3"
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

// checkAmazonBucket checks a bucket of the amazon form: notified through
// a queue, or polled, or neither when it is only mounted.
func checkAmazonBucket(d *decoder, b *bucketConfig, queues map[string]*queueConfig) {
	a := b.Amazon
	switch {
	case a.Queue.Name != "" && a.Poll != 0:
		d.failField(a.At, "poll", "a bucket is notified through a queue or polled, not both")
	case a.Queue.Name != "" && queues[a.Queue.Name] == nil:
		d.failf(a.Queue.At.Line, a.Queue.At.Column, a.Queue.At.Path, "no queue named %q", a.Queue.Name)
	case a.Prefix != "" && a.Poll == 0:
		d.failField(a.At, "prefix", "only for a polled bucket")
	}
}

// amazonBucketClient is an S3 client for the bucket of a.
func amazonBucketClient(ctx context.Context, a *amazonBucket, defaultRegion string) (*sdks3.Client, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(or(a.Region, defaultRegion)))
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	var opts []func(*sdks3.Options)
	if a.Endpoint != "" {
		opts = append(opts, awss3.WithEndpoint(a.Endpoint))
	}
	return sdks3.NewFromConfig(cfg, opts...), nil
}
