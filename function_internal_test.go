package lambda

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/testguest"
)

// TestDeployDoesNotKeepCode: once deployed, a function holds its compiled
// module and files, not the bytes it was given.
func TestDeployDoesNotKeepCode(t *testing.T) {
	rt := newTestRuntime(t, Options{})
	code := testguest.WAT(t, "counter")
	f, err := rt.Deploy(context.Background(), FunctionConfig{Name: "nocode", Code: code})
	require.NoError(t, err)
	require.Nil(t, f.cfg.Code)
	require.Nil(t, f.Config().Code)
	out, err := f.Invoke(context.Background(), []byte(`"ok"`))
	require.NoError(t, err)
	require.Equal(t, `"ok"`, string(out))
}
