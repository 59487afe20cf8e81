package pattern

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzPatterns and fuzzEvents are added in code; more seeds are in
// testdata/fuzz/FuzzCompile and testdata/fuzz/FuzzMatch.
var fuzzPatterns = []string{
	`{"body": {"RequestCode": ["BBBB"]}}`,
	`{"a": ["x", 1, true, null, ""]}`,
	`{"a": [{"prefix": "us-"}, {"suffix": {"equals-ignore-case": ".PNG"}}]}`,
	`{"a": [{"anything-but": ["x", "y"]}, {"anything-but": {"prefix": "z"}}]}`,
	`{"a": [{"numeric": [">", 0, "<=", 5]}, {"numeric": ["=", 1e2]}]}`,
	`{"a": {"b": [{"exists": false}]}, "c": [{"exists": true}]}`,
	`{"a": [{"wildcard": "*x\\*y*"}]}`,
	`{"$or": [{"a": [1]}, {"b": [{"anything-but": {"equals-ignore-case": ["Q"]}}]}]}`,
	`{}`,
	`{"a": [{"numeric": [">", 5, "<", 1]}]}`,
	`[]`,
}

var fuzzEvents = []string{
	`{"body": {"RequestCode": "BBBB"}}`,
	`{"a": ["x", 2, {"b": 1}], "c": null}`,
	`{"a": "us-east-1.png"}`,
	`{"a": 3.5, "b": "q"}`,
	`{"a": {"b": [], "c": [[1]]}}`,
	`{"a": "ax*yz"}`,
	`{"a": 1e400}`,
	`{}`,
	`"text"`,
}

func FuzzCompile(f *testing.F) {
	for _, s := range fuzzPatterns {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Compile([]byte(s))
		if err != nil {
			require.Nil(t, p)
			var pe *Error
			require.True(t, errors.As(err, &pe))
			require.NotEmpty(t, pe.Reason)
			return
		}
		require.Equal(t, s, p.String())
		again, err := Compile([]byte(p.String()))
		require.NoError(t, err)
		for _, e := range fuzzEvents {
			require.Equal(t, p.Match([]byte(e)), again.Match([]byte(e)), "pattern %s, event %s", s, e)
		}
	})
}

func FuzzMatch(f *testing.F) {
	for _, p := range fuzzPatterns {
		for _, e := range fuzzEvents {
			f.Add(p, e)
		}
	}
	f.Fuzz(func(t *testing.T, pat, event string) {
		p, err := Compile([]byte(pat))
		if err != nil {
			return
		}
		got := p.Match([]byte(event))
		again, err := Compile([]byte(p.String()))
		require.NoError(t, err)
		require.Equal(t, got, again.Match([]byte(event)))
		require.Equal(t, got, Filters{p}.Match([]byte(event)))

		e, err := ParseEvent([]byte(event))
		if err != nil {
			require.False(t, got)
			return
		}
		require.Equal(t, got, p.MatchEvent(e))
		// The same event, re-encoded, matches the same.
		b, err := json.Marshal(e.m)
		require.NoError(t, err)
		require.Equal(t, got, p.Match(b), "re-encoded %s", b)
	})
}
