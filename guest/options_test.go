package guest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/guest"
	"github.com/wasmlambda/lambda/internal/abi"
)

// optionEvents are the events the options are compared on: HTML to escape,
// nesting to indent, numbers, unknown fields, and what the SDK's own
// handling of json.RawMessage and []byte takes.
var optionEvents = append([]string{
	`{"name":"<b>Ada</b> & co","age":36}`, `{"name":"Ada","age":36,"extra":{"deep":[1,2.5,1e400]}}`,
	`{"name":"Ada","age":12345678901234567890}`, `[1, 2.50, 3e2, {"a":"<x>"}]`, `"\u2028<>&"`,
	`{"a":{"b":{"c":[]}}}`, `12345678901234567890123`, `3.0`,
}, jsonInputs...)

// optionHandlers are jsonHandlers, and handlers whose output the decoder's
// options change.
var optionHandlers = append([]struct {
	name    string
	handler any
}{
	{"a struct with a map", func(in struct {
		Name  string         `json:"name"`
		Extra map[string]any `json:"extra"`
	}) (any, error) {
		return in, nil
	}},
	{"a number's type", func(in map[string]any) (string, error) {
		b, err := json.Marshal(in)
		if err != nil {
			return "", err
		}
		t := ""
		for _, k := range slices.Sorted(maps.Keys(in)) {
			t += " " + typeName(in[k])
		}
		return string(b) + t, nil
	}},
}, jsonHandlers...)

func typeName(v any) string {
	switch v.(type) {
	case json.Number:
		return "json.Number"
	case float64:
		return "float64"
	}
	return "other"
}

// TestOptionsAsAWSLambdaGo compares NewHandlerWithOptions with
// aws-lambda-go's, option by option, on every handler and event of the
// tables: byte for byte, error for error.
func TestOptionsAsAWSLambdaGo(t *testing.T) {
	options := []struct {
		name   string
		ours   []guest.Option
		theirs []awslambda.Option
	}{
		{"none", nil, nil},
		{"WithSetEscapeHTML(true)", []guest.Option{guest.WithSetEscapeHTML(true)}, []awslambda.Option{awslambda.WithSetEscapeHTML(true)}},
		{"WithSetEscapeHTML(false)", []guest.Option{guest.WithSetEscapeHTML(false)}, []awslambda.Option{awslambda.WithSetEscapeHTML(false)}},
		{"WithSetIndent", []guest.Option{guest.WithSetIndent(">", "  ")}, []awslambda.Option{awslambda.WithSetIndent(">", "  ")}},
		{"WithSetIndent of an indent only", []guest.Option{guest.WithSetIndent("", "\t")}, []awslambda.Option{awslambda.WithSetIndent("", "\t")}},
		{"WithSetIndent empty", []guest.Option{guest.WithSetIndent("", "")}, []awslambda.Option{awslambda.WithSetIndent("", "")}},
		{"WithSetIndent and WithSetEscapeHTML", []guest.Option{guest.WithSetIndent("", " "), guest.WithSetEscapeHTML(true)}, []awslambda.Option{awslambda.WithSetIndent("", " "), awslambda.WithSetEscapeHTML(true)}},
		{"WithUseNumber", []guest.Option{guest.WithUseNumber(true)}, []awslambda.Option{awslambda.WithUseNumber(true)}},
		{"WithDisallowUnknownFields", []guest.Option{guest.WithDisallowUnknownFields(true)}, []awslambda.Option{awslambda.WithDisallowUnknownFields(true)}},
		{"WithUseNumber and WithDisallowUnknownFields", []guest.Option{guest.WithUseNumber(true), guest.WithDisallowUnknownFields(true)}, []awslambda.Option{awslambda.WithUseNumber(true), awslambda.WithDisallowUnknownFields(true)}},
		{"WithEnableSIGTERM", []guest.Option{guest.WithEnableSIGTERM()}, []awslambda.Option{awslambda.WithEnableSIGTERM()}},
	}
	ctx := context.Background()
	for _, o := range options {
		t.Run(o.name, func(t *testing.T) {
			for _, h := range optionHandlers {
				ours, err := guest.NewHandlerWithOptions(h.handler, o.ours...)
				require.NoError(t, err)
				theirs := awslambda.NewHandlerWithOptions(h.handler, o.theirs...)
				for _, in := range optionEvents {
					wantOut, wantErr := theirs.Invoke(ctx, []byte(in))
					wantOut = bytes.Clone(wantOut)
					gotOut, gotErr := ours.Invoke(ctx, []byte(in))
					name := in
					if len(name) > 40 {
						name = name[:40] + "..."
					}
					require.Equal(t, describe(wantOut, wantErr), describe(gotOut, gotErr), "handler %s, event %q", h.name, name)
				}
			}
		})
	}
}

type optKey string

// contextReport is what a handler sees of its context.
type contextReport struct {
	Value     any    `json:"value"`
	Other     any    `json:"other"`
	RequestID string `json:"requestID"`
	ARN       string `json:"arn"`
	Deadline  int64  `json:"deadline"`
	Err       string `json:"err"`
}

func reportContext(ctx context.Context, _ json.RawMessage) (contextReport, error) {
	r := contextReport{Value: ctx.Value(optKey("k")), Other: ctx.Value(optKey("other"))}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.RequestID, r.ARN = lc.AwsRequestID, lc.InvokedFunctionArn
	}
	if d, ok := ctx.Deadline(); ok {
		r.Deadline = d.UnixMilli()
	}
	if err := ctx.Err(); err != nil {
		r.Err = err.Error()
	}
	return r, nil
}

// TestWithContextAsAWSLambdaGo: a handler served with a base context
// (WithContext, WithContextValue) sees what aws-lambda-go's invocation
// gives it, which its Function.Invoke builds as its runtime loop does.
func TestWithContextAsAWSLambdaGo(t *testing.T) {
	canceled, cancel := context.WithCancel(context.WithValue(context.Background(), optKey("k"), "from a canceled base"))
	cancel()
	deadline := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	cases := []struct {
		name   string
		ours   []guest.Option
		theirs []awslambda.Option
	}{
		{"no base", nil, nil},
		{"WithContext", []guest.Option{guest.WithContext(context.WithValue(context.Background(), optKey("k"), "v"))},
			[]awslambda.Option{awslambda.WithContext(context.WithValue(context.Background(), optKey("k"), "v"))}},
		{"WithContext canceled", []guest.Option{guest.WithContext(canceled)}, []awslambda.Option{awslambda.WithContext(canceled)}},
		{"WithContextValue", []guest.Option{guest.WithContextValue(optKey("other"), 7)}, []awslambda.Option{awslambda.WithContextValue(optKey("other"), 7)}},
		{"WithContextValue before WithContext", []guest.Option{guest.WithContextValue(optKey("other"), 7), guest.WithContext(context.WithValue(context.Background(), optKey("k"), "v"))},
			[]awslambda.Option{awslambda.WithContextValue(optKey("other"), 7), awslambda.WithContext(context.WithValue(context.Background(), optKey("k"), "v"))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Deprecated for users, but it is the one exported way to run
			// aws-lambda-go's invocation with its base context.
			theirs := awslambda.NewFunction(awslambda.NewHandlerWithOptions(reportContext, c.theirs...)) //lint:ignore SA1019 see above
			var resp messages.InvokeResponse
			require.NoError(t, theirs.Invoke(&messages.InvokeRequest{
				Payload: []byte(`{}`), RequestId: "req-1", InvokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:f",
				Deadline: messages.InvokeRequest_Timestamp{Seconds: deadline.Unix(), Nanos: int64(deadline.Nanosecond())},
			}, &resp))
			require.Nil(t, resp.Error)

			ours, err := guest.NewHandlerWithOptions(reportContext, c.ours...)
			require.NoError(t, err)
			status, out := guest.ServeForTest(ours, &abi.Request{
				Payload: []byte(`{}`), RequestID: "req-1", InvokedFunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:f",
				DeadlineMs: deadline.UnixMilli(),
			})
			require.Equal(t, abi.StatusOK, status, "%s", out)
			require.Equal(t, string(resp.Payload), string(out))
		})
	}
}

// TestWithEnableSIGTERM: the callbacks run, in order, when the sandbox is
// shut down, and once; a handler built by NewHandlerWithOptions registers
// them at once, as aws-lambda-go's does.
func TestWithEnableSIGTERM(t *testing.T) {
	var ran []string
	_, err := guest.NewHandlerWithOptions(func() {}, guest.WithEnableSIGTERM(func() { ran = append(ran, "a") }, func() { ran = append(ran, "b") }))
	require.NoError(t, err)
	_, err = guest.NewHandlerWithOptions(func() {}, guest.WithEnableSIGTERM(func() { ran = append(ran, "c") }))
	require.NoError(t, err)
	require.Empty(t, ran)
	guest.RunShutdownHooksForTest()
	require.Equal(t, []string{"a", "b", "c"}, ran)
	guest.RunShutdownHooksForTest()
	require.Equal(t, []string{"a", "b", "c"}, ran)
}

// TestStartWithOptionsKeepsTheOptionsOfAHandler: a handler built with
// options and given to NewHandlerWithOptions again keeps its own, as
// aws-lambda-go's.
func TestNewHandlerWithOptionsKeepsItsOwn(t *testing.T) {
	h, err := guest.NewHandlerWithOptions(func(in any) (any, error) { return in, nil }, guest.WithSetEscapeHTML(true))
	require.NoError(t, err)
	h2, err := guest.NewHandlerWithOptions(h, guest.WithSetEscapeHTML(false))
	require.NoError(t, err)
	out, err := h2.Invoke(context.Background(), []byte(`"<"`))
	require.NoError(t, err)
	require.Equal(t, `"\u003c"`, string(out))
}
