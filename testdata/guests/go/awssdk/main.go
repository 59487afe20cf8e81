// Command awssdk is a Go test guest that calls AWS with aws-sdk-go-v2, as a
// Lambda handler does, through the host's outbound HTTP: its clients are
// built from config.LoadDefaultConfig (so the credentials are the execution
// role's, from the environment) with the one line the guest SDK documents,
// config.WithHTTPClient(hosthttp.Client()).
//
// The event names the operation: {"op":"put","endpoint":E,"bucket":B,
// "key":K,"body":S} writes an S3 object, {"op":"get",...} reads it back,
// {"op":"send","endpoint":E,"queueUrl":Q,"body":S} sends an SQS message.
// An SDK error is the function's error.
//
// Build from the repository root:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o awssdk.wasm ./testdata/guests/go/awssdk
package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/wasmlambda/lambda/guest"
	"github.com/wasmlambda/lambda/guest/hosthttp"
)

type event struct {
	Op       string `json:"op"`
	Endpoint string `json:"endpoint"`
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	Body     string `json:"body"`
	QueueURL string `json:"queueUrl"`
}

type response struct {
	Body      string `json:"body,omitempty"`
	MessageID string `json:"messageId,omitempty"`
}

func handler(ctx context.Context, e event) (response, error) {
	// The one line: the SDK's HTTP client goes through the host.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(hosthttp.Client()))
	if err != nil {
		return response{}, err
	}
	switch e.Op {
	case "put", "get":
		client := s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.BaseEndpoint = aws.String(e.Endpoint)
			o.UsePathStyle = true
		})
		if e.Op == "put" {
			_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.Bucket, Key: &e.Key, Body: strings.NewReader(e.Body)})
			return response{}, err
		}
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &e.Bucket, Key: &e.Key})
		if err != nil {
			return response{}, err
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		return response{Body: string(b)}, err
	case "send":
		client := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(e.Endpoint) })
		out, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &e.QueueURL, MessageBody: &e.Body})
		if err != nil {
			return response{}, err
		}
		return response{MessageID: aws.ToString(out.MessageId)}, nil
	}
	return response{}, fmt.Errorf("unknown op %q", e.Op)
}

func init() { guest.Start(handler) }

func main() {}
