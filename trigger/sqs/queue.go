// Package sqs is the SQS trigger: EventSource, AWS Lambda's event source
// mapping for SQS, which polls a queue and invokes a function with batches
// of messages (see docs/AWS.md for what it mirrors); the Queue interface it
// polls, shaped like Amazon SQS's API; and an embedded in-memory
// implementation of that interface, the default. The adapter for Amazon
// SQS (or any endpoint that speaks its protocol) is in the subpackage
// awssqs, so that this package does not pull in the AWS SDK. Like every
// trigger, it uses only the root package's exported API.
//
// # What the embedded queue mirrors from SQS
//
//   - Standard and FIFO queues (a FIFO queue's name ends in ".fifo").
//   - Visibility timeouts (default 30 s), receive counts, and receipt
//     handles that change at every receive. The latest handle still
//     deletes a message whose visibility has ended, as on SQS.
//   - A redrive policy: on the receive that would take a message's receive
//     count past maxReceiveCount, the message moves to the dead-letter
//     queue instead of being delivered. It keeps its ID, body, attributes
//     and SentTimestamp.
//   - FIFO message groups: a group's next message is not delivered while an
//     earlier one of the group is in flight; deduplication for 5 minutes by
//     MessageDeduplicationId or, with ContentBasedDeduplication, by the
//     SHA-256 of the body; sequence numbers.
//   - Delay per queue and per message (not per message on FIFO queues),
//     retention (default 4 days), the 256 KiB size limit on body plus
//     attributes, and long polling that returns as soon as a message is
//     available or the wait ends.
//   - System attributes ApproximateReceiveCount, SentTimestamp, SenderId,
//     ApproximateFirstReceiveTimestamp, and on FIFO queues MessageGroupId,
//     MessageDeduplicationId and SequenceNumber.
//
// # Where it differs
//
//   - It is exact, where SQS is approximate: a standard queue delivers in
//     send order, never twice for one receive, and a receive sees every
//     visible message (no sampling of servers, no empty short polls).
//   - A stale receipt handle (one from an earlier receive than the
//     latest) fails to delete or change visibility with
//     ReceiptHandleIsInvalid. SQS's documentation says such a delete
//     "succeeds, but the message will not be deleted"; failing it tells
//     the consumer that its delete did nothing.
//   - The body must be valid UTF-8 of the characters SQS allows, and a
//     standard queue refuses MessageGroupId (SQS's fair queues now take
//     it).
//   - Batches are not limited to 10 entries, and a receive may ask for more
//     than 10 messages; awssqs splits such calls for SQS.
//   - Queue attributes are fixed when the queue is created.
//   - The state lives in memory and is lost when the process ends, unless
//     the queues are opened with a state directory (OpenEmbedded), where
//     every change is synced to disk before its call returns.
package sqs

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/events"

	lambda "github.com/wasmlambda/lambda"
)

// Queue is an SQS queue as a trigger consumes it: receive with a
// visibility timeout, delete, change visibility, send. The embedded queue
// (*EmbeddedQueue) and awssqs's adapter implement it. It is also a
// lambda.QueueSender, so a queue can receive dead letters (QueueSink) and
// invocation records (QueueDestination).
//
// Implementations are safe for concurrent use.
type Queue interface {
	lambda.QueueSender

	// ARN is the queue's ARN, the eventSourceARN of SQS events.
	ARN() string
	// FIFO reports whether the queue is a FIFO queue.
	FIFO() bool

	// Receive returns up to opts.MaxMessages messages and makes them
	// invisible for the visibility timeout. It waits up to opts.WaitTime
	// for the first message (long polling) and may return none. It
	// returns ctx's error if ctx ends first.
	Receive(ctx context.Context, opts ReceiveOptions) ([]Message, error)

	// Delete deletes the messages the entries' receipt handles name. An
	// entry that fails is reported in the returned slice; err is for
	// failures of the whole call.
	Delete(ctx context.Context, entries []DeleteEntry) (failed []EntryError, err error)

	// ChangeVisibility sets the visibility timeout of in-flight messages,
	// counted from now. An entry that fails is reported in the returned
	// slice; err is for failures of the whole call.
	ChangeVisibility(ctx context.Context, entries []VisibilityEntry) (failed []EntryError, err error)

	// Send enqueues messages. Each entry either succeeds, with a result,
	// or fails, with an EntryError; err is for failures of the whole call.
	Send(ctx context.Context, entries []SendEntry) (sent []SendResult, failed []EntryError, err error)
}

// ReceiveOptions are the parameters of Queue.Receive.
type ReceiveOptions struct {
	// MaxMessages is the most messages to return. Zero means 1, SQS's
	// default. SQS returns at most 10 per call; awssqs makes several calls
	// for more.
	MaxMessages int
	// WaitTime is how long to wait for a first message: 0 to 20 s, in
	// whole seconds for SQS. Zero means the queue's own receive wait time.
	WaitTime time.Duration
	// VisibilityTimeout is how long the messages stay invisible: 0 to 12
	// hours, in whole seconds for SQS. Zero means the queue's own.
	VisibilityTimeout time.Duration
}

// Names of the system attributes in Message.Attributes, as SQS names them.
const (
	AttrApproximateReceiveCount          = "ApproximateReceiveCount"
	AttrSentTimestamp                    = "SentTimestamp"
	AttrSenderID                         = "SenderId"
	AttrApproximateFirstReceiveTimestamp = "ApproximateFirstReceiveTimestamp"
	AttrMessageGroupID                   = "MessageGroupId"
	AttrMessageDeduplicationID           = "MessageDeduplicationId"
	AttrSequenceNumber                   = "SequenceNumber"
)

// Message is a received message.
type Message struct {
	// MessageID is the message's ID, given when it was sent.
	MessageID string
	// ReceiptHandle names this receive of the message: it deletes it or
	// changes its visibility, until the message is received again.
	ReceiptHandle string
	// Body is the message body.
	Body string
	// MD5OfBody is the hex MD5 digest of Body.
	MD5OfBody string
	// Attributes are the system attributes by name (the Attr constants):
	// timestamps are milliseconds since the epoch, in decimal.
	Attributes map[string]string
	// MessageAttributes are the message attributes by name.
	MessageAttributes map[string]events.SQSMessageAttribute
}

// SendEntry is one message to send.
type SendEntry struct {
	// ID identifies the entry in the results; it must be unique within a
	// call. Empty means the entry's index in decimal.
	ID string
	// Body is the message body: not empty, and with the attributes at most
	// the queue's maximum message size (256 KiB by default).
	Body string
	// MessageAttributes are the message attributes by name.
	MessageAttributes map[string]events.SQSMessageAttribute
	// Delay keeps the message invisible for this long after it is sent, 0
	// to 15 minutes, in whole seconds for SQS. Zero means the queue's own
	// delay. Not allowed on FIFO queues.
	Delay time.Duration
	// MessageGroupID is the message group, required on FIFO queues and
	// not allowed on standard ones.
	MessageGroupID string
	// MessageDeduplicationID deduplicates sends within 5 minutes on FIFO
	// queues. It is required unless the queue has content-based
	// deduplication.
	MessageDeduplicationID string
}

// SendResult is the result of a sent entry.
type SendResult struct {
	// ID is the entry's ID.
	ID string
	// MessageID is the message's ID.
	MessageID string
	// MD5OfBody is the hex MD5 digest of the body.
	MD5OfBody string
	// SequenceNumber is the message's sequence number on a FIFO queue.
	SequenceNumber string
}

// DeleteEntry names one message to delete.
type DeleteEntry struct {
	// ID identifies the entry in the failures; it must be unique within a
	// call. Empty means the entry's index in decimal.
	ID string
	// ReceiptHandle is the handle of the latest receive of the message.
	ReceiptHandle string
}

// VisibilityEntry names one message whose visibility timeout to change.
type VisibilityEntry struct {
	// ID identifies the entry in the failures; it must be unique within a
	// call. Empty means the entry's index in decimal.
	ID string
	// ReceiptHandle is the handle of the latest receive of the message.
	ReceiptHandle string
	// VisibilityTimeout is the new timeout, counted from now: 0 to 12
	// hours, in whole seconds for SQS. Zero makes the message visible now.
	VisibilityTimeout time.Duration
}

// EntryError is the failure of one entry of a batch call.
type EntryError struct {
	// ID is the entry's ID.
	ID string
	// Code is SQS's error code, such as ReceiptHandleIsInvalid.
	Code string
	// Message describes the failure.
	Message string
	// SenderFault reports whether the caller's request was at fault.
	SenderFault bool
}

// Error returns the code and message.
func (e EntryError) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns ErrMessageTooLong for the code MessageTooLong, so that
// errors.Is finds it whichever queue failed.
func (e EntryError) Unwrap() error {
	if e.Code == CodeMessageTooLong {
		return ErrMessageTooLong
	}
	return nil
}

// Error codes of EntryError, as SQS names them.
const (
	CodeReceiptHandleIsInvalid = "ReceiptHandleIsInvalid"
	CodeMessageNotInflight     = "MessageNotInflight"
	CodeInvalidParameterValue  = "InvalidParameterValue"
	CodeMissingParameter       = "MissingParameter"
	CodeMessageTooLong         = "MessageTooLong"
	CodeInvalidMessageContents = "InvalidMessageContents"
)

// Errors of the embedded queue.
var (
	// ErrClosed is returned by calls on a closed Embedded.
	ErrClosed = errors.New("sqs: embedded queues are closed")
	// ErrMessageTooLong is returned (wrapped) for a message larger than
	// the queue's maximum message size.
	ErrMessageTooLong = errors.New("sqs: message too long")
)
