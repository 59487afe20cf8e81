package awssqs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/sqs"
	"github.com/wasmlambda/lambda/trigger/sqs/awssqs"
	"github.com/wasmlambda/lambda/trigger/sqs/internal/suite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The SDK's HTTP transport keeps idle connections to the server.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// client returns a client of the SQS-protocol server at
// $WASMLAMBDA_SQS_ENDPOINT (testkit.SQSEndpoint: skipped without one, or
// failed under CI=true).
func client(t *testing.T) *sdk.Client {
	t.Helper()
	endpoint := testkit.SQSEndpoint(t)
	c := sdk.New(sdk.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	return c
}

var counter atomic.Int64

// fauxqsFactory creates real queues on the server, with unique names.
func fauxqsFactory(c *sdk.Client) suite.Factory {
	var mu sync.Mutex
	arns := map[*testing.T]map[string]string{}
	return func(t *testing.T, name string, cfg sqs.QueueConfig) sqs.Queue {
		ctx := context.Background()
		fifo := strings.HasSuffix(name, ".fifo")
		base := strings.TrimSuffix(name, ".fifo")
		unique := fmt.Sprintf("wl-%d-%d-%s", time.Now().UnixNano()%1e9, counter.Add(1), base)
		if fifo {
			unique += ".fifo"
		}
		attrs := map[string]string{}
		if cfg.FIFO {
			attrs["FifoQueue"] = "true"
		}
		if cfg.ContentBasedDeduplication {
			attrs["ContentBasedDeduplication"] = "true"
		}
		if cfg.VisibilityTimeout > 0 {
			attrs["VisibilityTimeout"] = strconv.Itoa(int(cfg.VisibilityTimeout / time.Second))
		}
		if cfg.Delay > 0 {
			attrs["DelaySeconds"] = strconv.Itoa(int(cfg.Delay / time.Second))
		}
		if cfg.ReceiveWaitTime > 0 {
			attrs["ReceiveMessageWaitTimeSeconds"] = strconv.Itoa(int(cfg.ReceiveWaitTime / time.Second))
		}
		if cfg.RedrivePolicy != nil {
			mu.Lock()
			dlq := arns[t][cfg.RedrivePolicy.DeadLetterQueue]
			mu.Unlock()
			require.NotEmpty(t, dlq, "the dead-letter queue %s", cfg.RedrivePolicy.DeadLetterQueue)
			b, err := json.Marshal(map[string]string{"deadLetterTargetArn": dlq, "maxReceiveCount": strconv.Itoa(cfg.RedrivePolicy.MaxReceiveCount)})
			require.NoError(t, err)
			attrs["RedrivePolicy"] = string(b)
		}
		out, err := c.CreateQueue(ctx, &sdk.CreateQueueInput{QueueName: aws.String(unique), Attributes: attrs})
		require.NoError(t, err)
		t.Cleanup(func() {
			_, _ = c.DeleteQueue(context.Background(), &sdk.DeleteQueueInput{QueueUrl: out.QueueUrl})
		})
		q, err := awssqs.New(ctx, c, aws.ToString(out.QueueUrl))
		require.NoError(t, err)
		mu.Lock()
		if arns[t] == nil {
			arns[t] = map[string]string{}
			t.Cleanup(func() { mu.Lock(); delete(arns, t); mu.Unlock() })
		}
		arns[t][name] = q.ARN()
		mu.Unlock()
		return q
	}
}

// fauxqsDifferences are the checks fauxqs does not pass, and why.
var fauxqsDifferences = map[string]string{
	"BatchDeleteFailures": "fauxqs reports success when deleting with a malformed receipt handle; SQS fails the entry with ReceiptHandleIsInvalid",
	"StaleReceiptHandle":  "fauxqs accepts an old receipt handle on delete, as SQS's docs allow (the request succeeds); the embedded queue fails it with ReceiptHandleIsInvalid so that a consumer learns the delete did nothing",
	"FIFOBatchOfOneGroup": "fauxqs returns at most one message of a message group per receive; SQS returns several of one group, in order",
}

func TestFauxqsSemantics(t *testing.T) {
	c := client(t)
	suite.Run(t, suite.Target{New: fauxqsFactory(c), Skip: fauxqsDifferences})
}

// fakeAPI records the calls of Queue and answers them.
type fakeAPI struct {
	mu       sync.Mutex
	receives []int32
	deletes  []int
	visible  []int
	sends    []int
	pending  int // messages left to receive
}

func (f *fakeAPI) GetQueueAttributes(ctx context.Context, in *sdk.GetQueueAttributesInput, _ ...func(*sdk.Options)) (*sdk.GetQueueAttributesOutput, error) {
	return &sdk.GetQueueAttributesOutput{Attributes: map[string]string{"QueueArn": "arn:aws:sqs:us-east-1:123456789012:q", "FifoQueue": "false", "MaximumMessageSize": "262144"}}, nil
}

func (f *fakeAPI) ReceiveMessage(ctx context.Context, in *sdk.ReceiveMessageInput, _ ...func(*sdk.Options)) (*sdk.ReceiveMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.receives = append(f.receives, in.MaxNumberOfMessages)
	n := min(int(in.MaxNumberOfMessages), f.pending)
	f.pending -= n
	out := &sdk.ReceiveMessageOutput{}
	for i := range n {
		out.Messages = append(out.Messages, types.Message{MessageId: aws.String(strconv.Itoa(i)), Body: aws.String("b")})
	}
	return out, nil
}

func failOdd(ids []*string) []types.BatchResultErrorEntry {
	var failed []types.BatchResultErrorEntry
	for _, id := range ids {
		if n, _ := strconv.Atoi(*id); n%2 == 1 {
			failed = append(failed, types.BatchResultErrorEntry{Id: id, Code: aws.String("ReceiptHandleIsInvalid"), SenderFault: true})
		}
	}
	return failed
}

func (f *fakeAPI) DeleteMessageBatch(ctx context.Context, in *sdk.DeleteMessageBatchInput, _ ...func(*sdk.Options)) (*sdk.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, len(in.Entries))
	var ids []*string
	for _, e := range in.Entries {
		ids = append(ids, e.Id)
	}
	return &sdk.DeleteMessageBatchOutput{Failed: failOdd(ids)}, nil
}

func (f *fakeAPI) ChangeMessageVisibilityBatch(ctx context.Context, in *sdk.ChangeMessageVisibilityBatchInput, _ ...func(*sdk.Options)) (*sdk.ChangeMessageVisibilityBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.visible = append(f.visible, len(in.Entries))
	var ids []*string
	for _, e := range in.Entries {
		ids = append(ids, e.Id)
	}
	return &sdk.ChangeMessageVisibilityBatchOutput{Failed: failOdd(ids)}, nil
}

func (f *fakeAPI) SendMessageBatch(ctx context.Context, in *sdk.SendMessageBatchInput, _ ...func(*sdk.Options)) (*sdk.SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends = append(f.sends, len(in.Entries))
	out := &sdk.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m" + *e.Id)})
	}
	return out, nil
}

func TestSplitsIntoCallsOfTen(t *testing.T) {
	ctx := context.Background()
	f := &fakeAPI{pending: 25}
	q, err := awssqs.New(ctx, f, "http://example/q")
	require.NoError(t, err)
	require.Equal(t, "arn:aws:sqs:us-east-1:123456789012:q", q.ARN())
	require.False(t, q.FIFO())

	ms, err := q.Receive(ctx, sqs.ReceiveOptions{MaxMessages: 30})
	require.NoError(t, err)
	require.Len(t, ms, 25)
	require.Equal(t, []int32{10, 10, 10}, f.receives) // the third returned 5 and ended it

	del := make([]sqs.DeleteEntry, 23)
	vis := make([]sqs.VisibilityEntry, 23)
	send := make([]sqs.SendEntry, 23)
	for i := range del {
		del[i] = sqs.DeleteEntry{ReceiptHandle: "h"}
		vis[i] = sqs.VisibilityEntry{ReceiptHandle: "h"}
		send[i] = sqs.SendEntry{Body: "x"}
	}
	failed, err := q.Delete(ctx, del)
	require.NoError(t, err)
	require.Len(t, failed, 11) // the odd IDs of 0..22
	require.Equal(t, []int{10, 10, 3}, f.deletes)
	failed, err = q.ChangeVisibility(ctx, vis)
	require.NoError(t, err)
	require.Len(t, failed, 11)
	require.Equal(t, []int{10, 10, 3}, f.visible)
	sent, sfailed, err := q.Send(ctx, send)
	require.NoError(t, err)
	require.Empty(t, sfailed)
	require.Len(t, sent, 23)
	require.Equal(t, []int{10, 10, 3}, f.sends)

	// A batch over 256 KiB in total is split by size as well.
	f.sends = nil
	big := []sqs.SendEntry{{Body: strings.Repeat("a", 200*1024)}, {Body: strings.Repeat("b", 200*1024)}, {Body: strings.Repeat("c", 300*1024)}}
	sent, sfailed, err = q.Send(ctx, big)
	require.NoError(t, err)
	require.Len(t, sent, 2)
	require.Len(t, sfailed, 1)
	require.Equal(t, "2", sfailed[0].ID)
	require.ErrorIs(t, sfailed[0], sqs.ErrMessageTooLong)
	require.Equal(t, []int{1, 1}, f.sends)
}

// failingAPI fails every DeleteMessageBatch call after the first.
type failingAPI struct {
	fakeAPI
	calls int
}

func (f *failingAPI) DeleteMessageBatch(ctx context.Context, in *sdk.DeleteMessageBatchInput, opts ...func(*sdk.Options)) (*sdk.DeleteMessageBatchOutput, error) {
	f.calls++
	if f.calls > 1 {
		return nil, fmt.Errorf("connection reset")
	}
	return f.fakeAPI.DeleteMessageBatch(ctx, in, opts...)
}

func TestFailedCallFailsItsEntries(t *testing.T) {
	ctx := context.Background()
	f := &failingAPI{}
	q, err := awssqs.New(ctx, f, "http://example/q")
	require.NoError(t, err)
	entries := make([]sqs.DeleteEntry, 12)
	for i := range entries {
		entries[i] = sqs.DeleteEntry{ID: fmt.Sprintf("e%d", i), ReceiptHandle: "h"}
	}
	// The first call of 10 succeeds; the second, of 2, fails as a whole,
	// and so do its two entries.
	failed, err := q.Delete(ctx, entries)
	require.NoError(t, err)
	require.Len(t, failed, 2)
	require.Equal(t, "e10", failed[0].ID)
	require.Equal(t, "e11", failed[1].ID)
	require.Equal(t, "RequestFailed", failed[0].Code)
	require.False(t, failed[0].SenderFault)

	// When every call fails, the error is returned.
	_, err = q.Delete(ctx, entries[:3])
	require.ErrorContains(t, err, "connection reset")
}
