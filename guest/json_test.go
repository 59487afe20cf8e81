package guest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/guest"
)

// jsonInputs are events on which the SDK must answer as aws-lambda-go does:
// valid and invalid JSON, the edge cases of encoding/json's grammar, HTML,
// invalid UTF-8, base64, trailing data and deep nesting.
var jsonInputs = []string{
	`"x"`, " \t\r\n\"x\" \n", `{"a": [1, 2],` + "\n" + ` "b": null}`, `{"a":{"b":[{},[],""]}}`, `[]`, `{}`, `[ ]`, `{ }`,
	`null`, ` null `, `true`, `false`, `nul`, `truex`, `nullnull`,
	`0`, `-0`, `1.5e10`, `-1E-2`, `1e+5`, `01`, `1.`, `.5`, `-`, `1e`, `1E+`, `-a`, `2.5.1`, `123abc`, `1 2`,
	`"<b>&amp;</b>"`, `"<>&"`, `"\u003c\u2028\u2029"`, "\"\u2028\u2029\"", `"\ud800"`, "\"\xff\xfe\"", "\"a\x01b\"", "\"tab\there\"",
	"\"\x7f\"", `"\q"`, `"\u12"`, `"\u12g4"`, `"\/\b\f\n\r\t\"\\"`, `"unterminated`, `"`, `"\`,
	`"aGVsbG8="`, `"aGVsbG8"`, `"aGVs\nbG8="`, `"aGV sbG8="`, `"!!!!"`, `""`, `"="`,
	``, `   `, "\n", `{"a":1} trailing`, `{"a":1}{"b":2}`, `"x" "y"`, `[1,2,]`, `{"a":1,}`, `[`, `{"a"}`, `{"a":}`, `{a:1}`,
	`[1 2]`, `{"a" 1}`, `{,}`, `[,]`, `]`, `}`, `:`, `,`,
	strings.Repeat("[", 300) + strings.Repeat("]", 300),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 257) + "1" + strings.Repeat("}", 257),
	`"` + strings.Repeat("x", 1022) + `"`,
	`{"name":"Ada","age":36,"unknown":true}`, `{"name":"Ada","age":"x"}`,
}

type jsonPerson struct {
	Name string `json:"name"`
	Age  int    `json:"age,omitempty"`
}

// jsonHandlers take the event in each way the SDK treats apart, and
// respond in each way, some with the event as their raw response.
var jsonHandlers = []struct {
	name    string
	handler any
}{
	{"RawMessage in and out", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }},
	{"RawMessage without a context", func(in json.RawMessage) (json.RawMessage, error) { return in, nil }},
	{"RawMessage seen as text", func(in json.RawMessage) (string, error) { return string(in), nil }},
	{"bytes in and out", func(in []byte) ([]byte, error) { return in, nil }},
	{"bytes seen as text", func(in []byte) (string, error) { return string(in), nil }},
	{"any in and out", func(in any) (any, error) { return in, nil }},
	{"string in and out", func(in string) (string, error) { return in, nil }},
	{"a struct", func(in jsonPerson) (jsonPerson, error) { return in, nil }},
	{"a map", func(in map[string]any) (map[string]any, error) { return in, nil }},
	{"a *RawMessage", func(in *json.RawMessage) (*json.RawMessage, error) { return in, nil }},
	{"a RawMessage response made of the event", func(in string) (json.RawMessage, error) { return json.RawMessage(in), nil }},
	{"a RawMessage in an any", func(in string) (any, error) { return json.RawMessage(in), nil }},
	{"a bytes response made of the event", func(in string) ([]byte, error) { return []byte(in), nil }},
	{"a nil RawMessage", func(json.RawMessage) (json.RawMessage, error) { return nil, nil }},
	{"a nil bytes response", func([]byte) ([]byte, error) { return nil, nil }},
	{"an empty RawMessage", func(json.RawMessage) (json.RawMessage, error) { return json.RawMessage{}, nil }},
	{"no response", func(json.RawMessage) error { return nil }},
}

// TestJSONAsAWSLambdaGo compares the SDK's handler with aws-lambda-go's
// lambda.NewHandler, byte for byte and error for error, on every event and
// handler of the tables.
func TestJSONAsAWSLambdaGo(t *testing.T) {
	ctx := context.Background()
	for _, h := range jsonHandlers {
		t.Run(h.name, func(t *testing.T) {
			ours, err := guest.NewHandler(h.handler)
			require.NoError(t, err)
			theirs := awslambda.NewHandler(h.handler)
			for _, in := range jsonInputs {
				wantOut, wantErr := theirs.Invoke(ctx, []byte(in))
				wantOut = bytes.Clone(wantOut) // valid until the next call only
				gotOut, gotErr := ours.Invoke(ctx, []byte(in))
				name := in
				if len(name) > 40 {
					name = name[:40] + "..."
				}
				require.Equal(t, describe(wantOut, wantErr), describe(gotOut, gotErr), "event %q", name)
			}
		})
	}
}

func describe(out []byte, err error) string {
	if err != nil {
		return fmt.Sprintf("error %T: %v", err, err)
	}
	return fmt.Sprintf("%q", out)
}

// TestHandlerEventIsItsOwn: a json.RawMessage event is the handler's own
// copy, as with aws-lambda-go, not the guest's envelope buffer, which the
// next event overwrites.
func TestHandlerEventIsItsOwn(t *testing.T) {
	var kept json.RawMessage
	h, err := guest.NewHandler(func(in json.RawMessage) error { kept = in; return nil })
	require.NoError(t, err)
	event := []byte(`{"a":1}`)
	_, err = h.Invoke(context.Background(), event)
	require.NoError(t, err)
	copy(event, "XXXXXXX")
	require.Equal(t, `{"a":1}`, string(kept))
}
