package s3_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/s3"
)

// benchObjects is the number of objects one benchmark iteration puts, and
// benchObjectSize their size.
const (
	benchObjects    = 200
	benchObjectSize = 1024
)

// BenchmarkS3 measures objects per second end to end through the embedded
// bucket: an iteration puts benchObjects objects of benchObjectSize bytes
// and waits until each has been handled, with the timer running over both.
// Two cases run on the same kind of bucket:
//
//   - wasm: Notifications on the bucket invoke a function of the s3event
//     guest asynchronously, which decodes the event and reads the object
//     through a read-only mount of the bucket.
//   - native: the baseline, a watch on the bucket that renders each change
//     as the same one-record S3 event and hands it to a native Go handler
//     doing what the guest does: decode the event, read the object.
//
// It reports objects/s and ns/object.
func BenchmarkS3(b *testing.B) {
	body := bytes.Repeat([]byte("x"), benchObjectSize)
	put := func(b *testing.B, bucket *s3.Bucket, i int) {
		ctx := context.Background()
		for j := range benchObjects {
			if _, err := bucket.Put(ctx, fmt.Sprintf("in/%d/object %d.bin", i, j), bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	}
	report := func(b *testing.B, elapsed time.Duration) {
		n := float64(b.N) * benchObjects
		b.ReportMetric(n/elapsed.Seconds(), "objects/s")
		b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/object")
		b.ReportMetric(0, "ns/op")
	}

	b.Run("wasm", func(b *testing.B) {
		bucket, err := s3.NewBucket("bench", s3.BucketOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer bucket.Close()
		rt := testkit.NewRuntime(b, lambda.Options{})
		fn := testkit.Deploy(b, rt, lambda.FunctionConfig{
			Name: "s3event", Code: testguest.Go(b, "s3event"),
			Environment: map[string]string{"S3EVENT_MOUNT": "/mnt/bucket"},
			Mounts:      []lambda.Mount{{Path: "/mnt/bucket", FS: bucket.FS("")}},
		})
		att, err := fn.Attach(context.Background(), "bench", &s3.Notifications{
			Source: bucket, Rules: []s3.Rule{{Events: []string{"s3:ObjectCreated:*"}}},
		})
		if err != nil {
			b.Fatal(err)
		}
		defer att.Detach(context.Background())
		iteration := func(i int) time.Duration {
			base := fn.AsyncStats().Succeeded
			start := time.Now()
			put(b, bucket, i)
			for st := fn.AsyncStats(); st.Succeeded < base+benchObjects; st = fn.AsyncStats() {
				if st.DeadLettered > 0 {
					b.Fatalf("an invocation failed: %+v", st)
				}
				time.Sleep(50 * time.Microsecond)
			}
			return time.Since(start)
		}
		iteration(-1) // warm the function's sandboxes
		b.ResetTimer()
		var elapsed time.Duration
		for i := range b.N {
			elapsed += iteration(i)
		}
		report(b, elapsed)
	})

	b.Run("native", func(b *testing.B) {
		bucket, err := s3.NewBucket("bench", s3.BucketOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer bucket.Close()
		var handled atomic.Int64
		handler := func(ctx context.Context, payload []byte) error {
			var ev events.S3Event
			if err := json.Unmarshal(payload, &ev); err != nil {
				return err
			}
			key, err := url.QueryUnescape(ev.Records[0].S3.Object.Key)
			if err != nil {
				return err
			}
			r, err := bucket.Get(ctx, key)
			if err != nil {
				return err
			}
			defer r.Close()
			if n, err := io.Copy(io.Discard, r); err != nil || n != benchObjectSize {
				return fmt.Errorf("read %d bytes of %s: %v", n, key, err)
			}
			handled.Add(1)
			return nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		ready, done := make(chan struct{}), make(chan error, 1)
		go func() {
			done <- bucket.WatchReady(ctx, func() { close(ready) }, func(ctx context.Context, c s3.Change) error {
				return handler(ctx, s3.Event(s3.Record(c, "us-east-1", "bench")))
			})
		}()
		<-ready
		defer func() { cancel(); <-done }()
		iteration := func(i int) time.Duration {
			base := handled.Load()
			start := time.Now()
			put(b, bucket, i)
			for handled.Load() < base+benchObjects {
				time.Sleep(50 * time.Microsecond)
			}
			return time.Since(start)
		}
		iteration(-1)
		b.ResetTimer()
		var elapsed time.Duration
		for i := range b.N {
			elapsed += iteration(i)
		}
		report(b, elapsed)
	})
}
