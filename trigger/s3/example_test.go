package s3_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/trigger/s3"
)

// EncodeKey writes a key as S3 writes it in notifications, and as a rule's
// filters match it.
func ExampleEncodeKey() {
	for _, key := range []string{"photos/Happy Face.jpg", "logs/dt=2026-05-04/c++ (1).txt", "café/100%.txt"} {
		fmt.Println(s3.EncodeKey(key))
	}
	// Output:
	// photos/Happy+Face.jpg
	// logs/dt%3D2026-05-04/c%2B%2B+%281%29.txt
	// caf%C3%A9/100%25.txt
}

// ValidateRules refuses rules S3 would refuse: here two rules for
// ObjectCreated:Put whose filters a key such as "images/cat.jpg" matches
// both.
func ExampleValidateRules() {
	err := s3.ValidateRules([]s3.Rule{
		{ID: "images", Events: []string{"s3:ObjectCreated:*"}, Prefix: "images/"},
		{ID: "jpegs", Events: []string{"s3:ObjectCreated:Put"}, Suffix: ".jpg"},
		{ID: "deletes", Events: []string{"s3:ObjectRemoved:*"}, Prefix: "images/"},
	})
	fmt.Println(err)
	// Output:
	// InvalidParameterValueException: s3 notification rules "images" and "jpegs" overlap: both cover ObjectCreated:Put, and the key "images/.jpg" matches both (prefix "images/"; suffix ".jpg"). S3 refuses overlapping rules for one event type: make their prefixes or suffixes disjoint, or their event types
}

// Record renders a change as S3 writes it; Event wraps records as S3 sends
// them to a function. A removed object has no size and no eTag.
func ExampleRecord() {
	c := s3.Change{
		Event:     s3.ObjectRemovedDelete,
		Time:      time.Date(2026, 5, 4, 10, 0, 0, 123456789, time.UTC),
		Bucket:    "uploads",
		Key:       "photos/Happy Face.jpg",
		Sequencer: "0062E99A88DC407460",
		Principal: "AWS:AIDAEXAMPLE",
		SourceIP:  "198.51.100.7",
	}
	var ev events.S3Event
	if err := json.Unmarshal(s3.Event(s3.Record(c, "eu-west-1", "cleanup")), &ev); err != nil {
		panic(err)
	}
	r := ev.Records[0]
	fmt.Println(r.EventVersion, r.EventName, r.EventTime.Format(time.RFC3339Nano))
	fmt.Println(r.S3.ConfigurationID, r.S3.Bucket.Arn)
	fmt.Printf("%s (%s)\n", r.S3.Object.Key, r.S3.Object.URLDecodedKey)
	// Output:
	// 2.1 ObjectRemoved:Delete 2026-05-04T10:00:00.123Z
	// cleanup arn:aws:s3:::uploads
	// photos/Happy+Face.jpg (photos/Happy Face.jpg)
}

// changeChan is a Source fed by a channel, for the example: the embedded
// bucket is the usual one. It offers each change until it is accepted.
type changeChan chan s3.Change

func (changeChan) Bucket() string { return "uploads" }

func (ch changeChan) Watch(ctx context.Context, deliver func(context.Context, s3.Change) error) error {
	for {
		select {
		case c := <-ch:
			for deliver(ctx, c) != nil {
				select {
				case <-time.After(10 * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Notifications sends a bucket's changes to a function, one asynchronous
// invocation for each change a rule matches. Here the function (the echo
// test guest) returns its event, which its success destination prints.
func ExampleNotifications() {
	ctx := context.Background()
	rt, _ := lambda.New(lambda.Options{Region: "eu-west-1", CacheDir: testguest.CacheDir()})
	defer rt.Close(ctx)
	results := make(chan []byte, 1)
	fn, _ := rt.Deploy(ctx, lambda.FunctionConfig{
		Name: "thumbnails",
		Code: testguest.MustGo("echo"),
		Async: lambda.AsyncConfig{
			OnSuccess: lambda.DestinationFunc(func(ctx context.Context, r *lambda.InvocationRecord) error {
				results <- r.ResponsePayload
				return nil
			}),
		},
	})

	changes := make(changeChan, 2)
	n := &s3.Notifications{Source: changes, Rules: []s3.Rule{
		{ID: "new-photos", Events: []string{"s3:ObjectCreated:*"}, Prefix: "photos/", Suffix: ".jpg"},
	}}
	att, err := fn.Attach(ctx, "uploads", n)
	if err != nil {
		panic(err)
	}
	changes <- s3.Change{Event: s3.ObjectCreatedPut, Key: "notes/todo.txt", Size: 12, ETag: "b1946ac92492d2347c6235b4d2611184"}
	changes <- s3.Change{Event: s3.ObjectCreatedPut, Key: "photos/Happy Face.jpg", Size: 1024, ETag: "d41d8cd98f00b204e9800998ecf8427e"}

	var ev events.S3Event
	_ = json.Unmarshal(<-results, &ev)
	r := ev.Records[0]
	fmt.Println(r.EventName, r.AWSRegion, r.S3.ConfigurationID, r.S3.Bucket.Name, r.S3.Object.Key, r.S3.Object.Size)

	_ = att.Detach(ctx)
	s := n.Stats()
	fmt.Printf("changes %d, invoked %d, filtered %d\n", s.Changes, s.Invoked, s.Filtered)
	// Output:
	// ObjectCreated:Put eu-west-1 new-photos uploads photos/Happy+Face.jpg 1024
	// changes 2, invoked 1, filtered 1
}
