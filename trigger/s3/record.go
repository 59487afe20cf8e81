package s3

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// The constant fields of an event notification's record.
const (
	// EventVersion is the record's eventVersion: 2.1, as S3 writes it for
	// the ObjectCreated and ObjectRemoved events.
	EventVersion = "2.1"
	// EventSource is the record's eventSource.
	EventSource = "aws:s3"
	// SchemaVersion is the record's s3.s3SchemaVersion.
	SchemaVersion = "1.0"
)

// timeLayout is S3's eventTime: UTC, with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

// record is one record of an event notification, in S3's JSON: the field
// names of events.S3EventRecord in S3's order, without the urlDecodedKey
// that events.S3Object adds, and with size and eTag only for a created
// object and versionId only from a versioned bucket, as S3 writes them.
type record struct {
	EventVersion      string             `json:"eventVersion"`
	EventSource       string             `json:"eventSource"`
	AWSRegion         string             `json:"awsRegion"`
	EventTime         string             `json:"eventTime"`
	EventName         string             `json:"eventName"`
	UserIdentity      recordIdentity     `json:"userIdentity"`
	RequestParameters recordRequest      `json:"requestParameters"`
	ResponseElements  recordResponse     `json:"responseElements"`
	S3                recordNotification `json:"s3"`
}

type recordIdentity struct {
	PrincipalID string `json:"principalId"`
}

type recordRequest struct {
	SourceIPAddress string `json:"sourceIPAddress"`
}

type recordResponse struct {
	RequestID string `json:"x-amz-request-id"`
	ID2       string `json:"x-amz-id-2"`
}

type recordNotification struct {
	SchemaVersion   string       `json:"s3SchemaVersion"`
	ConfigurationID string       `json:"configurationId"`
	Bucket          recordBucket `json:"bucket"`
	Object          recordObject `json:"object"`
}

type recordBucket struct {
	Name          string         `json:"name"`
	OwnerIdentity recordIdentity `json:"ownerIdentity"`
	ARN           string         `json:"arn"`
}

type recordObject struct {
	Key       string  `json:"key"`
	Size      *int64  `json:"size,omitempty"`
	ETag      *string `json:"eTag,omitempty"`
	VersionID string  `json:"versionId,omitempty"`
	Sequencer string  `json:"sequencer"`
}

// Record renders c as one record of an S3 event notification for the rule
// configurationID, from a bucket in region, in the JSON S3 writes:
//
//	{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":REGION,
//	 "eventTime":"2026-05-04T10:00:00.123Z","eventName":"ObjectCreated:Put",
//	 "userIdentity":{"principalId":PRINCIPAL},
//	 "requestParameters":{"sourceIPAddress":SOURCE_IP},
//	 "responseElements":{"x-amz-request-id":…,"x-amz-id-2":…},
//	 "s3":{"s3SchemaVersion":"1.0","configurationId":ID,
//	  "bucket":{"name":BUCKET,"ownerIdentity":{"principalId":PRINCIPAL},"arn":"arn:aws:s3:::BUCKET"},
//	  "object":{"key":ENCODED_KEY,"size":N,"eTag":ETAG,"versionId":V,"sequencer":SEQ}}}
//
// The key is EncodeKey(c.Key). An ObjectCreated record has the object's
// size and eTag; an ObjectRemoved one has neither, as S3 writes it. The
// versionId is there only when c has one, that is from a versioned bucket.
// The eventName is c.Event without an "s3:" prefix.
//
// A Change does not say who owns its bucket: the bucket's
// ownerIdentity.principalId is c.Principal, the requester, as in a bucket
// that its owner writes to. The response elements, which S3 takes from its
// request, are derived from c (a hash of its bucket, key, event, version,
// sequencer and time), so that the records of one change, for several
// rules or offered again, carry the same ones.
//
// Record renders the fields as they are: the Notifications trigger fills
// what a source left empty first (see Notifications).
func Record(c Change, region, configurationID string) json.RawMessage {
	reqID, id2 := responseIDs(c)
	r := record{
		EventVersion:      EventVersion,
		EventSource:       EventSource,
		AWSRegion:         region,
		EventTime:         c.Time.UTC().Format(timeLayout),
		EventName:         strings.TrimPrefix(c.Event, "s3:"),
		UserIdentity:      recordIdentity{PrincipalID: c.Principal},
		RequestParameters: recordRequest{SourceIPAddress: c.SourceIP},
		ResponseElements:  recordResponse{RequestID: reqID, ID2: id2},
		S3: recordNotification{
			SchemaVersion:   SchemaVersion,
			ConfigurationID: configurationID,
			Bucket: recordBucket{
				Name:          c.Bucket,
				OwnerIdentity: recordIdentity{PrincipalID: c.Principal},
				ARN:           "arn:aws:s3:::" + c.Bucket,
			},
			Object: recordObject{
				Key:       EncodeKey(c.Key),
				VersionID: c.VersionID,
				Sequencer: c.Sequencer,
			},
		},
	}
	if strings.HasPrefix(r.EventName, "ObjectCreated:") {
		size, etag := c.Size, c.ETag
		r.S3.Object.Size, r.S3.Object.ETag = &size, &etag
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // S3 writes "&", "<" and ">" as they are
	if err := enc.Encode(r); err != nil {
		panic("s3: encode record: " + err.Error()) // strings and numbers always encode
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Event is an event notification holding records, as S3 sends it to a
// function: {"Records":[…]}. S3 sends each record in an event of its own.
func Event(records ...json.RawMessage) []byte {
	n := len(`{"Records":[]}`)
	for _, r := range records {
		n += len(r) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"Records":[`...)
	for i, r := range records {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	return append(b, `]}`...)
}

// responseIDs derives a change's x-amz-request-id (16 upper-case
// hexadecimal digits) and x-amz-id-2 (64 base64 characters), which S3 takes
// from the request that made the change, from the change itself.
func responseIDs(c Change) (requestID, id2 string) {
	h := sha512.New()
	for _, s := range []string{c.Bucket, c.Key, strings.TrimPrefix(c.Event, "s3:"), c.VersionID, c.Sequencer, c.Time.UTC().Format(time.RFC3339Nano)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	sum := h.Sum(nil)
	return strings.ToUpper(hex.EncodeToString(sum[:8])), base64.StdEncoding.EncodeToString(sum[8:56])
}
