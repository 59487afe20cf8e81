package s3_test

import (
	"context"
	"fmt"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/trigger/s3"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// QueueNotifications feeds a function from the queue a bucket notifies:
// here an embedded queue holding what S3 sends, its test event and one
// notification. With Amazon SQS, the queue is awssqs's.
func ExampleQueueNotifications() {
	ctx := context.Background()
	rt, _ := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
	defer rt.Close(ctx)
	fn, _ := rt.Deploy(ctx, lambda.FunctionConfig{Name: "thumbnails", Code: testguest.MustGo("echo")})

	queues := sqs.NewEmbedded(sqs.EmbeddedOptions{})
	defer queues.Close()
	q, _ := queues.CreateQueue("uploads", sqs.QueueConfig{})
	_, _, _ = q.Send(ctx, []sqs.SendEntry{
		{Body: `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-05-01T11:59:02.089Z","Bucket":"photos","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}`},
		{Body: `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2024-05-01T12:00:00.123Z","eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AWS:AIDAJDPLRKLG7UEXAMPLE"},"requestParameters":{"sourceIPAddress":"172.16.0.1"},"responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},"s3":{"s3SchemaVersion":"1.0","configurationId":"uploads","bucket":{"name":"photos","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},"arn":"arn:aws:s3:::photos"},"object":{"key":"in/cat.jpg","size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e","sequencer":"0055AED6DCD90281E5"}}}]}`},
	})

	qn := &s3.QueueNotifications{Queue: q}
	att, err := fn.Attach(ctx, "uploads", qn)
	if err != nil {
		panic(err)
	}
	for qn.Stats().Deleted < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	_ = att.Detach(ctx)
	s := qn.Stats()
	fmt.Printf("records invoked %d, test events %d, messages deleted %d\n", s.Records, s.TestEvents, s.Deleted)
	// Output:
	// records invoked 1, test events 1, messages deleted 2
}
