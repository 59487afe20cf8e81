package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHTTPAPI(t *testing.T) {
	err := run(context.Background(), slog.New(slog.DiscardHandler), func(h http.Handler) error {
		srv := httptest.NewServer(h)
		defer srv.Close()
		call := func(method, path, body string) (int, string) {
			req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		code, body := call("POST", "/api/items", `{"name":"tea"}`)
		require.Equal(t, 201, code)
		require.JSONEq(t, `{"id":1,"name":"tea"}`, body)
		code, body = call("GET", "/api/items", "")
		require.Equal(t, 200, code)
		require.JSONEq(t, `[{"id":1,"name":"tea"}]`, body)
		code, _ = call("POST", "/api/items", `{}`)
		require.Equal(t, 400, code)
		code, body = call("GET", "/healthz", "")
		require.Equal(t, 200, code)
		require.Equal(t, "ok\n", body)
		return nil
	})
	require.NoError(t, err)
}
