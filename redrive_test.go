package lambda_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// TestRedriveRefusesNegativeConcurrency: a negative Concurrency is refused,
// as a negative value is in every configuration without an "off", and the
// source is left alone.
func TestRedriveRefusesNegativeConcurrency(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "redrive", Code: testguest.WAT(t, "counter")})
	ctx := context.Background()
	src := &lambda.MemorySink{}
	require.NoError(t, src.Send(ctx, &lambda.DeadLetter{RequestID: "r1", FunctionName: "redrive", Payload: []byte(`{}`)}))

	rep, err := f.Redrive(ctx, src, lambda.RedriveOptions{Concurrency: -1})
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	require.ErrorContains(t, err, "Concurrency -1")
	require.Zero(t, rep)
	require.Equal(t, 1, src.Len())
	require.Zero(t, f.Stats().Invocations)
}
