package sqs_test

import (
	"testing"

	"github.com/wasmlambda/lambda/trigger/sqs/internal/esmsuite"
)

func TestEventSourceSemanticsEmbedded(t *testing.T) {
	t.Parallel()
	esmsuite.Run(t, esmsuite.Target{New: embeddedFactory(false)})
}
