package sqs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// FuzzEventSourceValidate: an event source's settings come from a user's
// config (the CLI's YAML among them). Validate never panics, refuses only
// with a lambda.ErrInvalidConfig that names a field, and what it accepts
// holds every bound of AWS's, checked here independently of it.
func FuzzEventSourceValidate(f *testing.F) {
	f.Add(false, 10, int64(0), 0, "", int64(0), false)
	f.Add(true, 10, int64(0), 2, `{"body":["a"]}`, int64(30*time.Second), true)
	f.Add(false, 100, int64(time.Second), 1000, "{}\n{}\n{}\n{}\n{}", int64(12*time.Hour), false)
	f.Add(false, 11, int64(time.Millisecond), 1, "{}\n{}\n{}\n{}\n{}\n{}", int64(time.Second), true)
	f.Add(true, 11, int64(300*time.Second), 1001, `{"body":`, int64(-1), false)
	f.Add(false, -1, int64(301*time.Second), 3, `{"body":[{"prefix":"a"}],"attributes":{"x":[{"numeric":[">",1]}]}}`, int64(0), true)
	emb := sqs.NewEmbedded(sqs.EmbeddedOptions{})
	f.Cleanup(func() { _ = emb.Close() })
	std, err := emb.CreateQueue("std", sqs.QueueConfig{})
	require.NoError(f, err)
	fifo, err := emb.CreateQueue("q.fifo", sqs.QueueConfig{FIFO: true})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, isFIFO bool, batch int, window int64, conc int, filters string, vis int64, heartbeat bool) {
		s := &sqs.EventSource{
			Queue:                 std,
			BatchSize:             batch,
			MaximumBatchingWindow: time.Duration(window),
			MaximumConcurrency:    conc,
			VisibilityTimeout:     time.Duration(vis),
			Heartbeat:             heartbeat,
		}
		if isFIFO {
			s.Queue = fifo
		}
		if filters != "" {
			s.FilterCriteria = strings.Split(filters, "\n")
		}
		err := s.Validate()
		if err != nil {
			require.True(t, errors.Is(err, lambda.ErrInvalidConfig), "%v", err)
			require.Contains(t, err.Error(), "sqs event source: ")
			named := false
			for _, field := range []string{"BatchSize", "MaximumBatchingWindow", "MaximumConcurrency", "FilterCriteria", "VisibilityTimeout", "Heartbeat"} {
				named = named || strings.Contains(err.Error(), field)
			}
			require.True(t, named, "the error names no field: %v", err)
			return
		}
		// Accepted: every bound holds.
		maxBatch := sqs.MaxBatchSize
		if isFIFO {
			maxBatch = sqs.MaxFIFOBatchSize
		}
		require.True(t, batch >= 0 && batch <= maxBatch, "BatchSize %d", batch)
		require.True(t, window >= 0 && time.Duration(window) <= sqs.MaxBatchingWindow, "MaximumBatchingWindow %d", window)
		require.True(t, batch <= 10 || time.Duration(window) >= time.Second, "BatchSize %d with window %d", batch, window)
		require.True(t, conc == 0 || conc >= sqs.MinConcurrency && conc <= sqs.MaxConcurrency, "MaximumConcurrency %d", conc)
		require.LessOrEqual(t, len(s.FilterCriteria), 5)
		require.True(t, vis >= 0 && time.Duration(vis) <= 12*time.Hour, "VisibilityTimeout %d", vis)
		require.True(t, !heartbeat || time.Duration(vis) >= 2*time.Second, "Heartbeat with VisibilityTimeout %d", vis)
		// Validating again gives the same answer: it changed nothing.
		require.NoError(t, s.Validate())
	})
}
