package lambdatest_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/lambdatest"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// awsTestdata reads a file of aws-lambda-go's events/testdata, AWS's own
// samples of the events, decoded into v.
func awsTestdata(t *testing.T, name string, v any) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "events", "testdata", name))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

// object is a JSON object, its values undecoded.
type object map[string]json.RawMessage

func decodeObject(t *testing.T, b []byte) object {
	t.Helper()
	var o object
	require.NoError(t, json.Unmarshal(b, &o), "%s", b)
	return o
}

func (o object) keys() []string { return slices.Sorted(maps.Keys(o)) }

// strict decodes b into v, refusing fields v does not have.
func strict(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), "%s", b)
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestSQSEventSample(t *testing.T) {
	t.Parallel()
	got := lambdatest.SQSEvent(lambdatest.SQSEventOptions{})
	require.JSONEq(t, `{"Records":[{
		"messageId":"19dd0b57-b21e-4ac1-bd88-01bbb068cb78",
		"receiptHandle":"MessageReceiptHandle",
		"body":"Hello from SQS!",
		"attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1523232000000","SenderId":"000000000000","ApproximateFirstReceiveTimestamp":"1523232000001"},
		"messageAttributes":{},
		"md5OfBody":"`+md5Hex("Hello from SQS!")+`",
		"eventSource":"aws:sqs",
		"eventSourceARN":"arn:aws:sqs:us-east-1:000000000000:MyQueue",
		"awsRegion":"us-east-1"}]}`, string(got))

	// Field for field against aws-lambda-go's sample: the same keys, less
	// md5OfMessageAttributes, which Lambda leaves out when a message has
	// no attributes.
	var aws struct{ Records []object }
	awsTestdata(t, "sqs-event.json", &aws)
	var ours struct{ Records []object }
	require.NoError(t, json.Unmarshal(got, &ours))
	want := slices.DeleteFunc(aws.Records[0].keys(), func(k string) bool { return k == "md5OfMessageAttributes" })
	require.Equal(t, want, ours.Records[0].keys())
}

func TestSQSEventOverrides(t *testing.T) {
	t.Parallel()
	var aws struct{ Records []object }
	awsTestdata(t, "sqs-event.json", &aws)
	var awsTyped events.SQSEvent
	awsTestdata(t, "sqs-event.json", &awsTyped)
	attrs := awsTyped.Records[0].MessageAttributes

	got := lambdatest.SQSEvent(lambdatest.SQSEventOptions{
		Messages: []lambdatest.SQSMessage{
			{Body: "Message Body", MessageID: "MessageID_1", Attributes: map[string]string{"ApproximateReceiveCount": "2", "SenderId": "AROAIWPX5BD2BHG722MW4:sender"}, MessageAttributes: attrs},
			{Body: "second"},
			{Body: "third", ReceiptHandle: "handle-3"},
		},
		QueueName: "SQSQueue",
		Region:    "us-west-2",
		AccountID: "123456789012",
	})
	var ours struct{ Records []object }
	require.NoError(t, json.Unmarshal(got, &ours))
	require.Len(t, ours.Records, 3)
	require.Equal(t, aws.Records[0].keys(), ours.Records[0].keys(), "a message with attributes has every key of AWS's sample")
	for _, k := range []string{"messageId", "receiptHandle", "body", "eventSourceARN", "eventSource", "awsRegion", "messageAttributes"} {
		require.JSONEq(t, string(aws.Records[0][k]), string(ours.Records[0][k]), k)
	}

	var typed events.SQSEvent
	strict(t, got, &typed)
	r := typed.Records
	require.Equal(t, md5Hex("Message Body"), r[0].Md5OfBody)
	require.Equal(t, sqs.MD5OfMessageAttributes(attrs), r[0].Md5OfMessageAttributes)
	require.Equal(t, map[string]string{"ApproximateReceiveCount": "2", "SentTimestamp": "1523232000000", "SenderId": "AROAIWPX5BD2BHG722MW4:sender", "ApproximateFirstReceiveTimestamp": "1523232000001"}, r[0].Attributes)
	require.Equal(t, "123456789012", r[1].Attributes["SenderId"], "the account sends")
	require.Equal(t, "19dd0b57-b21e-4ac1-bd88-01bbb068cb79", r[1].MessageId)
	require.Equal(t, "19dd0b57-b21e-4ac1-bd88-01bbb068cb7a", r[2].MessageId, "each message has an ID of its own")
	require.Equal(t, "MessageReceiptHandle", r[1].ReceiptHandle)
	require.Equal(t, "handle-3", r[2].ReceiptHandle)
	require.Equal(t, md5Hex("third"), r[2].Md5OfBody)
	require.Empty(t, r[2].Md5OfMessageAttributes)
}

func TestScheduledEvent(t *testing.T) {
	t.Parallel()
	require.JSONEq(t, `{"version":"0","id":"cdc73f9d-aea9-11e3-9d5a-835b769c0d9c","detail-type":"Scheduled Event","source":"aws.events",
		"account":"000000000000","time":"1970-01-01T00:00:00Z","region":"us-east-1",
		"resources":["arn:aws:events:us-east-1:000000000000:rule/ExampleRule"],"detail":{}}`,
		string(lambdatest.ScheduledEvent(lambdatest.ScheduledEventOptions{})))

	at := time.Date(2026, 11, 27, 6, 0, 0, 250e6, time.FixedZone("CET", 3600))
	got := lambdatest.ScheduledEvent(lambdatest.ScheduledEventOptions{ID: "e-1", Time: at, Rule: "nightly", Region: "eu-central-1", AccountID: "123456789012"})
	var typed events.EventBridgeEvent
	strict(t, got, &typed)
	require.Equal(t, events.EventBridgeEvent{
		Version: "0", ID: "e-1", DetailType: "Scheduled Event", Source: "aws.events", AccountID: "123456789012",
		Time: time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC), Region: "eu-central-1",
		Resources: []string{"arn:aws:events:eu-central-1:123456789012:rule/nightly"}, Detail: json.RawMessage("{}"),
	}, typed)
	require.Contains(t, string(got), `"time":"2026-11-27T05:00:00Z"`, "in UTC, to the second")
}

func TestAPIGatewayV2EventSample(t *testing.T) {
	t.Parallel()
	got := lambdatest.APIGatewayV2Event(lambdatest.HTTPEventOptions{})
	require.JSONEq(t, `{"version":"2.0","routeKey":"$default","rawPath":"/","rawQueryString":"",
		"headers":{"accept":"*/*","content-length":"0","host":"r3pmxmplak.execute-api.us-east-1.amazonaws.com","user-agent":"curl/7.58.0",
			"x-amzn-trace-id":"Root=1-5e9f0c65-1de4d666d4dd26aced652b6c","x-forwarded-for":"192.0.2.1","x-forwarded-port":"443","x-forwarded-proto":"https"},
		"requestContext":{"accountId":"000000000000","apiId":"r3pmxmplak","domainName":"r3pmxmplak.execute-api.us-east-1.amazonaws.com","domainPrefix":"r3pmxmplak",
			"http":{"method":"GET","path":"/","protocol":"HTTP/1.1","sourceIp":"192.0.2.1","userAgent":"curl/7.58.0"},
			"requestId":"LV7fzho-PHcEJPw=","routeKey":"$default","stage":"$default","time":"12/Mar/2020:19:03:58 +0000","timeEpoch":1584039838000},
		"isBase64Encoded":false}`, string(got))

	// Field for field against a request AWS captured: the same keys, less
	// the mutual TLS authentication that request had.
	var aws object
	awsTestdata(t, "apigw-v2-request-no-authorizer.json", &aws)
	ours := decodeObject(t, got)
	require.Equal(t, aws.keys(), ours.keys())
	awsCtx, ourCtx := decodeObject(t, aws["requestContext"]), decodeObject(t, ours["requestContext"])
	require.Equal(t, slices.DeleteFunc(awsCtx.keys(), func(k string) bool { return k == "authentication" }), ourCtx.keys())
	require.Equal(t, decodeObject(t, awsCtx["http"]).keys(), decodeObject(t, ourCtx["http"]).keys())
	require.Equal(t, decodeObject(t, aws["headers"]).keys(), decodeObject(t, ours["headers"]).keys())
	strict(t, got, new(events.APIGatewayV2HTTPRequest))
}

func TestAPIGatewayV2EventOverrides(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 10, 0, 0, 123e6, time.UTC)
	got := lambdatest.APIGatewayV2Event(lambdatest.HTTPEventOptions{
		Method:          "post",
		Path:            "/orders/o-1",
		Query:           "tag=a&tag=b&q=x%20y",
		Headers:         map[string]string{"Content-Type": "application/json", "Cookie": "s=1; theme=dark"},
		Cookies:         []string{"first=0"},
		Body:            "eyJpZCI6Im8tMSJ9",
		IsBase64Encoded: true,
		SourceIP:        "203.0.113.9",
		UserAgent:       "test/1.0",
		Time:            at,
		RequestID:       "req-1",
		APIID:           "api1",
		Region:          "eu-west-1",
		AccountID:       "123456789012",
		Authorizer:      json.RawMessage(`{"jwt":{"claims":{"sub":"alice"},"scopes":["orders"]}}`),
		RouteKey:        "POST /orders/{id}",
		Stage:           "prod",
		PathParameters:  map[string]string{"id": "o-1"},
		StageVariables:  map[string]string{"table": "orders"},
	})

	// Every key of AWS's JWT sample (bar the mutual TLS authentication).
	var aws object
	awsTestdata(t, "apigw-v2-request-jwt-authorizer.json", &aws)
	ours := decodeObject(t, got)
	require.Subset(t, ours.keys(), aws.keys())
	require.Subset(t, slices.DeleteFunc(decodeObject(t, aws["requestContext"]).keys(), func(k string) bool { return k == "authentication" }),
		decodeObject(t, ours["requestContext"]).keys())

	var req events.APIGatewayV2HTTPRequest
	strict(t, got, &req)
	require.Equal(t, "POST /orders/{id}", req.RouteKey)
	require.Equal(t, "/orders/o-1", req.RawPath)
	require.Equal(t, "tag=a&tag=b&q=x%20y", req.RawQueryString)
	require.Equal(t, map[string]string{"tag": "a,b", "q": "x y"}, req.QueryStringParameters)
	require.Equal(t, []string{"first=0", "s=1", "theme=dark"}, req.Cookies)
	require.NotContains(t, req.Headers, "cookie", "cookies move out of the headers")
	require.Equal(t, "application/json", req.Headers["content-type"])
	require.Equal(t, "12", req.Headers["content-length"], "the decoded body's length")
	require.Equal(t, "api1.execute-api.eu-west-1.amazonaws.com", req.Headers["host"])
	require.Equal(t, map[string]string{"id": "o-1"}, req.PathParameters)
	require.Equal(t, map[string]string{"table": "orders"}, req.StageVariables)
	require.Equal(t, "eyJpZCI6Im8tMSJ9", req.Body)
	require.True(t, req.IsBase64Encoded)
	rc := req.RequestContext
	require.Equal(t, "POST /orders/{id}", rc.RouteKey)
	require.Equal(t, "prod", rc.Stage)
	require.Equal(t, "123456789012", rc.AccountID)
	require.Equal(t, "req-1", rc.RequestID)
	require.Equal(t, "api1", rc.APIID)
	require.Equal(t, "27/Nov/2026:10:00:00 +0000", rc.Time)
	require.Equal(t, at.UnixMilli(), rc.TimeEpoch)
	require.Equal(t, events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/orders/o-1", Protocol: "HTTP/1.1", SourceIP: "203.0.113.9", UserAgent: "test/1.0"}, rc.HTTP)
	require.Equal(t, map[string]string{"sub": "alice"}, rc.Authorizer.JWT.Claims)
}

func TestFunctionURLEvent(t *testing.T) {
	t.Parallel()
	got := lambdatest.FunctionURLEvent(lambdatest.HTTPEventOptions{
		Method:     "POST",
		Path:       "/my/path",
		Query:      "parameter1=value1&parameter1=value2&parameter2=value",
		Cookies:    []string{"cookie1", "cookie2"},
		Body:       "Hello from client!",
		Headers:    map[string]string{"User-Agent": "agent"},
		Authorizer: json.RawMessage(`{"iam":{"accessKey":"AKIA...","accountId":"111122223333","callerId":"AIDA...","userArn":"arn:aws:iam::111122223333:user/example-user","userId":"AIDA..."}}`),
		// Ignored: a function URL has no routes, stages or path parameters.
		RouteKey:       "GET /x",
		Stage:          "prod",
		PathParameters: map[string]string{"id": "1"},
	})

	// Field for field against aws-lambda-go's sample: the same keys, and
	// those AWS's documentation of function URLs adds, sent as "$default"
	// or null.
	var aws object
	awsTestdata(t, "lambda-urls-request.json", &aws)
	ours := decodeObject(t, got)
	require.Equal(t, slices.Sorted(slices.Values(append(aws.keys(), "routeKey", "pathParameters", "stageVariables"))), ours.keys())
	awsCtx, ourCtx := decodeObject(t, aws["requestContext"]), decodeObject(t, ours["requestContext"])
	require.Equal(t, slices.Sorted(slices.Values(append(awsCtx.keys(), "authentication", "routeKey", "stage"))), ourCtx.keys())
	for _, k := range []string{"version", "rawPath", "rawQueryString", "cookies", "queryStringParameters", "body", "isBase64Encoded"} {
		require.JSONEq(t, string(aws[k]), string(ours[k]), k)
	}
	require.JSONEq(t, string(awsCtx["authorizer"]), string(ourCtx["authorizer"]))
	for k, v := range map[string]string{"routeKey": `"$default"`, "pathParameters": "null", "stageVariables": "null"} {
		require.Equal(t, v, string(ours[k]), k)
	}
	require.Equal(t, "null", string(ourCtx["authentication"]))
	require.Equal(t, `"$default"`, string(ourCtx["stage"]))

	var req events.LambdaFunctionURLRequest
	require.NoError(t, json.Unmarshal(got, &req))
	require.Equal(t, "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6.lambda-url.us-east-1.on.aws", req.RequestContext.DomainName)
	require.Equal(t, "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6", req.RequestContext.DomainPrefix)
	require.Equal(t, req.RequestContext.DomainName, req.Headers["host"])
	require.Equal(t, "6ca8f4a4-4bdf-4bd9-bbf7-9d58d6b5bc3b", req.RequestContext.RequestID)
	require.Equal(t, "111122223333", req.RequestContext.Authorizer.IAM.AccountID)
	require.Equal(t, "18", req.Headers["content-length"])
	require.Equal(t, "agent", req.Headers["user-agent"])
	require.Equal(t, "agent", req.RequestContext.HTTP.UserAgent, "the header's user agent, without a UserAgent")
	strict(t, got, new(events.APIGatewayV2HTTPRequest))
}
