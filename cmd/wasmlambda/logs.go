package main

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/wasmlambda/lambda/awslog"
)

// newLogger returns a logger that writes a runtime's records as CloudWatch
// Logs shows a function's log stream (package awslog): START, the guest's
// output line by line as it wrote it, END and REPORT in AWS's words, and
// the runtime's other records as "LEVEL message key=value". With prefix
// set, each line begins with "[function] " (or "[function/trigger] "), for
// a process that runs several functions.
func newLogger(w io.Writer, prefix bool, level slog.Level) *slog.Logger {
	return slog.New(awslog.NewHandler(w, &awslog.Options{Prefix: prefix, Level: level}))
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// formatDuration rounds d for a person: 1.2s, 350ms.
func formatDuration(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

// formatSize writes n bytes for a person: 3.7 MiB, 12 KiB.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
