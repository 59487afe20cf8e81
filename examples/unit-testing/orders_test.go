//go:build !wasip1

// The tests run on the host, where lambdatest builds the package for
// wasip1 and runs it; they are not part of the wasip1 build.

package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/lambdatest"
)

// deploy builds this package to wasm, from the build cache when it has not
// changed, and deploys it on a runtime that closes with the test.
func deploy(t *testing.T) *lambda.Function {
	t.Helper()
	code := lambdatest.Build(t, ".")
	rt := lambdatest.NewRuntime(t)
	return lambdatest.Deploy(t, rt, lambda.FunctionConfig{Name: "orders", Code: code.Wasm})
}

// batch is a sample SQS event with one message per body. The messages'
// IDs are the sample's, counted up: ids(batch) names them.
func batch(bodies ...string) []byte {
	var msgs []lambdatest.SQSMessage
	for _, b := range bodies {
		msgs = append(msgs, lambdatest.SQSMessage{Body: b})
	}
	return lambdatest.SQSEvent(lambdatest.SQSEventOptions{Messages: msgs, QueueName: "orders"})
}

// ids returns the message IDs of an SQS event, by index.
func ids(t *testing.T, event []byte) []string {
	t.Helper()
	var ev events.SQSEvent
	require.NoError(t, json.Unmarshal(event, &ev))
	var out []string
	for _, r := range ev.Records {
		out = append(out, r.MessageId)
	}
	return out
}

func TestOrders(t *testing.T) {
	fn := deploy(t)
	tests := []struct {
		name   string
		bodies []string
		failed []int // the indexes of the messages reported as failed
	}{
		{"all valid", []string{`{"id":"o-1","cents":250}`, `{"id":"o-2","cents":1}`}, nil},
		{"no amount", []string{`{"id":"o-1","cents":250}`, `{"id":"o-2","cents":0}`}, []int{1}},
		{"no ID and a refund", []string{`{"cents":100}`, `{"id":"o-2","cents":5}`, `{"id":"o-3","cents":-5}`}, []int{0, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			event := batch(tt.bodies...)
			got := lambdatest.InvokeJSON[events.SQSEventResponse](t, fn, json.RawMessage(event))
			want := []events.SQSBatchItemFailure{}
			for _, i := range tt.failed {
				want = append(want, events.SQSBatchItemFailure{ItemIdentifier: ids(t, event)[i]})
			}
			require.Equal(t, want, got.BatchItemFailures)
		})
	}
}

func TestOrdersMalformedMessageFailsTheBatch(t *testing.T) {
	fn := deploy(t)
	event := batch(`{"id":"o-1","cents":250}`, `not json`)
	_, err := fn.Invoke(t.Context(), event)
	fe := lambdatest.RequireFunctionError(t, err, "ValidationError")
	require.Equal(t, "message "+ids(t, event)[1]+": not an order: invalid character 'o' in literal null (expecting 'u')", fe.Message)
}

// TestSameAnswerNativeAndWasm sends the same events to the handler through
// aws-lambda-go, in this process, as AWS Lambda would call it, and to its
// wasm build on wasmlambda: the answers are the same, byte for byte.
func TestSameAnswerNativeAndWasm(t *testing.T) {
	fn := deploy(t)
	native := awslambda.NewHandler(Handle)
	for _, event := range [][]byte{
		batch(`{"id":"o-1","cents":250}`),
		batch(`{"id":"o-1","cents":250}`, `{"id":"","cents":1}`),
		batch(`{"id":"o-1","cents":250}`, `[]`),
		lambdatest.SQSEvent(lambdatest.SQSEventOptions{}), // "Hello from SQS!" is not an order
	} {
		want, nativeErr := native.Invoke(context.Background(), event)
		got, err := fn.Invoke(t.Context(), event)
		if nativeErr != nil {
			fe := lambdatest.RequireFunctionError(t, err, "ValidationError")
			require.Equal(t, nativeErr.Error(), fe.Message)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}
