package sqs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	e, err := sqs.OpenEmbedded(dir, sqs.EmbeddedOptions{})
	require.NoError(t, err)
	_, err = e.CreateQueue("dlq", sqs.QueueConfig{})
	require.NoError(t, err)
	q, err := e.CreateQueue("q", sqs.QueueConfig{RedrivePolicy: &sqs.RedrivePolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 3}})
	require.NoError(t, err)
	fifo, err := e.CreateQueue("f.fifo", sqs.QueueConfig{FIFO: true})
	require.NoError(t, err)

	sent, failed, err := q.Send(ctxT(t), []sqs.SendEntry{{ID: "a", Body: "kept"}, {ID: "b", Body: "in flight"}, {ID: "c", Body: "deleted"}})
	require.NoError(t, err)
	require.Empty(t, failed)
	fsent, failed, err := fifo.Send(ctxT(t), []sqs.SendEntry{{Body: "f", MessageGroupID: "g", MessageDeduplicationID: "d"}})
	require.NoError(t, err)
	require.Empty(t, failed)

	ms, err := q.Receive(ctxT(t), sqs.ReceiveOptions{MaxMessages: 3, VisibilityTimeout: time.Hour})
	require.NoError(t, err)
	require.Len(t, ms, 3)
	// Back to visible: "kept"; deleted: "deleted"; "in flight" stays so.
	failed, err = q.ChangeVisibility(ctxT(t), []sqs.VisibilityEntry{{ReceiptHandle: ms[0].ReceiptHandle}})
	require.NoError(t, err)
	require.Empty(t, failed)
	failed, err = q.Delete(ctxT(t), []sqs.DeleteEntry{{ReceiptHandle: ms[2].ReceiptHandle}})
	require.NoError(t, err)
	require.Empty(t, failed)
	require.NoError(t, e.Close())

	e, err = sqs.OpenEmbedded(dir, sqs.EmbeddedOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	q = e.Queue("q")
	require.NotNil(t, q)
	require.NotNil(t, e.Queue("dlq"))
	fifo = e.Queue("f.fifo")
	require.NotNil(t, fifo)
	require.True(t, fifo.FIFO())
	require.Equal(t, 2, q.Len())

	got, err := q.Receive(ctxT(t), sqs.ReceiveOptions{MaxMessages: 10})
	require.NoError(t, err)
	require.Len(t, got, 1, "the in-flight message stays invisible")
	require.Equal(t, sent[0].MessageID, got[0].MessageID)
	require.Equal(t, "kept", got[0].Body)
	require.Equal(t, "2", got[0].Attributes[sqs.AttrApproximateReceiveCount])
	// The in-flight message's receipt handle from before the restart still
	// deletes it.
	failed, err = q.Delete(ctxT(t), []sqs.DeleteEntry{{ReceiptHandle: ms[1].ReceiptHandle}})
	require.NoError(t, err)
	require.Empty(t, failed)
	require.Equal(t, 1, q.Len())

	// The FIFO queue still deduplicates.
	again, failed, err := fifo.Send(ctxT(t), []sqs.SendEntry{{Body: "f", MessageGroupID: "g", MessageDeduplicationID: "d"}})
	require.NoError(t, err)
	require.Empty(t, failed)
	require.Equal(t, fsent[0].MessageID, again[0].MessageID)
	require.Equal(t, 1, fifo.Len())

	// The redrive policy survives: the third receive moves "kept".
	for range 2 {
		failed, err = q.ChangeVisibility(ctxT(t), []sqs.VisibilityEntry{{ReceiptHandle: got[0].ReceiptHandle}})
		require.NoError(t, err)
		require.Empty(t, failed)
		got, err = q.Receive(ctxT(t), sqs.ReceiveOptions{})
		require.NoError(t, err)
		if len(got) == 0 {
			break
		}
	}
	require.Empty(t, got)
	require.Equal(t, 1, e.Queue("dlq").Len())
	_, err = q.SendMessage(ctxT(t), lambda.QueueMessage{Body: "new"})
	require.NoError(t, err)
}

func TestPersistenceMoveSurvives(t *testing.T) {
	dir := t.TempDir()
	e, err := sqs.OpenEmbedded(dir, sqs.EmbeddedOptions{})
	require.NoError(t, err)
	_, err = e.CreateQueue("dlq", sqs.QueueConfig{})
	require.NoError(t, err)
	q, err := e.CreateQueue("q", sqs.QueueConfig{RedrivePolicy: &sqs.RedrivePolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 1}})
	require.NoError(t, err)
	_, err = q.SendMessage(ctxT(t), lambda.QueueMessage{Body: "x"})
	require.NoError(t, err)
	ms, err := q.Receive(ctxT(t), sqs.ReceiveOptions{})
	require.NoError(t, err)
	failed, err := q.ChangeVisibility(ctxT(t), []sqs.VisibilityEntry{{ReceiptHandle: ms[0].ReceiptHandle}})
	require.NoError(t, err)
	require.Empty(t, failed)
	ms2, err := q.Receive(ctxT(t), sqs.ReceiveOptions{})
	require.NoError(t, err)
	require.Empty(t, ms2)
	require.NoError(t, e.Close())

	e, err = sqs.OpenEmbedded(dir, sqs.EmbeddedOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	require.Equal(t, 0, e.Queue("q").Len())
	got, err := e.Queue("dlq").Receive(ctxT(t), sqs.ReceiveOptions{})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, ms[0].MessageID, got[0].MessageID)
	// New sends do not overwrite the records of earlier ones.
	_, err = e.Queue("dlq").SendMessage(ctxT(t), lambda.QueueMessage{Body: "y"})
	require.NoError(t, err)
	require.Equal(t, 2, e.Queue("dlq").Len())
}

func TestPersistenceStateDirInUse(t *testing.T) {
	dir := t.TempDir()
	e, err := sqs.OpenEmbedded(dir, sqs.EmbeddedOptions{})
	require.NoError(t, err)
	_, err = sqs.OpenEmbedded(dir, sqs.EmbeddedOptions{})
	require.ErrorContains(t, err, "in use")
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "a second Close is harmless")
	e, err = sqs.OpenEmbedded(dir, sqs.EmbeddedOptions{})
	require.NoError(t, err)
	require.NoError(t, e.Close())
}
