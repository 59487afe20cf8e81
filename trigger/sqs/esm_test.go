package sqs_test

import (
	"testing"

	"github.com/wasmlambda/lambda/trigger/sqs/internal/esmsuite"
	"github.com/wasmlambda/lambda/trigger/sqs/internal/suite"
)

func TestEventSourceSemanticsEmbedded(t *testing.T) {
	t.Parallel()
	esmsuite.Run(t, suite.Target{New: embeddedFactory(false)})
}
