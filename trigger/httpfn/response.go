package httpfn

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// response is what the three response objects share
// (events.LambdaFunctionURLResponse, events.APIGatewayV2HTTPResponse,
// events.APIGatewayProxyResponse), with statusCode raw so that its absence
// shows.
type response struct {
	StatusCode        json.RawMessage     `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// writeResponse writes the function's result out as front does. An error
// means a response AWS refuses with 502; nothing is written then.
func writeResponse(w http.ResponseWriter, front Front, out []byte) error {
	var r response
	isObject := len(bytes.TrimSpace(out)) > 0 && bytes.TrimSpace(out)[0] == '{'
	if isObject {
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("decode the response object: %w", err)
		}
	}
	if r.StatusCode == nil {
		if front == RESTAPI {
			return errors.New("malformed Lambda proxy response: no statusCode")
		}
		// Payload format 2.0 infers the response from any other result.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
		return nil
	}
	var status int
	if err := json.Unmarshal(r.StatusCode, &status); err != nil || status < 100 || status > 999 {
		return fmt.Errorf("malformed response: statusCode %s", r.StatusCode)
	}
	body := []byte(r.Body)
	if r.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(r.Body)
		if err != nil {
			return fmt.Errorf("malformed response: the body is not base64: %w", err)
		}
		body = b
	}
	h := w.Header()
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	for k, vs := range r.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if front != RESTAPI {
		for _, c := range r.Cookies {
			h.Add("Set-Cookie", c)
		}
	}
	if h.Get("Content-Type") == "" {
		if front == FunctionURL {
			h.Set("Content-Type", "application/json")
		} else {
			h["Content-Type"] = nil // no type, and no sniffing
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// streamPrelude is the JSON before the body of a streamed response.
type streamPrelude struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Cookies    []string          `json:"cookies"`
}

// preludeEnd ends the prelude of a streamed response.
var preludeEnd = make([]byte, 8)

// streamWriter writes a streamed response to the client as the guest hands
// its chunks over (lambda.WithResponseStream): the prelude once it is
// whole, then each chunk of the body, flushed.
type streamWriter struct {
	w     http.ResponseWriter
	limit int

	mu      sync.Mutex
	buf     []byte // the prelude so far
	started bool   // the status is sent
	done    bool   // the invocation is over: write nothing more
	n       int    // body bytes written
}

// Write takes one chunk of the guest's.
func (s *streamWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return 0, errors.New("httpfn: the response is over")
	}
	if !s.started {
		s.buf = append(s.buf, p...)
		i := bytes.Index(s.buf, preludeEnd)
		if i < 0 {
			if len(s.buf) > 1<<20 {
				return 0, errors.New("httpfn: no end of the prelude (8 NUL bytes) within 1 MiB")
			}
			return len(p), nil
		}
		var pre streamPrelude
		if err := json.Unmarshal(s.buf[:i], &pre); err != nil {
			return 0, fmt.Errorf("httpfn: decode the response prelude: %w", err)
		}
		if pre.StatusCode == 0 {
			pre.StatusCode = http.StatusOK
		}
		h := s.w.Header()
		for k, v := range pre.Headers {
			h.Set(k, v)
		}
		for _, c := range pre.Cookies {
			h.Add("Set-Cookie", c)
		}
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/octet-stream")
		}
		s.w.WriteHeader(pre.StatusCode)
		s.started = true
		rest := s.buf[i+len(preludeEnd):]
		s.buf = nil
		if err := s.body(rest); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if err := s.body(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// body writes p to the client and flushes.
func (s *streamWriter) body(p []byte) error {
	if s.n+len(p) > s.limit {
		return fmt.Errorf("httpfn: the streamed response is over the limit of %d bytes (Options.MaxStreamBytes)", s.limit)
	}
	s.n += len(p)
	if len(p) > 0 {
		if _, err := s.w.Write(p); err != nil {
			return err
		}
	}
	return http.NewResponseController(s.w).Flush()
}

// finish ends the stream, and reports whether the status was sent.
func (s *streamWriter) finish() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	return s.started
}
