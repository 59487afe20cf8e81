package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHello(t *testing.T) {
	var out, logs bytes.Buffer
	require.NoError(t, run(context.Background(), &out, slog.New(slog.NewTextHandler(&logs, nil))))
	require.Equal(t, "Hello, world! (function hello, call 1)\n"+
		"Hello, gopher! (function hello, call 2)\n"+
		"error: errorString: name is required\n", out.String())
	require.Contains(t, logs.String(), "greeting world in request")
	require.Contains(t, logs.String(), "msg=REPORT")
}
