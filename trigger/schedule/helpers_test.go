package schedule_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/wasmlambda/lambda/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The helpers these tests share with the root's.
var (
	newRuntime    = testkit.NewRuntime
	deploy        = testkit.Deploy
	fastAsync     = testkit.FastAsync
	newRecordSink = testkit.NewRecordSink
	waitCtx       = testkit.WaitCtx
)
