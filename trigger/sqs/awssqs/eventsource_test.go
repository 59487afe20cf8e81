package awssqs_test

import (
	"testing"

	"github.com/wasmlambda/lambda/trigger/sqs/internal/esmsuite"
	"github.com/wasmlambda/lambda/trigger/sqs/internal/suite"
)

// TestFauxqsEventSource runs the event source mapping's semantics suite on
// awssqs against the SQS-protocol server.
func TestFauxqsEventSource(t *testing.T) {
	c := client(t)
	esmsuite.Run(t, suite.Target{New: fauxqsFactory(c)})
}
