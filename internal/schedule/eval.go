package schedule

import "time"

// How cron expressions are evaluated.
//
// cronexpr.Expression.Next works in the location of the time it is given,
// and there it does not follow EventBridge Scheduler's daylight-saving
// rules: in the hour that repeats in autumn it fires twice (cron(30 1 * * ?
// *) in America/New_York fires at 01:30 EDT and again at 01:30 EST, and
// cron(0/15 * * * ? *) at 01:00-01:45 twice over). It skips wall times that
// do not exist, but only through a separate slow path for days with a
// transition, which steps absolute hours and minutes and truncates to whole
// minutes of absolute time (wrong for offsets with seconds). So cronexpr is
// only ever given wall-clock times expressed in UTC, where
// every day has 24 hours and it takes its plain path: it answers "the next
// wall time matching the fields". Each wall time it returns is then mapped
// to instants in the schedule's location by resolve: none (skipped in
// spring: the wall time does not fire, and the search goes on from the end
// of the gap), one, or two (repeated in autumn: the first fires, and a
// repeat is never returned, because the search continues on the wall clock
// from the wall time of `after`).

// maxCronSteps bounds the wall times examined by one Next. Every wall time
// in a gap is skipped in one step, so only a repeated stretch (at most a
// few hours of minutes) takes many steps.
const maxCronSteps = 1 << 14

var (
	// cronFirstWall is the first wall time cronexpr can return; earlier
	// walls are clamped to just before it.
	cronFirstWall = time.Date(1970, time.January, 1, 0, 0, 0, 0, time.UTC)
	// cronEndWall is where cronexpr's years end.
	cronEndWall = time.Date(2100, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// wallOf returns t's wall clock in its location as a time in UTC.
func wallOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// cronNext returns the first wall time (in UTC) after w matching the
// expression, or the zero Time.
func (e *Expr) cronNext(w time.Time) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cron.Next(w)
}

// nextCron returns the first instant strictly after `after` whose wall
// clock in loc matches the expression and is that wall time's first
// occurrence, or the zero Time.
func (e *Expr) nextCron(after time.Time, loc *time.Location) time.Time {
	if e.cron == nil {
		return time.Time{}
	}
	w := wallOf(after.In(loc))
	if w.Before(cronFirstWall) {
		// cronexpr treats the zero Time as "no time"; start it just
		// before its first year instead.
		w = cronFirstWall.Add(-time.Second)
	}
	for range maxCronSteps {
		if !w.Before(cronEndWall) {
			return time.Time{}
		}
		c := e.cronNext(w)
		if c.IsZero() || !c.After(w) {
			return time.Time{}
		}
		r := resolve(c, loc)
		switch {
		case r.ok && r.first.After(after):
			return r.first
		case r.ok:
			// A wall time after that of `after` whose first occurrence
			// is not: `after` is in a repeated stretch, and this wall
			// time has fired already.
			w = c
		case r.gapEnd.After(c):
			// Skipped in spring: go on from the first wall time after
			// the gap.
			w = r.gapEnd.Add(-time.Second)
		default:
			w = c
		}
	}
	return time.Time{}
}

// resolution is what a wall time is in a location.
type resolution struct {
	// first is the earliest instant whose wall clock is the wall time,
	// and ok says whether there is one.
	first time.Time
	ok    bool
	// When there is none, gapEnd is the first wall time (in UTC) after
	// it that exists, and shifted is the wall time moved forward by the
	// length of the gap, as an instant; either may be zero if unknown.
	gapEnd  time.Time
	shifted time.Time
}

// resolveWindow bounds how far from a wall time (read as UTC) its
// instants can be: more than any UTC offset.
const resolveWindow = 30 * time.Hour

// resolve maps the wall time w (its fields in UTC) to instants in loc. It
// walks the zone periods (spans of one UTC offset) around w in order, and
// returns at the first period containing w minus its offset.
func resolve(w time.Time, loc *time.Location) resolution {
	var r resolution
	p := w.Add(-resolveWindow)
	limit := w.Add(resolveWindow)
	for range 64 {
		lt := p.In(loc)
		_, off := lt.Zone()
		offset := time.Duration(off) * time.Second
		start, end := lt.ZoneBounds()
		if !start.IsZero() {
			// The wall time at which this period starts; if it is after
			// w, and w turns out not to exist, it ends the gap.
			sw := start.Add(offset).UTC()
			if sw.After(w) && (r.gapEnd.IsZero() || sw.Before(r.gapEnd)) {
				_, prev := start.Add(-time.Nanosecond).In(loc).Zone()
				r.gapEnd = sw
				r.shifted = w.Add(-time.Duration(prev) * time.Second)
			}
		}
		cand := w.Add(-offset)
		if (start.IsZero() || !cand.Before(start)) && (end.IsZero() || cand.Before(end)) {
			return resolution{first: cand, ok: true}
		}
		if end.IsZero() || end.After(limit) || !end.After(p) {
			break
		}
		p = end
	}
	return r
}
