package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLayers(t *testing.T) {
	var out, logs bytes.Buffer
	require.NoError(t, run(context.Background(), &out, slog.New(slog.NewTextHandler(&logs, nil))))
	require.Equal(t, "published arn:aws:lambda:us-east-1:000000000000:layer:config:1 (54 bytes)\n"+
		"package: [bootstrap templates/greeting.txt]\n"+
		"Welcome to the layers example, world! (visit 1, counted in /tmp/visits.log)\n"+
		"Welcome to the layers example, gopher! (visit 2, counted in /tmp/visits.log)\n"+
		"write to /opt: PathError: open /opt/config/settings.json: Read-only file system\n", out.String())
	require.Contains(t, logs.String(), "msg=REPORT")
}
