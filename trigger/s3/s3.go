// Package s3 is the S3 trigger: Amazon S3's event notifications to Lambda,
// delivered to a function as events.S3Event in S3's exact JSON, from an
// embedded bucket, from Amazon S3's notifications over an SQS queue, or from
// a poller of any S3-compatible store.
package s3

import (
	"context"
	"errors"
	"time"
)

// Event names, as S3 writes them in a record's eventName. A rule names
// them with the "s3:" prefix, and may use a wildcard: "s3:ObjectCreated:*".
const (
	ObjectCreatedPut                     = "ObjectCreated:Put"
	ObjectCreatedPost                    = "ObjectCreated:Post"
	ObjectCreatedCopy                    = "ObjectCreated:Copy"
	ObjectCreatedCompleteMultipartUpload = "ObjectCreated:CompleteMultipartUpload"
	ObjectRemovedDelete                  = "ObjectRemoved:Delete"
	ObjectRemovedDeleteMarkerCreated     = "ObjectRemoved:DeleteMarkerCreated"
)

// Change is one change to one object, as a bucket saw it: what a
// notification reports before it is rendered as a record for a rule.
type Change struct {
	// Event is the event name, such as ObjectCreatedPut.
	Event string
	// Time is when the change happened.
	Time time.Time
	// Bucket is the bucket's name.
	Bucket string
	// Key is the object's key as stored, not encoded.
	Key string
	// Size is the object's size in bytes, for a created object.
	Size int64
	// ETag is the object's entity tag, without quotes, for a created
	// object.
	ETag string
	// VersionID is the object's version, when the bucket is versioned.
	VersionID string
	// Sequencer orders the changes of one key: a hexadecimal string that
	// compares greater, as S3 compares it, for a later change.
	Sequencer string
	// Principal is the requester's principal ID.
	Principal string
	// SourceIP is the requester's IP address.
	SourceIP string
}

// Rule is one notification configuration of a bucket, as S3's
// LambdaFunctionConfiguration: the events it covers and an optional key
// filter.
type Rule struct {
	// ID names the rule; it is the record's s3.configurationId.
	ID string
	// Events are the event types, such as "s3:ObjectCreated:*" or
	// "s3:ObjectRemoved:Delete".
	Events []string
	// Prefix and Suffix filter the object's key.
	Prefix, Suffix string
}

// Source is where a bucket's changes come from: the embedded bucket, or a
// poller of an S3-compatible store.
type Source interface {
	// Bucket is the bucket's name.
	Bucket() string
	// Watch calls deliver with each change made from now on, at least
	// once, until ctx ends, and then returns ctx's error; another error
	// means the source failed. A change whose deliver returns an error is
	// offered again later: a source drops nothing.
	Watch(ctx context.Context, deliver func(ctx context.Context, c Change) error) error
}

// ReadySource is a Source that says when its watch has begun. WatchReady
// is Watch, and calls ready once, as soon as every change made from then on
// will be delivered. Notifications.Start returns only after ready when its
// source is a ReadySource (the embedded Bucket is one), so that no change
// made after Attach returns is missed.
type ReadySource interface {
	Source
	WatchReady(ctx context.Context, ready func(), deliver func(ctx context.Context, c Change) error) error
}

// ErrUndelivered is wrapped by the error a Source's Watch returns when its
// context ends while changes it took are still undelivered: they are
// named in the error, and Notifications.Stop reports them.
var ErrUndelivered = errors.New("s3: changes not delivered")
