package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSQSWorker(t *testing.T) {
	var out, logs bytes.Buffer
	require.NoError(t, run(context.Background(), &out, slog.New(slog.NewTextHandler(&logs, nil))))
	require.Equal(t, "processed 18 orders\n"+
		"dead letter: {\"id\":10,\"amount\":-1}\n"+
		"dead letter: {\"id\":20,\"amount\":-1}\n", out.String())
	require.Contains(t, logs.String(), "order 7: 700 cents")
	require.Contains(t, logs.String(), "rejected (receive 2)")
}
