// Command sqs-worker builds a Go guest to WebAssembly, deploys it, and
// feeds it from an embedded SQS queue through an event source mapping with
// partial batch failures: valid orders are deleted, invalid ones are
// retried and then redriven to the dead-letter queue.
//
//	go run ./examples/sqs-worker
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

func main() {
	if err := run(context.Background(), os.Stdout, slog.New(slog.NewTextHandler(os.Stderr, nil))); err != nil {
		log.Fatal(err)
	}
}

// run sends 20 orders, two of them invalid, and waits until every order is
// processed or in the dead-letter queue.
func run(ctx context.Context, out io.Writer, logger *slog.Logger) error {
	code, err := buildGuest(ctx)
	if err != nil {
		return err
	}
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	rt, err := lambda.New(lambda.Options{Logger: logger, CacheDir: filepath.Join(cacheDir, "wasmlambda")})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	fn, err := rt.Deploy(ctx, lambda.FunctionConfig{Name: "orders-worker", Code: code})
	if err != nil {
		return err
	}

	queues := sqs.NewEmbedded(sqs.EmbeddedOptions{})
	defer queues.Close()
	dlq, err := queues.CreateQueue("orders-dlq", sqs.QueueConfig{})
	if err != nil {
		return err
	}
	q, err := queues.CreateQueue("orders", sqs.QueueConfig{
		VisibilityTimeout: time.Second, // a failed order is retried a second later
		RedrivePolicy:     &sqs.RedrivePolicy{DeadLetterQueue: "orders-dlq", MaxReceiveCount: 2},
	})
	if err != nil {
		return err
	}
	var entries []sqs.SendEntry
	for i := 1; i <= 20; i++ {
		amount := i * 100
		if i%10 == 0 {
			amount = -1 // invalid
		}
		entries = append(entries, sqs.SendEntry{Body: fmt.Sprintf(`{"id":%d,"amount":%d}`, i, amount)})
	}
	if _, failed, err := q.Send(ctx, entries); err != nil || len(failed) > 0 {
		return fmt.Errorf("send: %v %v", err, failed)
	}

	es := &sqs.EventSource{Queue: q, BatchSize: 10, ReportBatchItemFailures: true}
	att, err := fn.Attach(ctx, "orders", es)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for q.Len() > 0 || dlq.Len() < 2 {
		if time.Now().After(deadline) {
			return fmt.Errorf("orders left after a minute: %d in the queue, %d in the DLQ", q.Len(), dlq.Len())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := att.Detach(ctx); err != nil {
		return err
	}

	dead, err := dlq.Receive(ctx, sqs.ReceiveOptions{MaxMessages: 10})
	if err != nil {
		return err
	}
	var bodies []string
	for _, m := range dead {
		bodies = append(bodies, m.Body)
	}
	sort.Strings(bodies)
	s := es.Stats()
	fmt.Fprintf(out, "processed %d orders\n", s.Deleted)
	for _, b := range bodies {
		fmt.Fprintf(out, "dead letter: %s\n", b)
	}
	return nil
}

// buildGuest compiles ./guest to WebAssembly with the Go toolchain.
func buildGuest(ctx context.Context) ([]byte, error) {
	_, file, _, _ := runtime.Caller(0)
	dir, err := os.MkdirTemp("", "sqs-worker-guest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	wasm := filepath.Join(dir, "worker.wasm")
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", wasm, ".")
	cmd.Dir = filepath.Join(filepath.Dir(file), "guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the guest: %v\n%s", err, out)
	}
	return os.ReadFile(wasm)
}
