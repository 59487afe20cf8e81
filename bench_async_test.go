package lambda_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// Asynchronous invocation's accept path, InvokeAsync until it returns the
// request ID, and beside it the floors of the same hand-off: a buffered
// channel send of a copy of the event, what an in-memory queue can do at
// best, and a bbolt transaction synced to disk per event, what a durable
// one can do. The event is the same 1 KiB JSON as the other benchmarks'.
// docs/PERFORMANCE.md holds the figures and the command.

// asyncWriters is how many goroutines accept at once in the durable
// parallel benchmarks, so that bbolt's Batch can group their commits.
const asyncWriters = 64

// asyncBench deploys the json echo guest with room for n events, one
// worker and one sandbox, so that the events run on at most one core while
// the benchmark accepts on the other. The returned func closes the runtime
// at once, handing on the events still queued rather than running them: to
// a sink that drops them, or to the journal in a temporary directory. Call
// it with the timer stopped.
func asyncBench(b *testing.B, durable bool, n int) (*lambda.Function, func()) {
	b.Helper()
	opts := lambda.Options{CacheDir: testguest.CacheDir(), UndeliveredFile: filepath.Join(b.TempDir(), "undelivered.jsonl")}
	if durable {
		opts.StateDir = b.TempDir()
	}
	rt, err := lambda.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	f, err := rt.Deploy(context.Background(), lambda.FunctionConfig{
		Name: "echo", Code: testguest.Go(b, "echo"), MaxConcurrency: 1, MinWarm: 1,
		Async: lambda.AsyncConfig{
			QueueSize:   n + 1,
			Concurrency: 1,
			DeadLetter:  lambda.SinkFunc(func(context.Context, *lambda.DeadLetter) error { return nil }),
		},
	})
	if err != nil {
		rt.Close(context.Background())
		b.Fatal(err)
	}
	return f, func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rt.Close(ctx) // context.Canceled: the queue was handed on
	}
}

// reportEventRate reports the events handed off per second.
func reportEventRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkInvokeAsyncAccept: InvokeAsync of a 1 KiB event, in memory and
// durable (Options.StateDir: synced to disk before it returns), from one
// goroutine and from many.
func BenchmarkInvokeAsyncAccept(b *testing.B) {
	for _, bc := range []struct {
		name     string
		durable  bool
		parallel int // goroutines; 0 for the benchmark's own
	}{
		{"memory", false, 0},
		{"memory-parallel", false, 2},
		{"durable", true, 0},
		{"durable-parallel", true, asyncWriters},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f, closeRuntime := asyncBench(b, bc.durable, b.N)
			ctx := context.Background()
			b.SetBytes(int64(len(payload1K)))
			b.ReportAllocs()
			b.ResetTimer()
			if bc.parallel == 0 {
				for i := 0; i < b.N; i++ {
					if _, err := f.InvokeAsync(ctx, payload1K); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(max(1, bc.parallel/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := f.InvokeAsync(ctx, payload1K); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			reportEventRate(b)
			if s := f.AsyncStats(); s.Accepted != int64(b.N) || s.Rejected != 0 {
				b.Fatalf("accepted %d of %d, rejected %d", s.Accepted, b.N, s.Rejected)
			}
			closeRuntime()
		})
	}
}

// rawQueue is the capacity of the raw benchmarks' channel. A full one is
// emptied in place, in the timed loop, so that memory stays bounded.
const rawQueue = 1 << 16

// sendCopy sends a copy of the event, emptying the channel first if it is
// full.
func sendCopy(ch chan []byte) {
	c := bytes.Clone(payload1K)
	for {
		select {
		case ch <- c:
			return
		default:
			for len(ch) > 0 {
				select {
				case <-ch:
				default:
				}
			}
		}
	}
}

// BenchmarkRawChannelSend: the in-memory floor, a send of a copy of the
// event on a buffered channel.
func BenchmarkRawChannelSend(b *testing.B) {
	ch := make(chan []byte, rawQueue)
	b.SetBytes(int64(len(payload1K)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sendCopy(ch)
	}
	reportEventRate(b)
}

// BenchmarkRawChannelSendValid: the same after json.Valid, the check
// InvokeAsync makes of every event: the floor of what it must do.
func BenchmarkRawChannelSendValid(b *testing.B) {
	ch := make(chan []byte, rawQueue)
	b.SetBytes(int64(len(payload1K)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !json.Valid(payload1K) {
			b.Fatal("not JSON")
		}
		sendCopy(ch)
	}
	reportEventRate(b)
}

// BenchmarkRawChannelSendValidParallel: the same from two goroutines, as
// BenchmarkInvokeAsyncAccept/memory-parallel.
func BenchmarkRawChannelSendValidParallel(b *testing.B) {
	ch := make(chan []byte, rawQueue)
	b.SetBytes(int64(len(payload1K)))
	b.ReportAllocs()
	b.SetParallelism(max(1, 2/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !json.Valid(payload1K) {
				b.Error("not JSON")
				return
			}
			sendCopy(ch)
		}
	})
	reportEventRate(b)
}

// rawBolt opens a bbolt file as the journal does: synced commits, and
// grouped ones waiting at most 2 ms for company.
func rawBolt(b *testing.B) *bolt.DB {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	db.MaxBatchDelay = 2 * time.Millisecond
	b.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("events"))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return db
}

func putEvent(tx *bolt.Tx, seq uint64) error {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return tx.Bucket([]byte("events")).Put(k[:], payload1K)
}

// BenchmarkRawBoltPut: the durable floor for one writer, a bbolt Update of
// one event, synced to disk, per event.
func BenchmarkRawBoltPut(b *testing.B) {
	db := rawBolt(b)
	b.SetBytes(int64(len(payload1K)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := db.Update(func(tx *bolt.Tx) error { return putEvent(tx, uint64(i)) }); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportEventRate(b)
}

// BenchmarkRawBoltBatch: the durable floor for many writers, bbolt's Batch
// of one event each from asyncWriters goroutines, as
// BenchmarkInvokeAsyncAccept/durable-parallel.
func BenchmarkRawBoltBatch(b *testing.B) {
	db := rawBolt(b)
	var seq atomic.Uint64
	b.SetBytes(int64(len(payload1K)))
	b.ReportAllocs()
	b.SetParallelism(max(1, asyncWriters/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			if err := db.Batch(func(tx *bolt.Tx) error { return putEvent(tx, n) }); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	reportEventRate(b)
}
