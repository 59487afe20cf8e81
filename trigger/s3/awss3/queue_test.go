package awss3_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sqssdk "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/s3/internal/notifysuite"
	"github.com/wasmlambda/lambda/trigger/sqs"
	"github.com/wasmlambda/lambda/trigger/sqs/awssqs"
)

// sqsClient returns a client of the SQS-protocol server at
// $WASMLAMBDA_SQS_ENDPOINT (testkit.SQSEndpoint: skipped without one, or
// failed under CI=true).
func sqsClient(t *testing.T) *sqssdk.Client {
	t.Helper()
	endpoint := testkit.SQSEndpoint(t)
	return sqssdk.New(sqssdk.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

var queueCounter atomic.Int64

// fauxqsQueues makes real queues on the server, with unique names, one set
// per test.
func fauxqsQueues(c *sqssdk.Client) notifysuite.Factory {
	return func(t *testing.T) func(string, sqs.QueueConfig) sqs.Queue {
		arns := map[string]string{}
		return func(name string, cfg sqs.QueueConfig) sqs.Queue {
			ctx := context.Background()
			unique := fmt.Sprintf("wl-s3-%d-%d-%s", time.Now().UnixNano()%1e9, queueCounter.Add(1), name)
			attrs := map[string]string{}
			if cfg.VisibilityTimeout > 0 {
				attrs["VisibilityTimeout"] = strconv.Itoa(int(cfg.VisibilityTimeout / time.Second))
			}
			if cfg.RedrivePolicy != nil {
				dlq := arns[cfg.RedrivePolicy.DeadLetterQueue]
				require.NotEmpty(t, dlq, "the dead-letter queue %s", cfg.RedrivePolicy.DeadLetterQueue)
				b, err := json.Marshal(map[string]string{"deadLetterTargetArn": dlq, "maxReceiveCount": strconv.Itoa(cfg.RedrivePolicy.MaxReceiveCount)})
				require.NoError(t, err)
				attrs["RedrivePolicy"] = string(b)
			}
			out, err := c.CreateQueue(ctx, &sqssdk.CreateQueueInput{QueueName: aws.String(unique), Attributes: attrs})
			require.NoError(t, err)
			t.Cleanup(func() {
				_, _ = c.DeleteQueue(context.Background(), &sqssdk.DeleteQueueInput{QueueUrl: out.QueueUrl})
			})
			q, err := awssqs.New(ctx, c, aws.ToString(out.QueueUrl))
			require.NoError(t, err)
			arns[name] = q.ARN()
			return q
		}
	}
}

// TestQueueNotificationsFauxqs runs s3.QueueNotifications' suite on
// queues of the SQS-protocol server, through awssqs: real S3
// notification bodies, direct and SNS-wrapped, test events, and a wasm
// guest.
func TestQueueNotificationsFauxqs(t *testing.T) {
	c := sqsClient(t)
	notifysuite.Run(t, fauxqsQueues(c))
}
