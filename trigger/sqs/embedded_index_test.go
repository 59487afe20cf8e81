package sqs_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/trigger/sqs"
)

// TestEmbeddedManyMessages drains a standard and a FIFO queue of many
// messages, in batches, some returned with ChangeVisibility 0: every
// message comes once more in send order after it is returned, and the
// queue ends empty.
func TestEmbeddedManyMessages(t *testing.T) {
	for _, fifo := range []bool{false, true} {
		t.Run("fifo="+strconv.FormatBool(fifo), func(t *testing.T) {
			ctx := context.Background()
			e := sqs.NewEmbedded(sqs.EmbeddedOptions{})
			defer e.Close()
			name := "many"
			if fifo {
				name += ".fifo"
			}
			q, err := e.CreateQueue(name, sqs.QueueConfig{FIFO: fifo, VisibilityTimeout: time.Hour})
			require.NoError(t, err)
			const n = 2000
			for i := 0; i < n; i += 10 {
				var entries []sqs.SendEntry
				for j := i; j < i+10; j++ {
					en := sqs.SendEntry{Body: strconv.Itoa(j)}
					if fifo {
						en.MessageGroupID, en.MessageDeduplicationID = "g", strconv.Itoa(j)
					}
					entries = append(entries, en)
				}
				_, failed, err := q.Send(ctx, entries)
				require.NoError(t, err)
				require.Empty(t, failed)
			}
			require.Equal(t, n, q.Len())
			next, returned := 0, map[int]bool{}
			for next < n {
				got, err := q.Receive(ctx, sqs.ReceiveOptions{MaxMessages: 10})
				require.NoError(t, err)
				require.NotEmpty(t, got)
				for k, m := range got {
					require.Equal(t, strconv.Itoa(next+k), m.Body)
				}
				if next%100 == 0 && !returned[next] {
					// Return the batch: it comes back, first, in order.
					returned[next] = true
					var ves []sqs.VisibilityEntry
					for k, m := range got {
						ves = append(ves, sqs.VisibilityEntry{ID: strconv.Itoa(k), ReceiptHandle: m.ReceiptHandle})
					}
					failed, err := q.ChangeVisibility(ctx, ves)
					require.NoError(t, err)
					require.Empty(t, failed)
					continue
				}
				if fifo {
					// The group is blocked while the batch is in flight.
					blocked, err := q.Receive(ctx, sqs.ReceiveOptions{MaxMessages: 10})
					require.NoError(t, err)
					require.Empty(t, blocked)
				}
				var des []sqs.DeleteEntry
				for k, m := range got {
					des = append(des, sqs.DeleteEntry{ID: strconv.Itoa(k), ReceiptHandle: m.ReceiptHandle})
				}
				failed, err := q.Delete(ctx, des)
				require.NoError(t, err)
				require.Empty(t, failed)
				next += len(got)
			}
			require.Equal(t, 0, q.Len())
			got, err := q.Receive(ctx, sqs.ReceiveOptions{MaxMessages: 10})
			require.NoError(t, err)
			require.Empty(t, got)
		})
	}
}
