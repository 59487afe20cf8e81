package lambda_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
)

// roleCreds are the execution role of the AWS SDK tests: no log line or
// error of theirs may hold any of these values.
var roleCreds = lambda.Credentials{
	AccessKeyID:     "AKIAWASMLAMBDAROLE01",
	SecretAccessKey: "role-secret-4f1b2c9e8d7a6b5c4d3e2f1a",
	SessionToken:    "role-session-token-9a8b7c6d5e4f3a2b1c0d",
}

// authRecorder records the Authorization and X-Amz-Security-Token headers
// of the requests a server gets.
type authRecorder struct {
	mu    sync.Mutex
	auths []string
	next  http.Handler
}

func (a *authRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.auths = append(a.auths, r.Header.Get("Authorization")+" token="+r.Header.Get("X-Amz-Security-Token"))
	a.mu.Unlock()
	a.next.ServeHTTP(w, r)
}

func (a *authRecorder) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auths...)
}

// secrecyLog is a logger that keeps every line, to scan for secrets.
func secrecyLog() (*slog.Logger, *syncBuf) {
	var out syncBuf
	return slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})), &out
}

// awsGuest is the aws-sdk-go-v2 test guest.
func awsGuest(t *testing.T) []byte { return testguest.Go(t, "awssdk") }

// TestAWSSDKS3FromGuest: a guest's aws-sdk-go-v2 S3 client writes and
// reads an object on gofakes3 through the host's HTTP capability, signed
// with the function's role; off the allowlist its call fails at once, not
// after the SDK's retries, with an error that says why; without the grant
// the module does not deploy; and no log line or error of the run holds
// the role's credentials.
func TestAWSSDKS3FromGuest(t *testing.T) {
	rec := &authRecorder{next: gofakes3.New(s3mem.New()).Server()}
	srv := httptest.NewUnstartedServer(rec)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	admin := s3.New(s3.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("admin", "admin", ""),
		BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, HTTPClient: srv.Client()})
	ctx := context.Background()
	_, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("guest-bucket")})
	require.NoError(t, err)

	logger, logs := secrecyLog()
	rt := newRuntime(t, lambda.Options{Logger: logger})
	code := awsGuest(t)
	var errs []string
	invoke := func(f *lambda.Function, event map[string]any) (map[string]any, error) {
		out, err := lambda.InvokeJSON[map[string]any](ctx, f, event)
		if err != nil {
			errs = append(errs, err.Error())
			var fe *lambda.FunctionError
			if errors.As(err, &fe) {
				errs = append(errs, string(fe.Payload()))
			}
		}
		return out, err
	}

	rule, err := lambda.HTTPEndpoint(srv.URL)
	require.NoError(t, err)
	f := deploy(t, rt, lambda.FunctionConfig{Name: "s3-guest", Code: code, Timeout: time.Minute, MemorySize: 256,
		Role: lambda.StaticCredentials(roleCreds), HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{rule}}})

	_, err = invoke(f, map[string]any{"op": "put", "endpoint": srv.URL, "bucket": "guest-bucket", "key": "dir/hello.txt", "body": "hello from a guest"})
	require.NoError(t, err)
	got, err := invoke(f, map[string]any{"op": "get", "endpoint": srv.URL, "bucket": "guest-bucket", "key": "dir/hello.txt"})
	require.NoError(t, err)
	require.Equal(t, "hello from a guest", got["body"])
	seen := rec.seen()
	obj, err := admin.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("guest-bucket"), Key: aws.String("dir/hello.txt")})
	require.NoError(t, err)
	body, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	require.Equal(t, "hello from a guest", string(body), "the guest's write is the server's")
	require.NotEmpty(t, seen)
	for _, a := range seen[1:] { // the first is the admin's CreateBucket
		require.Contains(t, a, "Credential="+roleCreds.AccessKeyID+"/", "signed with the role's key")
		require.Contains(t, a, "token="+roleCreds.SessionToken)
	}

	t.Run("off the allowlist", func(t *testing.T) {
		off := deploy(t, rt, lambda.FunctionConfig{Name: "s3-off", Code: code, Timeout: time.Minute, MemorySize: 256,
			Role: lambda.StaticCredentials(roleCreds), HTTP: &lambda.HTTPGrant{Allow: lambda.AWSEndpoint("s3", "us-east-1")}})
		before := len(rec.seen())
		start := time.Now()
		_, err := invoke(off, map[string]any{"op": "get", "endpoint": srv.URL, "bucket": "guest-bucket", "key": "dir/hello.txt"})
		require.Error(t, err)
		require.ErrorContains(t, err, "wasmlambda_http: host "+strings.TrimPrefix(srv.URL, "http://")+" is not allowed (FunctionConfig.HTTP.Allow)")
		require.NotContains(t, err.Error(), "attempts", "not retried")
		require.Less(t, time.Since(start), 30*time.Second)
		require.Equal(t, before, len(rec.seen()), "nothing reached the server")
	})
	t.Run("without the grant", func(t *testing.T) {
		_, err := rt.Deploy(ctx, lambda.FunctionConfig{Name: "s3-nogrant", Code: code, Role: lambda.StaticCredentials(roleCreds)})
		require.ErrorIs(t, err, lambda.ErrInvalidConfig)
		require.ErrorContains(t, err, "wasmlambda_http")
		errs = append(errs, err.Error())
	})

	require.NoError(t, f.Close(ctx))
	all := logs.take()
	require.NotEmpty(t, all)
	for _, s := range append(errs, all) {
		requireNoSecret(t, s, roleCreds)
	}
}

// TestAWSSDKSQSFromGuest: a guest's aws-sdk-go-v2 SQS client sends a
// message to fauxqs (at $WASMLAMBDA_SQS_ENDPOINT) through the host's HTTP
// capability, with the role's credentials; the message arrives.
func TestAWSSDKSQSFromGuest(t *testing.T) {
	endpoint := testkit.SQSEndpoint(t)

	ctx := context.Background()
	// The test's own client, whose connections close with the test.
	adminHTTP := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(adminHTTP.CloseIdleConnections)
	admin := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), HTTPClient: adminHTTP})
	q, err := admin.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("wl-guest-%d", time.Now().UnixNano()))})
	require.NoError(t, err)

	logger, logs := secrecyLog()
	rt := newRuntime(t, lambda.Options{Logger: logger})
	rule, err := lambda.HTTPEndpoint(endpoint)
	require.NoError(t, err)
	f := deploy(t, rt, lambda.FunctionConfig{Name: "sqs-guest", Code: awsGuest(t), Timeout: time.Minute, MemorySize: 256,
		Role: lambda.StaticCredentials(roleCreds), HTTP: &lambda.HTTPGrant{Allow: []lambda.HTTPRule{rule}}})
	out, err := lambda.InvokeJSON[map[string]any](ctx, f, map[string]any{"op": "send", "endpoint": endpoint, "queueUrl": aws.ToString(q.QueueUrl), "body": "hello from a guest"})
	require.NoError(t, err)
	require.NotEmpty(t, out["messageId"])

	msgs, err := admin.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 10})
	require.NoError(t, err)
	require.Len(t, msgs.Messages, 1)
	require.Equal(t, "hello from a guest", aws.ToString(msgs.Messages[0].Body))
	require.Equal(t, out["messageId"], aws.ToString(msgs.Messages[0].MessageId))
	require.NoError(t, f.Close(ctx))
	requireNoSecret(t, logs.take(), roleCreds)
}
