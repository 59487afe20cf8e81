package sqs_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/trigger/sqs"
)

// BenchmarkEmbeddedReceive receives, deletes and sends back one message at
// a time on a queue holding a number of messages (on a FIFO queue, all of
// one message group): a receive costs about the same whatever the queue's
// length.
func BenchmarkEmbeddedReceive(b *testing.B) {
	for _, fifo := range []bool{false, true} {
		for _, queued := range []int{1_000, 100_000} {
			b.Run(fmt.Sprintf("fifo=%t/queued=%d", fifo, queued), func(b *testing.B) {
				ctx := context.Background()
				e := sqs.NewEmbedded(sqs.EmbeddedOptions{})
				defer e.Close()
				name := "bench"
				if fifo {
					name += ".fifo"
				}
				q, err := e.CreateQueue(name, sqs.QueueConfig{FIFO: fifo})
				require.NoError(b, err)
				sent := 0
				send := func(n int) {
					entries := make([]sqs.SendEntry, n)
					for i := range entries {
						entries[i] = sqs.SendEntry{Body: "message " + strconv.Itoa(sent)}
						if fifo {
							entries[i].MessageGroupID, entries[i].MessageDeduplicationID = "g", strconv.Itoa(sent)
						}
						sent++
					}
					_, failed, err := q.Send(ctx, entries)
					require.NoError(b, err)
					require.Empty(b, failed)
				}
				for i := 0; i < queued; i += 10 {
					send(min(10, queued-i))
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					got, err := q.Receive(ctx, sqs.ReceiveOptions{MaxMessages: 1})
					require.NoError(b, err)
					require.Len(b, got, 1)
					failed, err := q.Delete(ctx, []sqs.DeleteEntry{{ReceiptHandle: got[0].ReceiptHandle}})
					require.NoError(b, err)
					require.Empty(b, failed)
					send(1)
				}
			})
		}
	}
}
