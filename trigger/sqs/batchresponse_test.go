package sqs

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"
)

func TestParseBatchResponse(t *testing.T) {
	batch := []string{"m1", "m2", "m3"}
	success := []struct {
		name string
		resp string
		want []string
	}{
		{"no bytes", ``, nil},
		{"white space", " \n\t", nil},
		{"null", `null`, nil},
		{"empty string", `""`, nil},
		{"empty object", `{}`, nil},
		{"null list", `{"batchItemFailures": null}`, nil},
		{"empty list", `{"batchItemFailures": []}`, nil},
		{"other fields only", `{"statusCode": 200}`, nil},
		{"name differently cased is absent", `{"BatchItemFailures": [{"itemIdentifier": "nope"}]}`, nil},
		{"one failure", `{"batchItemFailures": [{"itemIdentifier": "m2"}]}`, []string{"m2"}},
		{"in batch order", `{"batchItemFailures": [{"itemIdentifier": "m3"}, {"itemIdentifier": "m1"}]}`, []string{"m1", "m3"}},
		{"duplicates once", `{"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m2"}]}`, []string{"m2"}},
		{"all", `{"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}`, []string{"m1", "m2", "m3"}},
		{"extra fields ignored", `{"batchItemFailures": [{"itemIdentifier": "m1", "reason": "x"}], "other": 1}`, []string{"m1"}},
	}
	for _, tt := range success {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBatchResponse([]byte(tt.resp), batch)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	failure := []struct {
		name string
		resp string
		want string
	}{
		{"invalid JSON", `{"batchItemFailures": [`, "invalid batch response: not valid JSON"},
		{"text", `failed m1`, "invalid batch response: not valid JSON"},
		{"a number", `42`, "invalid batch response: JSON a number, want an object"},
		{"a list", `[{"itemIdentifier": "m1"}]`, "invalid batch response: JSON a list, want an object"},
		{"a boolean", `true`, "invalid batch response: JSON a boolean, want an object"},
		{"a string", `"m1"`, "invalid batch response: a JSON string, want an object"},
		{"list not a list", `{"batchItemFailures": "m1"}`, "invalid batch response: batchItemFailures is a string, want a list"},
		{"list an object", `{"batchItemFailures": {"itemIdentifier": "m1"}}`, "invalid batch response: batchItemFailures is an object, want a list"},
		{"item a string", `{"batchItemFailures": ["m1"]}`, "invalid batch response: batchItemFailures[0] is a string, want an object"},
		{"item null", `{"batchItemFailures": [null]}`, "invalid batch response: batchItemFailures[0] is null, want an object"},
		{"identifier missing", `{"batchItemFailures": [{}]}`, "invalid batch response: batchItemFailures[0] has no itemIdentifier"},
		{"identifier misspelled", `{"batchItemFailures": [{"itemIdentifier": "m1"}, {"ItemIdentifier": "m2"}]}`, "invalid batch response: batchItemFailures[1] has no itemIdentifier"},
		{"identifier null", `{"batchItemFailures": [{"itemIdentifier": null}]}`, "invalid batch response: batchItemFailures[0].itemIdentifier is null"},
		{"identifier a number", `{"batchItemFailures": [{"itemIdentifier": 1}]}`, "invalid batch response: batchItemFailures[0].itemIdentifier is a number, want a string"},
		{"identifier empty", `{"batchItemFailures": [{"itemIdentifier": ""}]}`, "invalid batch response: batchItemFailures[0].itemIdentifier is empty"},
		{"identifier unknown", `{"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m9"}]}`, `invalid batch response: batchItemFailures[1].itemIdentifier "m9" is not a message of the batch`},
	}
	for _, tt := range failure {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBatchResponse([]byte(tt.resp), batch)
			require.Nil(t, got)
			require.EqualError(t, err, tt.want)
			require.True(t, errors.Is(err, ErrBatchResponse))
		})
	}

	t.Run("empty batch", func(t *testing.T) {
		_, err := ParseBatchResponse([]byte(`{"batchItemFailures": [{"itemIdentifier": "m1"}]}`), nil)
		require.ErrorIs(t, err, ErrBatchResponse)
		got, err := ParseBatchResponse([]byte(`{}`), nil)
		require.NoError(t, err)
		require.Nil(t, got)
	})

	t.Run("aws-lambda-go's response type", func(t *testing.T) {
		resp, err := json.Marshal(events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "m3"}}})
		require.NoError(t, err)
		got, err := ParseBatchResponse(resp, batch)
		require.NoError(t, err)
		require.Equal(t, []string{"m3"}, got)

		resp, err = json.Marshal(events.SQSEventResponse{})
		require.NoError(t, err)
		got, err = ParseBatchResponse(resp, batch)
		require.NoError(t, err)
		require.Nil(t, got)
	})
}

func TestFIFORetries(t *testing.T) {
	batch := []FIFOMessage{
		{ID: "a1", GroupID: "A"},
		{ID: "b1", GroupID: "B"},
		{ID: "a2", GroupID: "A"},
		{ID: "b2", GroupID: "B"},
		{ID: "a3", GroupID: "A"},
		{ID: "c1", GroupID: "C"},
	}
	tests := []struct {
		name   string
		failed []string
		want   []string
	}{
		{"none", nil, nil},
		{"the last of a group", []string{"a3"}, []string{"a3"}},
		{"the rest of the group follows", []string{"a2"}, []string{"a2", "a3"}},
		{"the first of a group takes all of it", []string{"a1"}, []string{"a1", "a2", "a3"}},
		{"groups are independent", []string{"b1", "a3"}, []string{"b1", "b2", "a3"}},
		{"a later success after a failure still returns", []string{"a1", "a3"}, []string{"a1", "a2", "a3"}},
		{"every message reported", []string{"a1", "b1", "a2", "b2", "a3", "c1"}, []string{"a1", "b1", "a2", "b2", "a3", "c1"}},
		{"unknown IDs ignored", []string{"zz", "c1"}, []string{"c1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, FIFORetries(batch, tt.failed))
		})
	}
}

func FuzzParseBatchResponse(f *testing.F) {
	for _, s := range []string{
		``, `null`, `""`, `{}`, `{"batchItemFailures": null}`,
		`{"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m1"}]}`,
		`{"batchItemFailures": [{"itemIdentifier": ""}]}`,
		`{"batchItemFailures": [{"itemIdentifier": 7}]}`,
		`[1]`, `{"batchItemFailures": [`,
	} {
		f.Add(s)
	}
	batch := []string{"m1", "m2", "m3"}
	f.Fuzz(func(t *testing.T, resp string) {
		failed, err := ParseBatchResponse([]byte(resp), batch)
		if err != nil {
			require.Nil(t, failed)
			require.ErrorIs(t, err, ErrBatchResponse)
			return
		}
		// Each failed ID is in the batch, once, in the batch's order.
		at := -1
		for _, id := range failed {
			i := indexOf(batch, id)
			require.Greater(t, i, at, "%q in %v", id, failed)
			at = i
		}
	})
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
