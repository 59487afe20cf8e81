package sqs

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sort"

	"github.com/aws/aws-lambda-go/events"
)

// EventSourceSQS is the eventSource of an SQS event's records.
const EventSourceSQS = "aws:sqs"

// record is one record of an SQS event, in the JSON Lambda sends: the field
// names of events.SQSMessage, with md5OfMessageAttributes only when the
// message has attributes, and the attribute lists as [] rather than null.
type record struct {
	MessageID              string               `json:"messageId"`
	ReceiptHandle          string               `json:"receiptHandle"`
	Body                   string               `json:"body"`
	Attributes             map[string]string    `json:"attributes"`
	MessageAttributes      map[string]attribute `json:"messageAttributes"`
	MD5OfMessageAttributes string               `json:"md5OfMessageAttributes,omitempty"`
	MD5OfBody              string               `json:"md5OfBody"`
	EventSource            string               `json:"eventSource"`
	EventSourceARN         string               `json:"eventSourceARN"`
	AWSRegion              string               `json:"awsRegion"`
}

// attribute is a message attribute as Lambda sends it.
type attribute struct {
	StringValue      *string  `json:"stringValue,omitempty"`
	BinaryValue      []byte   `json:"binaryValue,omitempty"`
	StringListValues []string `json:"stringListValues"`
	BinaryListValues [][]byte `json:"binaryListValues"`
	DataType         string   `json:"dataType"`
}

// newRecord is m as a record of an event from the queue arn, for a
// function in region.
func newRecord(m Message, arn, region string) record {
	r := record{
		MessageID:         m.MessageID,
		ReceiptHandle:     m.ReceiptHandle,
		Body:              m.Body,
		Attributes:        m.Attributes,
		MessageAttributes: make(map[string]attribute, len(m.MessageAttributes)),
		MD5OfBody:         m.MD5OfBody,
		EventSource:       EventSourceSQS,
		EventSourceARN:    arn,
		AWSRegion:         region,
	}
	if r.Attributes == nil {
		r.Attributes = map[string]string{}
	}
	if r.MD5OfBody == "" {
		sum := md5.Sum([]byte(m.Body))
		r.MD5OfBody = hex.EncodeToString(sum[:])
	}
	for k, a := range m.MessageAttributes {
		at := attribute{StringValue: a.StringValue, BinaryValue: a.BinaryValue, StringListValues: a.StringListValues, BinaryListValues: a.BinaryListValues, DataType: a.DataType}
		if at.StringListValues == nil {
			at.StringListValues = []string{}
		}
		if at.BinaryListValues == nil {
			at.BinaryListValues = [][]byte{}
		}
		r.MessageAttributes[k] = at
	}
	if len(m.MessageAttributes) > 0 {
		r.MD5OfMessageAttributes = MD5OfMessageAttributes(m.MessageAttributes)
	}
	return r
}

// marshalRecord encodes r; a record of strings and maps always encodes.
func marshalRecord(r record) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic("sqs: encode record: " + err.Error())
	}
	return b
}

// EventJSON is the SQS event Lambda sends a function in a region for
// msgs, received from the queue queueARN: {"Records":[...]}, each record in
// the JSON the EventSource sends. Sample events (lambdatest.SQSEvent) come
// from here, so that they match the EventSource's byte for byte.
func EventJSON(msgs []Message, queueARN, region string) []byte {
	b := append(make([]byte, 0, 512*len(msgs)+len(eventPrefix)+len(eventSuffix)), eventPrefix...)
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, marshalRecord(newRecord(m, queueARN, region))...)
	}
	return append(b, eventSuffix...)
}

// eventPrefix and eventSuffix wrap the records of an SQS event.
const (
	eventPrefix = `{"Records":[`
	eventSuffix = `]}`
)

// MD5OfMessageAttributes is the hex MD5 digest of message attributes as
// SQS computes it (MD5OfMessageAttributes in its API): for each attribute
// in order of name, the name, the data type, a transport byte (1 for a
// string value, 2 for a binary one) and the value, each string preceded by
// its length as 4 big-endian bytes.
func MD5OfMessageAttributes(attrs map[string]events.SQSMessageAttribute) string {
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	h := md5.New()
	put := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, k := range names {
		a := attrs[k]
		put([]byte(k))
		put([]byte(a.DataType))
		if a.StringValue != nil {
			h.Write([]byte{1})
			put([]byte(*a.StringValue))
		} else {
			h.Write([]byte{2})
			put(a.BinaryValue)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
