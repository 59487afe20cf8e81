package s3_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/s3"
)

// FuzzParseNotification: a message body from a queue, S3's or anything
// else. An error wraps ErrNotNotification; the records returned are compact
// JSON objects that parse back the same, on their own and wrapped in SNS.
func FuzzParseNotification(f *testing.F) {
	rec := `{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:Put",` +
		`"s3":{"bucket":{"name":"b","arn":"arn:aws:s3:::b"},"object":{"key":"a+b.txt","size":3}}}`
	body := `{"Records":[` + rec + `]}`
	f.Add([]byte(body))
	f.Add([]byte(`{"Records": [ {"a" : 1}, {"b":[1, 2]} ]}`))
	f.Add([]byte(`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-01-01T00:00:00.000Z","Bucket":"b","RequestId":"r","HostId":"h"}`))
	sns, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": body})
	f.Add(sns)
	f.Add([]byte(`{"Type":"Notification","Message":"{\"Type\":\"Notification\",\"Message\":\"{}\"}"}`))
	f.Add([]byte(`{"Records":[]}`))
	f.Add([]byte(`{"Records":[1]}`))
	f.Add([]byte(`{"Records":{}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, test, err := s3.ParseNotification(body)
		if err != nil {
			require.ErrorIs(t, err, s3.ErrNotNotification)
			require.Nil(t, recs)
			require.False(t, test)
			return
		}
		if test {
			require.Empty(t, recs)
			return
		}
		require.NotEmpty(t, recs)
		for _, r := range recs {
			require.True(t, json.Valid(r), "record %s", r)
			var buf bytes.Buffer
			require.NoError(t, json.Compact(&buf, r))
			require.Equal(t, buf.Bytes(), []byte(r), "a record with whitespace")
			require.Equal(t, byte('{'), r[0])
		}
		// The records, as the S3 event a function receives, parse back
		// to themselves. (Event re-encodes what is not UTF-8, which S3
		// never sends, as U+FFFD; the queue hands records on as they
		// came.)
		if !utf8.Valid(body) {
			return
		}
		again, test, err := s3.ParseNotification(s3.Event(recs...))
		require.NoError(t, err)
		require.False(t, test)
		require.Equal(t, recs, again)
		// And the same event in an SNS notification.
		wrapped, err := json.Marshal(map[string]string{"Type": "Notification", "Message": string(s3.Event(recs...))})
		require.NoError(t, err)
		again, _, err = s3.ParseNotification(wrapped)
		require.NoError(t, err)
		require.Equal(t, recs, again)
	})
}

// FuzzValidateRules: rules ValidateRules accepts never overlap: no key and
// event is matched by two of them. An invalid set is an ErrInvalidConfig.
func FuzzValidateRules(f *testing.F) {
	f.Add("s3:ObjectCreated:*|images/|.jpg|a\ns3:ObjectRemoved:*|images/||b", "images/cat.jpg", uint8(0))
	f.Add("s3:ObjectCreated:Put|logs/||\ns3:ObjectCreated:*|img/|.png|", "img/x.png", uint8(1))
	f.Add("s3:ObjectCreated:*|||\ns3:ObjectCreated:Copy|a||", "a", uint8(2))
	f.Add("s3:ObjectCreated:*|a b||", "a b", uint8(0))
	f.Add("s3:ObjectRestore:*|||", "k", uint8(0))
	f.Add("s3:ObjectCreated:Post|p|s|x\ns3:ObjectCreated:Post|q|s|x", "ps", uint8(3))
	events := []string{"ObjectCreated:Put", "ObjectCreated:Post", "ObjectCreated:Copy", "ObjectCreated:CompleteMultipartUpload",
		"ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated"}
	f.Fuzz(func(t *testing.T, spec, key string, event uint8) {
		// spec: one rule a line, "events|prefix|suffix|id", events
		// comma-separated.
		var rules []s3.Rule
		for _, line := range strings.Split(spec, "\n") {
			parts := strings.SplitN(line, "|", 4)
			for len(parts) < 4 {
				parts = append(parts, "")
			}
			var evs []string
			if parts[0] != "" {
				evs = strings.Split(parts[0], ",")
			}
			rules = append(rules, s3.Rule{Events: evs, Prefix: parts[1], Suffix: parts[2], ID: parts[3]})
		}
		err := s3.ValidateRules(rules)
		if err != nil {
			require.True(t, errors.Is(err, lambda.ErrInvalidConfig), "%v", err)
			return
		}
		ids := map[string]bool{}
		for _, r := range rules {
			require.NotEmpty(t, r.Events)
			if r.ID != "" {
				require.False(t, ids[r.ID], "two rules with the ID %q", r.ID)
				ids[r.ID] = true
			}
		}
		// Try the fuzzed key, and keys built from the rules' own filters,
		// which is where two rules would meet.
		keys := []string{key}
		for _, a := range rules {
			for _, b := range rules {
				keys = append(keys, a.Prefix+b.Suffix, a.Prefix+key+b.Suffix)
			}
		}
		c := s3.Change{Event: "s3:" + events[int(event)%len(events)]}
		for _, k := range keys {
			c.Key = k
			matched := 0
			for _, r := range rules {
				if r.Matches(c) {
					matched++
				}
			}
			require.LessOrEqual(t, matched, 1, "rules that passed validation overlap on %s %q", c.Event, k)
		}
	})
}
