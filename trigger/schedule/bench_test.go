package schedule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/trigger/schedule"
)

// scheduleFanOut is how many schedules fire at the same second in one round
// of the lateness benchmarks.
const scheduleFanOut = 50

// nextSecond is the whole second at least 1.5 s away, far enough for a
// round to be set up before it.
func nextSecond() time.Time {
	return time.Now().Add(1500 * time.Millisecond).Truncate(time.Second).Add(time.Second)
}

// reportLateness reports the median and 99th percentile of late.
func reportLateness(b *testing.B, late []time.Duration) {
	slices.Sort(late)
	q := func(p float64) float64 {
		return float64(late[int(p*float64(len(late)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(late[len(late)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkScheduleLateness measures, with the real clock, how late a
// firing reaches its function: from the scheduled second to the end of the
// guest's invocation (its on-success record), for scheduleFanOut at()
// schedules due at the same second. Run it with -benchtime Nx: each round
// waits for a whole second.
func BenchmarkScheduleLateness(b *testing.B) {
	rt := newRuntime(b, lambda.Options{})
	var mu sync.Mutex
	var late []time.Duration
	var done sync.WaitGroup
	cfg := lambda.AsyncConfig{OnSuccess: lambda.DestinationFunc(func(_ context.Context, rec *lambda.InvocationRecord) error {
		now := time.Now()
		var ev events.EventBridgeEvent
		if err := json.Unmarshal(rec.RequestPayload, &ev); err != nil {
			return err
		}
		mu.Lock()
		late = append(late, now.Sub(ev.Time))
		mu.Unlock()
		done.Done()
		return nil
	})}
	f := deploy(b, rt, lambda.FunctionConfig{Name: "late", Code: testguest.Go(b, "echo"), MinWarm: 4, Async: cfg})
	b.ResetTimer()
	for round := 0; round < b.N; round++ {
		at := nextSecond()
		expr := "at(" + at.UTC().Format("2006-01-02T15:04:05") + ")"
		var atts []*lambda.Attachment
		done.Add(scheduleFanOut)
		for i := 0; i < scheduleFanOut; i++ {
			a, err := f.Attach(context.Background(), fmt.Sprintf("r%d-%d", round, i), &schedule.Schedule{Expression: expr})
			if err != nil {
				b.Fatal(err)
			}
			atts = append(atts, a)
		}
		done.Wait()
		for _, a := range atts {
			if err := a.Detach(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	reportLateness(b, late)
}

// BenchmarkRawTimerLateness is the baseline: scheduleFanOut goroutines
// whose time.Timer is due at the same second, late by what the Go
// scheduler and the machine add.
func BenchmarkRawTimerLateness(b *testing.B) {
	var mu sync.Mutex
	var late []time.Duration
	for round := 0; round < b.N; round++ {
		at := nextSecond()
		var wg sync.WaitGroup
		for i := 0; i < scheduleFanOut; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.NewTimer(time.Until(at))
				<-t.C
				d := time.Since(at)
				mu.Lock()
				late = append(late, d)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	reportLateness(b, late)
}
