// Package awsrole gives a wasmlambda function an execution role from
// aws-sdk-go-v2: it adapts the SDK's credential providers (the default
// chain of config.LoadDefaultConfig, an assumed role of stscreds, static
// credentials) to lambda.CredentialsProvider, for FunctionConfig.Role.
// It is apart from package lambda, which does not import the SDK.
//
//	cfg, err := config.LoadDefaultConfig(ctx)
//	...
//	f, err := rt.Deploy(ctx, lambda.FunctionConfig{Name: "fn", Code: code,
//		Role: awsrole.Provider(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), roleARN))})
package awsrole

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	lambda "github.com/wasmlambda/lambda"
)

// Provider returns a lambda.CredentialsProvider that retrieves credentials
// from p, cached by an aws.CredentialsCache unless p is one already: the
// runtime asks again before they expire (lambda.CredentialsRefreshWindow),
// and the cache then calls p.
func Provider(p aws.CredentialsProvider) lambda.CredentialsProvider {
	cache, ok := p.(*aws.CredentialsCache)
	if !ok {
		cache = aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = lambda.CredentialsRefreshWindow
		})
	}
	return provider{cache}
}

type provider struct{ cache *aws.CredentialsCache }

// Retrieve returns the SDK's credentials, with their expiry when they can
// expire. Credentials that expire within lambda.CredentialsRefreshWindow,
// from a cache of the caller's with a shorter expiry window, are
// invalidated and retrieved anew.
func (p provider) Retrieve(ctx context.Context) (lambda.Credentials, error) {
	c, err := p.cache.Retrieve(ctx)
	if err == nil && c.CanExpire && time.Until(c.Expires) < lambda.CredentialsRefreshWindow {
		p.cache.Invalidate()
		c, err = p.cache.Retrieve(ctx)
	}
	if err != nil {
		return lambda.Credentials{}, err
	}
	out := lambda.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	if c.CanExpire {
		out.Expires = c.Expires
	}
	return out, nil
}
