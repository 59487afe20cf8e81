// Command httpserve is the Go test guest of the HTTP trigger: a plain
// http.Handler served by guest/lambdaurl.
//
//   - /echo answers with the request it got, as JSON;
//   - /binary answers with the request's body, as application/octet-stream;
//   - /cookies sets two cookies and a repeated header;
//   - /panic panics, a function error;
//   - /spin, and any other path (/ for an event of payload format 1.0,
//     which lambdaurl does not read), never returns, until the host stops it;
//   - /stream writes "one", flushes, waits for the host function
//     httptest.wait, then writes "two";
//   - /bytes?n=N answers with N bytes.
//
// It imports httptest.wait, so a function that runs it must be granted the
// host module httptest.
//
// Build from the repository root:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o httpserve.wasm ./testdata/guests/go/httpserve
package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/wasmlambda/lambda/guest"
	"github.com/wasmlambda/lambda/guest/lambdaurl"
)

//go:wasmimport httptest wait
func wait(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

type echo struct {
	Method     string      `json:"method"`
	URL        string      `json:"url"`
	RequestURI string      `json:"requestURI"`
	Host       string      `json:"host"`
	RemoteAddr string      `json:"remoteAddr"`
	Proto      string      `json:"proto"`
	Header     http.Header `json:"header"`
	Cookies    []string    `json:"cookies"`
	Body       string      `json:"body"`
	RawPath    string      `json:"rawPath"`
}

func main() {}

func init() {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e := echo{Method: r.Method, URL: r.URL.String(), RequestURI: r.RequestURI, Host: r.Host,
			RemoteAddr: r.RemoteAddr, Proto: r.Proto, Header: r.Header, Body: string(body)}
		for _, c := range r.Cookies() {
			e.Cookies = append(e.Cookies, c.Name+"="+c.Value)
		}
		if ev, ok := lambdaurl.RequestFromContext(r.Context()); ok {
			e.RawPath = ev.RawPath
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e)
	})
	mux.HandleFunc("/binary", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/cookies", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", Path: "/"})
		w.Header().Add("X-Many", "x")
		w.Header().Add("X-Many", "y")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "made")
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	spin := func(http.ResponseWriter, *http.Request) {
		for n := 0; ; n++ {
			if n < 0 {
				return
			}
		}
	}
	mux.HandleFunc("/spin", spin)
	mux.HandleFunc("/", spin)
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "one\n")
		w.(http.Flusher).Flush()
		if _, err := guest.CallHost(wait, nil); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "two\n")
	})
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, strings.Repeat("x", n))
	})
	lambdaurl.Start(mux)
}
