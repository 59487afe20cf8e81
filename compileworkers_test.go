package lambda_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// TestCompileWorkers: a module no cache holds compiles, and runs the same,
// with one worker or several; a negative count is refused by name.
func TestCompileWorkers(t *testing.T) {
	_, err := lambda.New(lambda.Options{CompileWorkers: -1})
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	require.ErrorContains(t, err, "CompileWorkers -1")

	code := testguest.C(t, "echo", true)
	for _, workers := range []int{1, 3} {
		// No CacheDir: an in-memory cache of the runtime's own, so the
		// module is compiled here.
		rt, err := lambda.New(lambda.Options{CompileWorkers: workers})
		require.NoError(t, err)
		f := deploy(t, rt, lambda.FunctionConfig{Name: "cecho", Code: code})
		out, err := f.Invoke(context.Background(), []byte(`{"workers":true}`))
		require.NoError(t, err, "%d workers", workers)
		require.Equal(t, `{"workers":true}`, string(out))
		require.NoError(t, rt.Close(context.Background()))
	}
}
