package pattern

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"
)

type matchCase struct {
	event string
	want  bool
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		cases   []matchCase
	}{
		{"exact string", `{"city": ["Lisbon"]}`, []matchCase{
			{`{"city": "Lisbon"}`, true},
			{`{"city": "lisbon"}`, false},
			{`{"city": "Porto"}`, false},
			{`{"town": "Lisbon"}`, false},
			{`{"city": ["Porto", "Lisbon"]}`, true},
			{`{"city": ["Porto", "Faro"]}`, false},
			{`{"city": {"name": "Lisbon"}}`, false},
		}},
		{"alternatives are ORed", `{"code": ["AAAA", "BBBB"]}`, []matchCase{
			{`{"code": "BBBB"}`, true},
			{`{"code": "AAAA"}`, true},
			{`{"code": "CCCC"}`, false},
		}},
		{"keys are ANDed", `{"city": ["Lisbon"], "day": ["Monday"]}`, []matchCase{
			{`{"city": "Lisbon", "day": "Monday"}`, true},
			{`{"city": "Lisbon", "day": "Friday"}`, false},
			{`{"city": "Lisbon"}`, false},
		}},
		{"nested", `{"body": {"order": {"status": ["paid"]}}}`, []matchCase{
			{`{"body": {"order": {"status": "paid", "id": 7}}}`, true},
			{`{"body": {"order": {"status": "open"}}}`, false},
			{`{"body": {"order": "paid"}}`, false},
			{`{"body": "paid"}`, false},
			{`{"body": {"order": [{"status": "open"}, {"status": "paid"}]}}`, true},
		}},
		{"numbers compare numerically", `{"n": [300]}`, []matchCase{
			{`{"n": 300}`, true},
			{`{"n": 300.0}`, true},
			{`{"n": 3e2}`, true},
			{`{"n": "300"}`, false},
			{`{"n": 301}`, false},
		}},
		{"a string does not match a number", `{"n": ["300"]}`, []matchCase{
			{`{"n": 300}`, false},
			{`{"n": "300"}`, true},
		}},
		{"booleans and null", `{"ok": [true], "x": [null]}`, []matchCase{
			{`{"ok": true, "x": null}`, true},
			{`{"ok": "true", "x": null}`, false},
			{`{"ok": true}`, false},
			{`{"ok": false, "x": null}`, false},
		}},
		{"empty string", `{"last": [""]}`, []matchCase{
			{`{"last": ""}`, true},
			{`{"last": "x"}`, false},
			{`{"last": null}`, false},
		}},
		{"prefix", `{"time": [{"prefix": "2017-10-02"}]}`, []matchCase{
			{`{"time": "2017-10-02T18:43:48Z"}`, true},
			{`{"time": "2017-10-03T00:00:00Z"}`, false},
			{`{"time": 20171002}`, false},
		}},
		{"prefix ignoring case", `{"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}`, []matchCase{
			{`{"service": "eventbridge"}`, true},
			{`{"service": "EVENTBUS"}`, true},
			{`{"service": "lambda"}`, false},
		}},
		{"suffix", `{"file": [{"suffix": ".png"}]}`, []matchCase{
			{`{"file": "cat.png"}`, true},
			{`{"file": "cat.PNG"}`, false},
			{`{"file": "cat.jpg"}`, false},
		}},
		{"suffix ignoring case", `{"file": [{"suffix": {"equals-ignore-case": ".png"}}]}`, []matchCase{
			{`{"file": "cat.PNG"}`, true},
			{`{"file": "cat.jpg"}`, false},
		}},
		{"equals-ignore-case", `{"name": [{"equals-ignore-case": "alice"}]}`, []matchCase{
			{`{"name": "ALICE"}`, true},
			{`{"name": "Alice"}`, true},
			{`{"name": "alicia"}`, false},
		}},
		{"anything-but a string", `{"state": [{"anything-but": "initializing"}]}`, []matchCase{
			{`{"state": "running"}`, true},
			{`{"state": "initializing"}`, false},
			{`{"state": 5}`, true},
			{`{}`, false},
			{`{"state": ["initializing", "running"]}`, true},
		}},
		{"anything-but a number", `{"x": [{"anything-but": 123}]}`, []matchCase{
			{`{"x": 124}`, true},
			{`{"x": 123.0}`, false},
			{`{"x": "123"}`, true},
		}},
		{"anything-but a list", `{"state": [{"anything-but": ["stopped", "overloaded"]}]}`, []matchCase{
			{`{"state": "running"}`, true},
			{`{"state": "stopped"}`, false},
			{`{"state": "overloaded"}`, false},
		}},
		{"anything-but a list of numbers", `{"x": [{"anything-but": [100, 200]}]}`, []matchCase{
			{`{"x": 150}`, true},
			{`{"x": 200}`, false},
		}},
		{"anything-but a prefix", `{"region": [{"anything-but": {"prefix": "us-"}}]}`, []matchCase{
			{`{"region": "eu-west-1"}`, true},
			{`{"region": "us-east-1"}`, false},
			{`{"region": true}`, true},
			{`{}`, false},
		}},
		{"anything-but a suffix", `{"file": [{"anything-but": {"suffix": ".png"}}]}`, []matchCase{
			{`{"file": "a.txt"}`, true},
			{`{"file": "a.png"}`, false},
		}},
		{"anything-but ignoring case", `{"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "idle"]}}]}`, []matchCase{
			{`{"state": "running"}`, true},
			{`{"state": "STOPPED"}`, false},
			{`{"state": "Idle"}`, false},
		}},
		{"anything-but a wildcard", `{"path": [{"anything-but": {"wildcard": "*/lib/*"}}]}`, []matchCase{
			{`{"path": "/usr/bin/x"}`, true},
			{`{"path": "/usr/lib/x"}`, false},
		}},
		{"numeric range", `{"price": [{"numeric": [">", 0, "<=", 5]}]}`, []matchCase{
			{`{"price": 5}`, true},
			{`{"price": 0.5}`, true},
			{`{"price": 0}`, false},
			{`{"price": 5.000001}`, false},
			{`{"price": "3"}`, false},
			{`{"price": [10, 3]}`, true},
			{`{}`, false},
		}},
		{"numeric equals", `{"n": [{"numeric": ["=", 3.0e2]}]}`, []matchCase{
			{`{"n": 300}`, true},
			{`{"n": 299.999}`, false},
		}},
		{"numeric lower bound only", `{"n": [{"numeric": [">=", -1]}]}`, []matchCase{
			{`{"n": -1}`, true},
			{`{"n": -1.5}`, false},
			{`{"n": 1e9}`, true},
		}},
		{"numeric upper bound first", `{"n": [{"numeric": ["<", 10, ">", 5]}]}`, []matchCase{
			{`{"n": 7}`, true},
			{`{"n": 10}`, false},
			{`{"n": 5}`, false},
		}},
		{"exists true", `{"detail": {"state": [{"exists": true}]}}`, []matchCase{
			{`{"detail": {"state": "x"}}`, true},
			{`{"detail": {"state": null}}`, true},
			{`{"detail": {"state": ["a"]}}`, true},
			{`{"detail": {"state": []}}`, false},
			{`{"detail": {"state": {"inner": 1}}}`, false},
			{`{"detail": {}}`, false},
			{`{}`, false},
		}},
		{"exists false", `{"detail": {"state": [{"exists": false}]}}`, []matchCase{
			{`{"detail": {}}`, true},
			{`{}`, true},
			{`{"detail": "text"}`, true},
			{`{"detail": {"state": {"inner": 1}}}`, true},
			{`{"detail": {"state": "x"}}`, false},
			{`{"detail": {"state": null}}`, false},
		}},
		{"exists false or a value", `{"color": [{"exists": false}, "red"]}`, []matchCase{
			{`{}`, true},
			{`{"color": "red"}`, true},
			{`{"color": "blue"}`, false},
		}},
		{"wildcard", `{"key": [{"wildcard": "dir/*.png"}]}`, []matchCase{
			{`{"key": "dir/a.png"}`, true},
			{`{"key": "dir/sub/a.png"}`, true},
			{`{"key": "dir/.png"}`, true},
			{`{"key": "dir/a.jpg"}`, false},
			{`{"key": "xdir/a.png"}`, false},
		}},
		{"wildcard escapes", `{"key": [{"wildcard": "a\\*b*"}]}`, []matchCase{
			{`{"key": "a*bcd"}`, true},
			{`{"key": "axbcd"}`, false},
		}},
		{"wildcard many stars", `{"key": [{"wildcard": "*a*b*c*"}]}`, []matchCase{
			{`{"key": "xxaxxbxxcxx"}`, true},
			{`{"key": "abc"}`, true},
			{`{"key": "acb"}`, false},
		}},
		{"$or", `{"$or": [{"a": [1]}, {"b": [2]}], "c": ["x"]}`, []matchCase{
			{`{"a": 1, "c": "x"}`, true},
			{`{"b": 2, "c": "x"}`, true},
			{`{"a": 2, "b": 1, "c": "x"}`, false},
			{`{"a": 1}`, false},
		}},
		{"empty pattern matches every object", `{}`, []matchCase{
			{`{}`, true},
			{`{"a": 1}`, true},
			{`[]`, false},
			{`not json`, false},
		}},
		{"SQS body field, from AWS's example shape", `{"body": {"RequestCode": ["BBBB"]}}`, []matchCase{
			{`{"body": {"RecordNumber": 1234, "RequestCode": "BBBB"}}`, true},
			{`{"body": {"RecordNumber": 1234, "RequestCode": "AAAA"}}`, false},
			{`{"body": "{\"RequestCode\": \"BBBB\"}"}`, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(tt.pattern))
			require.NoError(t, err)
			require.Equal(t, tt.pattern, p.String())
			for _, c := range tt.cases {
				require.Equal(t, c.want, p.Match([]byte(c.event)), "event %s", c.event)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		pattern string
		want    string
	}{
		{``, "pattern: invalid JSON: EOF"},
		{`{"a": ["x"]} {}`, "pattern: invalid JSON: data after the value"},
		{`["a"]`, "pattern: want a JSON object"},
		{`{"a": "x"}`, "pattern: a: want an object or an array of values"},
		{`{"a": 1}`, "pattern: a: want an object or an array of values"},
		{`{"a": []}`, "pattern: a: empty array: want at least one value or operator"},
		{`{"a": {}}`, "pattern: a: empty object"},
		{`{"a": [["x"]]}`, "pattern: a: nested array: want a value or an operator"},
		{`{"a": [1e400]}`, "pattern: a: number out of range"},
		{`{"a": [{}]}`, "pattern: a: an operator object must have exactly one key"},
		{`{"a": [{"prefix": "x", "suffix": "y"}]}`, "pattern: a: an operator object must have exactly one key"},
		{`{"a": [{"contains": "x"}]}`, `pattern: a: unknown operator "contains"`},
		{`{"a": [{"cidr": "10.0.0.0/24"}]}`, "pattern: a: cidr: not supported"},
		{`{"a": [{"prefix": 1}]}`, `pattern: a: prefix: want a string or {"equals-ignore-case": string}`},
		{`{"a": [{"suffix": {"x": "y"}}]}`, `pattern: a: suffix: want a string or {"equals-ignore-case": string}`},
		{`{"a": [{"equals-ignore-case": 1}]}`, "pattern: a: equals-ignore-case: want a string"},
		{`{"a": [{"exists": "yes"}]}`, "pattern: a: exists: want true or false"},
		{`{"a": [{"wildcard": "a**b"}]}`, "pattern: a: wildcard: consecutive wildcard characters"},
		{`{"a": [{"wildcard": "a\\b"}]}`, `pattern: a: wildcard: a backslash must escape "*" or "\"`},
		{`{"body": {"price": [{"numeric": [">", "zero"]}]}}`, "pattern: body.price: numeric: want an operator and a number"},
		{`{"body": {"price": [{"numeric": 5}]}}`, "pattern: body.price: numeric: want an operator and a number, or two of each"},
		{`{"p": [{"numeric": [">", 1, "<"]}]}`, "pattern: p: numeric: want an operator and a number, or two of each"},
		{`{"p": [{"numeric": ["!=", 1]}]}`, `pattern: p: numeric: unknown comparison "!=": want =, <, <=, > or >=`},
		{`{"p": [{"numeric": [">", 1, ">=", 2]}]}`, "pattern: p: numeric: two lower bounds"},
		{`{"p": [{"numeric": ["<", 1, "<=", 2]}]}`, "pattern: p: numeric: two upper bounds"},
		{`{"p": [{"numeric": ["=", 1, "<", 2]}]}`, `pattern: p: numeric: "=" must be alone`},
		{`{"p": [{"numeric": [">", 5, "<", 1]}]}`, "pattern: p: numeric: empty range"},
		{`{"p": [{"numeric": [">", 1, "<", 1]}]}`, "pattern: p: numeric: empty range"},
		{`{"p": [{"anything-but": true}]}`, "pattern: p: anything-but: want a string, a number, an array of them, or an operator"},
		{`{"p": [{"anything-but": []}]}`, "pattern: p: anything-but: empty array"},
		{`{"p": [{"anything-but": ["a", 1]}]}`, "pattern: p: anything-but: want only strings or only numbers"},
		{`{"p": [{"anything-but": [null]}]}`, "pattern: p: anything-but: want strings or numbers"},
		{`{"p": [{"anything-but": {"numeric": [">", 1]}}]}`, `pattern: p: anything-but: unknown operator "numeric": want prefix, suffix, equals-ignore-case or wildcard`},
		{`{"p": [{"anything-but": {"prefix": 1}}]}`, "pattern: p: anything-but: prefix: want a string"},
		{`{"p": [{"anything-but": {"wildcard": "**"}}]}`, "pattern: p: anything-but: wildcard: consecutive wildcard characters"},
		{`{"p": [{"anything-but": {"equals-ignore-case": [1]}}]}`, "pattern: p: anything-but: equals-ignore-case: want a string or strings"},
		{`{"$or": [{"a": [1]}]}`, "pattern: $or: want an array of at least two patterns"},
		{`{"$or": [{"a": [1]}, "b"]}`, "pattern: $or[1]: want a pattern object"},
		{`{"$or": [{}, {"b": [1]}]}`, "pattern: $or[0]: want a pattern object"},
		{`{"x": {"$or": [{"a": [1]}, {"b": "c"}]}}`, "pattern: x.b: want an object or an array of values"},
		{`{"a": ["` + strings.Repeat("x", MaxPatternLen) + `"]}`, "pattern: longer than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			p, err := Compile([]byte(tt.pattern))
			require.Nil(t, p)
			require.EqualError(t, err, tt.want)
			var pe *Error
			require.True(t, errors.As(err, &pe))
		})
	}
}

func TestFilters(t *testing.T) {
	t.Run("empty matches everything", func(t *testing.T) {
		fs, err := CompileFilters(nil)
		require.NoError(t, err)
		require.True(t, fs.Match([]byte(`{"a": 1}`)))
		require.True(t, fs.Match([]byte(`not json`)))
	})
	t.Run("ORed", func(t *testing.T) {
		fs, err := CompileFilters([]string{`{"a": [1]}`, `{"b": [2]}`})
		require.NoError(t, err)
		require.True(t, fs.Match([]byte(`{"a": 1}`)))
		require.True(t, fs.Match([]byte(`{"b": 2}`)))
		require.False(t, fs.Match([]byte(`{"a": 2, "b": 1}`)))
		require.False(t, fs.Match([]byte(`not json`)))
		e, err := ParseEvent([]byte(`{"b": 2}`))
		require.NoError(t, err)
		require.True(t, fs.MatchEvent(e))
	})
	t.Run("error names the filter", func(t *testing.T) {
		_, err := CompileFilters([]string{`{"a": [1]}`, `{"a": "x"}`})
		require.EqualError(t, err, "filter 1: pattern: a: want an object or an array of values")
		var fe *FilterError
		require.True(t, errors.As(err, &fe))
		require.Equal(t, 1, fe.Index)
		var pe *Error
		require.True(t, errors.As(err, &pe))
		require.Equal(t, "a", pe.Path)
	})
	t.Run("limits", func(t *testing.T) {
		require.Equal(t, 5, MaxFilters)
		require.Equal(t, 10, MaxFiltersQuota)
	})
}

func TestParseEvent(t *testing.T) {
	_, err := ParseEvent([]byte(`[1]`))
	require.EqualError(t, err, "pattern: event: want a JSON object")
	_, err = ParseEvent([]byte(`{`))
	require.ErrorContains(t, err, "pattern: event: invalid JSON")
}

func TestSQSFilterInput(t *testing.T) {
	str := "v"
	attrs := map[string]string{"ApproximateReceiveCount": "1"}
	mattrs := map[string]events.SQSMessageAttribute{"kind": {StringValue: &str, DataType: "String"}}
	tests := []struct {
		name string
		body string
		want string
	}{
		{"JSON object", ` {"RequestCode": "BBBB", "n": 1.50} `,
			`{"body":{"RequestCode":"BBBB","n":1.50},"attributes":{"ApproximateReceiveCount":"1"},"messageAttributes":{"kind":{"stringValue":"v","stringListValues":null,"binaryListValues":null,"dataType":"String"}}}`},
		{"plain text", `hello`,
			`{"body":"hello","attributes":{"ApproximateReceiveCount":"1"},"messageAttributes":{"kind":{"stringValue":"v","stringListValues":null,"binaryListValues":null,"dataType":"String"}}}`},
		{"JSON scalar stays text", `123`,
			`{"body":"123","attributes":{"ApproximateReceiveCount":"1"},"messageAttributes":{"kind":{"stringValue":"v","stringListValues":null,"binaryListValues":null,"dataType":"String"}}}`},
		{"JSON array stays text", `[1]`,
			`{"body":"[1]","attributes":{"ApproximateReceiveCount":"1"},"messageAttributes":{"kind":{"stringValue":"v","stringListValues":null,"binaryListValues":null,"dataType":"String"}}}`},
		{"broken JSON stays text", `{"a":`,
			`{"body":"{\"a\":","attributes":{"ApproximateReceiveCount":"1"},"messageAttributes":{"kind":{"stringValue":"v","stringListValues":null,"binaryListValues":null,"dataType":"String"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.JSONEq(t, tt.want, string(SQSFilterInput(tt.body, attrs, mattrs)))
		})
	}

	t.Run("no attributes", func(t *testing.T) {
		require.JSONEq(t, `{"body":"","attributes":{},"messageAttributes":{}}`, string(SQSFilterInput("", nil, nil)))
	})

	t.Run("filtering", func(t *testing.T) {
		onField := mustCompile(t, `{"body": {"RequestCode": ["BBBB"]}}`)
		onText := mustCompile(t, `{"body": [{"prefix": "hel"}]}`)
		onAttr := mustCompile(t, `{"attributes": {"ApproximateReceiveCount": ["1"]}}`)
		jsonIn := SQSFilterInput(`{"RequestCode": "BBBB"}`, attrs, nil)
		textIn := SQSFilterInput(`hello`, attrs, nil)
		require.True(t, onField.Match(jsonIn))
		require.False(t, onField.Match(textIn), "a pattern on body fields drops a plain-text body")
		require.True(t, onText.Match(textIn))
		require.False(t, onText.Match(jsonIn), "a plain-text pattern on body drops a JSON body")
		require.True(t, onAttr.Match(textIn))
		require.True(t, onAttr.Match(jsonIn))
	})
}

func mustCompile(t *testing.T, s string) *Pattern {
	t.Helper()
	p, err := Compile([]byte(s))
	require.NoError(t, err)
	return p
}

// TestWildcardAgainstRegexp checks the wildcard matcher against a regular
// expression on every pattern and text over a small alphabet.
func TestWildcardAgainstRegexp(t *testing.T) {
	var patterns, texts []string
	var gen func(prefix string, alphabet string, n int, out *[]string)
	gen = func(prefix, alphabet string, n int, out *[]string) {
		*out = append(*out, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+string(c), alphabet, n-1, out)
		}
	}
	gen("", "ab*", 5, &patterns)
	gen("", "ab*", 5, &texts)
	checked := 0
	for _, p := range patterns {
		if checkWildcard(p) != "" {
			continue
		}
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, ".*") + "$")
		for _, s := range texts {
			require.Equal(t, re.MatchString(s), wildcard(p, s), "wildcard %q on %q", p, s)
			checked++
		}
	}
	require.Greater(t, checked, 10000)

	// Escapes: "\*" is a star, "\\" a backslash.
	require.True(t, wildcard(`a\*`, `a*`))
	require.False(t, wildcard(`a\*`, `ab`))
	require.True(t, wildcard(`a\\*`, `a\bc`))
	require.False(t, wildcard(`a\\*`, `abc`))
}
