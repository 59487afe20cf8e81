package schedule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	_ "time/tzdata" // a program's choice: IANA time zones without the system's zoneinfo

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/lambdatest"
	"github.com/wasmlambda/lambda/trigger/schedule"
)

// NextFirings previews a schedule expression: here 18:00 on weekdays in
// Berlin, across the end of summer time, when 18:00 moves from 16:00 to
// 17:00 UTC.
func ExampleNextFirings() {
	from := time.Date(2026, 10, 22, 12, 0, 0, 0, time.UTC) // a Thursday
	times, err := schedule.NextFirings("cron(0 18 ? * MON-FRI *)", "Europe/Berlin", from, 3)
	if err != nil {
		panic(err)
	}
	for _, t := range times {
		fmt.Println(t.Format("Mon 2006-01-02 15:04 MST"), "=", t.UTC().Format("15:04 MST"))
	}

	_, err = schedule.NextFirings("rate(5 minute)", "", from, 1)
	fmt.Println(err)
	// Output:
	// Thu 2026-10-22 18:00 CEST = 16:00 UTC
	// Fri 2026-10-23 18:00 CEST = 16:00 UTC
	// Mon 2026-10-26 18:00 CET = 17:00 UTC
	// InvalidParameterValueException: schedule expression "rate(5 minute)": field rate unit "minute": want "minutes" when the value is not 1
}

// A schedule on a ManualClock fires when the test moves the clock to its
// next timer; the firing is an asynchronous invocation carrying the
// EventBridge Scheduled Event.
func ExampleSchedule() {
	ctx := context.Background()
	rt, _ := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
	defer rt.Close(ctx)

	results := make(chan []byte, 1)
	fn, _ := rt.Deploy(ctx, lambda.FunctionConfig{
		Name: "report",
		Code: testguest.MustGo("echo"), // returns its event
		Async: lambda.AsyncConfig{
			OnSuccess: lambda.DestinationFunc(func(ctx context.Context, r *lambda.InvocationRecord) error {
				results <- r.ResponsePayload
				return nil
			}),
		},
	})

	clock := lambdatest.NewManualClock(time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC))
	att, err := fn.Attach(ctx, "nightly", &schedule.Schedule{
		Expression: "cron(0 6 * * ? *)", // 06:00 every day
		Timezone:   "Europe/Berlin",     // 05:00 UTC in winter
		Clock:      clock,
	})
	if err != nil {
		panic(err)
	}

	// The schedule arms its timer in its own goroutine: wait for it, then
	// move the clock there.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := clock.WaitTimers(wctx, 1); err != nil {
		panic(err)
	}
	at, _ := clock.NextTimer()
	fmt.Println("timer at", at.Format(time.RFC3339))
	clock.Set(at)

	var event struct {
		DetailType string    `json:"detail-type"`
		Time       time.Time `json:"time"`
		Resources  []string  `json:"resources"`
	}
	select {
	case b := <-results:
		if err := json.Unmarshal(b, &event); err != nil {
			panic(err)
		}
	case <-wctx.Done():
		panic("no firing")
	}
	fmt.Println(event.DetailType, event.Time.Format(time.RFC3339))
	fmt.Println(event.Resources[0])

	_ = att.Detach(ctx)
	fmt.Println("events:", att.Stats().Events)
	// Output:
	// timer at 2026-11-27T05:00:00Z
	// Scheduled Event 2026-11-27T05:00:00Z
	// arn:aws:events:us-east-1:000000000000:rule/nightly
	// events: 1
}
