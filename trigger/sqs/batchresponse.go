// Package sqs is the Amazon SQS trigger: an event source mapping that polls
// a queue and invokes a function with batches of messages.
package sqs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrBatchResponse is wrapped by every error of ParseBatchResponse: the
// function's response breaks a rule of ReportBatchItemFailures, and Lambda
// then treats the whole batch as failed.
var ErrBatchResponse = errors.New("invalid batch response")

// ParseBatchResponse reads a function's response to a batch under
// ReportBatchItemFailures and returns the IDs of the messages that failed,
// each once, in the order of batch (the batch's message IDs, in order).
//
// The rules are AWS's. The batch is a complete success, and failed is empty,
// when the response is empty (no bytes, or only white space), the JSON null,
// the empty JSON string, an object without "batchItemFailures", or one whose
// "batchItemFailures" is null or an empty list. Names are matched exactly,
// so a misspelled or differently cased "batchItemFailures" is absent.
//
// The batch is a complete failure, and the error wraps ErrBatchResponse and
// says which rule was broken, when the response is not valid JSON, is JSON
// other than an object (a number, a non-empty string, a list, a boolean),
// when "batchItemFailures" is not a list, or when an item of it is not an
// object or has an "itemIdentifier" that is missing (a misspelled name
// included), null, not a string, empty, or not the ID of a message in the
// batch. The caller then returns every message of the batch to the queue.
//
// An ID listed twice is returned once: a message fails or it does not.
func ParseBatchResponse(resp []byte, batch []string) (failed []string, err error) {
	resp = bytes.TrimSpace(resp)
	if len(resp) == 0 {
		return nil, nil
	}
	if !json.Valid(resp) {
		return nil, fmt.Errorf("%w: not valid JSON", ErrBatchResponse)
	}
	switch resp[0] {
	case 'n': // null
		return nil, nil
	case '"':
		var s string
		if err := json.Unmarshal(resp, &s); err == nil && s == "" {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: a JSON string, want an object", ErrBatchResponse)
	case '{':
	default:
		return nil, fmt.Errorf("%w: JSON %s, want an object", ErrBatchResponse, jsonKind(resp[0]))
	}

	var top map[string]json.RawMessage
	if err := json.Unmarshal(resp, &top); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBatchResponse, err)
	}
	raw, ok := top["batchItemFailures"]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%w: batchItemFailures is %s, want a list", ErrBatchResponse, jsonKind(raw[0]))
	}
	if len(items) == 0 {
		return nil, nil
	}

	index := make(map[string]int, len(batch))
	for i, id := range batch {
		if _, dup := index[id]; !dup {
			index[id] = i
		}
	}
	hit := make([]bool, len(batch))
	for i, item := range items {
		var fields map[string]json.RawMessage
		if item[0] != '{' || json.Unmarshal(item, &fields) != nil {
			return nil, fmt.Errorf("%w: batchItemFailures[%d] is %s, want an object", ErrBatchResponse, i, jsonKind(item[0]))
		}
		rawID, ok := fields["itemIdentifier"]
		if !ok {
			return nil, fmt.Errorf("%w: batchItemFailures[%d] has no itemIdentifier", ErrBatchResponse, i)
		}
		if isNull(rawID) {
			return nil, fmt.Errorf("%w: batchItemFailures[%d].itemIdentifier is null", ErrBatchResponse, i)
		}
		var id string
		if rawID[0] != '"' || json.Unmarshal(rawID, &id) != nil {
			return nil, fmt.Errorf("%w: batchItemFailures[%d].itemIdentifier is %s, want a string", ErrBatchResponse, i, jsonKind(rawID[0]))
		}
		if id == "" {
			return nil, fmt.Errorf("%w: batchItemFailures[%d].itemIdentifier is empty", ErrBatchResponse, i)
		}
		at, ok := index[id]
		if !ok {
			return nil, fmt.Errorf("%w: batchItemFailures[%d].itemIdentifier %q is not a message of the batch", ErrBatchResponse, i, id)
		}
		hit[at] = true
	}
	for i, id := range batch {
		if hit[i] {
			failed = append(failed, id)
		}
	}
	return failed, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 4 && string(raw) == "null"
}

// jsonKind names the kind of a JSON value from its first byte.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// FIFOMessage is a message of a batch from a FIFO queue: its ID and its
// message group.
type FIFOMessage struct {
	// ID is the message ID.
	ID string
	// GroupID is the message group ID.
	GroupID string
}

// FIFORetries returns the IDs of a FIFO batch's messages to return to the
// queue, in the batch's order, given the IDs that failed. A FIFO queue
// keeps order within a message group, and AWS asks a function to stop at
// the first failure of a batch and report that message and every message
// after it as failed. FIFORetries enforces it per group, whatever the
// function reported: within a group, the first failed message and every
// later message of the same group go back to the queue, so none of them is
// deleted ahead of an earlier one. Messages of other groups are unaffected.
// IDs in failed that are not in batch are ignored.
func FIFORetries(batch []FIFOMessage, failed []string) []string {
	if len(failed) == 0 {
		return nil
	}
	bad := make(map[string]bool, len(failed))
	for _, id := range failed {
		bad[id] = true
	}
	stopped := make(map[string]bool)
	var out []string
	for _, m := range batch {
		if stopped[m.GroupID] || bad[m.ID] {
			stopped[m.GroupID] = true
			out = append(out, m.ID)
		}
	}
	return out
}
