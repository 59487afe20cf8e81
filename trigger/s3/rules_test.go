package s3_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/s3"
)

const (
	anyCreated = "s3:ObjectCreated:*"
	anyRemoved = "s3:ObjectRemoved:*"
)

func TestRuleMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rule  s3.Rule
		event string
		key   string
		want  bool
	}{
		{"anyCreated wildcard, put", s3.Rule{Events: []string{anyCreated}}, s3.ObjectCreatedPut, "a", true},
		{"anyCreated wildcard, post", s3.Rule{Events: []string{anyCreated}}, s3.ObjectCreatedPost, "a", true},
		{"anyCreated wildcard, copy", s3.Rule{Events: []string{anyCreated}}, s3.ObjectCreatedCopy, "a", true},
		{"anyCreated wildcard, multipart", s3.Rule{Events: []string{anyCreated}}, s3.ObjectCreatedCompleteMultipartUpload, "a", true},
		{"anyCreated wildcard, delete", s3.Rule{Events: []string{anyCreated}}, s3.ObjectRemovedDelete, "a", false},
		{"anyRemoved wildcard, delete", s3.Rule{Events: []string{anyRemoved}}, s3.ObjectRemovedDelete, "a", true},
		{"anyRemoved wildcard, delete marker", s3.Rule{Events: []string{anyRemoved}}, s3.ObjectRemovedDeleteMarkerCreated, "a", true},
		{"anyRemoved wildcard, put", s3.Rule{Events: []string{anyRemoved}}, s3.ObjectCreatedPut, "a", false},
		{"put only, copy", s3.Rule{Events: []string{"s3:ObjectCreated:Put"}}, s3.ObjectCreatedCopy, "a", false},
		{"put only, put", s3.Rule{Events: []string{"s3:ObjectCreated:Put"}}, s3.ObjectCreatedPut, "a", true},
		{"two types", s3.Rule{Events: []string{"s3:ObjectCreated:Put", "s3:ObjectRemoved:Delete"}}, s3.ObjectRemovedDelete, "a", true},
		{"an event name with s3:", s3.Rule{Events: []string{anyCreated}}, "s3:ObjectCreated:Put", "a", true},
		{"an unknown event type matches nothing", s3.Rule{Events: []string{"s3:ObjectCreated:Get"}}, s3.ObjectCreatedPut, "a", false},
		{"no events match nothing", s3.Rule{}, s3.ObjectCreatedPut, "a", false},

		{"prefix and suffix", s3.Rule{Events: []string{anyCreated}, Prefix: "photos/", Suffix: ".jpg"}, s3.ObjectCreatedPut, "photos/cat.jpg", true},
		{"wrong suffix", s3.Rule{Events: []string{anyCreated}, Prefix: "photos/", Suffix: ".jpg"}, s3.ObjectCreatedPut, "photos/cat.png", false},
		{"prefix deeper in the key", s3.Rule{Events: []string{anyCreated}, Prefix: "photos/"}, s3.ObjectCreatedPut, "old/photos/cat.jpg", false},
		{"suffix case", s3.Rule{Events: []string{anyCreated}, Suffix: ".jpg"}, s3.ObjectCreatedPut, "CAT.JPG", false},
		{"prefix and suffix share bytes", s3.Rule{Events: []string{anyCreated}, Prefix: "ab", Suffix: "b"}, s3.ObjectCreatedPut, "ab", true},
		{"the whole key", s3.Rule{Events: []string{anyCreated}, Prefix: "a.txt", Suffix: "a.txt"}, s3.ObjectCreatedPut, "a.txt", true},

		// Filters match the key as S3 encodes it.
		{"encoded space", s3.Rule{Events: []string{anyCreated}, Prefix: "my+photos/"}, s3.ObjectCreatedPut, "my photos/cat.jpg", true},
		{"raw space", s3.Rule{Events: []string{anyCreated}, Prefix: "my photos/"}, s3.ObjectCreatedPut, "my photos/cat.jpg", false},
		{"encoded equals", s3.Rule{Events: []string{anyCreated}, Prefix: "logs/dt%3D2026"}, s3.ObjectCreatedPut, "logs/dt=2026-05-04/x", true},
		{"raw equals", s3.Rule{Events: []string{anyCreated}, Prefix: "logs/dt=2026"}, s3.ObjectCreatedPut, "logs/dt=2026-05-04/x", false},
		{"encoded plus", s3.Rule{Events: []string{anyCreated}, Suffix: "%2B%2B.txt"}, s3.ObjectCreatedPut, "notes/c++.txt", true},
		{"encoded letter", s3.Rule{Events: []string{anyCreated}, Prefix: "caf%C3%A9/"}, s3.ObjectCreatedPut, "café/menu.pdf", true},
		{"encoded parentheses", s3.Rule{Events: []string{anyCreated}, Suffix: "%281%29.pdf"}, s3.ObjectCreatedPut, "Book (1).pdf", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.rule.Matches(s3.Change{Event: tc.event, Key: tc.key}))
		})
	}
}

func TestValidateRulesAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rules []s3.Rule
	}{
		{"none", nil},
		{"one", []s3.Rule{{ID: "a", Events: []string{anyCreated}}}},
		{"every type", []s3.Rule{{Events: []string{
			"s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload",
			"s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated",
		}}}},
		{"a wildcard and its types in one rule", []s3.Rule{{Events: []string{anyCreated, "s3:ObjectCreated:Put"}}}},
		{"disjoint prefixes", []s3.Rule{
			{ID: "images", Events: []string{anyCreated}, Prefix: "images/"},
			{ID: "logs", Events: []string{anyCreated}, Prefix: "logs/"},
		}},
		{"one prefix, disjoint suffixes", []s3.Rule{
			{ID: "jpg", Events: []string{anyCreated}, Prefix: "images/", Suffix: ".jpg"},
			{ID: "png", Events: []string{anyCreated}, Prefix: "images/", Suffix: ".png"},
		}},
		{"the same suffix under disjoint prefixes", []s3.Rule{
			{ID: "a", Events: []string{anyCreated}, Prefix: "images/", Suffix: ".jpg"},
			{ID: "b", Events: []string{anyCreated}, Prefix: "logs/", Suffix: ".jpg"},
		}},
		{"different event types, the same filters", []s3.Rule{
			{ID: "in", Events: []string{anyCreated}},
			{ID: "out", Events: []string{anyRemoved}},
		}},
		{"different types of one kind", []s3.Rule{
			{ID: "put", Events: []string{"s3:ObjectCreated:Put"}},
			{ID: "copy", Events: []string{"s3:ObjectCreated:Copy"}},
			{ID: "rest", Events: []string{"s3:ObjectCreated:Post", "s3:ObjectCreated:CompleteMultipartUpload"}},
		}},
		{"encoded filters", []s3.Rule{{Events: []string{anyCreated}, Prefix: "my+photos/dt%3D2026/caf%C3%A9", Suffix: "%281%29.jpg"}}},
		{"part of a UTF-8 letter", []s3.Rule{{Events: []string{anyCreated}, Prefix: "caf%C3"}}},
		{"a filter of 1,024 bytes", []s3.Rule{{Events: []string{anyCreated}, Prefix: strings.Repeat("a", 1024)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, s3.ValidateRules(tc.rules))
		})
	}
}

func TestValidateRulesRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rules []s3.Rule
		want  []string // in the error
	}{
		{"no events", []s3.Rule{{ID: "empty"}}, []string{`"empty"`, "no event types"}},
		{"an unknown type", []s3.Rule{{ID: "get", Events: []string{"s3:ObjectCreated:Get"}}}, []string{`"get"`, `"s3:ObjectCreated:Get"`, "not an S3 event type"}},
		{"no s3: prefix", []s3.Rule{{Events: []string{"ObjectCreated:*"}}}, []string{"#1 (no ID)", `did you mean "s3:ObjectCreated:*"`}},
		{"wrong case", []s3.Rule{{Events: []string{"s3:objectremoved:delete"}}}, []string{`did you mean "s3:ObjectRemoved:Delete"`}},
		{"another S3 type", []s3.Rule{{ID: "restore", Events: []string{"s3:ObjectRestore:Completed"}}}, []string{`"restore"`, "no source here raises"}},
		{"a bare wildcard", []s3.Rule{{Events: []string{"s3:*"}}}, []string{`"s3:*"`, "not an S3 event type"}},
		{"a raw space", []s3.Rule{{ID: "p", Events: []string{anyCreated}, Prefix: "my photos/"}}, []string{`"p"`, `Prefix "my photos/"`, `write "my+photos/"`}},
		{"a raw equals sign", []s3.Rule{{ID: "s", Events: []string{anyCreated}, Suffix: "dt=1"}}, []string{`Suffix "dt=1"`, `write "dt%3D1"`}},
		{"a raw letter", []s3.Rule{{Events: []string{anyCreated}, Prefix: "café/"}}, []string{`write "caf%C3%A9/"`}},
		{"lower-case hexadecimal", []s3.Rule{{Events: []string{anyCreated}, Prefix: "dt%3d"}}, []string{`write "dt%3D"`}},
		{"a wildcard", []s3.Rule{{Events: []string{anyCreated}, Prefix: "images/*"}}, []string{"no wildcard"}},
		{"a bare percent", []s3.Rule{{Events: []string{anyCreated}, Suffix: "100%"}}, []string{"not an encoded key", `"100%25"`}},
		{"too long", []s3.Rule{{Events: []string{anyCreated}, Suffix: strings.Repeat("a", 1025)}}, []string{"1025 bytes, more than 1024"}},
		{"the same ID twice", []s3.Rule{
			{ID: "dup", Events: []string{anyCreated}, Prefix: "a/"},
			{ID: "dup", Events: []string{anyCreated}, Prefix: "b/"},
		}, []string{"#1 and #2", `"dup"`, "unique"}},

		{"no filters, one type", []s3.Rule{
			{ID: "first", Events: []string{anyCreated}},
			{ID: "second", Events: []string{"s3:ObjectCreated:Put"}},
		}, []string{`"first" and "second" overlap`, "ObjectCreated:Put", "no filter"}},
		{"a wildcard against its type", []s3.Rule{
			{ID: "all", Events: []string{anyRemoved}, Prefix: "logs/"},
			{ID: "markers", Events: []string{"s3:ObjectRemoved:DeleteMarkerCreated"}, Prefix: "logs/old/"},
		}, []string{`"all" and "markers" overlap`, "ObjectRemoved:DeleteMarkerCreated", `prefix "logs/"`, `prefix "logs/old/"`}},
		{"nested prefixes", []s3.Rule{
			{ID: "a", Events: []string{anyCreated}, Prefix: "images"},
			{ID: "b", Events: []string{anyCreated}, Prefix: "images/"},
		}, []string{`"a" and "b" overlap`}},
		{"nested suffixes", []s3.Rule{
			{ID: "a", Events: []string{anyCreated}, Suffix: "jpg"},
			{ID: "b", Events: []string{anyCreated}, Suffix: ".jpg"},
		}, []string{`"a" and "b" overlap`, `suffix "jpg"`, `suffix ".jpg"`}},
		{"a prefix against a suffix", []s3.Rule{
			{ID: "a", Events: []string{anyCreated}, Prefix: "images/"},
			{ID: "b", Events: []string{anyCreated}, Suffix: ".jpg"},
		}, []string{`"a" and "b" overlap`}},
		{"a filter against none", []s3.Rule{
			{ID: "a", Events: []string{anyCreated}, Prefix: "images/", Suffix: ".jpg"},
			{ID: "b", Events: []string{"s3:ObjectCreated:Copy"}},
		}, []string{`"a" and "b" overlap`, "ObjectCreated:Copy"}},
		{"an overlap among several", []s3.Rule{
			{ID: "a", Events: []string{anyCreated}, Prefix: "a/"},
			{ID: "b", Events: []string{anyCreated}, Prefix: "b/"},
			{ID: "c", Events: []string{anyRemoved}, Prefix: "a/"},
			{ID: "d", Events: []string{"s3:ObjectCreated:Post"}, Prefix: "b/x/", Suffix: ".gz"},
		}, []string{`"b" and "d" overlap`, "ObjectCreated:Post"}},
		{"rules without IDs", []s3.Rule{
			{Events: []string{anyCreated}},
			{Events: []string{anyCreated}},
		}, []string{"#1 (no ID) and #2 (no ID) overlap"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := s3.ValidateRules(tc.rules)
			require.Error(t, err)
			require.ErrorIs(t, err, lambda.ErrInvalidConfig)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}
