package lambdatest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wasmlambda/lambda/trigger/httpfn"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// The sample events are the kinds sam local generate-event offers for
// wasmlambda's triggers, in the JSON AWS sends a function. Each takes a
// struct of overrides whose zero fields keep the sample's values: those of
// sam local generate-event's templates, except the region and account, which
// are a default wasmlambda runtime's (us-east-1 and 000000000000), so that a
// sample names the same account as the functions it is sent to. The samples
// are fixed, not random, so that a test's expectations can name them.
const (
	// SampleRegion is the region of the sample events.
	SampleRegion = "us-east-1"
	// SampleAccountID is the account of the sample events.
	SampleAccountID = "000000000000"
)

// SQSEventOptions are the overrides of an SQS receive-message sample
// (SQSEvent); a zero field keeps the sample's value.
type SQSEventOptions struct {
	// Messages are the messages, a record each. Default one message whose
	// fields are all the sample's.
	Messages []SQSMessage
	// QueueName is the queue, named in each record's eventSourceARN.
	// Default "MyQueue".
	QueueName string
	// Region is each record's awsRegion and the queue's region. Default
	// SampleRegion.
	Region string
	// AccountID owns the queue, and is each message's SenderId. Default
	// SampleAccountID.
	AccountID string
}

// SQSMessage is one message of an SQS sample; a zero field keeps the
// sample's value.
type SQSMessage struct {
	// Body is the message body. Default "Hello from SQS!".
	Body string
	// MessageID is the message's ID. Default the sample's
	// "19dd0b57-b21e-4ac1-bd88-01bbb068cb78" for the first message, and
	// for the others the same with its last group counting up, so that
	// every message of a batch has its own.
	MessageID string
	// ReceiptHandle is the receive's handle. Default
	// "MessageReceiptHandle".
	ReceiptHandle string
	// Attributes are the system attributes, set over the sample's:
	// ApproximateReceiveCount "1", SentTimestamp "1523232000000", SenderId
	// the account, ApproximateFirstReceiveTimestamp "1523232000001". A
	// FIFO queue's messages carry MessageGroupId, SequenceNumber and
	// MessageDeduplicationId too, which are the caller's to add.
	Attributes map[string]string
	// MessageAttributes are the message attributes. Default none. The
	// record's md5OfMessageAttributes is computed from them, as SQS does.
	MessageAttributes map[string]events.SQSMessageAttribute
}

// sampleMessageID is the sample's first message ID; the others count up
// its last group.
const (
	sampleMessageIDPrefix = "19dd0b57-b21e-4ac1-bd88-"
	sampleMessageIDLast   = 0x01bbb068cb78
)

// SQSEvent is an SQS event, as the SQS event source mapping sends it
// (events.SQSEvent; sam local generate-event sqs receive-message), for the
// messages of o: the same JSON that trigger/sqs's EventSource sends, byte
// for byte.
func SQSEvent(o SQSEventOptions) []byte {
	region := or(o.Region, SampleRegion)
	account := or(o.AccountID, SampleAccountID)
	msgs := o.Messages
	if len(msgs) == 0 {
		msgs = []SQSMessage{{}}
	}
	out := make([]sqs.Message, len(msgs))
	for i, m := range msgs {
		attrs := map[string]string{
			sqs.AttrApproximateReceiveCount:          "1",
			sqs.AttrSentTimestamp:                    "1523232000000",
			sqs.AttrSenderID:                         account,
			sqs.AttrApproximateFirstReceiveTimestamp: "1523232000001",
		}
		maps.Copy(attrs, m.Attributes)
		out[i] = sqs.Message{
			MessageID:         or(m.MessageID, fmt.Sprintf("%s%012x", sampleMessageIDPrefix, sampleMessageIDLast+i)),
			ReceiptHandle:     or(m.ReceiptHandle, "MessageReceiptHandle"),
			Body:              or(m.Body, "Hello from SQS!"),
			Attributes:        attrs,
			MessageAttributes: m.MessageAttributes,
		}
	}
	arn := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, account, or(o.QueueName, "MyQueue"))
	return sqs.EventJSON(out, arn, region)
}

// ScheduledEventOptions are the overrides of a Scheduled Event sample
// (ScheduledEvent); a zero field keeps the sample's value.
type ScheduledEventOptions struct {
	// ID is the event's id. Default "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c".
	ID string
	// Time is the firing's time, sent in UTC to the second. Default
	// 1970-01-01T00:00:00Z.
	Time time.Time
	// Rule is the EventBridge rule named in resources. Default
	// "ExampleRule".
	Rule string
	// Region and AccountID are the event's region and account, and the
	// rule's. Default SampleRegion and SampleAccountID.
	Region    string
	AccountID string
}

// ScheduledEvent is the Scheduled Event an EventBridge rule sends on a
// schedule (events.EventBridgeEvent; sam local generate-event cloudwatch
// scheduled-event), in the JSON trigger/schedule sends:
//
//	{"version":"0","id":"…","detail-type":"Scheduled Event","source":"aws.events",
//	 "account":"000000000000","time":"1970-01-01T00:00:00Z","region":"us-east-1",
//	 "resources":["arn:aws:events:us-east-1:000000000000:rule/ExampleRule"],"detail":{}}
func ScheduledEvent(o ScheduledEventOptions) []byte {
	region := or(o.Region, SampleRegion)
	account := or(o.AccountID, SampleAccountID)
	at := o.Time
	if at.IsZero() {
		at = time.Unix(0, 0)
	}
	b, err := json.Marshal(events.EventBridgeEvent{
		Version:    "0",
		ID:         or(o.ID, "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c"),
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  account,
		Time:       at.UTC().Truncate(time.Second),
		Region:     region,
		Resources:  []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", region, account, or(o.Rule, "ExampleRule"))},
		Detail:     json.RawMessage("{}"),
	})
	if err != nil {
		panic("lambdatest: encode a scheduled event: " + err.Error())
	}
	return b
}

// HTTPEventOptions are the overrides of an HTTP request sample
// (APIGatewayV2Event, FunctionURLEvent); a zero field keeps the sample's
// value. The sample is GET / with no body, from 192.0.2.1.
type HTTPEventOptions struct {
	// Method is the HTTP method. Default "GET".
	Method string
	// Path is the request's path, without the query. Default "/".
	Path string
	// Query is the raw query string, without "?", such as "a=1&a=2&b=3".
	// The event's queryStringParameters are its values decoded, a
	// repeated name's joined with commas, as AWS does. Default none.
	Query string
	// Headers are set over the sample's (host, user-agent,
	// x-forwarded-for and the like, and content-length), names lower-cased,
	// as AWS sends them. A "cookie" header is moved to the event's cookies,
	// as AWS does.
	Headers map[string]string
	// Cookies are the request's cookies, "name=value" each. Default none.
	Cookies []string
	// Body is the request body, base64 when IsBase64Encoded is set. Default
	// none.
	Body string
	// IsBase64Encoded says that Body is base64, as AWS sends a binary body.
	IsBase64Encoded bool
	// SourceIP is the client's address. Default "192.0.2.1".
	SourceIP string
	// UserAgent is the client's user agent, in the user-agent header and
	// the request context. Default a user-agent header of Headers, or else
	// "curl/7.58.0".
	UserAgent string
	// Time is the request's time. Default 2020-03-12T19:03:58Z.
	Time time.Time
	// RequestID is the request context's requestId. Default
	// "LV7fzho-PHcEJPw=" for API Gateway and
	// "6ca8f4a4-4bdf-4bd9-bbf7-9d58d6b5bc3b" for a function URL.
	RequestID string
	// APIID is the API's ID, or the function URL's url-id, which name the
	// domain. Default "r3pmxmplak" for API Gateway and
	// "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6" for a function URL.
	APIID string
	// Region and AccountID are the API's. Default SampleRegion and
	// SampleAccountID.
	Region    string
	AccountID string
	// Authorizer is the request context's authorizer, as JSON, such as
	// {"jwt":{"claims":{"sub":"alice"},"scopes":null}} for an API
	// Gateway JWT authorizer or {"iam":{…}} for a function URL with
	// AWS_IAM auth. Default none: no authorization.
	Authorizer json.RawMessage

	// RouteKey is the API Gateway route, such as "GET /orders/{id}".
	// Default "$default". A function URL's is always "$default".
	RouteKey string
	// Stage is the API Gateway stage. Default "$default". A function
	// URL's is always "$default".
	Stage string
	// PathParameters are the API Gateway route's path parameters. Default
	// none. A function URL has none.
	PathParameters map[string]string
	// StageVariables are the API Gateway stage's variables. Default none.
	// A function URL has none.
	StageVariables map[string]string
}

// APIGatewayV2Event is an HTTP request as an Amazon API Gateway HTTP API
// sends it to a function, in payload format version 2.0
// (events.APIGatewayV2HTTPRequest; sam local generate-event apigateway
// http-api-proxy): the JSON trigger/httpfn sends, made by its EventJSON.
// Fields without a value (cookies, queryStringParameters, body,
// pathParameters, stageVariables, authorizer) are left out, as API Gateway
// leaves them out.
func APIGatewayV2Event(o HTTPEventOptions) []byte {
	eo := httpEventOptions(o, httpfn.HTTPAPI, "r3pmxmplak", "LV7fzho-PHcEJPw=")
	eo.RouteKey, eo.Stage = o.RouteKey, o.Stage
	eo.PathParameters, eo.StageVariables = o.PathParameters, o.StageVariables
	return httpfn.EventJSON(httpEventRequest(o, eo), eo)
}

// FunctionURLEvent is an HTTP request as a Lambda function URL sends it to
// its function (events.LambdaFunctionURLRequest), in the payload format
// version 2.0 that function URLs share with API Gateway: the JSON
// trigger/httpfn sends, made by its EventJSON. routeKey and stage are
// "$default", and authentication, pathParameters and stageVariables are
// null, as AWS's documentation of function URLs shows them.
// o.RouteKey, o.Stage, o.PathParameters and o.StageVariables are ignored.
func FunctionURLEvent(o HTTPEventOptions) []byte {
	eo := httpEventOptions(o, httpfn.FunctionURL, "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6", "6ca8f4a4-4bdf-4bd9-bbf7-9d58d6b5bc3b")
	return httpfn.EventJSON(httpEventRequest(o, eo), eo)
}

// httpEventOptions are the event options of o's sample for front.
func httpEventOptions(o HTTPEventOptions, front httpfn.Front, apiID, requestID string) httpfn.EventOptions {
	at := o.Time
	if at.IsZero() {
		at = time.Date(2020, 3, 12, 19, 3, 58, 0, time.UTC)
	}
	return httpfn.EventOptions{
		Front:      front,
		APIID:      or(o.APIID, apiID),
		Region:     or(o.Region, SampleRegion),
		AccountID:  or(o.AccountID, SampleAccountID),
		RequestID:  or(o.RequestID, requestID),
		Time:       at,
		Authorizer: o.Authorizer,
	}
}

// httpEventRequest is the request of o's sample: the sample's headers,
// with o's over them, as AWS sends them.
func httpEventRequest(o HTTPEventOptions, eo httpfn.EventOptions) httpfn.EventRequest {
	domain := eo.APIID + ".execute-api." + eo.Region + ".amazonaws.com"
	if eo.Front == httpfn.FunctionURL {
		domain = eo.APIID + ".lambda-url." + eo.Region + ".on.aws"
	}
	sourceIP := or(o.SourceIP, "192.0.2.1")
	userAgent := or(o.UserAgent, "curl/7.58.0")
	bodyLen := len(o.Body)
	if o.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(o.Body); err == nil {
			bodyLen = len(b)
		}
	}
	headers := map[string]string{
		"accept":            "*/*",
		"content-length":    strconv.Itoa(bodyLen),
		"host":              domain,
		"user-agent":        userAgent,
		"x-amzn-trace-id":   "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c",
		"x-forwarded-for":   sourceIP,
		"x-forwarded-port":  "443",
		"x-forwarded-proto": "https",
	}
	for k, v := range o.Headers {
		headers[strings.ToLower(k)] = v
	}
	if o.UserAgent == "" {
		userAgent = headers["user-agent"] // a user-agent header of the caller's
	}
	cookies := slices.Clone(o.Cookies)
	if c, ok := headers["cookie"]; ok {
		delete(headers, "cookie")
		for _, part := range strings.Split(c, ";") {
			if part = strings.TrimSpace(part); part != "" {
				cookies = append(cookies, part)
			}
		}
	}
	return httpfn.EventRequest{
		Method:          strings.ToUpper(or(o.Method, "GET")),
		Path:            or(o.Path, "/"),
		Query:           o.Query,
		Headers:         headers,
		Cookies:         cookies,
		Body:            o.Body,
		IsBase64Encoded: o.IsBase64Encoded,
		SourceIP:        sourceIP,
		UserAgent:       userAgent,
		Protocol:        "HTTP/1.1",
	}
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
