//go:build !wasip1

package hosthttp

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/guest"
	"github.com/wasmlambda/lambda/internal/abi"
)

// fakeHost stands in for the host's wasmlambda_http.request: it records
// each request and answers with the next of its responses, or an error.
type fakeHost struct {
	reqs  []abi.HTTPRequest
	resps []abi.HTTPResponse
	err   string
}

func (h *fakeHost) fn(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32 {
	r, err := abi.DecodeHTTPRequest(bytes.Clone(unsafe.Slice(in, inLen)))
	if err != nil {
		panic(err)
	}
	h.reqs = append(h.reqs, r)
	status, b := abi.HostOK, []byte(h.err)
	if h.err != "" {
		status = abi.HostError
	} else {
		b = h.resps[0].Encode()
		h.resps = h.resps[1:]
	}
	*outLen = uint32(len(b))
	if uint32(len(b)) > outCap {
		panic("the fake host's output does not fit")
	}
	copy(unsafe.Slice(out, outCap), b)
	return status
}

func withFakeHost(t *testing.T, h *fakeHost) {
	saved := request
	request = h.fn
	t.Cleanup(func() { request = saved })
}

func TestTransport(t *testing.T) {
	client := &http.Client{Transport: Transport{}}

	t.Run("GET", func(t *testing.T) {
		h := &fakeHost{resps: []abi.HTTPResponse{{Status: 200, Header: [][2]string{{"Content-Type", "text/plain"}, {"X-B", "1"}, {"X-B", "2"}}, Body: []byte("hello")}}}
		withFakeHost(t, h)
		req, err := http.NewRequest("GET", "http://api.example.com/items?x=1", nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "text/plain")
		req.Header.Add("X-A", "a1")
		req.Header.Add("X-A", "a2")
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, "hello", string(body))
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "200 OK", resp.Status)
		require.Equal(t, int64(5), resp.ContentLength)
		require.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
		require.Equal(t, []string{"1", "2"}, resp.Header.Values("X-B"))
		require.Equal(t, []abi.HTTPRequest{{
			Method: "GET",
			URL:    "http://api.example.com/items?x=1",
			Header: [][2]string{{"Accept", "text/plain"}, {"X-A", "a1"}, {"X-A", "a2"}},
			Body:   []byte{},
		}}, h.reqs)
	})

	t.Run("POST", func(t *testing.T) {
		h := &fakeHost{resps: []abi.HTTPResponse{{Status: 201}}}
		withFakeHost(t, h)
		resp, err := client.Post("https://api.example.com/items", "application/json", strings.NewReader(`{"a":1}`))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 201, resp.StatusCode)
		require.Len(t, h.reqs, 1)
		require.Equal(t, "POST", h.reqs[0].Method)
		require.Equal(t, `{"a":1}`, string(h.reqs[0].Body))
		require.Equal(t, [][2]string{{"Content-Type", "application/json"}}, h.reqs[0].Header)
	})

	t.Run("HEAD", func(t *testing.T) {
		h := &fakeHost{resps: []abi.HTTPResponse{{Status: 200, Header: [][2]string{{"Content-Length", "5000"}}}}}
		withFakeHost(t, h)
		resp, err := client.Head("http://api.example.com/big")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, int64(5000), resp.ContentLength, "the length announced, as net/http reports it")
		require.Equal(t, "HEAD", h.reqs[0].Method)
	})

	t.Run("the client follows a redirect through the host", func(t *testing.T) {
		h := &fakeHost{resps: []abi.HTTPResponse{
			{Status: 302, Header: [][2]string{{"Location", "http://other.example.com/b"}}},
			{Status: 200, Body: []byte("b")},
		}}
		withFakeHost(t, h)
		resp, err := client.Get("http://api.example.com/a")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		require.Len(t, h.reqs, 2)
		require.Equal(t, "http://other.example.com/b", h.reqs[1].URL)
	})

	t.Run("host error", func(t *testing.T) {
		withFakeHost(t, &fakeHost{err: "wasmlambda_http: host api.example.com is not allowed (FunctionConfig.HTTP.Allow)"})
		_, err := client.Get("http://api.example.com/")
		require.EqualError(t, err, `Get "http://api.example.com/": wasmlambda_http: host api.example.com is not allowed (FunctionConfig.HTTP.Allow)`)
		var he *guest.HostError
		require.True(t, errors.As(err, &he))
	})

	t.Run("req.Host", func(t *testing.T) {
		h := &fakeHost{}
		withFakeHost(t, h)
		req, err := http.NewRequest("GET", "http://api.example.com/", nil)
		require.NoError(t, err)
		req.Host = "other.example.com"
		_, err = client.Do(req)
		require.ErrorContains(t, err, `req.Host "other.example.com" differs from the URL's host "api.example.com"`)
		require.Empty(t, h.reqs)
	})

	t.Run("no host", func(t *testing.T) {
		_, err := client.Get("http://api.example.com/")
		require.ErrorContains(t, err, "the program is not running in wasmlambda")
	})
}
