package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/testguest"
)

func TestMetricsAddr(t *testing.T) {
	for in, want := range map[string]string{
		"9464":           "127.0.0.1:9464",
		":9464":          "127.0.0.1:9464",
		"0.0.0.0:9464":   "0.0.0.0:9464",
		"localhost:0":    "localhost:0",
		"[::1]:9464":     "[::1]:9464",
		"127.0.0.1:9464": "127.0.0.1:9464",
	} {
		require.Equal(t, want, metricsAddr(in), in)
	}
}

// TestRunMetrics checks that run serves the runtime's metrics for
// Prometheus, on 127.0.0.1, under AWS's names with the function, version
// and trigger labels.
func TestRunMetrics(t *testing.T) {
	dir := t.TempDir()
	echo := filepath.Join(dir, "echo.wasm")
	require.NoError(t, os.WriteFile(echo, testguest.Go(t, "echo"), 0o644))
	writeFile(t, dir, "wasmlambda.yaml", `cacheDir: `+cacheDir()+`
metrics: "0"
functions:
  - name: nightly
    code: echo.wasm
    triggers:
      - name: every-minute
        schedule: {expression: rate(1 minute), input: {report: daily}}
`)
	s := start(t, dir, "run")
	s.waitOutput(t, commandTimeout, "wasmlambda: metrics at http://127.0.0.1:", "wasmlambda: running 1 function and 1 trigger")
	url := regexp.MustCompile(`metrics at (http://127\.0\.0\.1:[0-9]+/metrics)\n`).FindStringSubmatch(s.stderr.String())
	require.NotNil(t, url, s.stderr.String())

	// A rate schedule fires first when it is attached.
	labels := `\{function="nightly",otel_scope_name="github.com/wasmlambda/lambda/otel",otel_scope_schema_url="",otel_scope_version="",trigger="every-minute",version="\$LATEST"\}`
	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get(url[1])
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		return err == nil && resp.StatusCode == http.StatusOK && regexp.MustCompile(`(?m)^Invocations_total`+labels+` 1$`).MatchString(body)
	}, time.Minute, 20*time.Millisecond, "%s", body)
	for _, line := range []string{
		`(?m)^# TYPE Invocations_total counter$`,
		`(?m)^Errors_total` + labels + ` 0$`,
		`(?m)^ColdStarts_total` + labels + ` 1$`,
		`(?m)^AsyncEventsReceived_total` + labels + ` 1$`,
		`(?m)^AsyncEventsDropped_total` + labels + ` 0$`,
		`(?m)^ConcurrentExecutions` + labels + ` 0$`,
		`(?m)^Duration_milliseconds_count` + labels + ` 1$`,
		`(?m)^InitDuration_milliseconds_count` + labels + ` 1$`,
		`(?m)^AsyncEventAge_milliseconds_count` + labels + ` 1$`,
	} {
		require.Regexp(t, line, body)
	}

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, s.wait(t, time.Minute), "a graceful shutdown exits 0")
}
