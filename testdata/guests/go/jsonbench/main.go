// Command jsonbench times JSON work inside the guest, for the benchmark
// BenchmarkGuestJSON: the event "OP:PAYLOAD:N" runs the operation OP N times
// on the payload PAYLOAD ("string", a 1 KiB JSON string; "object", a 1 KiB
// API Gateway style event), each time an echo (decode, encode), and
// answers the nanoseconds per operation, timed with the guest's clock.
// Built with GOEXPERIMENT=jsonv2, it also has the encoding/json/v2
// operations (v2.go), and its encoding/json is the one implemented on v2.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o jsonbench.wasm ./testdata/guests/go/jsonbench
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wasmlambda/lambda/guest"
)

var payloads = map[string][]byte{
	"string": []byte(`"` + strings.Repeat("x", 1022) + `"`),
	"object": []byte(`{"resource":"/items/{id}","path":"/items/42","httpMethod":"POST",` +
		`"headers":{"Accept":"application/json","Content-Type":"application/json","Host":"api.example.com","User-Agent":"curl/8.0","X-Forwarded-For":"203.0.113.7"},` +
		`"queryStringParameters":{"verbose":"true","limit":"10"},"pathParameters":{"id":"42"},"stageVariables":null,` +
		`"requestContext":{"accountId":"123456789012","resourceId":"abc123","stage":"prod","requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef",` +
		`"identity":{"sourceIp":"203.0.113.7","userAgent":"curl/8.0"},"resourcePath":"/items/{id}","httpMethod":"POST","apiId":"1234567890",` +
		`"requestTimeEpoch":1700000000123},"body":"{\"name\":\"widget\",\"price\":19.99,\"tags\":[\"a\",\"b\",\"c\"],\"stock\":{\"warehouse\":\"eu-west-1\",\"count\":1200}}",` +
		`"isBase64Encoded":false,"multiValueHeaders":{"Accept":["application/json"]},"padding":"` + strings.Repeat("p", 180) + `"}`),
}

// event is the object payload's shape, partly: a typed handler's event.
type event struct {
	Resource       string            `json:"resource"`
	Path           string            `json:"path"`
	HTTPMethod     string            `json:"httpMethod"`
	Headers        map[string]string `json:"headers"`
	QueryString    map[string]string `json:"queryStringParameters"`
	PathParameters map[string]string `json:"pathParameters"`
	RequestContext struct {
		AccountID string `json:"accountId"`
		Stage     string `json:"stage"`
		RequestID string `json:"requestId"`
		Identity  struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"`
		RequestTimeEpoch int64 `json:"requestTimeEpoch"`
	} `json:"requestContext"`
	Body            string `json:"body"`
	IsBase64Encoded bool   `json:"isBase64Encoded"`
	Padding         string `json:"padding"`
}

// typed returns, for a payload, a value of the type a typed handler of it
// would take.
func typed(payload string) any {
	if payload == "string" {
		return new(string)
	}
	return new(event)
}

// ops are the operations, each one echo of p.
var ops = map[string]func(payload string, p []byte) ([]byte, error){
	// aws-lambda-go's way with a json.RawMessage: a Decoder, and an
	// Encoder without HTML escaping.
	"v1-raw": func(_ string, p []byte) ([]byte, error) {
		var raw json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(p)).Decode(&raw); err != nil {
			return nil, err
		}
		return encodeV1(raw)
	},
	// aws-lambda-go's way with a typed event.
	"v1-typed": func(payload string, p []byte) ([]byte, error) {
		v := typed(payload)
		if err := json.NewDecoder(bytes.NewReader(p)).Decode(v); err != nil {
			return nil, err
		}
		return encodeV1(v)
	},
	// encoding/json's scanner alone.
	"v1-valid": func(_ string, p []byte) ([]byte, error) {
		if !json.Valid(p) {
			return nil, fmt.Errorf("invalid")
		}
		return p, nil
	},
	// The SDK's handlers, json.RawMessage and typed.
	"sdk-raw": func(_ string, p []byte) ([]byte, error) { return sdkRaw.Invoke(context.Background(), p) },
	"sdk-typed": func(payload string, p []byte) ([]byte, error) {
		if payload == "string" {
			return sdkString.Invoke(context.Background(), p)
		}
		return sdkEvent.Invoke(context.Background(), p)
	},
}

func encodeV1(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return buf.Bytes(), err
}

var (
	sdkRaw    = must(guest.NewHandler(func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }))
	sdkString = must(guest.NewHandler(func(_ context.Context, in string) (string, error) { return in, nil }))
	sdkEvent  = must(guest.NewHandler(func(_ context.Context, in event) (event, error) { return in, nil }))
)

func must(h guest.Handler, err error) guest.Handler {
	if err != nil {
		panic(err)
	}
	return h
}

type handler struct{}

// Invoke runs "OP:PAYLOAD:N" and answers {"ns_per_op": X}.
func (handler) Invoke(_ context.Context, in []byte) ([]byte, error) {
	parts := strings.Split(string(in), ":")
	if len(parts) != 3 {
		return nil, fmt.Errorf("want OP:PAYLOAD:N, got %q", in)
	}
	op, ok := ops[parts[0]]
	if !ok {
		return nil, fmt.Errorf("no op %q in this build", parts[0])
	}
	p, ok := payloads[parts[1]]
	if !ok {
		return nil, fmt.Errorf("no payload %q", parts[1])
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		return nil, err
	}
	if _, err := op(parts[1], p); err != nil { // and warm up
		return nil, err
	}
	start := time.Now()
	for range n {
		if _, err := op(parts[1], p); err != nil {
			return nil, err
		}
	}
	return fmt.Appendf(nil, `{"ns_per_op":%d}`, time.Since(start).Nanoseconds()/int64(n)), nil
}

func init() { guest.Start(handler{}) }

func main() {}
