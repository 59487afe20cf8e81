package awssqs_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/internal/testkit"
	"github.com/wasmlambda/lambda/trigger/sqs"
	"github.com/wasmlambda/lambda/trigger/sqs/awssqs"
)

// The scale-out test's parameters.
const (
	// scaleQueueEnv holds the queue's URL in a child process, and
	// scaleOutEnv the file it appends a line to for each message it
	// receives ("r ID") and deletes after processing it ("d ID"). The
	// child test runs only when they are set.
	scaleQueueEnv = "WASMLAMBDA_SQS_SCALE_QUEUE"
	scaleOutEnv   = "WASMLAMBDA_SQS_SCALE_OUT"
	// scaleMessages are sent; every third sleeps scaleSleep in the
	// handler, so that batches take a while and the kill lands in one.
	scaleMessages = 300
	scaleSleep    = "sleep:40"
	// scaleChildren consume the queue; one is killed once scaleKillAfter
	// messages are processed.
	scaleChildren  = 3
	scaleKillAfter = 60
	// scaleVisibility is the queue's visibility timeout: the killed
	// child's messages reappear after it.
	scaleVisibility = 2
	// scaleLimit bounds the wait for the queue to empty, and a child's run.
	scaleLimit = 2 * time.Minute
)

// scaleQueue records, to a file, the ID of each message it receives and
// deletes: the event source deletes a message once its handler succeeded.
type scaleQueue struct {
	sqs.Queue
	mu  sync.Mutex
	ids map[string]string // receipt handle → message ID
	out *os.File
}

func (q *scaleQueue) Receive(ctx context.Context, opts sqs.ReceiveOptions) ([]sqs.Message, error) {
	ms, err := q.Queue.Receive(ctx, opts)
	q.mu.Lock()
	defer q.mu.Unlock()
	var b strings.Builder
	for _, m := range ms {
		q.ids[m.ReceiptHandle] = m.MessageID
		b.WriteString("r " + m.MessageID + "\n")
	}
	if len(ms) > 0 {
		if _, werr := q.out.WriteString(b.String()); werr != nil {
			return ms, werr
		}
		if werr := q.out.Sync(); werr != nil {
			return ms, werr
		}
	}
	return ms, err
}

func (q *scaleQueue) Delete(ctx context.Context, entries []sqs.DeleteEntry) ([]sqs.EntryError, error) {
	failed, err := q.Queue.Delete(ctx, entries)
	if err != nil {
		return failed, err
	}
	bad := map[string]bool{}
	for _, f := range failed {
		bad[f.ID] = true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var b strings.Builder
	for _, e := range entries {
		if !bad[e.ID] {
			b.WriteString("d " + q.ids[e.ReceiptHandle] + "\n")
		}
		delete(q.ids, e.ReceiptHandle)
	}
	if _, werr := q.out.WriteString(b.String()); werr != nil {
		return failed, werr
	}
	return failed, q.out.Sync()
}

// TestScaleOutChild is a consumer process of TestScaleOut: it runs the
// sqsbatch guest on the queue until its standard input closes.
func TestScaleOutChild(t *testing.T) {
	url, path := os.Getenv(scaleQueueEnv), os.Getenv(scaleOutEnv)
	if url == "" || path == "" {
		t.Skip("a child process of TestScaleOut")
	}
	ctx := context.Background()
	c := client(t)
	aq, err := awssqs.New(ctx, c, url)
	require.NoError(t, err)
	out, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer out.Close()
	q := &scaleQueue{Queue: aq, ids: map[string]string{}, out: out}

	rt := testkit.NewRuntime(t, lambda.Options{})
	f := testkit.Deploy(t, rt, lambda.FunctionConfig{Name: "scale", Code: testguest.Go(t, "sqsbatch")})
	es := &sqs.EventSource{Queue: q, BatchSize: 5, MaximumConcurrency: 2, ReportBatchItemFailures: true}
	att, err := f.Attach(ctx, "scale", es)
	require.NoError(t, err)

	stdin := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdin)
	}()
	select {
	case <-stdin:
	case <-time.After(scaleLimit + time.Minute):
		t.Error("the parent did not close standard input")
	}
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, att.Detach(dctx))
	t.Logf("stats: %+v", es.Stats())
}

// scaleChild is a running child process.
type scaleChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	output bytes.Buffer // stdout and stderr
	path   string
}

// readIDs returns the IDs of path's lines that start with kind ("r " or
// "d ").
func readIDs(t *testing.T, path, kind string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), kind); ok {
			ids = append(ids, id)
		}
	}
	require.NoError(t, sc.Err())
	return ids
}

// TestScaleOut has three processes consume one queue on the SQS server;
// one is killed with SIGKILL mid-run. Every message is processed and
// deleted all the same: the killed process's messages reappear after the
// visibility timeout and the others take them.
func TestScaleOut(t *testing.T) {
	c := client(t)
	ctx := context.Background()
	// Build the guest and fill the compilation cache before the children
	// start.
	testguest.Go(t, "sqsbatch")

	name := fmt.Sprintf("wl-scale-%d", time.Now().UnixNano())
	cq, err := c.CreateQueue(ctx, &sdk.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"VisibilityTimeout": strconv.Itoa(scaleVisibility),
	}})
	require.NoError(t, err)
	url := aws.ToString(cq.QueueUrl)
	t.Cleanup(func() { _, _ = c.DeleteQueue(context.Background(), &sdk.DeleteQueueInput{QueueUrl: cq.QueueUrl}) })

	index := map[string]int{} // message ID → index
	for i := 0; i < scaleMessages; i += 10 {
		var entries []types.SendMessageBatchRequestEntry
		for j := i; j < min(i+10, scaleMessages); j++ {
			body := fmt.Sprintf(`{"n":%d}`, j)
			if j%3 == 0 {
				body = scaleSleep
			}
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(body)})
		}
		out, err := c.SendMessageBatch(ctx, &sdk.SendMessageBatchInput{QueueUrl: cq.QueueUrl, Entries: entries})
		require.NoError(t, err)
		require.Empty(t, out.Failed)
		for _, s := range out.Successful {
			n, err := strconv.Atoi(aws.ToString(s.Id))
			require.NoError(t, err)
			index[aws.ToString(s.MessageId)] = n
		}
	}
	require.Len(t, index, scaleMessages)

	dir := t.TempDir()
	children := make([]*scaleChild, scaleChildren)
	for i := range children {
		ch := &scaleChild{path: filepath.Join(dir, fmt.Sprintf("child%d", i))}
		ch.cmd = exec.Command(os.Args[0], "-test.run=^TestScaleOutChild$", "-test.v")
		ch.cmd.Env = append(os.Environ(), scaleQueueEnv+"="+url, scaleOutEnv+"="+ch.path)
		ch.cmd.Stdout, ch.cmd.Stderr = &ch.output, &ch.output
		ch.stdin, err = ch.cmd.StdinPipe()
		require.NoError(t, err)
		require.NoError(t, ch.cmd.Start())
		children[i] = ch
	}
	stopped := make([]bool, scaleChildren)
	t.Cleanup(func() {
		for i, ch := range children {
			if !stopped[i] {
				_ = ch.cmd.Process.Kill()
				_ = ch.cmd.Wait()
			}
		}
	})
	processed := func() (all []string, per []int) {
		per = make([]int, len(children))
		for i, ch := range children {
			ids := readIDs(t, ch.path, "d ")
			per[i] = len(ids)
			all = append(all, ids...)
		}
		return all, per
	}

	// Kill the busiest child once some messages are processed.
	require.Eventually(t, func() bool {
		all, _ := processed()
		return len(all) >= scaleKillAfter
	}, scaleLimit, 20*time.Millisecond, "the children do not process the messages")
	_, per := processed()
	killed := 0
	for i, n := range per {
		if n > per[killed] {
			killed = i
		}
	}
	require.NoError(t, children[killed].cmd.Process.Kill())
	_ = children[killed].cmd.Wait()
	stopped[killed] = true
	held := map[string]bool{} // received by the killed child, not deleted
	for _, id := range readIDs(t, children[killed].path, "r ") {
		held[id] = true
	}
	for _, id := range readIDs(t, children[killed].path, "d ") {
		delete(held, id)
	}
	t.Logf("killed child %d after %v messages processed (per child), holding %d in flight", killed, per, len(held))

	// The queue empties and every message is recorded as processed.
	queueEmpty := func() bool {
		out, err := c.GetQueueAttributes(ctx, &sdk.GetQueueAttributesInput{QueueUrl: cq.QueueUrl, AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		}})
		if err != nil {
			return false
		}
		for _, v := range out.Attributes {
			if v != "0" {
				return false
			}
		}
		return true
	}
	require.Eventually(t, func() bool {
		all, _ := processed()
		seen := map[string]bool{}
		for _, id := range all {
			if _, ok := index[id]; ok { // not a line being written
				seen[id] = true
			}
		}
		return len(seen) == scaleMessages && queueEmpty()
	}, scaleLimit, 100*time.Millisecond, "the queue did not empty")

	// Stop the others: they detach and exit cleanly.
	for i, ch := range children {
		if stopped[i] {
			continue
		}
		require.NoError(t, ch.stdin.Close())
		done := make(chan error, 1)
		go func() { done <- ch.cmd.Wait() }()
		select {
		case err := <-done:
			stopped[i] = true
			require.NoError(t, err, "child %d:\n%s", i, ch.output.String())
		case <-time.After(scaleLimit):
			t.Fatalf("child %d did not exit:\n%s", i, ch.output.String())
		}
	}

	all, per := processed()
	counts := map[string]int{}
	for _, id := range all {
		_, ok := index[id]
		require.True(t, ok, "a processed message that was not sent: %q", id)
		counts[id]++
	}
	require.Len(t, counts, scaleMessages, "every message processed")
	duplicates := len(all) - len(counts)
	t.Logf("%d messages processed by %v (per child; child %d killed), %d more than once", scaleMessages, per, killed, duplicates)
	require.True(t, queueEmpty(), "every message deleted")
	got, err := c.ReceiveMessage(ctx, &sdk.ReceiveMessageInput{QueueUrl: cq.QueueUrl, MaxNumberOfMessages: 10})
	require.NoError(t, err)
	require.Empty(t, got.Messages)
}
