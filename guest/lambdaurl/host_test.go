//go:build !wasip1

// The host side is not built for wasip1: this test runs natively only.

package lambdaurl

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/trigger/httpfn"
)

// TestDecodeHostEvents checks that the events trigger/httpfn sends take
// decodeEvent's way, and decode as encoding/json decodes them: the
// host and the guest must not drift apart, or every request would pay for
// encoding/json (docs/PERFORMANCE.md).
func TestDecodeHostEvents(t *testing.T) {
	for _, tc := range []struct {
		name, method, target, contentType, body string
		opts                                    httpfn.EventOptions
	}{
		{name: "get", method: "GET", target: "/cookies"},
		{name: "query and html", method: "GET", target: "/search?q=a%26b&q=%3Cc%3E&x=%C3%A9"},
		{name: "json body", method: "POST", target: "/items", contentType: "application/json", body: `{"name":"a <b> & \"c\"","n":[1,2]}` + "\n"},
		{name: "form body", method: "POST", target: "/form", contentType: "application/x-www-form-urlencoded", body: "a=1&b=%20"},
		{name: "binary body", method: "PUT", target: "/blob", contentType: "application/octet-stream", body: "\x00\xff\x10"},
		{name: "http api", method: "DELETE", target: "/items/7", opts: httpfn.EventOptions{Front: httpfn.HTTPAPI, APIID: "abc", Region: "eu-west-1", AccountID: "123456789012", RequestID: "r", Time: time.Unix(1767225600, 0), RouteKey: "DELETE /items/{id}", PathParameters: map[string]string{"id": "7"}}},
		{name: "authorizer", method: "GET", target: "/me", opts: httpfn.EventOptions{Authorizer: json.RawMessage(`{"iam":{"accessKey":"AKIA","userArn":"arn:aws:iam::1:user/u"}}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			r.Header.Add("Cookie", "a=1; b=2")
			r.Header.Add("X-Many", "1")
			r.Header.Add("X-Many", "2")
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			payload := httpfn.EventJSON(httpfn.NewEventRequest(r, []byte(tc.body)), tc.opts)
			var fast, want events.LambdaFunctionURLRequest
			require.True(t, decodeEvent(payload, &fast), "decodeEvent left the host's event to encoding/json: %s", payload)
			require.NoError(t, json.Unmarshal(payload, &want))
			require.Equal(t, want, fast)
		})
	}
}
