package schedule

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/cronexpr"
)

// ParseError is the error Parse returns for an invalid expression.
type ParseError struct {
	// Expr is the expression as given.
	Expr string
	// Field names the part that is wrong: "minutes", "hours",
	// "day-of-month", "month", "day-of-week", "year", "day-of-month and
	// day-of-week", "cron", "rate", "rate value", "rate unit" or "at"; or
	// "" when the expression is none of rate(…), cron(…) and at(…).
	Field string
	// Value is the offending text, if there is one.
	Value string
	// Reason says what is wrong, or what is wanted.
	Reason string
}

// Error reads like
//
//	schedule expression "cron(0 0 ? * 8 *)": field day-of-week "8": want 1-7 or SUN-SAT
func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schedule expression %q", e.Expr)
	switch {
	case e.Field != "" && e.Value != "":
		fmt.Fprintf(&b, ": field %s %q", e.Field, e.Value)
	case e.Field != "":
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

const wantForm = "want rate(value unit), cron(minutes hours day-of-month month day-of-week year) or at(yyyy-mm-ddThh:mm:ss)"

func parse(s string) (*Expr, error) {
	fail := func(field, value, reason string) error {
		return &ParseError{Expr: s, Field: field, Value: value, Reason: reason}
	}
	var kind, body string
	for _, k := range []string{"rate", "cron", "at"} {
		if rest, ok := strings.CutPrefix(s, k+"("); ok {
			kind = k
			body, ok = strings.CutSuffix(rest, ")")
			if !ok {
				return nil, fail(k, "", `missing the closing ")"`)
			}
			break
		}
	}
	switch kind {
	case "rate":
		return parseRate(s, body, fail)
	case "cron":
		return parseCron(s, body, fail)
	case "at":
		return parseAt(s, body, fail)
	}
	return nil, fail("", "", wantForm)
}

type failFunc func(field, value, reason string) error

// parseRate parses the body of rate(value unit).
func parseRate(s, body string, fail failFunc) (*Expr, error) {
	value, unit, ok := strings.Cut(body, " ")
	if !ok || value == "" || unit == "" || strings.Contains(unit, " ") {
		return nil, fail("rate", body, `want "value unit": a positive integer and minute(s), hour(s) or day(s), separated by one space`)
	}
	for _, c := range []byte(value) {
		if c < '0' || c > '9' {
			return nil, fail("rate value", value, "want a positive integer")
		}
	}
	switch {
	case strings.Trim(value, "0") == "":
		return nil, fail("rate value", value, "must be at least 1")
	case value[0] == '0':
		return nil, fail("rate value", value, "want a positive integer without leading zeros")
	}
	n, err := strconv.ParseInt(value, 10, 64)
	var size time.Duration
	switch unit {
	case "minute", "minutes":
		size = time.Minute
	case "hour", "hours":
		size = time.Hour
	case "day", "days":
		size = 24 * time.Hour
	default:
		return nil, fail("rate unit", unit, "want minute(s), hour(s) or day(s)")
	}
	if err != nil || n > math.MaxInt64/int64(size) {
		return nil, fail("rate value", value, "too large: the interval must be under 292 years")
	}
	singular := !strings.HasSuffix(unit, "s")
	switch {
	case n == 1 && !singular:
		return nil, fail("rate unit", unit, fmt.Sprintf("want %q when the value is 1", strings.TrimSuffix(unit, "s")))
	case n != 1 && singular:
		return nil, fail("rate unit", unit, fmt.Sprintf("want %q when the value is not 1", unit+"s"))
	}
	return &Expr{src: s, kind: Rate, interval: time.Duration(n) * size}, nil
}

// parseAt parses the body of at(yyyy-mm-ddThh:mm:ss).
func parseAt(s, body string, fail failFunc) (*Expr, error) {
	const layout = "2006-01-02T15:04:05"
	const want = "want yyyy-mm-ddThh:mm:ss"
	// time.Parse would also take a fractional second; AWS does not.
	if len(body) != len(layout) {
		return nil, fail("at", body, want)
	}
	for i := range len(layout) {
		c, l := body[i], layout[i]
		if isDigit(l) != isDigit(c) || (!isDigit(l) && c != l) {
			return nil, fail("at", body, want)
		}
	}
	t, err := time.Parse(layout, body)
	if err != nil {
		reason := want
		var pe *time.ParseError
		if errors.As(err, &pe) && pe.Message != "" {
			reason = strings.TrimPrefix(pe.Message, ": ")
		}
		return nil, fail("at", body, reason)
	}
	return &Expr{src: s, kind: At, at: t}, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// asciiEqualFold is strings.EqualFold for ASCII only: "ſun" is not "SUN".
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// A field of a cron expression.
type field struct {
	name     string
	min, max int
	names    []string // names of min, min+1, …; nil if none
	maxStep  int      // 0 when "/" is not allowed
	wrap     bool     // a range may wrap around: 22-2 is 22,23,0,1,2
	want     string
}

var (
	minutesField = field{name: "minutes", min: 0, max: 59, maxStep: 59, wrap: true, want: "want 0-59"}
	hoursField   = field{name: "hours", min: 0, max: 23, maxStep: 23, wrap: true, want: "want 0-23"}
	domField     = field{name: "day-of-month", min: 1, max: 31, maxStep: 31, wrap: true, want: "want 1-31"}
	monthField   = field{name: "month", min: 1, max: 12, maxStep: 12, wrap: true, want: "want 1-12 or JAN-DEC",
		names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	dowField = field{name: "day-of-week", min: 1, max: 7, wrap: true, want: "want 1-7 or SUN-SAT",
		names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
	yearField = field{name: "year", min: 1970, max: 2199, maxStep: 2199 - 1970, want: "want 1970-2199"}
)

// cronSpec is a cron expression's fields, validated and in AWS's
// numbering.
type cronSpec struct {
	minutes, hours, months, years []int
	dom                           domSpec
	dow                           dowSpec
	// line is the expression given to cronexpr: seconds minutes hours
	// day-of-month month day-of-week year, day-of-week 0-6 with SUN=0,
	// years <= 2099 only.
	line string
}

// domSpec is a day-of-month field; at most one of its forms is set.
type domSpec struct {
	any         bool  // "?" or "*"
	days        []int // a list of days 1-31
	last        bool  // L: the last day of the month
	lastWeekday bool  // LW: the last weekday (Monday-Friday) of the month
	nearest     int   // nW: the weekday nearest day n, within the month
}

// dowSpec is a day-of-week field, days 1-7 with SUN=1; at most one of its
// forms is set.
type dowSpec struct {
	any          bool  // "?" or "*"
	days         []int // a list of days of the week
	last         int   // nL: the last day n of the month
	nth, nthWeek int   // n#k: the k-th day n of the month
}

// parseCron parses the body of cron(fields).
func parseCron(s, body string, fail failFunc) (*Expr, error) {
	fields := strings.FieldsFunc(body, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(fields) != 6 {
		return nil, fail("cron", "", fmt.Sprintf("want 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(fields)))
	}
	spec := &cronSpec{}
	wrap := func(fe *fieldError) error { return fail(fe.field, fe.value, fe.reason) }
	var fe *fieldError
	if spec.minutes, fe = parseList(fields[0], &minutesField); fe != nil {
		return nil, wrap(fe)
	}
	if spec.hours, fe = parseList(fields[1], &hoursField); fe != nil {
		return nil, wrap(fe)
	}
	if spec.dom, fe = parseDOM(fields[2]); fe != nil {
		return nil, wrap(fe)
	}
	if spec.months, fe = parseList(fields[3], &monthField); fe != nil {
		return nil, wrap(fe)
	}
	if spec.dow, fe = parseDOW(fields[4]); fe != nil {
		return nil, wrap(fe)
	}
	if spec.years, fe = parseList(fields[5], &yearField); fe != nil {
		return nil, wrap(fe)
	}
	switch domQ, dowQ := fields[2] == "?", fields[4] == "?"; {
	case domQ && dowQ:
		return nil, fail("day-of-month and day-of-week", "", `only one of them may be "?"`)
	case !domQ && !dowQ:
		return nil, fail("day-of-month and day-of-week", "", `one of them must be "?"`)
	}

	e := &Expr{src: s, kind: Cron, spec: spec}
	line, ok := spec.cronexprLine()
	if !ok {
		return e, nil // every year is past cronexpr's 2099: it never fires
	}
	spec.line = line
	ce, cerr := cronexpr.Parse(line)
	if cerr != nil {
		// Not reachable for what the checks above accept; report it
		// rather than panic later.
		return nil, fail("cron", "", fmt.Sprintf("cannot evaluate %q: %v", line, cerr))
	}
	e.cron = ce
	return e, nil
}

type fieldError struct{ field, value, reason string }

func (f *field) errorf(value, format string, args ...any) *fieldError {
	return &fieldError{field: f.name, value: value, reason: fmt.Sprintf(format, args...)}
}

// parseList parses a field of comma-separated items: *, v, a-b, */s, v/s
// or a-b/s.
func parseList(s string, f *field) ([]int, *fieldError) {
	in := make([]bool, f.max-f.min+1)
	for item := range strings.SplitSeq(s, ",") {
		if fe := f.parseItem(s, item, in); fe != nil {
			return nil, fe
		}
	}
	var out []int
	for i, ok := range in {
		if ok {
			out = append(out, f.min+i)
		}
	}
	return out, nil
}

func (f *field) parseItem(whole, item string, in []bool) *fieldError {
	if item == "" {
		return f.errorf(whole, "empty item in list")
	}
	if strings.Contains(item, "?") {
		if f.name == domField.name || f.name == dowField.name {
			return f.errorf(whole, `"?" must be the whole field`)
		}
		return f.errorf(item, `"?" is only allowed in day-of-month and day-of-week`)
	}
	base, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		if f.maxStep == 0 {
			return f.errorf(item, `"/" is not allowed in %s`, f.name)
		}
		n, ok := atoiSmall(stepText)
		if !ok || n < 1 || n > f.maxStep {
			return f.errorf(item, "want a step of 1-%d", f.maxStep)
		}
		step = n
	}
	var lo, hi int
	if base == "*" {
		lo, hi = f.min, f.max
	} else if a, b, isRange := strings.Cut(base, "-"); isRange {
		var fe *fieldError
		if lo, fe = f.value(a, item); fe != nil {
			return fe
		}
		if hi, fe = f.value(b, item); fe != nil {
			return fe
		}
		if lo > hi && !f.wrap {
			return f.errorf(item, "range start after its end")
		}
	} else {
		var fe *fieldError
		if lo, fe = f.value(base, item); fe != nil {
			return fe
		}
		hi = lo
		if hasStep {
			hi = f.max
		}
	}
	// A range may wrap around the end of the field, as Quartz has it:
	// hours 22-2 are 22, 23, 0, 1, 2.
	span := f.max - f.min + 1
	end := hi
	if lo > hi {
		end = hi + span
	}
	for v := lo; v <= end; v += step {
		x := v
		if x > f.max {
			x -= span
		}
		in[x-f.min] = true
	}
	return nil
}

// value parses one value of the field: a number or, where the field has
// them, a name (ASCII, case-insensitive). item is the text to report if s
// is empty.
func (f *field) value(s, item string) (int, *fieldError) {
	if n, ok := atoiSmall(s); ok {
		if n < f.min || n > f.max {
			return 0, f.errorf(s, "%s", f.want)
		}
		return n, nil
	}
	for i, name := range f.names {
		if asciiEqualFold(s, name) {
			return f.min + i, nil
		}
	}
	if s == "" {
		return 0, f.errorf(item, "missing value; %s", f.want)
	}
	return 0, f.errorf(s, "%s", f.want)
}

// atoiSmall parses a decimal number of up to 6 digits.
func atoiSmall(s string) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseDOM parses the day-of-month field.
func parseDOM(s string) (domSpec, *fieldError) {
	f := &domField
	up := strings.ToUpper(s)
	switch {
	case s == "?" || s == "*":
		return domSpec{any: true}, nil
	case strings.ContainsAny(up, "LW"):
		if strings.ContainsAny(s, ",-/") {
			return domSpec{}, f.errorf(s, "L and W cannot be combined with lists, ranges or steps")
		}
		switch {
		case up == "L":
			return domSpec{last: true}, nil
		case up == "LW":
			return domSpec{lastWeekday: true}, nil
		case strings.HasSuffix(up, "W") && !strings.Contains(up[:len(up)-1], "W") && !strings.Contains(up, "L"):
			n, fe := f.value(s[:len(s)-1], s)
			if fe != nil {
				return domSpec{}, fe
			}
			return domSpec{nearest: n}, nil
		}
		return domSpec{}, f.errorf(s, "want L, LW, or nW with n 1-31")
	}
	days, fe := parseList(s, f)
	if fe != nil {
		return domSpec{}, fe
	}
	return domSpec{days: days}, nil
}

// parseDOW parses the day-of-week field.
func parseDOW(s string) (dowSpec, *fieldError) {
	f := &dowField
	up := strings.ToUpper(s)
	switch {
	case s == "?" || s == "*":
		return dowSpec{any: true}, nil
	case strings.ContainsAny(up, "L#"):
		if strings.ContainsAny(s, ",-/") {
			return dowSpec{}, f.errorf(s, "L and # cannot be combined with lists, ranges or steps")
		}
		if up == "L" {
			// L alone is the last day of the week: Saturday.
			return dowSpec{days: []int{7}}, nil
		}
		if day, week, ok := strings.Cut(s, "#"); ok {
			n, fe := f.value(day, s)
			if fe != nil {
				return dowSpec{}, fe
			}
			k, ok := atoiSmall(week)
			if !ok || k < 1 || k > 5 {
				return dowSpec{}, f.errorf(s, "want day#n with n 1-5")
			}
			return dowSpec{nth: n, nthWeek: k}, nil
		}
		if day, ok := strings.CutSuffix(up, "L"); ok && !strings.Contains(day, "L") {
			n, fe := f.value(day, s)
			if fe != nil {
				return dowSpec{}, fe
			}
			return dowSpec{last: n}, nil
		}
		return dowSpec{}, f.errorf(s, "want L, dayL or day#n")
	}
	if strings.Contains(s, "/") {
		return dowSpec{}, f.errorf(s, `"/" is not allowed in day-of-week`)
	}
	days, fe := parseList(s, f)
	if fe != nil {
		return dowSpec{}, fe
	}
	return dowSpec{days: days}, nil
}

// cronexprLine translates the fields to a cronexpr expression, or reports
// false if no year is within cronexpr's 1970-2099.
func (c *cronSpec) cronexprLine() (string, bool) {
	var years []int
	for _, y := range c.years {
		if y <= 2099 {
			years = append(years, y)
		}
	}
	if len(years) == 0 {
		return "", false
	}
	var dom, dow string
	switch d := c.dom; {
	case d.any:
		dom = "*"
	case d.last:
		dom = "L"
	case d.lastWeekday:
		dom = "LW"
	case d.nearest != 0:
		dom = strconv.Itoa(d.nearest) + "W"
	default:
		dom = join(d.days, 0)
	}
	// cronexpr numbers days of the week 0-6 from Sunday; AWS 1-7.
	switch d := c.dow; {
	case d.any:
		dow = "*"
	case d.last != 0:
		dow = strconv.Itoa(d.last-1) + "L"
	case d.nth != 0:
		dow = strconv.Itoa(d.nth-1) + "#" + strconv.Itoa(d.nthWeek)
	default:
		dow = join(d.days, -1)
	}
	return strings.Join([]string{"0", join(c.minutes, 0), join(c.hours, 0), dom, join(c.months, 0), dow, join(years, 0)}, " "), true
}

func join(vs []int, delta int) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(v + delta))
	}
	return b.String()
}
