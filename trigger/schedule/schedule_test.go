package schedule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/lambdatest"
	"github.com/wasmlambda/lambda/trigger/schedule"
)

func utc(ts []time.Time) []time.Time {
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = t.UTC()
	}
	return out
}

// step moves clock to its next timer, waiting first until the schedule
// has armed it, and returns the time it moved to.
func step(t *testing.T, clock *lambdatest.ManualClock) time.Time {
	t.Helper()
	require.NoError(t, clock.WaitTimers(waitCtx(t), 1))
	at, ok := clock.NextTimer()
	require.True(t, ok)
	clock.Set(at)
	return at
}

func TestScheduleDeliversScheduledEvents(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{Region: "eu-central-1", AccountID: "123456789012"})
	got := newRecordSink()
	cfg := fastAsync()
	cfg.OnSuccess = got
	f := deploy(t, rt, lambda.FunctionConfig{Name: "cleanup", Code: testguest.Go(t, "echo"), Async: cfg})

	clock := lambdatest.NewManualClock(time.Date(2026, 11, 27, 9, 58, 30, 0, time.UTC))
	sched := &schedule.Schedule{Expression: "cron(0/15 * * * ? *)", Name: "every-quarter", Clock: clock}
	att, err := f.Attach(context.Background(), "quarterly", sched)
	require.NoError(t, err)

	want := []time.Time{
		time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 27, 10, 15, 0, 0, time.UTC),
		time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC),
	}
	preview, err := sched.Preview(clock.Now(), 3)
	require.NoError(t, err)
	require.Equal(t, want, utc(preview))
	for i, at := range want {
		require.Equal(t, at, step(t, clock), "firing %d", i)
		recs := got.Wait(t, 1)
		var ev events.EventBridgeEvent
		require.NoError(t, json.Unmarshal(recs[len(recs)-1].ResponsePayload, &ev), "the guest received and echoed it")
		require.Equal(t, "Scheduled Event", ev.DetailType)
		require.Equal(t, "aws.events", ev.Source)
		require.Equal(t, "0", ev.Version)
		require.Equal(t, "123456789012", ev.AccountID)
		require.Equal(t, "eu-central-1", ev.Region)
		require.True(t, at.Equal(ev.Time), "time is the scheduled time: %v", ev.Time)
		require.Equal(t, []string{"arn:aws:events:eu-central-1:123456789012:rule/every-quarter"}, ev.Resources)
		require.JSONEq(t, `{}`, string(ev.Detail))
		require.Len(t, ev.ID, 36)
	}
	require.NoError(t, att.Detach(context.Background()))
	require.Zero(t, clock.Timers(), "a detached schedule holds no timer")
	require.Equal(t, int64(3), att.Stats().Events)
	require.Empty(t, f.Triggers())
}

func TestScheduleFailingFiringsReachTheSink(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	sink := &lambda.MemorySink{}
	cfg := fastAsync()
	cfg.DeadLetter = sink
	// behave fails every event without an "op", as a Scheduled Event is.
	f := deploy(t, rt, lambda.FunctionConfig{Name: "failing", Code: testguest.Go(t, "behave"), Async: cfg})
	clock := lambdatest.NewManualClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	att, err := f.Attach(context.Background(), "hourly", &schedule.Schedule{Expression: "rate(1 hour)", Clock: clock})
	require.NoError(t, err)
	// Without a StartDate, a rate fires at once, then every interval.
	second := step(t, clock)
	require.Equal(t, time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC), second)
	require.NoError(t, sink.WaitLen(waitCtx(t), 2))
	for _, dl := range sink.Letters() {
		require.Equal(t, lambda.ConditionRetriesExhausted, dl.Condition)
		require.Equal(t, 3, dl.Attempts)
		var ev events.EventBridgeEvent
		require.NoError(t, json.Unmarshal(dl.Payload, &ev))
		require.Equal(t, "Scheduled Event", ev.DetailType)
	}
	require.NoError(t, att.Detach(context.Background()))
}

func TestScheduleInputAndWindowAndEnd(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	got := newRecordSink()
	cfg := fastAsync()
	cfg.OnSuccess = got
	f := deploy(t, rt, lambda.FunctionConfig{Name: "input", Code: testguest.Go(t, "echo"), Async: cfg})
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := lambdatest.NewManualClock(start.Add(-time.Hour))
	sched := &schedule.Schedule{
		Expression:     "rate(10 minutes)",
		StartDate:      start,
		EndDate:        start.Add(20 * time.Minute),
		FlexibleWindow: 5 * time.Minute,
		Input:          []byte(`{"job": "compact",  "level": 2}`),
		Clock:          clock,
	}
	_, err := f.Attach(context.Background(), "compact", sched)
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		at := step(t, clock)
		scheduled := start.Add(time.Duration(i) * 10 * time.Minute)
		require.False(t, at.Before(scheduled), "no earlier than scheduled")
		require.Less(t, at.Sub(scheduled), 5*time.Minute, "within the flexible window")
		recs := got.Wait(t, 1)
		require.Equal(t, `{"job": "compact",  "level": 2}`, string(recs[len(recs)-1].RequestPayload), "the input, unchanged")
	}
	// After End, nothing is armed.
	require.Eventually(t, func() bool { return clock.Timers() == 0 }, 10*time.Second, time.Millisecond)
}

func TestScheduleMissedFirings(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	for _, tc := range []struct {
		policy schedule.MissedFirings
		fired  int
		missed int64
	}{
		{schedule.FireOnce, 1, 2},
		{schedule.SkipMissed, 0, 3},
	} {
		got := newRecordSink()
		cfg := fastAsync()
		cfg.OnSuccess = got
		f := deploy(t, rt, lambda.FunctionConfig{Name: "missed" + map[schedule.MissedFirings]string{schedule.FireOnce: "once", schedule.SkipMissed: "skip"}[tc.policy], Code: testguest.Go(t, "echo"), Async: cfg})
		t0 := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)
		clock := lambdatest.NewManualClock(t0)
		sched := &schedule.Schedule{Expression: "rate(1 minute)", Clock: clock, Missed: tc.policy}
		att, err := f.Attach(context.Background(), "tick", sched)
		require.NoError(t, err)
		require.NoError(t, clock.WaitTimers(waitCtx(t), 1))
		// The process sleeps through three firings.
		clock.Set(t0.Add(3*time.Minute + 10*time.Second))
		require.NoError(t, clock.WaitTimers(waitCtx(t), 1))
		at, _ := clock.NextTimer()
		require.Equal(t, t0.Add(4*time.Minute), at, "then it carries on with the next")
		// One firing at attach (a rate starts at once), then what the
		// policy fires of the three slept through.
		recs := got.Wait(t, 1+tc.fired)
		if tc.fired == 1 {
			var latest time.Time
			for _, r := range recs {
				var ev events.EventBridgeEvent
				require.NoError(t, json.Unmarshal(r.ResponsePayload, &ev))
				if ev.Time.After(latest) {
					latest = ev.Time
				}
			}
			require.Equal(t, t0.Add(3*time.Minute), latest, "the latest missed firing")
		}
		require.Equal(t, tc.missed, sched.MissedCount())
		require.NoError(t, att.Detach(context.Background()))
		require.NoError(t, f.Close(context.Background()))
		require.Equal(t, int64(1+tc.fired), f.AsyncStats().Accepted)
	}
}

func TestScheduleLockFiresOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	lock := &schedule.MemoryLock{}
	t0 := time.Date(2026, 5, 5, 5, 0, 0, 0, time.UTC)
	var clocks []*lambdatest.ManualClock
	var fns []*lambda.Function
	for i := 0; i < 3; i++ {
		rt := newRuntime(t, lambda.Options{})
		f := deploy(t, rt, lambda.FunctionConfig{Name: "report", Code: testguest.Go(t, "echo"), Async: fastAsync()})
		clock := lambdatest.NewManualClock(t0)
		_, err := f.Attach(context.Background(), "nightly", &schedule.Schedule{Expression: "cron(0 6 * * ? *)", Name: "nightly-report", Clock: clock, Lock: lock})
		require.NoError(t, err)
		clocks, fns = append(clocks, clock), append(fns, f)
	}
	for round := 1; round <= 2; round++ {
		var wg sync.WaitGroup
		for _, c := range clocks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				step(t, c)
			}()
		}
		wg.Wait()
		for _, c := range clocks {
			require.NoError(t, c.WaitTimers(waitCtx(t), 1))
		}
		var accepted int64
		for _, f := range fns {
			accepted += f.AsyncStats().Accepted
		}
		require.Equal(t, int64(round), accepted, "each firing fires once across the replicas")
	}
}

func TestScheduleRefusesABadExpressionAtAttach(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "bad", Code: testguest.Go(t, "echo")})
	for _, tc := range []struct {
		name  string
		sched *schedule.Schedule
		want  string
	}{
		{"both day fields", &schedule.Schedule{Expression: "cron(0 12 * * * *)"}, "day-of-week"},
		{"rate unit", &schedule.Schedule{Expression: "rate(5 minute)"}, `want "minutes"`},
		{"time zone", &schedule.Schedule{Expression: "rate(1 day)", Timezone: "Mars/Olympus"}, "Mars/Olympus"},
		{"window", &schedule.Schedule{Expression: "rate(1 day)", FlexibleWindow: schedule.MaxFlexibleWindow + time.Minute}, "FlexibleWindow"},
		{"end before start", &schedule.Schedule{Expression: "rate(1 day)", StartDate: time.Unix(1e9, 0), EndDate: time.Unix(1e9-1, 0)}, "EndDate"},
		{"input", &schedule.Schedule{Expression: "rate(1 day)", Input: []byte("{")}, "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.Attach(context.Background(), "bad", tc.sched)
			require.ErrorIs(t, err, lambda.ErrInvalidConfig)
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, f.Triggers(), "not attached")
		})
	}
}

func TestNextFirings(t *testing.T) {
	from := time.Date(2026, 11, 27, 10, 7, 0, 0, time.UTC)
	got, err := schedule.NextFirings("cron(0 18 ? * MON-FRI *)", "Europe/Berlin", from, 3)
	require.NoError(t, err)
	var local []string
	for _, g := range got {
		local = append(local, g.Format("Mon 2006-01-02 15:04 MST"))
	}
	require.Equal(t, []string{"Fri 2026-11-27 18:00 CET", "Mon 2026-11-30 18:00 CET", "Tue 2026-12-01 18:00 CET"}, local)
	_, err = schedule.NextFirings("rate(5 minute)", "", from, 1)
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	_, err = schedule.NextFirings("rate(5 minutes)", "Mars/Olympus", from, 1)
	require.ErrorContains(t, err, "Mars/Olympus")
}

func TestScheduleFlexibleWindowLongerThanTheRate(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "flex", Code: testguest.Go(t, "echo"), Async: fastAsync()})
	clock := lambdatest.NewManualClock(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC))
	sched := &schedule.Schedule{Expression: "rate(1 minute)", FlexibleWindow: time.Hour, Clock: clock}
	_, err := f.Attach(context.Background(), "flex", sched)
	require.NoError(t, err)
	for i := 0; i < 180; i++ {
		require.NoError(t, clock.WaitTimers(waitCtx(t), 1))
		clock.Advance(time.Minute)
	}
	require.NoError(t, clock.WaitTimers(waitCtx(t), 1))
	// Each firing is delayed up to an hour, so later ones come due during
	// its delay: they are not missed, only late.
	require.Zero(t, sched.MissedCount())
	require.GreaterOrEqual(t, f.Triggers()[0].Stats().Events, int64(120))
}

func TestScheduleRefusesAnInputTooLarge(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, lambda.Options{})
	cfg := fastAsync()
	cfg.MaxPayloadBytes = 100
	f := deploy(t, rt, lambda.FunctionConfig{Name: "small", Code: testguest.Go(t, "echo"), Async: cfg})
	_, err := f.Attach(context.Background(), "big", &schedule.Schedule{Expression: "rate(1 day)", Input: []byte(fmt.Sprintf(`"%0200d"`, 0))})
	require.ErrorIs(t, err, lambda.ErrInvalidConfig)
	require.ErrorContains(t, err, "100-byte asynchronous limit")
}

// TestMissingTimeZoneNamesTheFix checks that a zone the process cannot
// find is refused with its name and what to do about it, now that the
// library leaves embedding the zone database to the program.
func TestMissingTimeZoneNamesTheFix(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"Mars/Olympus", "Europe/Atlantis"} {
		_, err := schedule.NextFirings("cron(0 6 * * ? *)", zone, time.Now(), 1)
		require.ErrorIs(t, err, lambda.ErrInvalidConfig)
		require.ErrorContains(t, err, `schedule time zone "`+zone+`"`)
		require.ErrorContains(t, err, `import _ "time/tzdata" in package main`)
		require.ErrorContains(t, err, "install the system's zoneinfo")
	}
}

// TestLibraryLeavesTzdataToMain checks that no library package links
// time/tzdata into the programs that import it: that is the program's
// choice.
func TestLibraryLeavesTzdataToMain(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the go command is needed under CI:", err)
		}
		t.Skip("no go command:", err)
	}
	cmd := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}",
		"github.com/wasmlambda/lambda", "github.com/wasmlambda/lambda/trigger/...", "github.com/wasmlambda/lambda/lambdatest")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.True(t, slices.Contains(deps, "github.com/wasmlambda/lambda/trigger/schedule"), "the listing covers the triggers: %s", out)
	require.False(t, slices.Contains(deps, "time/tzdata"), "a library package imports time/tzdata")
}
