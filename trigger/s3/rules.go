package s3

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	lambda "github.com/wasmlambda/lambda"
)

// MaxFilterLength is the longest Prefix or Suffix, in bytes, as S3's
// filter rule values.
const MaxFilterLength = 1024

// ruleEvents are the event types a Rule may name, and the event names each
// covers: the ObjectCreated and ObjectRemoved types, the ones the sources
// of this package raise.
var ruleEvents = map[string][]string{
	"s3:ObjectCreated:*":                         {ObjectCreatedPut, ObjectCreatedPost, ObjectCreatedCopy, ObjectCreatedCompleteMultipartUpload},
	"s3:" + ObjectCreatedPut:                     {ObjectCreatedPut},
	"s3:" + ObjectCreatedPost:                    {ObjectCreatedPost},
	"s3:" + ObjectCreatedCopy:                    {ObjectCreatedCopy},
	"s3:" + ObjectCreatedCompleteMultipartUpload: {ObjectCreatedCompleteMultipartUpload},
	"s3:ObjectRemoved:*":                         {ObjectRemovedDelete, ObjectRemovedDeleteMarkerCreated},
	"s3:" + ObjectRemovedDelete:                  {ObjectRemovedDelete},
	"s3:" + ObjectRemovedDeleteMarkerCreated:     {ObjectRemovedDeleteMarkerCreated},
}

// otherS3Events are S3's other event types: valid in a notification
// configuration on AWS, but raised by no source here, so a rule naming one
// would never fire.
var otherS3Events = map[string]bool{
	"s3:ObjectRestore:*": true, "s3:ObjectRestore:Post": true, "s3:ObjectRestore:Completed": true, "s3:ObjectRestore:Delete": true,
	"s3:ReducedRedundancyLostObject": true,
	"s3:Replication:*":               true, "s3:Replication:OperationFailedReplication": true, "s3:Replication:OperationMissedThreshold": true,
	"s3:Replication:OperationReplicatedAfterThreshold": true, "s3:Replication:OperationNotTracked": true,
	"s3:LifecycleExpiration:*": true, "s3:LifecycleExpiration:Delete": true, "s3:LifecycleExpiration:DeleteMarkerCreated": true,
	"s3:LifecycleTransition": true, "s3:IntelligentTiering": true,
	"s3:ObjectTagging:*": true, "s3:ObjectTagging:Put": true, "s3:ObjectTagging:Delete": true,
	"s3:ObjectAcl:Put": true,
}

// Matches reports whether the rule sends a notification of c: whether one
// of its Events covers c.Event ("s3:ObjectCreated:*" covers every
// ObjectCreated event), and EncodeKey(c.Key) begins with Prefix and ends
// with Suffix. S3 matches the filters against the key as it encodes it in
// notifications, so a filter names a space as "+" and other special
// characters %-encoded: the rule {Prefix: "my+photos/"} matches the key
// "my photos/cat.jpg", and {Prefix: "my photos/"} matches nothing.
func (r Rule) Matches(c Change) bool {
	return r.matches(strings.TrimPrefix(c.Event, "s3:"), EncodeKey(c.Key))
}

// matches is Matches for an event name without "s3:" and an encoded key.
func (r Rule) matches(event, encodedKey string) bool {
	return r.covers(event) && strings.HasPrefix(encodedKey, r.Prefix) && strings.HasSuffix(encodedKey, r.Suffix)
}

// covers reports whether one of the rule's Events covers the event name.
func (r Rule) covers(event string) bool {
	for _, e := range r.Events {
		for _, name := range ruleEvents[e] {
			if name == event {
				return true
			}
		}
	}
	return false
}

// ValidateRules checks a bucket's notification rules as S3 checks a
// notification configuration, and reports the first problem as a
// lambda.ErrInvalidConfig that names the rule:
//
//   - each rule names at least one event type, and each is one of
//     "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "…:Post", "…:Copy",
//     "…:CompleteMultipartUpload", "s3:ObjectRemoved:*",
//     "s3:ObjectRemoved:Delete" or "…:DeleteMarkerCreated" (S3's other
//     event types, such as "s3:ObjectRestore:*", are refused: no source
//     here raises them);
//   - a Prefix or Suffix is at most 1,024 bytes, has no wildcard, and is
//     written as S3 matches it, in the key's encoded form (EncodeKey): a
//     space as "+", "=" as "%3D", "é" as "%C3%A9";
//   - IDs, where given, are unique; a rule without one gets one when the
//     rules are attached (see Notifications);
//   - no two rules overlap: S3 refuses two rules that cover a common event
//     type (after expanding the wildcards) and whose filters can both
//     match one key, which is when one's Prefix begins the other's and one's
//     Suffix ends the other's (an empty filter matches every key). Rules
//     for different event types may overlap, as may rules whose prefixes
//     or suffixes differ, such as "images/" and "logs/", or ".jpg" and
//     ".png". The error names both rules.
//
// No rules at all is valid, as an empty notification configuration is.
func ValidateRules(rules []Rule) error {
	ids := make(map[string]int, len(rules))
	expanded := make([]map[string]bool, len(rules))
	for i, r := range rules {
		name := ruleName(rules, i)
		if len(r.Events) == 0 {
			return invalidNotification("s3 notification rule %s: no event types: name at least one, such as \"s3:ObjectCreated:*\"", name)
		}
		expanded[i] = map[string]bool{}
		for _, e := range r.Events {
			names, ok := ruleEvents[e]
			if !ok {
				return invalidNotification("s3 notification rule %s: event type %q: %s", name, e, unknownEventHint(e))
			}
			for _, n := range names {
				expanded[i][n] = true
			}
		}
		for _, f := range []struct{ field, value string }{{"Prefix", r.Prefix}, {"Suffix", r.Suffix}} {
			if err := checkFilter(f.value); err != "" {
				return invalidNotification("s3 notification rule %s: %s %q: %s", name, f.field, f.value, err)
			}
		}
		if r.ID != "" {
			if j, dup := ids[r.ID]; dup {
				return invalidNotification("s3 notification rules #%d and #%d have the same ID %q: IDs must be unique", j+1, i+1, r.ID)
			}
			ids[r.ID] = i
		}
	}
	for i := range rules {
		for j := i + 1; j < len(rules); j++ {
			a, b := rules[i], rules[j]
			common := commonEvents(expanded[i], expanded[j])
			if len(common) == 0 || !prefixesOverlap(a.Prefix, b.Prefix) || !suffixesOverlap(a.Suffix, b.Suffix) {
				continue
			}
			example := "every key matches both"
			if k := longer(a.Prefix, b.Prefix) + longer(a.Suffix, b.Suffix); k != "" {
				example = fmt.Sprintf("the key %q matches both", k)
			}
			return invalidNotification("s3 notification rules %s and %s overlap: both cover %s, and %s (%s; %s). "+
				"S3 refuses overlapping rules for one event type: make their prefixes or suffixes disjoint, or their event types",
				ruleName(rules, i), ruleName(rules, j), strings.Join(common, ", "), example, filterText(a), filterText(b))
		}
	}
	return nil
}

// normalizeRules validates rules and returns a copy in which each rule has
// an ID: for a rule without one, an ID derived from its event types and
// filters, in the form of the IDs S3 assigns (the base64 of a UUID), the
// same on every start.
func normalizeRules(rules []Rule) ([]Rule, error) {
	if err := ValidateRules(rules); err != nil {
		return nil, err
	}
	out := make([]Rule, len(rules))
	for i, r := range rules {
		r.Events = append([]string(nil), r.Events...)
		if r.ID == "" {
			r.ID = defaultRuleID(r)
		}
		out[i] = r
	}
	return out, nil
}

// defaultRuleID is the ID of a rule given none: the base64 of a UUID made
// from a hash of the rule's sorted event types and its filters. Valid rules
// do not overlap, so no two of them have the same events and filters.
func defaultRuleID(r Rule) string {
	events := append([]string(nil), r.Events...)
	sort.Strings(events)
	h := sha256.Sum256([]byte(strings.Join(events, ",") + "\x00" + r.Prefix + "\x00" + r.Suffix))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	id := x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
	return base64.StdEncoding.EncodeToString([]byte(id))
}

// checkFilter says what is wrong with a filter value, or "".
func checkFilter(v string) string {
	if len(v) > MaxFilterLength {
		return fmt.Sprintf("%d bytes, more than %d", len(v), MaxFilterLength)
	}
	if strings.Contains(v, "*") {
		return "S3 filters take no wildcard: a prefix or suffix is matched as it is"
	}
	d, err := DecodeKey(v)
	if err != nil {
		return fmt.Sprintf("not an encoded key (%v): S3 matches filters against the key as it encodes it in notifications: a %% is written %%25, as in %q", err, EncodeKey(v))
	}
	if enc := EncodeKey(d); enc != v {
		return fmt.Sprintf("S3 matches filters against the key as it encodes it in notifications: write %q", enc)
	}
	return ""
}

// unknownEventHint says why a rule's event type is refused.
func unknownEventHint(e string) string {
	if otherS3Events[e] {
		return "an S3 event type that no source here raises; this trigger takes the ObjectCreated and ObjectRemoved types"
	}
	for k := range ruleEvents {
		if strings.EqualFold(k, e) || strings.EqualFold(k, "s3:"+e) {
			return fmt.Sprintf("not an S3 event type: did you mean %q?", k)
		}
	}
	return `not an S3 event type: want "s3:ObjectCreated:*", "s3:ObjectRemoved:*", or one of their types, such as "s3:ObjectCreated:Put"`
}

// commonEvents are the event names in both sets, sorted.
func commonEvents(a, b map[string]bool) []string {
	var out []string
	for e := range a {
		if b[e] {
			out = append(out, e)
		}
	}
	sort.Strings(out)
	return out
}

// prefixesOverlap reports whether some key begins with both a and b.
func prefixesOverlap(a, b string) bool {
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

// suffixesOverlap reports whether some key ends with both a and b.
func suffixesOverlap(a, b string) bool {
	return strings.HasSuffix(a, b) || strings.HasSuffix(b, a)
}

// longer is the longer of a and b.
func longer(a, b string) string {
	if len(b) > len(a) {
		return b
	}
	return a
}

// ruleName names rule i for an error: its ID, or its position.
func ruleName(rules []Rule, i int) string {
	if rules[i].ID != "" {
		return fmt.Sprintf("%q", rules[i].ID)
	}
	return fmt.Sprintf("#%d (no ID)", i+1)
}

// filterText writes a rule's filters for an error.
func filterText(r Rule) string {
	switch {
	case r.Prefix == "" && r.Suffix == "":
		return "no filter"
	case r.Suffix == "":
		return fmt.Sprintf("prefix %q", r.Prefix)
	case r.Prefix == "":
		return fmt.Sprintf("suffix %q", r.Suffix)
	}
	return fmt.Sprintf("prefix %q and suffix %q", r.Prefix, r.Suffix)
}

// invalidNotification is a lambda.ErrInvalidConfig with a message.
func invalidNotification(format string, args ...any) error {
	return &lambda.ServiceError{
		Code:       lambda.ErrInvalidConfig.Code,
		StatusCode: lambda.ErrInvalidConfig.StatusCode,
		Message:    fmt.Sprintf(format, args...),
	}
}
