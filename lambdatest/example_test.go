package lambdatest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/lambdatest"
	"github.com/wasmlambda/lambda/trigger/schedule"
)

func printJSON(b []byte) {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		panic(err)
	}
	fmt.Println(out.String())
}

// A test of a handler package, such as examples/unit-testing's SQS batch
// handler: built to wasm (from the build cache when it has not changed),
// deployed on a runtime that closes with the test, and invoked with sample
// events.
func Example_handlerTest() {
	testOrders := func(t *testing.T) {
		code := lambdatest.Build(t, ".") // the handler's main package
		rt := lambdatest.NewRuntime(t)
		fn := lambdatest.Deploy(t, rt, lambda.FunctionConfig{Name: "orders", Code: code.Wasm})

		event := lambdatest.SQSEvent(lambdatest.SQSEventOptions{Messages: []lambdatest.SQSMessage{
			{Body: `{"id":"o-1","cents":250}`},
			{Body: `{"id":"o-2","cents":0}`},
		}})
		got := lambdatest.InvokeJSON[events.SQSEventResponse](t, fn, json.RawMessage(event))
		require.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "19dd0b57-b21e-4ac1-bd88-01bbb068cb79"}}, got.BatchItemFailures)

		_, err := fn.Invoke(t.Context(), lambdatest.SQSEvent(lambdatest.SQSEventOptions{})) // "Hello from SQS!"
		fe := lambdatest.RequireFunctionError(t, err, "ValidationError")
		require.Contains(t, fe.Message, "not an order")
	}
	_ = testOrders
}

// A schedule on a ManualClock fires when the test moves the clock to it;
// the invocation record of the firing carries the function's response.
func Example_scheduleTest() {
	testNightly := func(t *testing.T) {
		results := new(lambdatest.RecordSink)
		rt := lambdatest.NewRuntime(t)
		fn := lambdatest.Deploy(t, rt, lambda.FunctionConfig{
			Name:  "report",
			Code:  lambdatest.Build(t, "./report").Wasm,
			Async: lambdatest.FastAsync(lambda.AsyncConfig{OnSuccess: results, OnFailure: results}),
		})
		clock := lambdatest.NewManualClock(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
		_, err := fn.Attach(t.Context(), "nightly", &schedule.Schedule{Expression: "cron(0 6 * * ? *)", Clock: clock})
		require.NoError(t, err)

		at := lambdatest.FireNextTimer(t, clock) // 06:00
		rec := lambdatest.WaitRecords(t, results, 1)[0]
		require.Equal(t, lambda.ConditionSuccess, rec.RequestContext.Condition)
		t.Logf("the firing at %v answered %s", at, rec.ResponsePayload)
	}
	_ = testNightly
}

func ExampleSQSEvent() {
	printJSON(lambdatest.SQSEvent(lambdatest.SQSEventOptions{
		Messages:  []lambdatest.SQSMessage{{Body: `{"id":"o-1"}`}},
		QueueName: "orders",
	}))
	// Output:
	// {
	//   "Records": [
	//     {
	//       "messageId": "19dd0b57-b21e-4ac1-bd88-01bbb068cb78",
	//       "receiptHandle": "MessageReceiptHandle",
	//       "body": "{\"id\":\"o-1\"}",
	//       "attributes": {
	//         "ApproximateFirstReceiveTimestamp": "1523232000001",
	//         "ApproximateReceiveCount": "1",
	//         "SenderId": "000000000000",
	//         "SentTimestamp": "1523232000000"
	//       },
	//       "messageAttributes": {},
	//       "md5OfBody": "8ee379cbdd0224058b41dced7896d834",
	//       "eventSource": "aws:sqs",
	//       "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:orders",
	//       "awsRegion": "us-east-1"
	//     }
	//   ]
	// }
}

func ExampleScheduledEvent() {
	printJSON(lambdatest.ScheduledEvent(lambdatest.ScheduledEventOptions{
		Time: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC),
		Rule: "nightly",
	}))
	// Output:
	// {
	//   "version": "0",
	//   "id": "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
	//   "detail-type": "Scheduled Event",
	//   "source": "aws.events",
	//   "account": "000000000000",
	//   "time": "2026-11-27T06:00:00Z",
	//   "region": "us-east-1",
	//   "resources": [
	//     "arn:aws:events:us-east-1:000000000000:rule/nightly"
	//   ],
	//   "detail": {}
	// }
}

// An HTTP API request decodes into aws-lambda-go's type, as a handler
// written for API Gateway takes it.
func ExampleAPIGatewayV2Event() {
	b := lambdatest.APIGatewayV2Event(lambdatest.HTTPEventOptions{
		Method:         "POST",
		Path:           "/orders/o-1",
		Query:          "tag=a&tag=b",
		Headers:        map[string]string{"Content-Type": "application/json"},
		Body:           `{"cents":250}`,
		RouteKey:       "POST /orders/{id}",
		PathParameters: map[string]string{"id": "o-1"},
	})
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &req); err != nil {
		panic(err)
	}
	fmt.Println(req.RouteKey, req.RequestContext.HTTP.Method, req.RawPath)
	fmt.Println(req.PathParameters["id"], req.QueryStringParameters["tag"], req.Headers["content-type"], req.Body)
	fmt.Println(req.RequestContext.DomainName)
	// Output:
	// POST /orders/{id} POST /orders/o-1
	// o-1 a,b application/json {"cents":250}
	// r3pmxmplak.execute-api.us-east-1.amazonaws.com
}

func ExampleFunctionURLEvent() {
	b := lambdatest.FunctionURLEvent(lambdatest.HTTPEventOptions{Path: "/health"})
	var req events.LambdaFunctionURLRequest
	if err := json.Unmarshal(b, &req); err != nil {
		panic(err)
	}
	fmt.Println(req.RequestContext.HTTP.Method, req.RawPath, req.RequestContext.DomainName)
	// Output:
	// GET /health a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6.lambda-url.us-east-1.on.aws
}

// AdvanceToNextTimer fires the earliest timer on the clock, such as a
// trigger's next firing, once it is armed.
func ExampleManualClock_AdvanceToNextTimer() {
	clock := lambdatest.NewManualClock(time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC))
	timer := clock.NewTimer(2 * time.Hour)

	at, err := clock.AdvanceToNextTimer(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println("moved to", at.Format(time.Kitchen))
	fmt.Println("fired at", (<-timer.C()).Format(time.Kitchen))
	// Output:
	// moved to 6:00AM
	// fired at 6:00AM
}

// FastAsync keeps what a config sets and cuts the rest of its backoffs to
// milliseconds.
func ExampleFastAsync() {
	c := lambdatest.FastAsync(lambda.AsyncConfig{MaxRetryAttempts: lambda.Retries(1)})
	fmt.Println(*c.MaxRetryAttempts, c.RetryBackoff, c.ThrottleBackoffMin, c.DeliveryBackoffMax)
	// Output:
	// 1 [1ms 2ms] 1ms 10ms
}
