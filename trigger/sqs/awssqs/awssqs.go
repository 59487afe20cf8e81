// Package awssqs is the Amazon SQS backend of the SQS trigger's queue: it
// implements sqs.Queue and lambda.QueueSender with aws-sdk-go-v2, against
// Amazon SQS or any endpoint that speaks its protocol (set BaseEndpoint in
// the client's options).
//
// SQS takes at most 10 messages or entries per call: a receive of more
// messages, or a batch of more entries, is split into several calls. Times
// are sent in whole seconds, rounded up.
package awssqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// API is the part of *sqs.Client (aws-sdk-go-v2) that Queue calls.
type API interface {
	GetQueueAttributes(ctx context.Context, in *awssqs.GetQueueAttributesInput, optFns ...func(*awssqs.Options)) (*awssqs.GetQueueAttributesOutput, error)
	ReceiveMessage(ctx context.Context, in *awssqs.ReceiveMessageInput, optFns ...func(*awssqs.Options)) (*awssqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *awssqs.DeleteMessageBatchInput, optFns ...func(*awssqs.Options)) (*awssqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *awssqs.ChangeMessageVisibilityBatchInput, optFns ...func(*awssqs.Options)) (*awssqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessageBatch(ctx context.Context, in *awssqs.SendMessageBatchInput, optFns ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error)
}

var (
	_ API                = (*awssqs.Client)(nil)
	_ sqs.Queue          = (*Queue)(nil)
	_ lambda.QueueSender = (*Queue)(nil)
)

// MaxBatch is SQS's limit on messages per receive and entries per batch.
const MaxBatch = 10

// maxBatchBytes is SQS's limit on the size of a send batch.
const maxBatchBytes = 256 * 1024

// Queue is one Amazon SQS queue. It is safe for concurrent use.
type Queue struct {
	api     API
	url     string
	arn     string
	fifo    bool
	maxSize int
}

// New returns the queue at queueURL, reading its ARN, kind and maximum
// message size from SQS.
func New(ctx context.Context, api API, queueURL string) (*Queue, error) {
	out, err := api.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameQueueArn,
			types.QueueAttributeNameFifoQueue,
			types.QueueAttributeNameMaximumMessageSize,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("awssqs: reading the attributes of %s: %w", queueURL, err)
	}
	q := &Queue{api: api, url: queueURL, arn: out.Attributes[string(types.QueueAttributeNameQueueArn)], maxSize: sqs.DefaultMaximumMessageSize}
	q.fifo = out.Attributes[string(types.QueueAttributeNameFifoQueue)] == "true"
	if n, err := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameMaximumMessageSize)]); err == nil && n > 0 && n < q.maxSize {
		q.maxSize = n
	}
	if q.arn == "" {
		return nil, fmt.Errorf("awssqs: queue %s has no QueueArn attribute", queueURL)
	}
	return q, nil
}

// URL is the queue's URL.
func (q *Queue) URL() string { return q.url }

// ARN is the queue's ARN.
func (q *Queue) ARN() string { return q.arn }

// FIFO reports whether the queue is a FIFO queue.
func (q *Queue) FIFO() bool { return q.fifo }

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int32 {
	return int32((d + time.Second - 1) / time.Second)
}

// Receive receives up to opts.MaxMessages messages. For more than 10 it
// makes several calls while each returns a full 10: the first waits
// opts.WaitTime, the next ones the queue's receive wait time (SQS takes a
// wait of 0 to mean the queue's). A
// failure after some messages were received returns those messages and
// no error (they stay in flight until their visibility timeout ends
// otherwise).
func (q *Queue) Receive(ctx context.Context, opts sqs.ReceiveOptions) ([]sqs.Message, error) {
	n := opts.MaxMessages
	if n == 0 {
		n = 1
	}
	if n < 0 {
		return nil, fmt.Errorf("awssqs: MaxMessages %d is negative", n)
	}
	var got []sqs.Message
	wait := seconds(opts.WaitTime)
	for len(got) < n {
		ask := min(n-len(got), MaxBatch)
		out, err := q.api.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(q.url),
			MaxNumberOfMessages:         int32(ask),
			WaitTimeSeconds:             wait,
			VisibilityTimeout:           seconds(opts.VisibilityTimeout),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if len(got) > 0 {
				return got, nil
			}
			return nil, err
		}
		for _, m := range out.Messages {
			got = append(got, fromSQS(m))
		}
		if len(out.Messages) < ask {
			break
		}
		wait = 0 // the queue's own receive wait time: SQS cannot be told 0
	}
	return got, nil
}

func fromSQS(m types.Message) sqs.Message {
	out := sqs.Message{
		MessageID:     aws.ToString(m.MessageId),
		ReceiptHandle: aws.ToString(m.ReceiptHandle),
		Body:          aws.ToString(m.Body),
		MD5OfBody:     aws.ToString(m.MD5OfBody),
		Attributes:    m.Attributes,
	}
	if len(m.MessageAttributes) > 0 {
		out.MessageAttributes = make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes))
		for k, a := range m.MessageAttributes {
			out.MessageAttributes[k] = events.SQSMessageAttribute{
				DataType:         aws.ToString(a.DataType),
				StringValue:      a.StringValue,
				BinaryValue:      a.BinaryValue,
				StringListValues: a.StringListValues,
				BinaryListValues: a.BinaryListValues,
			}
		}
	}
	return out
}

func toSQSAttrs(in map[string]events.SQSMessageAttribute) map[string]types.MessageAttributeValue {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]types.MessageAttributeValue, len(in))
	for k, a := range in {
		out[k] = types.MessageAttributeValue{
			DataType:         aws.String(a.DataType),
			StringValue:      a.StringValue,
			BinaryValue:      a.BinaryValue,
			StringListValues: a.StringListValues,
			BinaryListValues: a.BinaryListValues,
		}
	}
	return out
}

func entryIDs[E any](entries []E, id func(E) string) ([]string, error) {
	if len(entries) == 0 {
		return nil, errors.New("awssqs: empty batch")
	}
	ids := make([]string, len(entries))
	seen := make(map[string]bool, len(entries))
	for i, e := range entries {
		ids[i] = id(e)
		if ids[i] == "" {
			ids[i] = strconv.Itoa(i)
		}
		if seen[ids[i]] {
			return nil, fmt.Errorf("awssqs: entry ID %q is used twice in one batch (BatchEntryIdsNotDistinct)", ids[i])
		}
		seen[ids[i]] = true
	}
	return ids, nil
}

func fromErrorEntries(in []types.BatchResultErrorEntry) []sqs.EntryError {
	var out []sqs.EntryError
	for _, f := range in {
		out = append(out, sqs.EntryError{ID: aws.ToString(f.Id), Code: aws.ToString(f.Code), Message: aws.ToString(f.Message), SenderFault: f.SenderFault})
	}
	return out
}

// callFailed turns the failure of a whole call into failures of its
// entries.
func callFailed(ids []string, err error) []sqs.EntryError {
	code := "RequestFailed"
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	out := make([]sqs.EntryError, len(ids))
	for i, id := range ids {
		out[i] = sqs.EntryError{ID: id, Code: code, Message: err.Error()}
	}
	return out
}

// chunks calls do on consecutive runs of at most MaxBatch entries. A call
// that fails makes its entries fail; if every call fails, or ctx ends, the
// first error is returned instead.
func chunks(ctx context.Context, n int, do func(lo, hi int) ([]sqs.EntryError, error), ids []string) ([]sqs.EntryError, error) {
	var failed []sqs.EntryError
	var firstErr error
	ok := false
	for lo := 0; lo < n; lo += MaxBatch {
		hi := min(lo+MaxBatch, n)
		f, err := do(lo, hi)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			if firstErr == nil {
				firstErr = err
			}
			failed = append(failed, callFailed(ids[lo:hi], err)...)
			continue
		}
		ok = true
		failed = append(failed, f...)
	}
	if !ok {
		return nil, firstErr
	}
	return failed, nil
}

// Delete deletes messages, 10 per call.
func (q *Queue) Delete(ctx context.Context, entries []sqs.DeleteEntry) ([]sqs.EntryError, error) {
	ids, err := entryIDs(entries, func(e sqs.DeleteEntry) string { return e.ID })
	if err != nil {
		return nil, err
	}
	return chunks(ctx, len(entries), func(lo, hi int) ([]sqs.EntryError, error) {
		in := &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.url)}
		for i := lo; i < hi; i++ {
			in.Entries = append(in.Entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(ids[i]), ReceiptHandle: aws.String(entries[i].ReceiptHandle)})
		}
		out, err := q.api.DeleteMessageBatch(ctx, in)
		if err != nil {
			return nil, err
		}
		return fromErrorEntries(out.Failed), nil
	}, ids)
}

// ChangeVisibility changes visibility timeouts, 10 per call.
func (q *Queue) ChangeVisibility(ctx context.Context, entries []sqs.VisibilityEntry) ([]sqs.EntryError, error) {
	ids, err := entryIDs(entries, func(e sqs.VisibilityEntry) string { return e.ID })
	if err != nil {
		return nil, err
	}
	return chunks(ctx, len(entries), func(lo, hi int) ([]sqs.EntryError, error) {
		in := &awssqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(q.url)}
		for i := lo; i < hi; i++ {
			in.Entries = append(in.Entries, types.ChangeMessageVisibilityBatchRequestEntry{
				Id:                aws.String(ids[i]),
				ReceiptHandle:     aws.String(entries[i].ReceiptHandle),
				VisibilityTimeout: seconds(entries[i].VisibilityTimeout),
			})
		}
		out, err := q.api.ChangeMessageVisibilityBatch(ctx, in)
		if err != nil {
			return nil, err
		}
		return fromErrorEntries(out.Failed), nil
	}, ids)
}

func messageSize(body string, attrs map[string]events.SQSMessageAttribute) int {
	n := len(body)
	for k, a := range attrs {
		n += len(k) + len(a.DataType) + len(a.BinaryValue)
		if a.StringValue != nil {
			n += len(*a.StringValue)
		}
	}
	return n
}

// Send sends messages, at most 10 and 256 KiB per call. A message larger
// than the queue's maximum size fails with the code MessageTooLong before
// any call.
func (q *Queue) Send(ctx context.Context, entries []sqs.SendEntry) ([]sqs.SendResult, []sqs.EntryError, error) {
	ids, err := entryIDs(entries, func(e sqs.SendEntry) string { return e.ID })
	if err != nil {
		return nil, nil, err
	}
	var (
		sent     []sqs.SendResult
		failed   []sqs.EntryError
		firstErr error
		ok       bool
		batch    []int
		size     int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		in := &awssqs.SendMessageBatchInput{QueueUrl: aws.String(q.url)}
		for _, i := range batch {
			e := entries[i]
			in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{
				Id:                     aws.String(ids[i]),
				MessageBody:            aws.String(e.Body),
				DelaySeconds:           seconds(e.Delay),
				MessageAttributes:      toSQSAttrs(e.MessageAttributes),
				MessageGroupId:         nonEmpty(e.MessageGroupID),
				MessageDeduplicationId: nonEmpty(e.MessageDeduplicationID),
			})
		}
		chunk := batch
		batch, size = nil, 0
		out, err := q.api.SendMessageBatch(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			if firstErr == nil {
				firstErr = err
			}
			cids := make([]string, len(chunk))
			for j, i := range chunk {
				cids[j] = ids[i]
			}
			failed = append(failed, callFailed(cids, err)...)
			return nil
		}
		ok = true
		for _, s := range out.Successful {
			sent = append(sent, sqs.SendResult{ID: aws.ToString(s.Id), MessageID: aws.ToString(s.MessageId), MD5OfBody: aws.ToString(s.MD5OfMessageBody), SequenceNumber: aws.ToString(s.SequenceNumber)})
		}
		failed = append(failed, fromErrorEntries(out.Failed)...)
		return nil
	}
	for i, e := range entries {
		n := messageSize(e.Body, e.MessageAttributes)
		if n > q.maxSize {
			failed = append(failed, sqs.EntryError{ID: ids[i], Code: sqs.CodeMessageTooLong, SenderFault: true,
				Message: fmt.Sprintf("the message is too long: %d bytes of body and attributes, more than the queue's limit of %d", n, q.maxSize)})
			continue
		}
		if len(batch) == MaxBatch || size+n > maxBatchBytes {
			if err := flush(); err != nil {
				return nil, nil, err
			}
		}
		batch = append(batch, i)
		size += n
	}
	if err := flush(); err != nil {
		return nil, nil, err
	}
	if !ok && firstErr != nil {
		return nil, nil, firstErr
	}
	return sent, failed, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// SendMessage sends a message with msg's body and attributes, for
// lambda.QueueSink and lambda.QueueDestination. Like Lambda's dead-letter
// queues and destinations, it needs a standard queue: on a FIFO queue it
// fails.
func (q *Queue) SendMessage(ctx context.Context, msg lambda.QueueMessage) (string, error) {
	if q.fifo {
		return "", fmt.Errorf("awssqs: queue %s is FIFO; dead letters and destination records need a standard queue", q.arn)
	}
	sent, failed, err := q.Send(ctx, []sqs.SendEntry{{Body: msg.Body, MessageAttributes: sqs.ConvertAttributes(msg.Attributes)}})
	if err != nil {
		return "", err
	}
	if len(failed) > 0 {
		return "", failed[0]
	}
	return sent[0].MessageID, nil
}
