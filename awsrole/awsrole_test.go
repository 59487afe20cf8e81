package awsrole_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/awsrole"
)

// expiring hands out credentials that expire after ttl, numbered.
type expiring struct {
	n   int
	ttl time.Duration
	err error
}

func (e *expiring) Retrieve(context.Context) (aws.Credentials, error) {
	if e.err != nil {
		return aws.Credentials{}, e.err
	}
	e.n++
	return aws.Credentials{AccessKeyID: fmt.Sprintf("AKID%d", e.n), SecretAccessKey: "s", SessionToken: "t",
		CanExpire: true, Expires: time.Now().Add(e.ttl)}, nil
}

func TestProvider(t *testing.T) {
	ctx := context.Background()
	t.Run("static", func(t *testing.T) {
		c, err := awsrole.Provider(credentials.NewStaticCredentialsProvider("AKID", "secret", "token")).Retrieve(ctx)
		require.NoError(t, err)
		require.Equal(t, lambda.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", SessionToken: "token"}, c)
	})
	t.Run("cached until the refresh window", func(t *testing.T) {
		src := &expiring{ttl: time.Hour}
		p := awsrole.Provider(src)
		for range 3 {
			c, err := p.Retrieve(ctx)
			require.NoError(t, err)
			require.Equal(t, "AKID1", c.AccessKeyID)
			require.False(t, c.Expires.IsZero())
		}
	})
	t.Run("refreshed within the window", func(t *testing.T) {
		src := &expiring{ttl: lambda.CredentialsRefreshWindow / 2}
		p := awsrole.Provider(src)
		c1, err := p.Retrieve(ctx)
		require.NoError(t, err)
		c2, err := p.Retrieve(ctx)
		require.NoError(t, err)
		require.NotEqual(t, c1.AccessKeyID, c2.AccessKeyID)
	})
	t.Run("a cache of the caller's is invalidated within the window", func(t *testing.T) {
		src := &expiring{ttl: lambda.CredentialsRefreshWindow / 2}
		p := awsrole.Provider(aws.NewCredentialsCache(src))
		c1, err := p.Retrieve(ctx)
		require.NoError(t, err)
		c2, err := p.Retrieve(ctx)
		require.NoError(t, err)
		require.NotEqual(t, c1.AccessKeyID, c2.AccessKeyID)
	})
	t.Run("error", func(t *testing.T) {
		_, err := awsrole.Provider(&expiring{err: errors.New("no credentials")}).Retrieve(ctx)
		require.ErrorContains(t, err, "no credentials")
	})
}
