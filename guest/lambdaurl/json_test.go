package lambdaurl

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"
)

// hostEvent is an event as trigger/httpfn sends it.
const hostEvent = `{"version":"2.0","routeKey":"$default","rawPath":"/cookies","rawQueryString":"a=1&a=2","cookies":["a=1","b=2"],"headers":{"host":"example.com","x-amzn-trace-id":"Root=1-6b0cd8e0-b0710eaa8a71209444d05c16","x-forwarded-for":"192.0.2.1","x-forwarded-port":"80","x-forwarded-proto":"http"},"queryStringParameters":{"a":"1,2"},"requestContext":{"accountId":"123456789012","apiId":"abc","authentication":null,"authorizer":{"iam":{"accessKey":"AKIA","accountId":"1","callerId":"c","userArn":"arn","userId":"u"}},"domainName":"abc.lambda-url.us-east-1.on.aws","domainPrefix":"abc","http":{"method":"POST","path":"/cookies","protocol":"HTTP/1.1","sourceIp":"192.0.2.1","userAgent":"curl/8"},"requestId":"id","routeKey":"$default","stage":"$default","time":"01/Jan/2026:00:00:00 +0000","timeEpoch":1767225600000},"pathParameters":null,"body":"{\"name\":\"a \\\"b\\\"\\n\"}","isBase64Encoded":false,"stageVariables":null}`

// decodeCases are events decodeEvent must decode as encoding/json does,
// with whether it takes them itself (fast) or leaves them to encoding/json.
var decodeCases = []struct {
	name string
	in   string
	fast bool
}{
	{"host event", hostEvent, true},
	{"empty object", `{}`, true},
	{"whitespace", " \t\n{ \"rawPath\" : \"/x\" , \"cookies\" : [ ] , \"headers\" : { } } \r\n", true},
	{"repeated keys merge maps", `{"headers":{"a":"1"},"headers":{"b":"2"},"rawPath":"/a","rawPath":"/b"}`, true},
	{"repeated requestContext merges", `{"requestContext":{"apiId":"x"},"requestContext":{"domainName":"d"}}`, true},
	{"null authorizer", `{"requestContext":{"authorizer":null}}`, true},
	{"null iam", `{"requestContext":{"authorizer":{"iam":null}}}`, true},
	{"unknown values of every kind", `{"x":[1,-2.5e+3,0,true,false,null,{"y":[[]]},"s\/"],"rawPath":"/"}`, true},
	{"utf-8", `{"body":"héllo, 世界"}`, true},
	{"simple escapes", `{"body":"\"\\\/\b\f\n\r\t"}`, true},
	{"negative epoch", `{"requestContext":{"timeEpoch":-62135596800000}}`, true},
	{"isBase64Encoded true", `{"isBase64Encoded":true,"body":"aGk="}`, true},

	{"unicode escapes", `{"rawQueryString":"a=1\u0026b=\u003c\u00E9\ud83d\ude00\u2028"}`, true},
	{"lone surrogate", `{"body":"\ud83d"}`, false},
	{"surrogate then letter", `{"body":"\ud83d\u0041"}`, false},
	{"short unicode escape", `{"body":"\u12"}`, false},
	{"bad hex", `{"body":"\u12g4"}`, false},
	{"key in another case", `{"RawPath":"/x"}`, false},
	{"key folding to a field", `{"rawpath":"/x"}`, false},
	{"null string", `{"rawPath":null}`, false},
	{"null headers", `{"headers":null}`, false},
	{"null cookie", `{"cookies":[null]}`, false},
	{"top-level null", `null`, false},
	{"float epoch", `{"requestContext":{"timeEpoch":1.5}}`, false},
	{"invalid utf-8", "{\"body\":\"\xff\"}", false},
	{"deep nesting", `{"x":` + repeat("[", 100) + repeat("]", 100) + `}`, false},

	// invalid JSON: encoding/json's error, never a fast success
	{"trailing data", `{} x`, false},
	{"trailing comma", `{"rawPath":"/",}`, false},
	{"control character", "{\"body\":\"a\nb\"}", false},
	{"bad escape", `{"body":"\x"}`, false},
	{"leading zero", `{"x":01}`, false},
	{"bad literal", `{"x":tru}`, false},
	{"unterminated", `{"body":"abc`, false},
	{"number for string", `{"rawPath":1}`, false},
	{"string for bool", `{"isBase64Encoded":"true"}`, false},
	{"missing colon", `{"rawPath" "/"}`, false},
	{"bare minus", `{"x":-}`, false},
	{"empty", ``, false},
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func TestDecodeEvent(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			var fast events.LambdaFunctionURLRequest
			ok := decodeEvent([]byte(tc.in), &fast)
			require.Equal(t, tc.fast, ok, "taken by decodeEvent")
			var want events.LambdaFunctionURLRequest
			wantErr := json.Unmarshal([]byte(tc.in), &want)
			if ok {
				require.NoError(t, wantErr, "decodeEvent accepted what encoding/json refuses")
				require.Equal(t, want, fast)
			}
		})
	}
}

// FuzzDecodeEvent checks that decodeEvent never takes an event that
// encoding/json refuses or decodes otherwise.
func FuzzDecodeEvent(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var fast events.LambdaFunctionURLRequest
		if !decodeEvent(in, &fast) {
			return
		}
		var want events.LambdaFunctionURLRequest
		require.NoError(t, json.Unmarshal(in, &want))
		require.Equal(t, want, fast)
	})
}

func TestEncodeResponse(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    events.LambdaFunctionURLResponse
	}{
		{"zero", events.LambdaFunctionURLResponse{}},
		{"plain", events.LambdaFunctionURLResponse{StatusCode: 201, Headers: map[string]string{"X-B": "2", "Content-Type": "text/plain", "X-A": "1"}, Body: "made", Cookies: []string{"a=1", "b=2; Path=/"}}},
		{"escapes", events.LambdaFunctionURLResponse{StatusCode: 200, Headers: map[string]string{"X-\"q\"": "<a&b>"}, Body: "{\"a\":\"é\u2028\x00\x7f\xff\"}\n"}},
		{"base64 and empty cookies", events.LambdaFunctionURLResponse{StatusCode: 500, Body: "aGk=", IsBase64Encoded: true, Cookies: []string{}, Headers: map[string]string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.r)
			require.NoError(t, err)
			require.Equal(t, string(want), string(encodeResponse(&tc.r)))
		})
	}
}
