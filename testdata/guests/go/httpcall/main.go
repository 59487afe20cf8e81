// Command httpcall is the Go test guest of outbound HTTP through the host:
// its event is a request, which it makes with an http.Client over
// hosthttp.Transport, and it answers with the response, or the error.
//
// Build from the repository root:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o httpcall.wasm ./testdata/guests/go/httpcall
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/wasmlambda/lambda/guest"
	"github.com/wasmlambda/lambda/guest/hosthttp"
)

type request struct {
	Method string            `json:"method"`
	URL    string            `json:"url"`
	Header map[string]string `json:"header"`
	Body   string            `json:"body"`
	// NoRedirects hands a redirect back rather than following it.
	NoRedirects bool `json:"noRedirects"`
}

type response struct {
	Status    int               `json:"status,omitempty"`
	Header    map[string]string `json:"header,omitempty"`
	Body      string            `json:"body,omitempty"`
	Error     string            `json:"error,omitempty"`
	ErrorType string            `json:"errorType,omitempty"`
	Calls     int               `json:"calls"`
}

var calls int // warm state: requests this instance made

func handler(ctx context.Context, req request) (response, error) {
	calls++
	client := &http.Client{Transport: hosthttp.Transport{}}
	if req.NoRedirects {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	var body io.Reader
	if req.Body != "" {
		body = bytes.NewReader([]byte(req.Body))
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return response{}, err
	}
	for k, v := range req.Header {
		hr.Header.Set(k, v)
	}
	resp, err := client.Do(hr)
	if err != nil {
		cause := err
		if ue, ok := err.(interface{ Unwrap() error }); ok {
			cause = ue.Unwrap()
		}
		return response{Error: err.Error(), ErrorType: fmt.Sprintf("%T", cause), Calls: calls}, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	out := response{Status: resp.StatusCode, Body: string(b), Header: map[string]string{}, Calls: calls}
	for k := range resp.Header {
		out.Header[k] = resp.Header.Get(k)
	}
	return out, nil
}

func init() { guest.Start(handler) }

func main() {}
