package lambda

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Credentials are AWS credentials, which a function's guest sees as
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, as a
// Lambda function sees its execution role's.
type Credentials struct {
	// AccessKeyID and SecretAccessKey are required.
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken is the token of temporary credentials; empty for
	// long-term ones.
	SessionToken string
	// Expires is when the credentials expire; zero for never.
	Expires time.Time
}

// CredentialsProvider gives a function its execution role's credentials
// (FunctionConfig.Role): StaticCredentials, or a provider that refreshes
// them, such as aws-sdk-go-v2's default chain or an assumed role through
// package awsrole's adapter. The runtime calls Retrieve when a function
// needs credentials and those it has expire within CredentialsRefreshWindow,
// one call at a time per function. It must be safe for concurrent use.
type CredentialsProvider interface {
	// Retrieve returns current credentials, or an error. Its error may be
	// logged and returned to callers: it must not hold the secrets.
	Retrieve(ctx context.Context) (Credentials, error)
}

// StaticCredentials are credentials that never change: a
// CredentialsProvider that returns them.
type StaticCredentials Credentials

// Retrieve returns c.
func (c StaticCredentials) Retrieve(context.Context) (Credentials, error) { return Credentials(c), nil }

// ErrCredentials matches a *ServiceError with code ServiceException and
// reason ExecutionRoleCredentials: the function's CredentialsProvider
// failed, and it has no credentials that are still valid. Its message
// carries the provider's error.
var ErrCredentials = &ServiceError{Code: "ServiceException", StatusCode: 500, Reason: "ExecutionRoleCredentials"}

// CredentialsRefreshWindow is how long before they expire a function's
// credentials are refreshed: an invocation never starts with credentials
// that expire within it.
const CredentialsRefreshWindow = 5 * time.Minute

// The environment variables of the execution role's credentials.
const (
	envAccessKeyID     = "AWS_ACCESS_KEY_ID"
	envSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	envSessionToken    = "AWS_SESSION_TOKEN"
)

// role holds a function's credentials, refreshed from its provider.
type role struct {
	provider CredentialsProvider
	now      func() time.Time

	mu    sync.Mutex // held during Retrieve: one refresh at a time
	creds Credentials
	gen   uint64 // counts the credentials retrieved; 0: none yet
}

func newRole(p CredentialsProvider) *role {
	if p == nil {
		return nil
	}
	return &role{provider: p, now: time.Now}
}

// get returns the current credentials and their generation, refreshing
// them first if they expire within CredentialsRefreshWindow. A nil role
// has none.
func (r *role) get(ctx context.Context, fn string) (Credentials, uint64, error) {
	if r == nil {
		return Credentials{}, 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen > 0 && (r.creds.Expires.IsZero() || r.now().Add(CredentialsRefreshWindow).Before(r.creds.Expires)) {
		return r.creds, r.gen, nil
	}
	c, err := r.provider.Retrieve(ctx)
	if err == nil && (c.AccessKeyID == "" || c.SecretAccessKey == "") {
		err = errors.New("the provider returned credentials without an access key ID or a secret access key")
	}
	if err != nil {
		if r.gen > 0 && (r.creds.Expires.IsZero() || r.now().Before(r.creds.Expires)) {
			return r.creds, r.gen, nil // still valid: try again next time
		}
		return Credentials{}, 0, serviceError(ErrCredentials, "function %s: retrieve the execution role's credentials (FunctionConfig.Role): %v", fn, err)
	}
	if c != r.creds {
		r.creds = c
		r.gen++
	}
	return r.creds, r.gen, nil
}

// cached returns the credentials get last returned, without a refresh.
func (r *role) cached() (Credentials, uint64) {
	if r == nil {
		return Credentials{}, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.creds, r.gen
}

// env is c as the guest's environment sees it.
func (c Credentials) env() [][2]string {
	env := [][2]string{{envAccessKeyID, c.AccessKeyID}, {envSecretAccessKey, c.SecretAccessKey}}
	if c.SessionToken != "" {
		env = append(env, [2]string{envSessionToken, c.SessionToken})
	}
	return env
}

// String describes the credentials without their values, so that a
// Credentials printed by mistake does not leak them.
func (c Credentials) String() string {
	return fmt.Sprintf("lambda.Credentials{<redacted>, Expires: %v}", c.Expires)
}

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }
