package pattern

import (
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
)

// SQSFilterInput builds the JSON object that Lambda's filters see for an
// Amazon SQS message: the record's "body", "attributes" and
// "messageAttributes" (the latter two as in events.SQSMessage).
//
// Lambda matches a pattern's conditions on body fields only when the body
// is valid JSON and the pattern's body is JSON too; when the formats differ
// the message is dropped. So a body that is a JSON object is embedded as
// that object, and any other body (plain text, or a JSON scalar or array)
// as a string: a pattern on body fields ({"body": {"k": [...]}}) then does
// not match it, while a leaf on the body itself ({"body": [{"prefix":
// "..."}]}) matches its text. A pattern with no key "body" ignores the body
// either way.
//
// AWS documents filtering for SQS on the body key; the attributes are
// included so that a trigger may allow patterns on them too.
func SQSFilterInput(body string, attributes map[string]string, messageAttributes map[string]events.SQSMessageAttribute) []byte {
	in := struct {
		Body              json.RawMessage                       `json:"body"`
		Attributes        map[string]string                     `json:"attributes"`
		MessageAttributes map[string]events.SQSMessageAttribute `json:"messageAttributes"`
	}{Attributes: attributes, MessageAttributes: messageAttributes}
	if in.Attributes == nil {
		in.Attributes = map[string]string{}
	}
	if in.MessageAttributes == nil {
		in.MessageAttributes = map[string]events.SQSMessageAttribute{}
	}
	if isJSONObject(body) {
		in.Body = json.RawMessage(body)
	} else {
		s, _ := json.Marshal(body) // a string always marshals
		in.Body = s
	}
	b, err := json.Marshal(in)
	if err != nil {
		// Unreachable: every part is valid JSON.
		panic("pattern: SQSFilterInput: " + err.Error())
	}
	return b
}

// isJSONObject reports whether s is exactly one valid JSON object.
func isJSONObject(s string) bool {
	if !json.Valid([]byte(s)) {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return s[i] == '{'
	}
	return false
}
