package testkit

import (
	"net/http"
	"os"
	"testing"
	"time"
)

// SQSEndpointEnv names the environment variable that holds the endpoint of
// an SQS-protocol server (fauxqs in CI, started by .ci/run).
const SQSEndpointEnv = "WASMLAMBDA_SQS_ENDPOINT"

// SQSEndpoint returns the endpoint of the SQS-protocol server at
// $WASMLAMBDA_SQS_ENDPOINT, once it answers its health check. With no
// server, the test is skipped, or fails under CI=true, where .ci/run must
// have started one.
func SQSEndpoint(t testing.TB) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	endpoint := os.Getenv(SQSEndpointEnv)
	if endpoint == "" {
		missing("no SQS server: set %s (.ci/run starts fauxqs)", SQSEndpointEnv)
	}
	// No connection outlives the check: goleak would report its loops.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get(endpoint + "/health")
	if err != nil {
		missing("the SQS server at %s does not answer: %v", endpoint, err)
	}
	_ = resp.Body.Close()
	return endpoint
}
