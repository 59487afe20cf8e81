package httpfn

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"
)

var eventTime = time.Date(2020, 3, 12, 19, 3, 58, 390_000_000, time.UTC)

func eventOptions(front Front) EventOptions {
	return EventOptions{Front: front, APIID: "urlid", DomainName: "urlid.lambda-url.us-west-2.on.aws",
		Region: "us-west-2", AccountID: "123456789012", RequestID: "id", Time: eventTime}
}

// TestEventV2 checks each field of payload format 2.0 against AWS's
// documented example for function URLs (urls-invocation: "Request payload
// format").
func TestEventV2(t *testing.T) {
	binary := []byte{0, 1, 2, 0xff}
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		check  func(t *testing.T, ev events.APIGatewayV2HTTPRequest)
		target string
	}{{
		name: "AWS's example: repeated query keys and headers, cookies, a text body",
		req: func() *http.Request {
			r := httptest.NewRequest("POST", "/my/path?parameter1=value1&parameter1=value2&parameter2=value", strings.NewReader("Hello from client!"))
			r.Header.Add("Header1", "value1")
			r.Header.Add("Header2", "value1")
			r.Header.Add("Header2", "value2")
			r.Header.Add("Cookie", "cookie1=a; cookie2=b")
			r.Header.Set("User-Agent", "agent")
			r.Header.Set("Content-Type", "text/plain")
			r.RemoteAddr = "123.123.123.123:5555"
			return r
		},
		check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
			require.Equal(t, "2.0", ev.Version)
			require.Equal(t, "$default", ev.RouteKey)
			require.Equal(t, "/my/path", ev.RawPath)
			require.Equal(t, "parameter1=value1&parameter1=value2&parameter2=value", ev.RawQueryString)
			require.Equal(t, []string{"cookie1=a", "cookie2=b"}, ev.Cookies)
			require.Equal(t, "value1", ev.Headers["header1"])
			require.Equal(t, "value1,value2", ev.Headers["header2"])
			require.NotContains(t, ev.Headers, "cookie")
			require.Equal(t, map[string]string{"parameter1": "value1,value2", "parameter2": "value"}, ev.QueryStringParameters)
			rc := ev.RequestContext
			require.Equal(t, "123456789012", rc.AccountID)
			require.Equal(t, "urlid", rc.APIID)
			require.Equal(t, "urlid.lambda-url.us-west-2.on.aws", rc.DomainName)
			require.Equal(t, "urlid", rc.DomainPrefix)
			require.Equal(t, events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/my/path", Protocol: "HTTP/1.1", SourceIP: "123.123.123.123", UserAgent: "agent"}, rc.HTTP)
			require.Equal(t, "id", rc.RequestID)
			require.Equal(t, "12/Mar/2020:19:03:58 +0000", rc.Time)
			require.Equal(t, int64(1584039838390), rc.TimeEpoch)
			require.Equal(t, "Hello from client!", ev.Body)
			require.False(t, ev.IsBase64Encoded)
		},
	}, {
		name: "a binary body is base64",
		req: func() *http.Request {
			r := httptest.NewRequest("PUT", "/up", strings.NewReader(string(binary)))
			r.Header.Set("Content-Type", "image/png")
			return r
		},
		check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
			require.True(t, ev.IsBase64Encoded)
			require.Equal(t, base64.StdEncoding.EncodeToString(binary), ev.Body)
		},
	}, {
		name: "a form is base64, as AWS sends it",
		req: func() *http.Request {
			r := httptest.NewRequest("POST", "/f", strings.NewReader("a=1&b=2"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		},
		check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
			require.True(t, ev.IsBase64Encoded)
			require.Equal(t, "YT0xJmI9Mg==", ev.Body)
		},
	}, {
		name: "JSON is text",
		req: func() *http.Request {
			r := httptest.NewRequest("POST", "/j", strings.NewReader(`{"a":1}`))
			r.Header.Set("Content-Type", "application/json; charset=utf-8")
			return r
		},
		check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
			require.False(t, ev.IsBase64Encoded)
			require.Equal(t, `{"a":1}`, ev.Body)
		},
	}, {
		name: "an empty body, no query, no cookies",
		req:  func() *http.Request { return httptest.NewRequest("GET", "/", nil) },
		check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
			require.Empty(t, ev.Body)
			require.False(t, ev.IsBase64Encoded)
			require.Nil(t, ev.QueryStringParameters)
			require.Nil(t, ev.Cookies)
			require.Equal(t, "example.com", ev.Headers["host"])
			require.Equal(t, "192.0.2.1", ev.Headers["x-forwarded-for"])
			require.Equal(t, "http", ev.Headers["x-forwarded-proto"])
			require.Equal(t, "80", ev.Headers["x-forwarded-port"])
			require.True(t, strings.HasPrefix(ev.Headers["x-amzn-trace-id"], "Root=1-"))
		},
	}, {
		name: "an escaped path stays as sent",
		req:  func() *http.Request { return httptest.NewRequest("GET", "/a%2Fb/c%20d", nil) },
		check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
			require.Equal(t, "/a%2Fb/c%20d", ev.RawPath)
			require.Equal(t, "/a%2Fb/c%20d", ev.RequestContext.HTTP.Path)
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			body := make([]byte, r.ContentLength)
			_, _ = r.Body.Read(body)
			b := EventJSON(NewEventRequest(r, body), eventOptions(FunctionURL))
			var ev events.APIGatewayV2HTTPRequest
			require.NoError(t, json.Unmarshal(b, &ev))
			tc.check(t, ev)
			var raw map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(b, &raw))
			require.JSONEq(t, "null", string(raw["pathParameters"]), "a function URL's nulls")
			require.JSONEq(t, "null", string(raw["stageVariables"]))
		})
	}
}

func TestEventHTTPAPI(t *testing.T) {
	o := eventOptions(HTTPAPI)
	o.DomainName, o.RouteKey, o.Stage = "", "GET /orders/{id}", "prod"
	o.PathParameters = map[string]string{"id": "7"}
	b := EventJSON(NewEventRequest(httptest.NewRequest("GET", "/orders/7", nil), nil), o)
	var ev events.APIGatewayV2HTTPRequest
	require.NoError(t, json.Unmarshal(b, &ev))
	require.Equal(t, "GET /orders/{id}", ev.RouteKey)
	require.Equal(t, "GET /orders/{id}", ev.RequestContext.RouteKey)
	require.Equal(t, "prod", ev.RequestContext.Stage)
	require.Equal(t, "urlid.execute-api.us-west-2.amazonaws.com", ev.RequestContext.DomainName)
	require.Equal(t, map[string]string{"id": "7"}, ev.PathParameters)
	require.NotContains(t, string(b), "stageVariables", "an HTTP API leaves out what it has no value for")
}

// TestEventREST checks payload format 1.0 against AWS's documented
// example (set-up-lambda-proxy-integrations: "Input format of a Lambda
// function for proxy integration").
func TestEventREST(t *testing.T) {
	r := httptest.NewRequest("POST", "/my/path?parameter1=value1&parameter1=value2&parameter2=value", strings.NewReader("Hello from Lambda!"))
	r.Header.Add("Header1", "value1")
	r.Header.Add("Header2", "value1")
	r.Header.Add("Header2", "value2")
	r.Header.Set("Content-Type", "text/plain")
	o := eventOptions(RESTAPI)
	o.DomainName = "id.execute-api.us-east-1.amazonaws.com"
	b := restEvent(r, []byte("Hello from Lambda!"), o)
	var ev events.APIGatewayProxyRequest
	require.NoError(t, json.Unmarshal(b, &ev))
	require.Equal(t, "/{proxy+}", ev.Resource)
	require.Equal(t, "/my/path", ev.Path)
	require.Equal(t, "POST", ev.HTTPMethod)
	require.Equal(t, "value2", ev.Headers["Header2"], "the last value")
	require.Equal(t, []string{"value1", "value2"}, ev.MultiValueHeaders["Header2"])
	require.Equal(t, "value", ev.QueryStringParameters["parameter2"])
	require.Equal(t, "value2", ev.QueryStringParameters["parameter1"], "the last value")
	require.Equal(t, []string{"value1", "value2"}, ev.MultiValueQueryStringParameters["parameter1"])
	require.Equal(t, map[string]string{"proxy": "my/path"}, ev.PathParameters)
	require.Equal(t, "prod", ev.RequestContext.Stage)
	require.Equal(t, "/prod/my/path", ev.RequestContext.Path)
	require.Equal(t, "192.0.2.1", ev.RequestContext.Identity.SourceIP)
	require.Equal(t, "Hello from Lambda!", ev.Body)
	require.False(t, ev.IsBase64Encoded)
	require.Equal(t, int64(1584039838390), ev.RequestContext.RequestTimeEpoch)
}

// TestWriteResponse checks the response rules of each payload format
// against AWS's documented examples.
func TestWriteResponse(t *testing.T) {
	png := []byte{0x89, 'P', 'N', 'G', 0}
	for _, tc := range []struct {
		name    string
		front   Front
		out     string
		status  int
		header  http.Header
		body    string
		wantErr bool
	}{{
		name:   "AWS's function URL example: status, headers, cookies",
		front:  FunctionURL,
		out:    `{"statusCode":201,"headers":{"Content-Type":"application/json","My-Custom-Header":"Custom Value"},"body":"{ \"message\": \"Hello, world!\" }","cookies":["Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT","Cookie_2=Value2; Max-Age=78000"],"isBase64Encoded":false}`,
		status: 201,
		header: http.Header{"Content-Type": {"application/json"}, "My-Custom-Header": {"Custom Value"},
			"Set-Cookie": {"Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT", "Cookie_2=Value2; Max-Age=78000"}},
		body: `{ "message": "Hello, world!" }`,
	}, {
		name:   "a binary body",
		front:  HTTPAPI,
		out:    `{"statusCode":200,"headers":{"content-type":"image/png"},"body":"` + base64.StdEncoding.EncodeToString(png) + `","isBase64Encoded":true}`,
		status: 200, header: http.Header{"Content-Type": {"image/png"}}, body: string(png),
	}, {
		name:   "multiValueHeaders add to headers",
		front:  RESTAPI,
		out:    `{"statusCode":200,"headers":{"X-A":"1"},"multiValueHeaders":{"X-B":["2","3"]},"body":"ok"}`,
		status: 200, header: http.Header{"X-A": {"1"}, "X-B": {"2", "3"}, "Content-Type": nil}, body: "ok", // nil: no type, and net/http sniffs none
	}, {
		name:   "a function URL's response without a content type is JSON",
		front:  FunctionURL,
		out:    `{"statusCode":204}`,
		status: 204, header: http.Header{"Content-Type": {"application/json"}},
	}, {
		name:   "the inferred response: an object without statusCode",
		front:  HTTPAPI,
		out:    `{"message":"Hello, world!"}`,
		status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: `{"message":"Hello, world!"}`,
	}, {
		name:   "the inferred response: a string",
		front:  FunctionURL,
		out:    `"Hello (world)"`,
		status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: `"Hello (world)"`,
	}, {
		name:    "a REST API infers nothing",
		front:   RESTAPI,
		out:     `{"message":"hi"}`,
		wantErr: true,
	}, {
		name:    "a statusCode that is not a number",
		front:   HTTPAPI,
		out:     `{"statusCode":"teapot"}`,
		wantErr: true,
	}, {
		name:    "a body that is not base64",
		front:   FunctionURL,
		out:     `{"statusCode":200,"body":"!!","isBase64Encoded":true}`,
		wantErr: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			err := writeResponse(rec, tc.front, []byte(tc.out))
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.status, rec.Code)
			require.Equal(t, tc.header, rec.Header())
			require.Equal(t, tc.body, rec.Body.String())
		})
	}
}

func TestErrorBody(t *testing.T) {
	for _, tc := range []struct {
		front  Front
		status int
		body   string
	}{
		{FunctionURL, 502, "Internal Server Error"},
		{FunctionURL, 429, "Too Many Requests"},
		{FunctionURL, 413, "Request Entity Too Large"},
		{HTTPAPI, 502, `{"message":"Internal Server Error"}`},
		{HTTPAPI, 429, `{"message":"Too Many Requests"}`},
		{HTTPAPI, 503, `{"message":"Service Unavailable"}`},
		{HTTPAPI, 413, `{"message":"Request Entity Too Large"}`},
		{RESTAPI, 502, `{"message": "Internal server error"}`},
		{RESTAPI, 504, `{"message": "Endpoint request timed out"}`},
		{RESTAPI, 429, `{"message": "Too Many Requests"}`},
	} {
		t.Run(tc.front.String()+" "+http.StatusText(tc.status), func(t *testing.T) {
			body, _ := errorBody(tc.front, tc.status)
			require.Equal(t, tc.body, body)
		})
	}
}
