// Package schedule parses and evaluates EventBridge schedule expressions:
// rate(value unit), cron(minutes hours day-of-month month day-of-week year)
// and at(yyyy-mm-ddThh:mm:ss), as EventBridge rules and EventBridge
// Scheduler accept them.
//
// Parse validates an expression with AWS's rules and numbering (day-of-week
// 1-7 with SUN=1, years 1970-2199, exactly one of day-of-month and
// day-of-week "?", rate units singular only for 1). Cron fields are then
// evaluated by github.com/hashicorp/cronexpr on the wall clock, and the
// wall times it finds are mapped to instants in the schedule's time zone
// with EventBridge Scheduler's daylight-saving rules: a wall time that does
// not exist (skipped in spring) does not fire, and one that occurs twice
// (in autumn) fires once, at its first occurrence.
//
// cronexpr cannot evaluate years after 2099, so a cron expression fires no
// later than 2099-12-31 here, although years up to 2199 are accepted.
package schedule

import (
	"fmt"
	"math"
	"math/big"
	"sync"
	"time"

	"github.com/hashicorp/cronexpr"
)

// Kind is the type of a schedule expression.
type Kind int

// The kinds of schedule expression.
const (
	// Rate is rate(value unit): a firing every interval from an anchor.
	Rate Kind = iota + 1
	// Cron is cron(minutes hours day-of-month month day-of-week year): a
	// firing at every wall time matching the fields.
	Cron
	// At is at(yyyy-mm-ddThh:mm:ss): a single firing at a wall time.
	At
)

// String returns "rate", "cron" or "at".
func (k Kind) String() string {
	switch k {
	case Rate:
		return "rate"
	case Cron:
		return "cron"
	case At:
		return "at"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Expr is a parsed schedule expression. Its methods are safe for
// concurrent use.
type Expr struct {
	src  string
	kind Kind

	// Rate.
	interval time.Duration

	// At: the wall clock, with its fields stored in UTC.
	at time.Time

	// Cron.
	spec *cronSpec
	mu   sync.Mutex           // guards cron: cronexpr.Expression.Next writes to it
	cron *cronexpr.Expression // nil when no year of the expression is <= 2099
}

// Parse parses an EventBridge schedule expression. An invalid expression
// returns a *ParseError naming the field, the offending text and why.
func Parse(s string) (*Expr, error) {
	return parse(s)
}

// Kind returns the expression's kind: Rate, Cron or At.
func (e *Expr) Kind() Kind { return e.kind }

// String returns the expression as it was given to Parse.
func (e *Expr) String() string { return e.src }

// Interval returns the interval of a Rate expression, and 0 for the other
// kinds.
func (e *Expr) Interval() time.Duration {
	if e.kind != Rate {
		return 0
	}
	return e.interval
}

// Next returns the first firing strictly after `after`, in loc (nil means
// UTC), or the zero Time when there is none (an at() in the past, a cron
// whose years have ended).
//
//   - Rate: firings are anchor + k*Interval for integers k >= 0; the first
//     strictly after `after`. anchor must be given (non-zero) for Rate;
//     with a zero anchor Next returns the zero Time. An interval is
//     elapsed time, so rate(1 day) is 24 hours across a daylight-saving
//     change, as EventBridge Scheduler does it.
//   - At: the wall time in loc, if strictly after `after`. A wall time
//     that occurs twice means its first occurrence; one that does not
//     exist (skipped in spring) is moved forward by the length of the gap
//     (02:30 becomes 03:30), so a one-time schedule still fires.
//   - Cron: the next wall time in loc matching the fields, with EventBridge
//     Scheduler's daylight-saving rules: a wall time that does not exist
//     (skipped in spring) does not fire; a wall time that occurs twice
//     (autumn) fires once, at its first occurrence. Firings are on whole
//     minutes of the wall clock. Evaluation ends with 2099 (cronexpr's last
//     year): past it, or for an expression whose years are all after it,
//     Next returns the zero Time.
//
// anchor is used by Rate only. Monotonic clock readings are ignored.
func (e *Expr) Next(after time.Time, loc *time.Location, anchor time.Time) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	after = after.Round(0)
	var t time.Time
	switch e.kind {
	case Rate:
		t = nextRate(after, anchor.Round(0), e.interval)
	case At:
		t = nextAt(after, loc, e.at)
	case Cron:
		t = e.nextCron(after, loc)
	}
	if t.IsZero() || !t.After(after) {
		return time.Time{}
	}
	return t.In(loc)
}

// NextN returns up to n firings, each the Next after the one before,
// starting strictly after `after`. It returns fewer when the schedule ends,
// and none when n <= 0. The arguments are as for Next.
func (e *Expr) NextN(after time.Time, loc *time.Location, anchor time.Time, n int) []time.Time {
	if n <= 0 {
		return nil
	}
	out := make([]time.Time, 0, min(n, 64))
	for len(out) < n {
		t := e.Next(after, loc, anchor)
		if t.IsZero() {
			break
		}
		out = append(out, t)
		after = t
	}
	return out
}

// nextRate returns anchor + k*interval for the least k >= 0 making it
// strictly after `after`, or the zero Time if anchor is zero or the result
// does not fit in a time.Time.
func nextRate(after, anchor time.Time, interval time.Duration) time.Time {
	if anchor.IsZero() || interval <= 0 {
		return time.Time{}
	}
	if after.Before(anchor) {
		return anchor
	}
	// The difference may exceed a time.Duration, so use big integers:
	// k = floor((after-anchor)/interval) + 1.
	const nsPerSec = int64(time.Second)
	diff := new(big.Int).Sub(big.NewInt(after.Unix()), big.NewInt(anchor.Unix()))
	diff.Mul(diff, big.NewInt(nsPerSec))
	diff.Add(diff, big.NewInt(int64(after.Nanosecond()-anchor.Nanosecond())))
	iv := big.NewInt(int64(interval))
	k := new(big.Int).Quo(diff, iv)
	k.Add(k, big.NewInt(1))
	add := k.Mul(k, iv) // nanoseconds after anchor
	secs, nanos := new(big.Int).QuoRem(add, big.NewInt(nsPerSec), new(big.Int))
	secs.Add(secs, big.NewInt(anchor.Unix()))
	// time.Unix adds the seconds from year 1 to 1970; keep clear of overflow.
	const maxUnix = math.MaxInt64 - 62135596800 - 1
	if !secs.IsInt64() || secs.Int64() > maxUnix {
		return time.Time{}
	}
	return time.Unix(secs.Int64(), int64(anchor.Nanosecond())+nanos.Int64())
}

// nextAt returns the instant of the wall time w in loc if it is strictly
// after `after`, else the zero Time.
func nextAt(after time.Time, loc *time.Location, w time.Time) time.Time {
	r := resolve(w, loc)
	t := r.first
	if !r.ok {
		t = r.shifted
		if t.IsZero() {
			t = time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
		}
	}
	if !t.After(after) {
		return time.Time{}
	}
	return t
}
