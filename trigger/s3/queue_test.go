package s3_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/s3"
	"github.com/wasmlambda/lambda/trigger/s3/internal/notifysuite"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// embeddedQueues makes embedded queues, one set per test.
func embeddedQueues(t *testing.T) func(string, sqs.QueueConfig) sqs.Queue {
	e := sqs.NewEmbedded(sqs.EmbeddedOptions{Region: "us-west-2"})
	t.Cleanup(func() { _ = e.Close() })
	return func(name string, cfg sqs.QueueConfig) sqs.Queue {
		q, err := e.CreateQueue(name, cfg)
		require.NoError(t, err)
		return q
	}
}

func TestQueueNotificationsEmbedded(t *testing.T) {
	t.Parallel()
	notifysuite.Run(t, embeddedQueues)
}

func TestParseNotification(t *testing.T) {
	t.Parallel()
	put := notifysuite.Records(t, notifysuite.Put)[0]
	del := notifysuite.Records(t, notifysuite.Delete)[0]
	compact := func(s string) string {
		ev := notifysuite.Event(t, s)
		return ev[len(`{"Records":[`) : len(ev)-len(`]}`)]
	}
	for _, tc := range []struct {
		name    string
		body    string
		records []string
		test    bool
		err     string
	}{
		{"direct", notifysuite.Put, []string{compact(put)}, false, ""},
		{"compact", notifysuite.Delete, []string{del}, false, ""},
		{"SNS", notifysuite.SNSDelete, []string{del}, false, ""},
		{"test event", notifysuite.TestEvent, nil, true, ""},
		{"test event over SNS", notifysuite.SNSTestEvent, nil, true, ""},
		{"two records", `{"Records":[` + del + `,` + put + `]}`, []string{del, compact(put)}, false, ""},
		{"keys are case-sensitive", `{"records":[` + del + `]}`, nil, false, "no Records"},
		{"not JSON", "hello", nil, false, "invalid character"},
		{"not an object", `[1]`, nil, false, "cannot unmarshal"},
		{"empty", `{"Records":[]}`, nil, false, "Records is empty"},
		{"a record not an object", `{"Records":[1]}`, nil, false, "record 0 is not an object"},
		{"SNS without a message", `{"Type":"Notification","Message":""}`, nil, false, "without a Message"},
		{"SNS twice", `{"Type":"Notification","Message":"{\"Type\":\"Notification\",\"Message\":\"{}\"}"}`, nil, false, "the Message of an SNS notification"},
		{"another service's test event", `{"Service":"Amazon S3","Event":"s3:Other"}`, nil, false, "no Records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, test, err := s3.ParseNotification([]byte(tc.body))
			if tc.err != "" {
				require.ErrorIs(t, err, s3.ErrNotNotification)
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.test, test)
			var got []string
			for _, r := range recs {
				got = append(got, string(r))
			}
			require.Equal(t, tc.records, got)
		})
	}
}

func TestQueueNotificationsValidate(t *testing.T) {
	t.Parallel()
	q := embeddedQueues(t)("q", sqs.QueueConfig{})
	for _, tc := range []struct {
		name string
		qn   *s3.QueueNotifications
		want string
	}{
		{"no queue", &s3.QueueNotifications{}, "Queue is required"},
		{"pollers", &s3.QueueNotifications{Queue: q, Pollers: -1}, "Pollers -1"},
		{"too many pollers", &s3.QueueNotifications{Queue: q, Pollers: 1001}, "Pollers 1001"},
		{"batch", &s3.QueueNotifications{Queue: q, BatchSize: 11}, "BatchSize 11"},
		{"visibility", &s3.QueueNotifications{Queue: q, VisibilityTimeout: 13 * time.Hour}, "VisibilityTimeout 13h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.qn.Validate()
			require.ErrorIs(t, err, lambda.ErrInvalidConfig)
			require.ErrorContains(t, err, tc.want)
		})
	}
	require.NoError(t, (&s3.QueueNotifications{Queue: q}).Validate())
}

func TestQueueNotificationsAttachOnce(t *testing.T) {
	t.Parallel()
	rt := testkit.NewRuntime(t, lambda.Options{})
	f1 := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "a", Code: echoGuest(t)})
	f2 := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "b", Code: echoGuest(t)})
	qn := &s3.QueueNotifications{Queue: embeddedQueues(t)("q", sqs.QueueConfig{})}
	att, err := f1.Attach(context.Background(), "n", qn)
	require.NoError(t, err)
	_, err = f2.Attach(context.Background(), "n", qn)
	require.ErrorContains(t, err, "attached already")
	require.NoError(t, att.Detach(context.Background()))
	require.NoError(t, qn.Stop(context.Background()), "a second Stop does nothing")
}

func echoGuest(t *testing.T) []byte { return testguest.Go(t, "echo") }
