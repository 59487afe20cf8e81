package main

import (
	"bytes"
	"context"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestThumbnails(t *testing.T) {
	for _, dir := range []string{"", filepath.Join(t.TempDir(), "photos")} {
		name := "memory"
		if dir != "" {
			name = "dir"
		}
		t.Run(name, func(t *testing.T) {
			var out, logs bytes.Buffer
			require.NoError(t, run(context.Background(), &out, slog.New(slog.NewTextHandler(&logs, nil)), dir))
			require.Equal(t, "thumbnails/uploads/holiday photos/beach (1).png 128x96\n"+
				"thumbnails/uploads/portrait.png 42x128\n"+
				"thumbnails/uploads/sunset.png 128x96\n"+
				"thumbnails/uploads/tiny.png 64x48\n", out.String())
			// The guest saw its own output and skipped it.
			require.Contains(t, logs.String(), "uploads/sunset.png -> thumbnails/uploads/sunset.png")
			if dir == "" {
				return
			}
			// A directory-backed bucket keeps the thumbnails as files.
			f, err := os.Open(filepath.Join(dir, "thumbnails", "uploads", "sunset.png"))
			require.NoError(t, err)
			defer f.Close()
			cfg, err := png.DecodeConfig(f)
			require.NoError(t, err)
			require.Equal(t, 128, cfg.Width)
			require.False(t, strings.Contains(logs.String(), "level=ERROR"), logs.String())
		})
	}
}
