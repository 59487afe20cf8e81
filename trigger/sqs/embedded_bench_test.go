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
// a time on a queue holding a number of messages: a receive costs about
// the same whatever the queue's length.
func BenchmarkEmbeddedReceive(b *testing.B) {
	for _, queued := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("queued=%d", queued), func(b *testing.B) {
			ctx := context.Background()
			e := sqs.NewEmbedded(sqs.EmbeddedOptions{})
			defer e.Close()
			q, err := e.CreateQueue("bench", sqs.QueueConfig{})
			require.NoError(b, err)
			embeddedFill(b, q, queued)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got, err := q.Receive(ctx, sqs.ReceiveOptions{MaxMessages: 1})
				require.NoError(b, err)
				require.Len(b, got, 1)
				failed, err := q.Delete(ctx, []sqs.DeleteEntry{{ReceiptHandle: got[0].ReceiptHandle}})
				require.NoError(b, err)
				require.Empty(b, failed)
				_, failedSend, err := q.Send(ctx, []sqs.SendEntry{{Body: got[0].Body}})
				require.NoError(b, err)
				require.Empty(b, failedSend)
			}
		})
	}
}

func embeddedFill(b *testing.B, q *sqs.EmbeddedQueue, n int) {
	ctx := context.Background()
	for i := 0; i < n; i += 10 {
		entries := make([]sqs.SendEntry, 0, 10)
		for j := i; j < min(i+10, n); j++ {
			entries = append(entries, sqs.SendEntry{Body: "message " + strconv.Itoa(j)})
		}
		_, failed, err := q.Send(ctx, entries)
		require.NoError(b, err)
		require.Empty(b, failed)
	}
}
