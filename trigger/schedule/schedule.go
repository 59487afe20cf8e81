// Package schedule is the schedule trigger: EventBridge's schedule
// expressions, rate(…), cron(…) and at(…), firing a function's
// asynchronous invocations, as an EventBridge rule or an EventBridge
// Scheduler schedule does. Attach a Schedule to a function with
// lambda.Function.Attach:
//
//	att, err := fn.Attach(ctx, "nightly", &schedule.Schedule{
//		Expression: "cron(0 6 * * ? *)",
//		Timezone:   "Europe/Berlin",
//	})
//
// # Time zones
//
// Timezone names an IANA time zone, which is read from the zone database
// the way time.LoadLocation reads it: from the ZONEINFO directory or
// zip, the system's zoneinfo (/usr/share/zoneinfo), the Go installation's
// ($GOROOT/lib/time/zoneinfo.zip), or the one embedded in the program. Embedding it (about 450 KB) is the main package's choice, not
// this library's:
//
//	import _ "time/tzdata"
//
// in package main, for a program that runs where no zoneinfo is installed
// (a scratch or distroless container, Windows). A zone that cannot be
// found is a lambda.ErrInvalidConfig at Attach that names it and says
// what to do.
//
// # A template for triggers
//
// This package uses only the exported API of package lambda, as a trigger
// of your own would: the lambda.Trigger interface, and what
// lambda.TriggerContext gives it — its Name, its Function (Name, ARN,
// Region, AccountID and Config, for the payload limits), its Logger, and
// InvokeAsync and ReportError, which count its events and errors. It
// reaches into nothing unexported, and the other built-in triggers follow
// the same pattern.
package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	lambda "github.com/wasmlambda/lambda"
	ischedule "github.com/wasmlambda/lambda/internal/schedule"
	"github.com/wasmlambda/lambda/internal/uuid"
)

// MaxFlexibleWindow is EventBridge Scheduler's largest flexible time
// window: 1,440 minutes.
const MaxFlexibleWindow = 1440 * time.Minute

// MissedFirings says what a schedule does about firings whose time passed
// while it could not fire: the process was paused, or the machine slept.
type MissedFirings int

const (
	// FireOnce fires once for the latest firing time that passed, and
	// counts the earlier ones as missed. The default.
	FireOnce MissedFirings = iota
	// SkipMissed fires none of them, and waits for the next firing time.
	SkipMissed
)

// Schedule is the schedule trigger: it invokes its function
// asynchronously at the times of an EventBridge schedule expression, so
// the function's retries and dead-letter sink apply to each firing. Attach
// it with lambda.Function.Attach; a Schedule runs on one function at a
// time.
//
// A firing sends either the EventBridge Scheduled Event, as an EventBridge
// rule does:
//
//	{"version":"0","id":"…","detail-type":"Scheduled Event","source":"aws.events",
//	 "account":"000000000000","time":"2026-11-27T10:00:00Z","region":"us-east-1",
//	 "resources":["arn:aws:events:us-east-1:000000000000:rule/NAME"],"detail":{}}
//
// or, when Input is set, Input unchanged, as EventBridge Scheduler does.
//
// Firing times are computed in Timezone, with EventBridge Scheduler's
// daylight-saving rules for cron expressions: a wall time that does not
// exist (in the hour skipped in spring) does not fire that day, and one
// that occurs twice (in autumn) fires once, at its first occurrence. A
// one-time at() whose wall time does not exist fires once the clocks have
// passed it (at 03:30 for a skipped 02:30), rather than never; AWS does not
// say. A rate counts real time, so DST does not move it. Firings missed
// while the trigger was detached are not made up; for those missed while it
// ran, see Missed.
type Schedule struct {
	// Expression is rate(…), cron(…) or at(…), exactly as AWS writes it:
	// rate(1 minute), rate(5 minutes|hours|days), cron(minutes hours
	// day-of-month month day-of-week year), at(yyyy-mm-ddThh:mm:ss).
	Expression string

	// Name names the schedule: the rule of the event's resources, and the
	// key of Lock. Default the attachment's name.
	Name string

	// Timezone is the IANA time zone of cron and at expressions, such as
	// "Europe/Berlin". Default "UTC". See the package doc for where the
	// zone database comes from.
	Timezone string

	// StartDate and EndDate bound the firings, as EventBridge Scheduler's
	// do: none before StartDate or after EndDate. A rate schedule counts
	// its intervals from StartDate, and fires first at StartDate itself;
	// without one, it counts from when it is attached, and, as on AWS,
	// fires first at once.
	StartDate, EndDate time.Time

	// FlexibleWindow delays each firing by a random time up to it, as
	// EventBridge Scheduler's flexible time window does: at most 1,440
	// minutes. Default 0: on time.
	FlexibleWindow time.Duration

	// Input, when set, is sent unchanged instead of the Scheduled Event.
	Input []byte

	// Missed says what to do about firings that passed while the process
	// could not fire: those whose time, plus FlexibleWindow, has passed
	// when a later one is due. Default FireOnce.
	Missed MissedFirings

	// Clock is the schedule's time. Default lambda.RealClock(); tests use
	// a lambdatest.ManualClock.
	Clock lambda.Clock

	// Lock, when set, makes replicas that run the same schedule (by Name)
	// fire each firing once: only the one whose Claim succeeds fires. The
	// replicas must agree on the firing times: give a rate schedule a
	// StartDate, or each replica counts from its own attach.
	Lock Lock

	mu      sync.Mutex
	running bool
	stop    chan struct{} // closed by Stop: no new firing
	abort   chan struct{} // closed when Stop's ctx ends: give up the firing in hand
	done    chan struct{}
	tc      *lambda.TriggerContext
	expr    *ischedule.Expr
	loc     *time.Location
	anchor  time.Time
	missed  int64
	pending []time.Time // firings taken and not yet accepted
}

var _ lambda.Trigger = (*Schedule)(nil)

// NextFirings previews the next n firing times of a schedule expression
// after from, in the IANA time zone tz ("" is UTC). A rate expression
// counts its intervals from from, and fires first at from itself, as a
// rate schedule without a StartDate does when attached.
//
// # Errors
//
// An invalid expression or time zone is a lambda.ErrInvalidConfig naming
// the field and the reason; a time zone that cannot be found, the zone and
// the fix.
func NextFirings(expression, tz string, from time.Time, n int) ([]time.Time, error) {
	expr, loc, err := parseSchedule(expression, tz)
	if err != nil {
		return nil, err
	}
	after := from
	if expr.Kind() == ischedule.Rate {
		after = from.Add(-time.Nanosecond)
	}
	return expr.NextN(after, loc, from, n), nil
}

// Preview returns the schedule's next n firing times after from, within
// StartDate and EndDate, without the flexible window's random delay.
func (s *Schedule) Preview(from time.Time, n int) ([]time.Time, error) {
	expr, loc, err := parseSchedule(s.Expression, s.Timezone)
	if err != nil {
		return nil, err
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	anchor := from
	if !s.StartDate.IsZero() {
		anchor = s.StartDate
	}
	var out []time.Time
	after := s.firstAfter(expr, from)
	for len(out) < n {
		t := expr.Next(after, loc, anchor)
		if t.IsZero() || (!s.EndDate.IsZero() && t.After(s.EndDate)) {
			break
		}
		out = append(out, t)
		after = t
	}
	return out, nil
}

// firstAfter is the instant the first firing must follow, for a schedule
// attached at from.
func (s *Schedule) firstAfter(expr *ischedule.Expr, from time.Time) time.Time {
	switch {
	case !s.StartDate.IsZero() && s.StartDate.After(from):
		return s.StartDate.Add(-time.Nanosecond) // StartDate itself may fire
	case s.StartDate.IsZero() && expr.Kind() == ischedule.Rate:
		return from.Add(-time.Nanosecond) // AWS: it starts invoking at once
	}
	return from
}

func parseSchedule(expression, tz string) (*ischedule.Expr, *time.Location, error) {
	expr, err := ischedule.Parse(expression)
	if err != nil {
		return nil, nil, invalidConfig("%v", err)
	}
	loc := time.UTC
	if tz != "" {
		if loc, err = time.LoadLocation(tz); err != nil {
			return nil, nil, invalidConfig("schedule time zone %q: %v: not in the time zone database this process reads; "+
				"check the name, or, if it is right, embed the database with import _ \"time/tzdata\" in package main, "+
				"or install the system's zoneinfo (the tzdata package)", tz, err)
		}
	}
	return expr, loc, nil
}

func (s *Schedule) validate() error {
	switch {
	case s.FlexibleWindow < 0 || s.FlexibleWindow > MaxFlexibleWindow:
		return invalidConfig("schedule %s: FlexibleWindow %v: want 0 to %v", s.Expression, s.FlexibleWindow, MaxFlexibleWindow)
	case !s.StartDate.IsZero() && !s.EndDate.IsZero() && !s.EndDate.After(s.StartDate):
		return invalidConfig("schedule %s: EndDate %v is not after StartDate %v", s.Expression, s.EndDate, s.StartDate)
	case s.Missed != FireOnce && s.Missed != SkipMissed:
		return invalidConfig("schedule %s: Missed %d: want FireOnce or SkipMissed", s.Expression, s.Missed)
	}
	if len(s.Input) > 0 && !json.Valid(s.Input) {
		return invalidConfig("schedule %s: Input is not JSON", s.Expression)
	}
	return nil
}

// Start implements lambda.Trigger: it checks the schedule and starts it.
func (s *Schedule) Start(ctx context.Context, tc *lambda.TriggerContext) error {
	expr, loc, err := parseSchedule(s.Expression, s.Timezone)
	if err != nil {
		return err
	}
	if err := s.validate(); err != nil {
		return err
	}
	// InvokeAsync refuses an event over either limit: refuse an Input
	// that every firing would send in vain now.
	fc := tc.Function.Config()
	if limit := min(fc.Async.MaxPayloadBytes, fc.MaxRequestBytes); len(s.Input) > limit {
		return invalidConfig("schedule %s: Input of %d bytes exceeds the %d-byte asynchronous limit of function %s", s.Expression, len(s.Input), limit, tc.Function.Name())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return invalidConfig("schedule %s is attached already", s.Expression)
	}
	if s.Clock == nil {
		s.Clock = lambda.RealClock()
	}
	if s.Name == "" {
		s.Name = tc.Name()
	}
	s.running, s.tc, s.expr, s.loc = true, tc, expr, loc
	s.stop, s.abort, s.done = make(chan struct{}), make(chan struct{}), make(chan struct{})
	now := s.Clock.Now()
	s.anchor = now
	if !s.StartDate.IsZero() {
		s.anchor = s.StartDate
	}
	go s.run(s.firstAfter(expr, now))
	return nil
}

// Stop implements lambda.Trigger: no firing starts after it returns. A firing
// being handed to the function (retried while the function refuses it) is
// finished within ctx; one still not accepted when ctx ends is named in the
// error.
func (s *Schedule) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return nil
	}
	close(s.stop)
	done := s.done
	s.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		close(s.abort) // the firing in hand gives up at once
		<-done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = false
	if len(s.pending) > 0 {
		err := fmt.Errorf("schedule %s: %d firings not accepted by %s before it stopped: %v", s.Name, len(s.pending), s.tc.Function.Name(), s.pending)
		s.pending = nil
		return err
	}
	return nil
}

// MissedCount counts the firings skipped because their time passed while the
// schedule could not fire.
func (s *Schedule) MissedCount() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.missed
}

func (s *Schedule) run(after time.Time) {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.abort:
			cancel()
		case <-ctx.Done():
		}
	}()
	next := s.expr.Next(after, s.loc, s.anchor)
	for {
		if next.IsZero() || (!s.EndDate.IsZero() && next.After(s.EndDate)) {
			s.tc.Logger.Info("schedule ended", slog.String("schedule", s.Name))
			return
		}
		fireAt := next
		if s.FlexibleWindow > 0 {
			fireAt = fireAt.Add(rand.N(s.FlexibleWindow))
		}
		t := s.Clock.NewTimer(fireAt.Sub(s.Clock.Now()))
		select {
		case <-t.C():
		case <-s.stop:
			t.Stop()
			return
		}
		// The latest firing whose window has closed, if later than next:
		// the firings before it were missed while the process could not
		// fire. (With a flexible window, a firing is late, not missed,
		// until its window closes.)
		cutoff := s.Clock.Now().Add(-s.FlexibleWindow)
		tick, missed := next, 0
		for i := 0; i < 1_000_000; i++ {
			n := s.expr.Next(tick, s.loc, s.anchor)
			if n.IsZero() || n.After(cutoff) || (!s.EndDate.IsZero() && n.After(s.EndDate)) {
				break
			}
			tick, missed = n, missed+1
		}
		if missed > 0 {
			if s.Missed == SkipMissed {
				missed++ // the latest one too
			}
			s.mu.Lock()
			s.missed += int64(missed)
			s.mu.Unlock()
			s.tc.Logger.Warn("schedule missed firings", slog.String("schedule", s.Name), slog.Int("missed", missed), slog.Time("scheduled", next), slog.Time("now", s.Clock.Now()))
		}
		if missed == 0 || s.Missed == FireOnce {
			if !s.fire(ctx, tick) {
				return
			}
		}
		next = s.expr.Next(tick, s.loc, s.anchor)
	}
}

// fire hands the firing at tick to the function, retrying while it is
// refused, until it is accepted or the schedule stops. It reports false
// when the schedule stopped first.
func (s *Schedule) fire(ctx context.Context, tick time.Time) bool {
	key := "schedule/" + s.Name + "/" + tick.UTC().Format(time.RFC3339)
	if s.Lock != nil {
		ok, err := s.Lock.Claim(ctx, key, 24*time.Hour)
		switch {
		case err != nil:
			// Fire anyway: a firing made twice is better than one lost,
			// and AWS delivers at least once too.
			s.tc.ReportError(fmt.Errorf("schedule %s: claim %s: %w", s.Name, key, err))
		case !ok:
			return true // another replica has it
		}
	}
	payload := s.Input
	if payload == nil {
		payload = s.scheduledEvent(tick)
	}
	s.mu.Lock()
	s.pending = append(s.pending, tick)
	s.mu.Unlock()
	wait := 100 * time.Millisecond
	for {
		_, err := s.tc.InvokeAsync(ctx, payload)
		if err == nil {
			s.mu.Lock()
			s.pending = s.pending[:len(s.pending)-1]
			s.mu.Unlock()
			return true
		}
		if errors.Is(err, lambda.ErrClosed) || ctx.Err() != nil {
			return false
		}
		if errors.Is(err, lambda.ErrPayloadTooLarge) || errors.Is(err, lambda.ErrInvalidRequestContent) {
			// Refused for good, already reported: go on to the next.
			s.mu.Lock()
			s.pending = s.pending[:len(s.pending)-1]
			s.mu.Unlock()
			return true
		}
		t := s.Clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return false
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// scheduledEvent is the EventBridge Scheduled Event for the firing at tick.
func (s *Schedule) scheduledEvent(tick time.Time) []byte {
	fn := s.tc.Function
	b, _ := json.Marshal(events.EventBridgeEvent{
		Version:    "0",
		ID:         uuid.New(),
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  fn.AccountID(),
		Time:       tick.UTC().Truncate(time.Second),
		Region:     fn.Region(),
		Resources:  []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", fn.Region(), fn.AccountID(), s.Name)},
		Detail:     json.RawMessage("{}"),
	})
	return b
}

// invalidConfig is a lambda.ErrInvalidConfig with a message.
func invalidConfig(format string, args ...any) error {
	return &lambda.ServiceError{
		Code:       lambda.ErrInvalidConfig.Code,
		StatusCode: lambda.ErrInvalidConfig.StatusCode,
		Message:    fmt.Sprintf(format, args...),
	}
}
