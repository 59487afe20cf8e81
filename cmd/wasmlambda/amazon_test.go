package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdksqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/testguest"
)

// sqsEndpointEnv names the environment variable that holds the endpoint of
// an SQS-protocol server (fauxqs in CI, started by .ci/run).
const sqsEndpointEnv = "WASMLAMBDA_SQS_ENDPOINT"

// sqsEndpoint returns the SQS-protocol server's endpoint. With none, the
// test is skipped, or fails under CI=true.
func sqsEndpoint(t *testing.T) string {
	t.Helper()
	endpoint := os.Getenv(sqsEndpointEnv)
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	if endpoint == "" {
		missing("no SQS server: set %s (.ci/run starts fauxqs)", sqsEndpointEnv)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(endpoint + "/health")
	if err != nil {
		missing("the SQS server at %s does not answer: %v", endpoint, err)
	}
	_ = resp.Body.Close()
	return endpoint
}

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
	env := []string{
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_SESSION_TOKEN=",
		"AWS_PROFILE=", "AWS_CONFIG_FILE=" + filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	s := startEnv(t, env, dir, "run")
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
