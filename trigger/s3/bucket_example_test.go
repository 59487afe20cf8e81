package s3_test

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/wasmlambda/lambda/trigger/s3"
)

// A memory-backed bucket: a watch sees its changes, and a function's mount
// would read its objects through FS.
func ExampleBucket() {
	ctx := context.Background()
	b, err := s3.NewBucket("photos", s3.BucketOptions{})
	if err != nil {
		panic(err)
	}
	defer b.Close()

	wctx, stop := context.WithCancel(ctx)
	changes := make(chan s3.Change)
	done := make(chan error)
	go func() {
		done <- b.Watch(wctx, func(ctx context.Context, c s3.Change) error {
			select {
			case changes <- c:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	for b.Watchers() == 0 { // changes made before the watch began are not its
		time.Sleep(time.Millisecond)
	}

	if _, err := b.Put(ctx, "uploads/cat.jpg", strings.NewReader("meow")); err != nil {
		panic(err)
	}
	c := <-changes
	fmt.Println(c.Event, c.Key, c.Size, c.ETag)

	data, err := fs.ReadFile(b.FS("uploads/"), "cat.jpg")
	if err != nil {
		panic(err)
	}
	fmt.Println(string(data))
	stop()
	fmt.Println(<-done)
	// Output:
	// ObjectCreated:Put uploads/cat.jpg 4 4a4be40c96ac6314e91d93f38043a634
	// meow
	// context canceled
}
