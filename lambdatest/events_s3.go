package lambdatest

import (
	"time"

	"github.com/wasmlambda/lambda/trigger/s3"
)

// S3EventOptions are the overrides of an S3 event notification sample
// (S3PutEvent, S3DeleteEvent); a zero field keeps the sample's value.
type S3EventOptions struct {
	// Bucket is the bucket's name. Default "example-bucket".
	Bucket string
	// Key is the object's key, as stored: the record holds it encoded, as
	// S3 writes it (s3.EncodeKey: "my photo.jpg" is "my+photo.jpg").
	// Default "test/key".
	Key string
	// EventName is the event, such as "ObjectCreated:Copy", with or
	// without the "s3:" prefix. Default "ObjectCreated:Put" for
	// S3PutEvent and "ObjectRemoved:Delete" for S3DeleteEvent. A created
	// object's record has a size and an eTag, a removed one's has neither.
	EventName string
	// Size is a created object's size in bytes. Default 1024.
	Size int64
	// ETag is a created object's entity tag, without quotes. Default
	// "0123456789abcdef0123456789abcdef".
	ETag string
	// VersionID is the object's version, from a versioned bucket. Default
	// none: the record has no versionId, as from an unversioned bucket.
	VersionID string
	// Sequencer orders the changes of one key. Default
	// "0A1B2C3D4E5F678901".
	Sequencer string
	// ConfigurationID is the notification rule's ID. Default
	// "testConfigRule".
	ConfigurationID string
	// Time is the event's time, sent in UTC with milliseconds. Default
	// 1970-01-01T00:00:00.000Z.
	Time time.Time
	// Principal is the requester, and the bucket's owner. Default
	// "wasmlambda", the requester of an embedded bucket's changes
	// (s3.BucketOptions.Principal) by default.
	Principal string
	// SourceIP is the requester's address. Default "127.0.0.1".
	SourceIP string
	// Region is the bucket's region. Default SampleRegion.
	Region string
}

// S3PutEvent is the event notification S3 sends a function when an object
// is put (events.S3Event; sam local generate-event s3 put): one record of
// ObjectCreated:Put, or of o.EventName. It is rendered by trigger/s3's
// Record and Event, so that it is the JSON the S3 trigger sends, byte for
// byte, for the same change; in particular its x-amz-request-id and
// x-amz-id-2 are derived from the change, as the trigger derives them.
func S3PutEvent(o S3EventOptions) []byte {
	return s3Event(o, s3.ObjectCreatedPut)
}

// S3DeleteEvent is the event notification S3 sends a function when an
// object is deleted (events.S3Event; sam local generate-event s3 delete):
// one record of ObjectRemoved:Delete, or of o.EventName, without the
// object's size and eTag, as S3 writes it. See S3PutEvent.
func S3DeleteEvent(o S3EventOptions) []byte {
	return s3Event(o, s3.ObjectRemovedDelete)
}

func s3Event(o S3EventOptions, event string) []byte {
	at := o.Time
	if at.IsZero() {
		at = time.Unix(0, 0)
	}
	size := o.Size
	if size == 0 {
		size = 1024
	}
	c := s3.Change{
		Event:     or(o.EventName, event),
		Time:      at,
		Bucket:    or(o.Bucket, "example-bucket"),
		Key:       or(o.Key, "test/key"),
		Size:      size,
		ETag:      or(o.ETag, "0123456789abcdef0123456789abcdef"),
		VersionID: o.VersionID,
		Sequencer: or(o.Sequencer, "0A1B2C3D4E5F678901"),
		Principal: or(o.Principal, "wasmlambda"),
		SourceIP:  or(o.SourceIP, s3.DefaultSourceIP),
	}
	return s3.Event(s3.Record(c, or(o.Region, SampleRegion), or(o.ConfigurationID, "testConfigRule")))
}
