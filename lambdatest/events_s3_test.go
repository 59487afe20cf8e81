package lambdatest_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/lambdatest"
	"github.com/wasmlambda/lambda/trigger/s3"
)

// jsonPaths lists every key path of a JSON value, as "a.b.c", arrays by
// their elements' paths.
func jsonPaths(t *testing.T, b []byte) []string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(b, &v), "%s", b)
	paths := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				paths[p] = true
				walk(p, e)
			}
		case []any:
			for _, e := range v {
				walk(prefix+"[]", e)
			}
		}
	}
	walk("", v)
	return slices.Sorted(maps.Keys(paths))
}

func TestS3EventSamples(t *testing.T) {
	t.Parallel()
	var aws json.RawMessage
	awsTestdata(t, "s3-event.json", &aws)
	awsPaths := jsonPaths(t, aws)
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(awsPaths), func(p string) bool {
			return slices.Contains(drop, strings.TrimPrefix(p, "Records[].s3.object."))
		})
	}

	tests := []struct {
		name      string
		event     []byte
		wantPaths []string
		want      string
	}{{
		name:  "put",
		event: lambdatest.S3PutEvent(lambdatest.S3EventOptions{}),
		// An unversioned bucket's record has no versionId.
		wantPaths: without("versionId"),
		want: `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
			"eventTime":"1970-01-01T00:00:00.000Z","eventName":"ObjectCreated:Put",
			"userIdentity":{"principalId":"wasmlambda"},
			"requestParameters":{"sourceIPAddress":"127.0.0.1"},
			"responseElements":{"x-amz-request-id":"*","x-amz-id-2":"*"},
			"s3":{"s3SchemaVersion":"1.0","configurationId":"testConfigRule",
			 "bucket":{"name":"example-bucket","ownerIdentity":{"principalId":"wasmlambda"},"arn":"arn:aws:s3:::example-bucket"},
			 "object":{"key":"test/key","size":1024,"eTag":"0123456789abcdef0123456789abcdef","sequencer":"0A1B2C3D4E5F678901"}}}]}`,
	}, {
		name: "put to a versioned bucket, every key of AWS's sample",
		event: lambdatest.S3PutEvent(lambdatest.S3EventOptions{
			Bucket: "sourcebucket", Key: "Happy Face.jpg", VersionID: "version", Size: 2048, ETag: "d41d8cd98f00b204e9800998ecf8427e",
			Time: time.Date(2026, 5, 4, 10, 0, 0, 123e6, time.UTC), Region: "eu-west-1", Principal: "EXAMPLE", ConfigurationID: "rule-1",
		}),
		wantPaths: awsPaths,
		want: `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1",
			"eventTime":"2026-05-04T10:00:00.123Z","eventName":"ObjectCreated:Put",
			"userIdentity":{"principalId":"EXAMPLE"},
			"requestParameters":{"sourceIPAddress":"127.0.0.1"},
			"responseElements":{"x-amz-request-id":"*","x-amz-id-2":"*"},
			"s3":{"s3SchemaVersion":"1.0","configurationId":"rule-1",
			 "bucket":{"name":"sourcebucket","ownerIdentity":{"principalId":"EXAMPLE"},"arn":"arn:aws:s3:::sourcebucket"},
			 "object":{"key":"Happy+Face.jpg","size":2048,"eTag":"d41d8cd98f00b204e9800998ecf8427e","versionId":"version","sequencer":"0A1B2C3D4E5F678901"}}}]}`,
	}, {
		name:  "delete",
		event: lambdatest.S3DeleteEvent(lambdatest.S3EventOptions{Key: "logs/a&b.txt"}),
		// A removed object's record has no size and no eTag.
		wantPaths: without("versionId", "size", "eTag"),
		want: `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
			"eventTime":"1970-01-01T00:00:00.000Z","eventName":"ObjectRemoved:Delete",
			"userIdentity":{"principalId":"wasmlambda"},
			"requestParameters":{"sourceIPAddress":"127.0.0.1"},
			"responseElements":{"x-amz-request-id":"*","x-amz-id-2":"*"},
			"s3":{"s3SchemaVersion":"1.0","configurationId":"testConfigRule",
			 "bucket":{"name":"example-bucket","ownerIdentity":{"principalId":"wasmlambda"},"arn":"arn:aws:s3:::example-bucket"},
			 "object":{"key":"logs/a%26b.txt","sequencer":"0A1B2C3D4E5F678901"}}}]}`,
	}, {
		name:      "delete marker",
		event:     lambdatest.S3DeleteEvent(lambdatest.S3EventOptions{EventName: "s3:ObjectRemoved:DeleteMarkerCreated", VersionID: "v2"}),
		wantPaths: without("size", "eTag"),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.wantPaths, jsonPaths(t, tt.event), "key for key against aws-lambda-go's events/testdata/s3-event.json")

			var typed events.S3Event
			strict(t, tt.event, &typed)
			require.Len(t, typed.Records, 1)
			ids := typed.Records[0].ResponseElements
			require.Regexp(t, `^[0-9A-F]{16}$`, ids["x-amz-request-id"])
			require.Regexp(t, `^[A-Za-z0-9+/]{64}$`, ids["x-amz-id-2"])
			if tt.want != "" {
				got := strings.NewReplacer(ids["x-amz-request-id"], "*", ids["x-amz-id-2"], "*").Replace(string(tt.event))
				require.JSONEq(t, tt.want, got)
			}
		})
	}

	require.Equal(t, lambdatest.S3PutEvent(lambdatest.S3EventOptions{}), lambdatest.S3PutEvent(lambdatest.S3EventOptions{}), "a sample is fixed")
	require.NotEqual(t,
		jsonField(t, lambdatest.S3PutEvent(lambdatest.S3EventOptions{}), "x-amz-request-id"),
		jsonField(t, lambdatest.S3PutEvent(lambdatest.S3EventOptions{Key: "other"}), "x-amz-request-id"),
		"the request ID is the change's")
}

// jsonField is the first string value of the field name anywhere in b.
func jsonField(t *testing.T, b []byte, name string) string {
	t.Helper()
	var typed events.S3Event
	require.NoError(t, json.Unmarshal(b, &typed))
	return typed.Records[0].ResponseElements[name]
}

// TestS3EventIsTheTriggers checks that the S3 trigger sends a bucket's put
// as the sample renders it, byte for byte.
func TestS3EventIsTheTriggers(t *testing.T) {
	// Closed after the runtime, whose cleanup is registered later.
	bucket, err := s3.NewBucket("photos", s3.BucketOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bucket.Close() })
	results := new(lambdatest.RecordSink)
	fn := deployGuest(t, lambda.FunctionConfig{Name: "uploads", Async: lambda.AsyncConfig{OnSuccess: results}})
	_, err = fn.Attach(t.Context(), "uploads", &s3.Notifications{Source: bucket, Rules: []s3.Rule{{ID: "on-put", Events: []string{"s3:ObjectCreated:*"}}}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return bucket.Watchers() > 0 }, lambdatest.WaitTimeout, time.Millisecond)

	obj, err := bucket.Put(t.Context(), "my photos/cat.jpg", strings.NewReader("meow"))
	require.NoError(t, err)
	sent := lambdatest.WaitRecords(t, results, 1)[0].ResponsePayload

	var typed events.S3Event
	require.NoError(t, json.Unmarshal(sent, &typed))
	r := typed.Records[0]
	want := lambdatest.S3PutEvent(lambdatest.S3EventOptions{
		Bucket: "photos", Key: obj.Key, Size: obj.Size, ETag: obj.ETag,
		Sequencer: r.S3.Object.Sequencer, ConfigurationID: "on-put", Time: obj.LastModified,
	})
	require.Equal(t, string(want), string(sent))
}
