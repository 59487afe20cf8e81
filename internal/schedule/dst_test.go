package schedule

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func loadLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// Daylight saving time, with EventBridge Scheduler's rules: a wall time
// that does not exist does not fire; one that occurs twice fires once, at
// its first occurrence. Expected instants are in UTC, worked out from the
// zones' rules for 2026:
//
//   - America/New_York: EST -5 to EDT -4 on Sunday 03-08 at 02:00
//     (02:00-02:59 does not exist); back on Sunday 11-01 at 02:00 EDT
//     (01:00-01:59 occurs twice).
//   - Europe/Berlin: CET +1 to CEST +2 on Sunday 03-29 at 02:00; back on
//     Sunday 10-25 at 03:00 CEST (02:00-02:59 occurs twice).
//   - Australia/Sydney: AEDT +11 to AEST +10 on Sunday 04-05 at 03:00
//     (02:00-02:59 occurs twice); to AEDT on Sunday 10-04 at 02:00
//     (02:00-02:59 does not exist).
func TestDST(t *testing.T) {
	tests := []struct {
		name  string
		zone  string
		expr  string
		after string // wall time in zone
		want  []string
	}{
		// New York, spring forward.
		{"daily 02:30 skipped on the day", "America/New_York", "cron(30 2 * * ? *)", "2026-03-07 00:00",
			[]string{"2026-03-07 07:30", "2026-03-09 06:30", "2026-03-10 06:30"}},
		{"hourly has no 02:30", "America/New_York", "cron(30 * * * ? *)", "2026-03-08 00:00",
			[]string{"2026-03-08 05:30", "2026-03-08 06:30", "2026-03-08 07:30", "2026-03-08 08:30"}},
		{"02:00 every minute is skipped whole", "America/New_York", "cron(* 2 * * ? *)", "2026-03-08 00:00",
			[]string{"2026-03-09 06:00", "2026-03-09 06:01"}},
		{"03:00 still fires", "America/New_York", "cron(0 3 * * ? *)", "2026-03-08 00:00",
			[]string{"2026-03-08 07:00", "2026-03-09 07:00"}},
		// New York, fall back.
		{"daily 01:30 fires once", "America/New_York", "cron(30 1 * * ? *)", "2026-10-31 12:00",
			[]string{"2026-11-01 05:30", "2026-11-02 06:30", "2026-11-03 06:30"}},
		{"hourly fires once per wall time", "America/New_York", "cron(30 * * * ? *)", "2026-11-01 00:00",
			[]string{"2026-11-01 04:30", "2026-11-01 05:30", "2026-11-01 07:30", "2026-11-01 08:30"}},
		{"every 15 minutes through the repeat", "America/New_York", "cron(0/15 * * * ? *)", "2026-11-01 00:40",
			[]string{"2026-11-01 04:45", "2026-11-01 05:00", "2026-11-01 05:15", "2026-11-01 05:30", "2026-11-01 05:45", "2026-11-01 07:00", "2026-11-01 07:15"}},
		// Berlin, spring forward.
		{"daily 02:30 skipped on the day", "Europe/Berlin", "cron(30 2 * * ? *)", "2026-03-28 00:00",
			[]string{"2026-03-28 01:30", "2026-03-30 00:30", "2026-03-31 00:30"}},
		{"hourly has no 02:30", "Europe/Berlin", "cron(30 * * * ? *)", "2026-03-29 00:00",
			[]string{"2026-03-28 23:30", "2026-03-29 00:30", "2026-03-29 01:30", "2026-03-29 02:30"}},
		// Berlin, fall back.
		{"daily 02:30 fires once", "Europe/Berlin", "cron(30 2 * * ? *)", "2026-10-24 12:00",
			[]string{"2026-10-25 00:30", "2026-10-26 01:30"}},
		{"hourly fires once per wall time", "Europe/Berlin", "cron(30 * * * ? *)", "2026-10-25 01:00",
			[]string{"2026-10-24 23:30", "2026-10-25 00:30", "2026-10-25 02:30", "2026-10-25 03:30"}},
		// Sydney, fall back in April, spring forward in October.
		{"daily 02:30 fires once", "Australia/Sydney", "cron(30 2 * * ? *)", "2026-04-04 12:00",
			[]string{"2026-04-04 15:30", "2026-04-05 16:30"}},
		{"daily 02:30 skipped on the day", "Australia/Sydney", "cron(30 2 * * ? *)", "2026-10-03 00:00",
			[]string{"2026-10-02 16:30", "2026-10-04 15:30"}},
		{"hourly has no 02:30", "Australia/Sydney", "cron(30 * * * ? *)", "2026-10-04 00:00",
			[]string{"2026-10-03 14:30", "2026-10-03 15:30", "2026-10-03 16:30", "2026-10-03 17:30"}},
		// One-time schedules: a repeated wall time is its first
		// occurrence; a missing one is moved forward by the gap.
		{"at in the repeated hour", "America/New_York", "at(2026-11-01T01:30:00)", "2026-10-31 00:00",
			[]string{"2026-11-01 05:30"}},
		{"at in the skipped hour", "America/New_York", "at(2026-03-08T02:30:00)", "2026-03-07 00:00",
			[]string{"2026-03-08 07:30"}},
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.expr+" "+tt.name, func(t *testing.T) {
			loc := loadLoc(t, tt.zone)
			e, err := Parse(tt.expr)
			require.NoError(t, err)
			w, err := time.ParseInLocation("2006-01-02 15:04", tt.after, loc)
			require.NoError(t, err)
			got := e.NextN(w, loc, time.Time{}, len(tt.want)+1)
			if len(got) > len(tt.want) {
				got = got[:len(tt.want)]
			}
			requireTimes(t, utcs(t, tt.want...), got)
			for _, g := range got {
				require.Equal(t, loc, g.Location())
			}
		})
	}
}

// From inside the repeated hour, wall times that already fired in their
// first occurrence do not fire again.
func TestDSTFromSecondOccurrence(t *testing.T) {
	ny := loadLoc(t, "America/New_York")
	after := utc(t, "2026-11-01 06:10") // 01:10 EST, the second 01:10
	require.Equal(t, "01:10 EST", after.In(ny).Format("15:04 MST"))
	for _, tt := range []struct{ expr, want string }{
		{"cron(30 1 * * ? *)", "2026-11-02 06:30"},
		{"cron(30 * * * ? *)", "2026-11-01 07:30"},
		{"cron(0/15 * * * ? *)", "2026-11-01 07:00"},
		{"cron(* * * * ? *)", "2026-11-01 07:00"},
	} {
		e, err := Parse(tt.expr)
		require.NoError(t, err)
		requireTimes(t, utcs(t, tt.want), []time.Time{e.Next(after, ny, time.Time{})})
	}
	e, err := Parse("at(2026-11-01T01:30:00)")
	require.NoError(t, err)
	require.True(t, e.Next(after, ny, time.Time{}).IsZero(), "01:30 fired at its first occurrence, 05:30 UTC")
}

// A wall-clock oracle: does the wall time w (fields in UTC) match the
// cron fields? Written from the field meanings, independently of cronexpr.
func (c *cronSpec) matchWall(w time.Time) bool {
	has := func(vs []int, v int) bool {
		for _, x := range vs {
			if x == v {
				return true
			}
		}
		return false
	}
	if w.Second() != 0 || w.Nanosecond() != 0 || !has(c.minutes, w.Minute()) || !has(c.hours, w.Hour()) ||
		!has(c.months, int(w.Month())) || !has(c.years, w.Year()) {
		return false
	}
	d := w.Day()
	last := time.Date(w.Year(), w.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	weekday := func(day int) time.Weekday {
		return time.Date(w.Year(), w.Month(), day, 0, 0, 0, 0, time.UTC).Weekday()
	}
	// nearest is the weekday nearest day n without leaving the month.
	nearest := func(n int) int {
		switch weekday(n) {
		case time.Saturday:
			if n == 1 {
				return 3
			}
			return n - 1
		case time.Sunday:
			if n == last {
				return n - 2
			}
			return n + 1
		}
		return n
	}
	domOK := true
	switch dom := c.dom; {
	case dom.last:
		domOK = d == last
	case dom.lastWeekday:
		domOK = d == nearest(last)
	case dom.nearest != 0:
		domOK = dom.nearest <= last && d == nearest(dom.nearest)
	case !dom.any:
		domOK = has(dom.days, d)
	}
	dowOK := true
	awsDay := int(weekday(d)) + 1
	switch dow := c.dow; {
	case dow.last != 0:
		dowOK = awsDay == dow.last && d+7 > last
	case dow.nth != 0:
		dowOK = awsDay == dow.nth && (d-1)/7+1 == dow.nthWeek
	case !dow.any:
		dowOK = has(dow.days, awsDay)
	}
	return domOK && dowOK
}

// bruteForce scans every minute from `from` to `to` and returns the
// instants after `after` whose wall clock in loc matches and has not been
// seen before: the firings by EventBridge Scheduler's rules.
func bruteForce(c *cronSpec, loc *time.Location, from, after, to time.Time) []time.Time {
	seen := map[time.Time]bool{}
	var out []time.Time
	for i := from.Truncate(time.Minute); !i.After(to); i = i.Add(time.Minute) {
		w := wallOf(i.In(loc))
		if seen[w] {
			continue
		}
		seen[w] = true
		if i.After(after) && c.matchWall(w) {
			out = append(out, i.In(loc))
		}
	}
	return out
}

// Next agrees with a minute-by-minute scan around transitions in zones
// with one-hour, half-hour and two-hour changes, midnight changes and a
// skipped day.
func TestDSTBruteForce(t *testing.T) {
	transitions := []struct {
		zone string
		at   string // UTC, near a transition
	}{
		{"America/New_York", "2026-03-08 07:00"},
		{"America/New_York", "2026-11-01 06:00"},
		{"Europe/Berlin", "2026-03-29 01:00"},
		{"Europe/Berlin", "2026-10-25 01:00"},
		{"Australia/Sydney", "2026-04-04 16:00"},
		{"Australia/Sydney", "2026-10-03 16:00"},
		{"Australia/Lord_Howe", "2026-04-04 15:00"}, // back 30 minutes
		{"Australia/Lord_Howe", "2026-10-03 15:30"}, // forward 30 minutes
		{"America/Havana", "2026-03-08 05:00"},      // midnight does not exist
		{"America/Havana", "2026-11-01 05:00"},      // 00:00-00:59 twice
		{"Antarctica/Troll", "2026-03-29 01:00"},    // forward two hours
		{"Antarctica/Troll", "2026-10-25 01:00"},    // back two hours
		{"Pacific/Apia", "2011-12-30 10:00"},        // 2011-12-30 skipped
		{"Asia/Kolkata", "2026-03-08 07:00"},        // no DST at all
	}
	exprs := []string{
		"cron(* * * * ? *)",
		"cron(0/15 * * * ? *)",
		"cron(30 * * * ? *)",
		"cron(0 * * * ? *)",
		"cron(30 1 * * ? *)",
		"cron(30 2 * * ? *)",
		"cron(0 0 * * ? *)",
		"cron(59 23 * * ? *)",
		"cron(0,20,40 0-3 ? * SUN *)",
		"cron(45 2 L * ? *)",
		"cron(10 0 ? * 1#1 *)",
	}
	for _, tr := range transitions {
		loc := loadLoc(t, tr.zone)
		mid := utc(t, tr.at)
		from, to := mid.Add(-50*time.Hour), mid.Add(30*time.Hour)
		for _, s := range exprs {
			e, err := Parse(s)
			require.NoError(t, err)
			for _, after := range []time.Time{mid.Add(-30 * time.Hour), mid.Add(-90 * time.Minute), mid.Add(-30 * time.Minute), mid.Add(-10 * time.Second), mid, mid.Add(40 * time.Minute)} {
				want := bruteForce(e.spec, loc, from, after, to)
				var got []time.Time
				for a := after; ; {
					n := e.Next(a, loc, time.Time{})
					if n.IsZero() || n.After(to) {
						break
					}
					got = append(got, n)
					a = n
				}
				require.Equal(t, fmtTimes(want), fmtTimes(got), "%s in %s after %s", s, tr.zone, after.In(loc))
			}
		}
	}
}

func fmtTimes(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format("2006-01-02 15:04:05 MST -0700")
	}
	return out
}

// Next agrees with the oracle in UTC over years, for the special forms.
func TestCronAgainstOracle(t *testing.T) {
	from := utc(t, "2025-12-20 00:00")
	to := utc(t, "2029-01-10 00:00")
	for _, s := range []string{
		"cron(0 0 L * ? *)", "cron(0 0 LW * ? *)", "cron(0 0 1W * ? *)", "cron(0 0 15W * ? *)", "cron(0 0 31W * ? *)",
		"cron(0 0 30W * ? *)", "cron(0 12 ? * 6L *)", "cron(0 12 ? * 1L *)", "cron(0 12 ? * 7L *)", "cron(0 9 ? * 2#1 *)",
		"cron(0 9 ? * 1#5 *)", "cron(0 9 ? * 7#4 *)", "cron(0 0 ? * L *)", "cron(0 0 29 2 ? *)", "cron(0 0 28-3 * ? *)",
		"cron(0 0 1-31/10 * ? *)", "cron(0 6 ? NOV-FEB FRI-MON 2026-2027)", "cron(0 0 */5 */4 ? *)", "cron(0 0 ? * 1,4,7 2028)",
	} {
		e, err := Parse(s)
		require.NoError(t, err)
		var want []time.Time
		// Day by day, then the hours and minutes of matching days.
		for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
			for _, h := range e.spec.hours {
				for _, m := range e.spec.minutes {
					w := time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, time.UTC)
					if e.spec.matchWall(w) {
						want = append(want, w)
					}
				}
			}
		}
		var got []time.Time
		for a := from.Add(-time.Minute); ; {
			n := e.Next(a, nil, time.Time{})
			if n.IsZero() || !n.Before(to) {
				break
			}
			got = append(got, n)
			a = n
		}
		require.NotEmpty(t, want, s)
		require.Equal(t, fmtTimes(want), fmtTimes(got), s)
	}
}

// resolve maps wall times to instants.
func TestResolve(t *testing.T) {
	ny := loadLoc(t, "America/New_York")
	tests := []struct {
		wall    string
		ok      bool
		first   string
		gapEnd  string
		shifted string
	}{
		{"2026-07-01 12:00", true, "2026-07-01 16:00", "", ""},
		{"2026-03-08 02:30", false, "", "2026-03-08 03:00", "2026-03-08 07:30"},
		{"2026-03-08 02:00", false, "", "2026-03-08 03:00", "2026-03-08 07:00"},
		{"2026-03-08 03:00", true, "2026-03-08 07:00", "", ""},
		{"2026-03-08 01:59", true, "2026-03-08 06:59", "", ""},
		{"2026-11-01 01:30", true, "2026-11-01 05:30", "", ""},
		{"2026-11-01 00:59", true, "2026-11-01 04:59", "", ""},
		{"2026-11-01 02:00", true, "2026-11-01 07:00", "", ""},
	}
	for _, tt := range tests {
		r := resolve(utc(t, tt.wall), ny)
		require.Equal(t, tt.ok, r.ok, tt.wall)
		if tt.ok {
			require.Equal(t, utc(t, tt.first), r.first.UTC(), tt.wall)
			continue
		}
		require.Equal(t, utc(t, tt.gapEnd), r.gapEnd, tt.wall)
		require.Equal(t, utc(t, tt.shifted), r.shifted.UTC(), tt.wall)
	}
	// Fixed zones, including offsets in seconds.
	for _, off := range []int{0, 3600, -12345, 14 * 3600, -12 * 3600} {
		loc := time.FixedZone(fmt.Sprint(off), off)
		w := utc(t, "2026-03-08 02:30")
		r := resolve(w, loc)
		require.True(t, r.ok)
		require.Equal(t, w.Add(-time.Duration(off)*time.Second), r.first.UTC())
	}
}
