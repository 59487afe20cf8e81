package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/lambdatest"
)

func TestGenerateEvent(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		args []string
		want []byte // the kit's sample, byte for byte with --compact
	}{
		{"s3 put", []string{"s3", "put"}, lambdatest.S3PutEvent(lambdatest.S3EventOptions{})},
		{"s3 put with fields", []string{"s3", "put", "--bucket", "photos", "--key", "cats/tom & jerry.jpg", "--size", "2048", "--etag", "abc", "--version-id", "v1", "--time", "2026-05-04T10:00:00Z", "--region", "eu-west-1"},
			lambdatest.S3PutEvent(lambdatest.S3EventOptions{Bucket: "photos", Key: "cats/tom & jerry.jpg", Size: 2048, ETag: "abc", VersionID: "v1", Time: at, Region: "eu-west-1"})},
		{"s3 delete", []string{"s3", "delete", "--key", "old.txt"}, lambdatest.S3DeleteEvent(lambdatest.S3EventOptions{Key: "old.txt"})},
		{"sqs receive-message", []string{"sqs", "receive-message"}, lambdatest.SQSEvent(lambdatest.SQSEventOptions{})},
		{"sqs receive-message with bodies", []string{"sqs", "receive-message", "--body", `{"id":"o-1"}`, "--body", "two", "--queue", "orders", "--account", "123456789012"},
			lambdatest.SQSEvent(lambdatest.SQSEventOptions{Messages: []lambdatest.SQSMessage{{Body: `{"id":"o-1"}`}, {Body: "two"}}, QueueName: "orders", AccountID: "123456789012"})},
		{"schedule", []string{"schedule", "--rule", "nightly", "--time", "2026-05-04T10:00:00Z"}, lambdatest.ScheduledEvent(lambdatest.ScheduledEventOptions{Rule: "nightly", Time: at})},
		{"http", []string{"http", "--method", "post", "--path", "/orders", "--query", "a=1&a=2", "--header", "Content-Type: application/json", "--body", `{"id":1}`, "--route-key", "POST /orders", "--path-parameter", "id=1"},
			lambdatest.APIGatewayV2Event(lambdatest.HTTPEventOptions{Method: "post", Path: "/orders", Query: "a=1&a=2", Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"id":1}`, RouteKey: "POST /orders", PathParameters: map[string]string{"id": "1"}})},
		{"http function url", []string{"http", "--function-url", "--cookie", "s=1", "--authorizer", `{"iam":{"userId":"u"}}`},
			lambdatest.FunctionURLEvent(lambdatest.HTTPEventOptions{Cookies: []string{"s=1"}, Authorizer: json.RawMessage(`{"iam":{"userId":"u"}}`)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, "", "", append([]string{"generate-event"}, append(tt.args, "--compact")...)...)
			require.Equal(t, 0, r.code, "%s", r)
			require.Equal(t, string(tt.want)+"\n", r.stdout)
			require.Empty(t, r.stderr)

			// Indented by default, the same JSON.
			r = cli(t, "", "", append([]string{"generate-event"}, tt.args...)...)
			require.Equal(t, 0, r.code, "%s", r)
			var indented bytes.Buffer
			require.NoError(t, json.Indent(&indented, tt.want, "", "  "))
			require.Equal(t, indented.String()+"\n", r.stdout)
		})
	}

	t.Run("an S3 event decodes as aws-lambda-go's", func(t *testing.T) {
		t.Parallel()
		r := cli(t, "", "", "generate-event", "s3", "put", "--bucket", "photos", "--key", "a b.jpg")
		require.Equal(t, 0, r.code, "%s", r)
		var ev events.S3Event
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &ev))
		require.Equal(t, "photos", ev.Records[0].S3.Bucket.Name)
		require.Equal(t, "a+b.jpg", ev.Records[0].S3.Object.Key)
		require.Equal(t, "a b.jpg", ev.Records[0].S3.Object.URLDecodedKey)
	})
}

func TestGenerateEventBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown kind", []string{"generate-event", "dynamodb"}, `unknown command "dynamodb" for "wasmlambda generate-event"`},
		{"no kind", []string{"generate-event"}, "wasmlambda generate-event needs a kind: s3 put|delete, sqs receive-message, schedule or http"},
		{"an unknown s3 event", []string{"generate-event", "s3", "copy"}, `unknown command "copy" for "wasmlambda generate-event s3"`},
		{"a bad time", []string{"generate-event", "schedule", "--time", "yesterday"}, `"yesterday": want a time such as 2026-05-04T10:00:00Z`},
		{"a bad header", []string{"generate-event", "http", "--header", "no-colon"}, `--header "no-colon": want NAME:VALUE`},
		{"an authorizer that is not JSON", []string{"generate-event", "http", "--authorizer", "{"}, "--authorizer: not valid JSON"},
		{"a size that is no number", []string{"generate-event", "s3", "put", "--size", "big"}, `invalid argument "big" for "--size"`},
		{"a flag of another kind", []string{"generate-event", "s3", "delete", "--size", "1"}, "unknown flag: --size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, "", "", tt.args...)
			require.Equal(t, exitError, r.code, "%s", r)
			require.Contains(t, r.stderr, tt.want)
			require.Empty(t, r.stdout)
		})
	}
}
