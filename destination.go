package lambda

import (
	"context"
	"encoding/json"
	"time"
)

// Destination receives the outcome of asynchronous invocations as AWS's
// invocation record. The runtime calls Deliver from one goroutine per
// function and destination at a time, and calls it again, with backoff, for
// as long as it fails. Deliver may be called more than once for one record.
type Destination interface {
	Deliver(ctx context.Context, rec *InvocationRecord) error
}

// DestinationFunc adapts a Go function to a Destination.
type DestinationFunc func(ctx context.Context, rec *InvocationRecord) error

// Deliver calls d.
func (d DestinationFunc) Deliver(ctx context.Context, rec *InvocationRecord) error {
	return d(ctx, rec)
}

var (
	_ Destination = DestinationFunc(nil)
	_ Destination = (*FunctionDestination)(nil)
	_ Destination = (*QueueDestination)(nil)
)

// FunctionDestination invokes another function asynchronously with the
// record's JSON as its event, as AWS does for a function destination.
type FunctionDestination struct {
	// Function receives the records.
	Function *Function
	// Qualifier is the version or alias of Function to invoke, "" for the
	// unqualified function, as a destination ARN may be qualified on AWS.
	Qualifier string
}

// Deliver invokes the function asynchronously with rec's JSON.
func (d *FunctionDestination) Deliver(ctx context.Context, rec *InvocationRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	var opts []InvokeOption
	if d.Qualifier != "" {
		opts = []InvokeOption{WithQualifier(d.Qualifier)}
		if err := d.Function.vs.checkQualifier(opts); err != nil {
			return err
		}
	}
	_, err = d.Function.async.accept(ctx, b, opts, true)
	return err
}

// QueueDestination sends each record's JSON to a queue as the message body,
// as AWS does for an SQS destination.
type QueueDestination struct {
	// Queue receives the records.
	Queue QueueSender
}

// Deliver sends rec's JSON to the queue.
func (d *QueueDestination) Deliver(ctx context.Context, rec *InvocationRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = d.Queue.SendMessage(ctx, QueueMessage{Body: string(b)})
	return err
}

// InvocationRecord is AWS's record of an asynchronous invocation, sent to
// destinations:
//
//	{"version":"1.0","timestamp":"2026-11-27T10:00:00.000Z",
//	 "requestContext":{"requestId":…,"functionArn":…,"condition":"RetriesExhausted","approximateInvokeCount":3},
//	 "requestPayload":{…},
//	 "responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},
//	 "responsePayload":{"errorMessage":…,"errorType":…}}
type InvocationRecord struct {
	// Version is "1.0".
	Version string `json:"version"`
	// Timestamp is when the invocation ended, in UTC with milliseconds.
	Timestamp time.Time `json:"-"`
	// RequestContext says which invocation and how it ended.
	RequestContext RecordRequestContext `json:"requestContext"`
	// RequestPayload is the event.
	RequestPayload json.RawMessage `json:"requestPayload"`
	// ResponseContext is the last attempt's status.
	ResponseContext RecordResponseContext `json:"responseContext"`
	// ResponsePayload is the function's response, or its error JSON. A
	// response that is not JSON is given as a JSON string.
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

// RecordRequestContext is an invocation record's requestContext.
type RecordRequestContext struct {
	// RequestID is the invocation's request ID.
	RequestID string `json:"requestId"`
	// FunctionARN is the function's ARN, qualified with its version.
	FunctionARN string `json:"functionArn"`
	// Condition is ConditionSuccess, ConditionRetriesExhausted,
	// ConditionEventAgeExceeded or ConditionShutdown.
	Condition string `json:"condition"`
	// ApproximateInvokeCount counts the attempts made.
	ApproximateInvokeCount int `json:"approximateInvokeCount"`
}

// RecordResponseContext is an invocation record's responseContext.
type RecordResponseContext struct {
	// StatusCode is the last attempt's status: 200 when the function ran,
	// whether or not it failed.
	StatusCode int `json:"statusCode"`
	// ExecutedVersion is the function version that ran.
	ExecutedVersion string `json:"executedVersion"`
	// FunctionError is "Unhandled" when the function failed.
	FunctionError string `json:"functionError,omitempty"`
}

const recordTimeLayout = "2006-01-02T15:04:05.000Z"

type invocationRecordJSON InvocationRecord

// MarshalJSON encodes the record in AWS's layout, timestamp included.
func (r InvocationRecord) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Version   string `json:"version"`
		Timestamp string `json:"timestamp"`
		invocationRecordJSON
	}{r.Version, r.Timestamp.UTC().Format(recordTimeLayout), invocationRecordJSON(r)})
}

// UnmarshalJSON decodes an invocation record.
func (r *InvocationRecord) UnmarshalJSON(data []byte) error {
	var aux struct {
		Timestamp time.Time `json:"timestamp"`
		*invocationRecordJSON
	}
	aux.invocationRecordJSON = (*invocationRecordJSON)(r)
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	r.Timestamp = aux.Timestamp
	return nil
}

// jsonOrString returns b when it is JSON, and otherwise b as a JSON string.
func jsonOrString(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	s, _ := json.Marshal(string(b))
	return s
}
