package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	sdksqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/lambdatest"
	"github.com/wasmlambda/lambda/trigger/s3/awss3"
)

// sqsEndpoint returns the SQS-protocol server's endpoint
// (testkit.SQSEndpoint: skipped without one, or failed under CI=true).
func sqsEndpoint(t *testing.T) string { return testkit.SQSEndpoint(t) }

// TestRunAmazonQueue runs a config whose SQS trigger polls a queue of an
// SQS-protocol server, through the amazon form of a queue, with the
// credentials of the environment.
func TestRunAmazonQueue(t *testing.T) {
	endpoint := sqsEndpoint(t)
	ctx := t.Context()
	client := sdksqs.New(sdksqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	name := fmt.Sprintf("wasmlambda-cli-%d", time.Now().UnixNano())
	created, err := client.CreateQueue(ctx, &sdksqs.CreateQueueInput{QueueName: aws.String(name)})
	require.NoError(t, err)
	url := aws.ToString(created.QueueUrl)
	t.Cleanup(func() { _, _ = client.DeleteQueue(t.Context(), &sdksqs.DeleteQueueInput{QueueUrl: aws.String(url)}) })
	_, err = client.SendMessageBatch(ctx, &sdksqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("1"), MessageBody: aws.String(`{"id":"o-1","cents":250}`)},
		{Id: aws.String("2"), MessageBody: aws.String(`{"id":"o-2","cents":100}`)},
	}})
	require.NoError(t, err)

	orders := filepath.Join(testguest.Root(), "examples", "unit-testing")
	warmGoDir(t, orders)
	dir := t.TempDir()
	writeFile(t, dir, "wasmlambda.yaml", fmt.Sprintf(`cacheDir: %s
queues:
  - name: orders
    amazon:
      url: %s
      endpoint: %s
      region: us-east-1
functions:
  - name: orders
    code: %s
    triggers:
      - sqs: {queue: orders, reportBatchItemFailures: true}
`, cacheDir(), url, endpoint, orders))
	s := startEnv(t, awsEnv(dir), dir, "run")
	s.waitOutput(t, commandTimeout, "wasmlambda: queue orders: Amazon SQS, "+url+"\n")
	s.waitOutput(t, time.Minute, "[orders] order o-1 accepted: 250 cents\n", "[orders] order o-2 accepted: 100 cents\n")

	// Each batch is deleted once its invoke succeeded.
	require.Eventually(t, func() bool {
		out, err := client.GetQueueAttributes(ctx, &sdksqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		}})
		require.NoError(t, err)
		visible, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
		inFlight, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
		return visible == 0 && inFlight == 0
	}, time.Minute, 50*time.Millisecond)

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, s.wait(t, time.Minute), "a graceful shutdown exits 0")
	require.Contains(t, s.stderr.String(), "wasmlambda: stopped\n")
}

// awsEnv is the environment of a command that reaches a test server with
// the SDK's default configuration: static credentials, and no shared files
// or instance metadata to look for.
func awsEnv(dir string) []string {
	return []string{
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_SESSION_TOKEN=",
		"AWS_PROFILE=", "AWS_CONFIG_FILE=" + filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// fakeS3 runs gofakes3 in memory on 127.0.0.1 with the bucket named, and
// returns its URL, a client, and a channel closed when a listing of the
// bucket has been answered.
func fakeS3(t *testing.T, bucket string) (string, *sdks3.Client, <-chan struct{}) {
	t.Helper()
	listed := make(chan struct{})
	var once sync.Once
	fake := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fake.ServeHTTP(w, r)
		if r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2" {
			once.Do(func() { close(listed) })
		}
	}))
	// gofakes3 writes some error responses' header twice: the server
	// would log it.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	c := sdks3.New(sdks3.Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:  srv.Client(),
	}, awss3.WithEndpoint(srv.URL))
	_, err := c.CreateBucket(t.Context(), &sdks3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	return srv.URL, c, listed
}

func putObject(t *testing.T, c *sdks3.Client, bucket, key, body string) {
	t.Helper()
	_, err := c.PutObject(t.Context(), &sdks3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	require.NoError(t, err)
}

// TestRunAmazonBucketPolled runs a config with a bucket of an S3-protocol
// store (gofakes3, in the test): polled for an S3 trigger, and mounted.
func TestRunAmazonBucketPolled(t *testing.T) {
	endpoint, client, listed := fakeS3(t, "photos")
	putObject(t, client, "photos", "hello.txt", "hello from S3")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s3event.wasm"), testguest.Go(t, "s3event"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "behave.wasm"), testguest.Go(t, "behave"), 0o644))
	writeFile(t, dir, "wasmlambda.yaml", fmt.Sprintf(`cacheDir: %s
buckets:
  - name: photos
    amazon: {endpoint: "%s", poll: 100ms}
functions:
  - name: thumbnails
    code: s3event.wasm
    async: {onSuccess: {file: out/thumbnails.jsonl}}
    triggers:
      - s3: {bucket: photos, events: ["s3:ObjectCreated:*"], suffix: .jpg}
  - name: reader
    code: behave.wasm
    mounts: [{path: /mnt/photos, bucket: photos}]
    async: {onSuccess: {file: out/reader.jsonl}}
    triggers:
      - schedule: {expression: rate(1 hour), input: {op: read, path: /mnt/photos/hello.txt}}
`, cacheDir(), endpoint))

	s := startEnv(t, awsEnv(dir), dir, "run")
	s.waitOutput(t, commandTimeout,
		"wasmlambda: bucket photos: Amazon S3 bucket photos, polled every 100ms\n",
		"wasmlambda: thumbnails: trigger s3-photos, bucket photos s3:ObjectCreated:* on *.jpg, polled every 100ms\n",
		"wasmlambda: running 2 functions and 2 triggers")

	// The mount reads the bucket.
	require.Eventually(t, func() bool { return len(readRecords(t, filepath.Join(dir, "out", "reader.jsonl"))) == 1 }, time.Minute, 20*time.Millisecond)
	require.JSONEq(t, `{"data":"hello from S3"}`, string(readRecords(t, filepath.Join(dir, "out", "reader.jsonl"))[0].ResponsePayload))

	// Once the poller has listed the bucket, a new object is a change.
	select {
	case <-listed:
	case <-time.After(time.Minute):
		t.Fatal("the bucket was never listed")
	}
	putObject(t, client, "photos", "cats/tom.jpg", "meow")
	putObject(t, client, "photos", "notes.txt", "no picture")
	require.Eventually(t, func() bool { return len(readRecords(t, filepath.Join(dir, "out", "thumbnails.jsonl"))) == 1 }, time.Minute, 20*time.Millisecond)
	var got struct{ Bucket, Key, Event string }
	require.NoError(t, json.Unmarshal(readRecords(t, filepath.Join(dir, "out", "thumbnails.jsonl"))[0].ResponsePayload, &got))
	require.Equal(t, struct{ Bucket, Key, Event string }{"photos", "cats/tom.jpg", "ObjectCreated:Put"}, got)

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, s.wait(t, time.Minute), "a graceful shutdown exits 0")
	require.Contains(t, s.stderr.String(), "s3-photos: 1 event\n")
}

// TestRunAmazonBucketNotified runs a config whose bucket S3 notifies
// through an SQS queue (of the SQS-protocol server CI starts): the
// notification's record reaches the function as S3 wrote it.
func TestRunAmazonBucketNotified(t *testing.T) {
	endpoint := sqsEndpoint(t)
	ctx := t.Context()
	client := sdksqs.New(sdksqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	name := fmt.Sprintf("wasmlambda-cli-s3-%d", time.Now().UnixNano())
	created, err := client.CreateQueue(ctx, &sdksqs.CreateQueueInput{QueueName: aws.String(name)})
	require.NoError(t, err)
	url := aws.ToString(created.QueueUrl)
	t.Cleanup(func() { _, _ = client.DeleteQueue(t.Context(), &sdksqs.DeleteQueueInput{QueueUrl: aws.String(url)}) })
	notification := lambdatest.S3PutEvent(lambdatest.S3EventOptions{Bucket: "photos", Key: "cats/tom.jpg", Region: "eu-west-1"})
	_, err = client.SendMessage(ctx, &sdksqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(notification))})
	require.NoError(t, err)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "echo.wasm"), testguest.Go(t, "echo"), 0o644))
	writeFile(t, dir, "wasmlambda.yaml", fmt.Sprintf(`cacheDir: %s
queues:
  - name: photo-events
    amazon: {url: "%s", endpoint: "%s"}
buckets:
  - name: photos
    amazon: {queue: photo-events}
functions:
  - name: thumbnails
    code: echo.wasm
    async: {onSuccess: {file: out/thumbnails.jsonl}}
    triggers:
      - s3: {bucket: photos}
`, cacheDir(), url, endpoint))
	s := startEnv(t, awsEnv(dir), dir, "run")
	s.waitOutput(t, commandTimeout,
		"wasmlambda: bucket photos: Amazon S3 bucket photos, notified through queue photo-events\n",
		"wasmlambda: thumbnails: trigger s3-photos, bucket photos, S3's notifications from queue photo-events\n")
	require.Eventually(t, func() bool { return len(readRecords(t, filepath.Join(dir, "out", "thumbnails.jsonl"))) == 1 }, time.Minute, 20*time.Millisecond)
	require.JSONEq(t, string(notification), string(readRecords(t, filepath.Join(dir, "out", "thumbnails.jsonl"))[0].ResponsePayload), "the record as S3 wrote it")

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, s.wait(t, time.Minute), "a graceful shutdown exits 0")
}
