package schedule

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// utc parses "2006-01-02 15:04" in UTC.
func utc(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02 15:04", s)
	require.NoError(t, err)
	return v
}

func utcs(t testing.TB, ss ...string) []time.Time {
	t.Helper()
	out := make([]time.Time, len(ss))
	for i, s := range ss {
		out[i] = utc(t, s)
	}
	return out
}

// requireTimes compares instants, whatever their locations.
func requireTimes(t *testing.T, want, got []time.Time) {
	t.Helper()
	ws := make([]string, len(want))
	for i, w := range want {
		ws[i] = w.UTC().Format(time.RFC3339)
	}
	gs := make([]string, len(got))
	for i, g := range got {
		gs[i] = g.UTC().Format(time.RFC3339)
	}
	require.Equal(t, ws, gs)
}

// The examples of the EventBridge documentation's cron and rate tables,
// and the special characters, from Wednesday 2026-03-04 09:07 UTC. The
// expected times were worked out from a calendar.
func TestAWSExamples(t *testing.T) {
	const from = "2026-03-04 09:07" // a Wednesday
	tests := []struct {
		expr string
		from string // default from
		want []string
	}{
		// "Run at 10:00 am (UTC+0) every day"
		{expr: "cron(0 10 * * ? *)", want: []string{"2026-03-04 10:00", "2026-03-05 10:00", "2026-03-06 10:00"}},
		// "Run at 12:15 pm (UTC+0) every day"
		{expr: "cron(15 12 * * ? *)", want: []string{"2026-03-04 12:15", "2026-03-05 12:15", "2026-03-06 12:15"}},
		// "Run at 6:00 pm (UTC+0) every Monday through Friday"
		{expr: "cron(0 18 ? * MON-FRI *)", want: []string{"2026-03-04 18:00", "2026-03-05 18:00", "2026-03-06 18:00", "2026-03-09 18:00"}},
		// "Run at 8:00 am (UTC+0) every first day of the month"
		{expr: "cron(0 8 1 * ? *)", want: []string{"2026-04-01 08:00", "2026-05-01 08:00", "2026-06-01 08:00"}},
		// "Run every 15 minutes"
		{expr: "cron(0/15 * * * ? *)", want: []string{"2026-03-04 09:15", "2026-03-04 09:30", "2026-03-04 09:45", "2026-03-04 10:00"}},
		// "Run every 10 minutes Monday through Friday"
		{expr: "cron(0/10 * ? * MON-FRI *)", want: []string{"2026-03-04 09:10", "2026-03-04 09:20", "2026-03-04 09:30"}},
		{expr: "cron(0/10 * ? * MON-FRI *)", from: "2026-03-06 23:45", want: []string{"2026-03-06 23:50", "2026-03-09 00:00", "2026-03-09 00:10"}},
		// "Run every 5 minutes Monday through Friday between 8:00 am and 5:55 pm (UTC+0)"
		{expr: "cron(0/5 8-17 ? * MON-FRI *)", want: []string{"2026-03-04 09:10", "2026-03-04 09:15", "2026-03-04 09:20"}},
		{expr: "cron(0/5 8-17 ? * MON-FRI *)", from: "2026-03-06 17:50", want: []string{"2026-03-06 17:55", "2026-03-09 08:00", "2026-03-09 08:05"}},
		// "Run at 9 a.m. (UTC) the first Monday of each month"
		{expr: "cron(0 9 ? * 2#1 *)", want: []string{"2026-04-06 09:00", "2026-05-04 09:00", "2026-06-01 09:00"}},
		{expr: "cron(0 9 ? * MON#1 *)", want: []string{"2026-04-06 09:00", "2026-05-04 09:00", "2026-06-01 09:00"}},
		// The fifth Friday: only in months that have one.
		{expr: "cron(0 9 ? * 6#5 *)", want: []string{"2026-05-29 09:00", "2026-07-31 09:00"}},
		// L in day-of-month: the last day of the month.
		{expr: "cron(0 0 L * ? *)", want: []string{"2026-03-31 00:00", "2026-04-30 00:00", "2026-05-31 00:00", "2026-06-30 00:00"}},
		// nL in day-of-week: the last Friday of the month.
		{expr: "cron(0 12 ? * 6L *)", want: []string{"2026-03-27 12:00", "2026-04-24 12:00", "2026-05-29 12:00"}},
		{expr: "cron(0 12 ? * friL *)", want: []string{"2026-03-27 12:00", "2026-04-24 12:00", "2026-05-29 12:00"}},
		// L alone in day-of-week: the last day of the week, Saturday.
		{expr: "cron(0 12 ? * L *)", want: []string{"2026-03-07 12:00", "2026-03-14 12:00"}},
		// W: the weekday nearest the 15th, within the month. 2026-03-15
		// is a Sunday, 2026-08-15 a Saturday.
		{expr: "cron(0 0 15W * ? *)", want: []string{"2026-03-16 00:00", "2026-04-15 00:00", "2026-05-15 00:00", "2026-06-15 00:00"}},
		{expr: "cron(0 0 15W * ? *)", from: "2026-07-20 00:00", want: []string{"2026-08-14 00:00", "2026-09-15 00:00"}},
		// 1W when the 1st is a Saturday is Monday the 3rd, not the 31st before.
		{expr: "cron(0 0 1W * ? *)", from: "2026-07-20 00:00", want: []string{"2026-08-03 00:00", "2026-09-01 00:00"}},
		// LW: the last weekday; 2026-05-31 is a Sunday.
		{expr: "cron(0 0 LW * ? *)", from: "2026-05-01 00:00", want: []string{"2026-05-29 00:00", "2026-06-30 00:00", "2026-07-31 00:00"}},
		// Lists, names in any case, ranges wrapping around, years.
		{expr: "cron(0,30 9 ? jan,Mar,DEC wed *)", want: []string{"2026-03-04 09:30", "2026-03-11 09:00", "2026-03-11 09:30"}},
		{expr: "cron(0 22-1 * * ? *)", want: []string{"2026-03-04 22:00", "2026-03-04 23:00", "2026-03-05 00:00", "2026-03-05 01:00", "2026-03-05 22:00"}},
		{expr: "cron(0 0 ? * FRI-MON *)", want: []string{"2026-03-06 00:00", "2026-03-07 00:00", "2026-03-08 00:00", "2026-03-09 00:00", "2026-03-13 00:00"}},
		{expr: "cron(*/20 10 1 * ? 2026)", want: []string{"2026-04-01 10:00", "2026-04-01 10:20", "2026-04-01 10:40", "2026-05-01 10:00"}},
		{expr: "cron(5 4 3 2 ? 2027-2028)", want: []string{"2027-02-03 04:05", "2028-02-03 04:05"}},
		{expr: "cron(0 0 1 1 ? 2026/2)", want: []string{"2028-01-01 00:00", "2030-01-01 00:00"}},
		{expr: "cron(0 0 29 2 ? *)", want: []string{"2028-02-29 00:00", "2032-02-29 00:00"}},
		// Years after cronexpr's 2099 parse but never fire.
		{expr: "cron(0 0 1 1 ? 2099-2101)", from: "2099-06-01 00:00", want: []string{}},
		{expr: "cron(0 0 1 1 ? 2098-2101)", from: "2097-06-01 00:00", want: []string{"2098-01-01 00:00", "2099-01-01 00:00"}},
		{expr: "cron(0 0 1 1 ? 2150)", want: []string{}},
		{expr: "cron(0 0 31 2 ? *)", want: []string{}},
		{expr: "cron(0 0 1 1 ? 2025)", want: []string{}},
		{expr: "at(2026-12-25T09:00:00)", want: []string{"2026-12-25 09:00"}},
		{expr: "at(2026-03-04T09:07:00)", want: []string{}}, // not strictly after
		{expr: "at(2026-03-04T09:08:00)", want: []string{"2026-03-04 09:08"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := Parse(tt.expr)
			require.NoError(t, err)
			start := from
			if tt.from != "" {
				start = tt.from
			}
			got := e.NextN(utc(t, start), nil, time.Time{}, len(tt.want)+1)
			if len(got) > len(tt.want) {
				got = got[:len(tt.want)]
			}
			requireTimes(t, utcs(t, tt.want...), got)
			for _, g := range got {
				require.Equal(t, time.UTC, g.Location())
			}
		})
	}
}

func TestRate(t *testing.T) {
	anchor := utc(t, "2026-03-04 09:00")
	tests := []struct {
		expr     string
		interval time.Duration
		after    string
		want     []string
	}{
		{"rate(1 minute)", time.Minute, "2026-03-04 09:07", []string{"2026-03-04 09:08", "2026-03-04 09:09", "2026-03-04 09:10"}},
		{"rate(5 minutes)", 5 * time.Minute, "2026-03-04 09:07", []string{"2026-03-04 09:10", "2026-03-04 09:15", "2026-03-04 09:20"}},
		{"rate(1 hour)", time.Hour, "2026-03-04 09:07", []string{"2026-03-04 10:00", "2026-03-04 11:00"}},
		{"rate(12 hours)", 12 * time.Hour, "2026-03-04 09:07", []string{"2026-03-04 21:00", "2026-03-05 09:00", "2026-03-05 21:00"}},
		{"rate(1 day)", 24 * time.Hour, "2026-03-04 09:07", []string{"2026-03-05 09:00", "2026-03-06 09:00"}},
		{"rate(7 days)", 7 * 24 * time.Hour, "2026-03-04 09:07", []string{"2026-03-11 09:00", "2026-03-18 09:00"}},
		// Before the anchor the anchor is the first firing; at it, the next.
		{"rate(5 minutes)", 5 * time.Minute, "2026-03-04 08:00", []string{"2026-03-04 09:00", "2026-03-04 09:05"}},
		{"rate(5 minutes)", 5 * time.Minute, "2026-03-04 09:00", []string{"2026-03-04 09:05"}},
		{"rate(5 minutes)", 5 * time.Minute, "2026-03-04 09:05", []string{"2026-03-04 09:10"}},
		// Far from the anchor: more than a time.Duration away.
		{"rate(1 day)", 24 * time.Hour, "2426-03-05 00:00", []string{"2426-03-05 09:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr+" after "+tt.after, func(t *testing.T) {
			e, err := Parse(tt.expr)
			require.NoError(t, err)
			require.Equal(t, Rate, e.Kind())
			require.Equal(t, tt.expr, e.String())
			require.Equal(t, tt.interval, e.Interval())
			got := e.NextN(utc(t, tt.after), nil, anchor, len(tt.want))
			requireTimes(t, utcs(t, tt.want...), got)
		})
	}

	e, err := Parse("rate(1 day)")
	require.NoError(t, err)
	require.True(t, e.Next(anchor, nil, time.Time{}).IsZero(), "a zero anchor has no firings")
	// A day is 24 hours, also across a daylight-saving change.
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	a := time.Date(2026, 3, 7, 12, 0, 0, 0, ny)
	got := e.NextN(a, ny, a, 2)
	require.Equal(t, []time.Time{a.Add(24 * time.Hour), a.Add(48 * time.Hour)}, got)
	require.Equal(t, 13, got[0].Hour(), "12:00 EST plus 24 hours is 13:00 EDT")
	require.Equal(t, ny, got[0].Location())
}

func TestKindsAndAccessors(t *testing.T) {
	for _, tt := range []struct {
		expr string
		kind Kind
	}{
		{"rate(5 minutes)", Rate},
		{"cron(0 10 * * ? *)", Cron},
		{"at(2026-12-25T09:00:00)", At},
	} {
		e, err := Parse(tt.expr)
		require.NoError(t, err)
		require.Equal(t, tt.kind, e.Kind())
		require.Equal(t, tt.expr, e.String())
		if tt.kind != Rate {
			require.Zero(t, e.Interval())
		}
	}
	require.Equal(t, "rate", Rate.String())
	require.Equal(t, "cron", Cron.String())
	require.Equal(t, "at", At.String())
	require.Equal(t, "Kind(0)", Kind(0).String())

	e, err := Parse("cron(0 10 * * ? *)")
	require.NoError(t, err)
	require.Nil(t, e.NextN(utc(t, "2026-01-01 00:00"), nil, time.Time{}, 0))
	require.Nil(t, e.NextN(utc(t, "2026-01-01 00:00"), nil, time.Time{}, -1))
}

func TestAtInZone(t *testing.T) {
	e, err := Parse("at(2026-12-25T09:00:00)")
	require.NoError(t, err)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	got := e.Next(utc(t, "2026-01-01 00:00"), ny, time.Time{})
	require.Equal(t, utc(t, "2026-12-25 14:00"), got.UTC())
	require.Equal(t, ny, got.Location())
	require.True(t, e.Next(got, ny, time.Time{}).IsZero())
	require.Len(t, e.NextN(utc(t, "2026-01-01 00:00"), ny, time.Time{}, 5), 1)
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		expr   string
		field  string
		value  string
		reason string
	}{
		{"cron(0 12 ? * ? *)", "day-of-month and day-of-week", "", `only one of them may be "?"`},
		{"cron(0 12 * * * *)", "day-of-month and day-of-week", "", `one of them must be "?"`},
		{"cron(0 12 1 * MON *)", "day-of-month and day-of-week", "", `one of them must be "?"`},
		{"cron(0 0 ? * 0 *)", "day-of-week", "0", "want 1-7 or SUN-SAT"},
		{"cron(0 0 ? * 8 *)", "day-of-week", "8", "want 1-7 or SUN-SAT"},
		{"cron(0 0 ? * 1-8 *)", "day-of-week", "8", "want 1-7 or SUN-SAT"},
		{"cron(60 0 * * ? *)", "minutes", "60", "want 0-59"},
		{"cron(0 24 * * ? *)", "hours", "24", "want 0-23"},
		{"cron(0 0 32 * ? *)", "day-of-month", "32", "want 1-31"},
		{"cron(0 0 0 * ? *)", "day-of-month", "0", "want 1-31"},
		{"cron(0 0 * 13 ? *)", "month", "13", "want 1-12 or JAN-DEC"},
		{"cron(0 0 * 0 ? *)", "month", "0", "want 1-12 or JAN-DEC"},
		{"cron(0 0 * * ? 1969)", "year", "1969", "want 1970-2199"},
		{"cron(0 0 * * ? 2200)", "year", "2200", "want 1970-2199"},
		{"cron(0 0 * * ? 2030-2020)", "year", "2030-2020", "range start after its end"},
		{"cron(0 0 ? * FOO *)", "day-of-week", "FOO", "want 1-7 or SUN-SAT"},
		{"cron(0 0 * FOO ? *)", "month", "FOO", "want 1-12 or JAN-DEC"},
		{"cron(0 0 ? * MONDAY *)", "day-of-week", "MONDAY", "want 1-7 or SUN-SAT"},
		{"cron(0 0 ? * 2#6 *)", "day-of-week", "2#6", "want day#n with n 1-5"},
		{"cron(0 0 ? * 2#0 *)", "day-of-week", "2#0", "want day#n with n 1-5"},
		{"cron(0 0 ? * 8#1 *)", "day-of-week", "8", "want 1-7 or SUN-SAT"},
		{"cron(0 0 ? * 3#1,6#3 *)", "day-of-week", "3#1,6#3", "L and # cannot be combined with lists, ranges or steps"},
		{"cron(0 0 ? * 8L *)", "day-of-week", "8", "want 1-7 or SUN-SAT"},
		{"cron(0 0 ? * 1/2 *)", "day-of-week", "1/2", `"/" is not allowed in day-of-week`},
		{"cron(0 0 32W * ? *)", "day-of-month", "32", "want 1-31"},
		{"cron(0 0 W * ? *)", "day-of-month", "W", "missing value; want 1-31"},
		{"cron(0 0 ? * #2 *)", "day-of-week", "#2", "missing value; want 1-7 or SUN-SAT"},
		{"cron(0 0 ? * \u017fun *)", "day-of-week", "\u017fun", "want 1-7 or SUN-SAT"},
		{"cron(0 0 1- * ? *)", "day-of-month", "1-", "missing value; want 1-31"},
		{"cron(0 0 1-5W * ? *)", "day-of-month", "1-5W", "L and W cannot be combined with lists, ranges or steps"},
		{"cron(0 0 L-2 * ? *)", "day-of-month", "L-2", "L and W cannot be combined with lists, ranges or steps"},
		{"cron(0 0 1,L * ? *)", "day-of-month", "1,L", "L and W cannot be combined with lists, ranges or steps"},
		{"cron(0 0 1,? * ? *)", "day-of-month", "1,?", `"?" must be the whole field`},
		{"cron(? 0 1 * ? *)", "minutes", "?", `"?" is only allowed in day-of-month and day-of-week`},
		{"cron(0/60 0 * * ? *)", "minutes", "0/60", "want a step of 1-59"},
		{"cron(0/0 0 * * ? *)", "minutes", "0/0", "want a step of 1-59"},
		{"cron(0/ 0 * * ? *)", "minutes", "0/", "want a step of 1-59"},
		{"cron(1,,2 0 * * ? *)", "minutes", "1,,2", "empty item in list"},
		{"cron(-1 0 * * ? *)", "minutes", "-1", "missing value; want 0-59"},
		{"cron(0 0 * * ?)", "cron", "", "want 6 fields (minutes hours day-of-month month day-of-week year), got 5"},
		{"cron(0 0 0 * * ? *)", "cron", "", "want 6 fields (minutes hours day-of-month month day-of-week year), got 7"},
		{"cron()", "cron", "", "want 6 fields (minutes hours day-of-month month day-of-week year), got 0"},
		{"cron(0 0 * * ? *", "cron", "", `missing the closing ")"`},
		{"rate(1 minutes)", "rate unit", "minutes", `want "minute" when the value is 1`},
		{"rate(1 hours)", "rate unit", "hours", `want "hour" when the value is 1`},
		{"rate(2 minute)", "rate unit", "minute", `want "minutes" when the value is not 1`},
		{"rate(5 day)", "rate unit", "day", `want "days" when the value is not 1`},
		{"rate(0 minutes)", "rate value", "0", "must be at least 1"},
		{"rate(-1 minutes)", "rate value", "-1", "want a positive integer"},
		{"rate(1.5 hours)", "rate value", "1.5", "want a positive integer"},
		{"rate(05 minutes)", "rate value", "05", "want a positive integer without leading zeros"},
		{"rate(5 seconds)", "rate unit", "seconds", "want minute(s), hour(s) or day(s)"},
		{"rate(5 Minutes)", "rate unit", "Minutes", "want minute(s), hour(s) or day(s)"},
		{"rate(2 weeks)", "rate unit", "weeks", "want minute(s), hour(s) or day(s)"},
		{"rate(5  minutes)", "rate", "5  minutes", `want "value unit": a positive integer and minute(s), hour(s) or day(s), separated by one space`},
		{"rate(5minutes)", "rate", "5minutes", `want "value unit": a positive integer and minute(s), hour(s) or day(s), separated by one space`},
		{"rate( 5 minutes)", "rate", " 5 minutes", `want "value unit": a positive integer and minute(s), hour(s) or day(s), separated by one space`},
		{"rate(99999999 days)", "rate value", "99999999", "too large: the interval must be under 292 years"},
		{"at(2026-13-01T00:00:00)", "at", "2026-13-01T00:00:00", "month out of range"},
		{"at(2026-02-30T00:00:00)", "at", "2026-02-30T00:00:00", "day out of range"},
		{"at(2026-01-01T24:00:00)", "at", "2026-01-01T24:00:00", "hour out of range"},
		{"at(2026-01-01 00:00:00)", "at", "2026-01-01 00:00:00", "want yyyy-mm-ddThh:mm:ss"},
		{"at(2026-01-01T00:00:00.5)", "at", "2026-01-01T00:00:00.5", "want yyyy-mm-ddThh:mm:ss"},
		{"at(2026-01-01T00:00)", "at", "2026-01-01T00:00", "want yyyy-mm-ddThh:mm:ss"},
		{"at(2026-01-01T00:00:00Z)", "at", "2026-01-01T00:00:00Z", "want yyyy-mm-ddThh:mm:ss"},
		{"every 5 minutes", "", "", wantForm},
		{"", "", "", wantForm},
		{"Rate(5 minutes)", "", "", wantForm},
		{" cron(0 10 * * ? *)", "", "", wantForm},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := Parse(tt.expr)
			require.Error(t, err)
			require.Nil(t, e)
			var pe *ParseError
			require.True(t, errors.As(err, &pe), "%T", err)
			require.Equal(t, ParseError{Expr: tt.expr, Field: tt.field, Value: tt.value, Reason: tt.reason}, *pe)
		})
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := Parse("cron(0 12 * * * *)")
	require.EqualError(t, err, `schedule expression "cron(0 12 * * * *)": day-of-month and day-of-week: one of them must be "?"`)
	_, err = Parse("cron(0 0 ? * 8 *)")
	require.EqualError(t, err, `schedule expression "cron(0 0 ? * 8 *)": field day-of-week "8": want 1-7 or SUN-SAT`)
	_, err = Parse("rate(1 minutes)")
	require.EqualError(t, err, `schedule expression "rate(1 minutes)": field rate unit "minutes": want "minute" when the value is 1`)
	_, err = Parse("every 5 minutes")
	require.EqualError(t, err, `schedule expression "every 5 minutes": `+wantForm)
}

// Valid forms beyond the documentation's examples.
func TestValid(t *testing.T) {
	for _, s := range []string{
		"cron(0 10 * * ? *)",
		"cron(0\t10  *   * ?\t*)",
		"cron( 0 10 * * ? * )",
		"cron(00 09 01 01 ? 2026)",
		"cron(* * * * ? *)",
		"cron(0 0 ? * * *)",
		"cron(0 0 ? * 1-7 *)",
		"cron(0 0 ? * SUN-SAT *)",
		"cron(0 0 ? * sun,Mon,TUE *)",
		"cron(0 0 ? * 7#5 *)",
		"cron(0 0 ? * 1L *)",
		"cron(0 0 lw * ? *)",
		"cron(0 0 l * ? *)",
		"cron(0 0 31w * ? *)",
		"cron(0 0 */2 * ? *)",
		"cron(0 0 1-31/7 * ? *)",
		"cron(0 0 28-3 * ? *)",
		"cron(0 0 1 NOV-FEB ? *)",
		"cron(0 0 1 */3 ? *)",
		"cron(0 0 1 1 ? 1970)",
		"cron(0 0 1 1 ? 2199)",
		"cron(0 0 1 1 ? 1970-2199/229)",
		"cron(5-55/10 */6 * * ? *)",
		"cron(59 23 * * ? *)",
		"rate(1 minute)",
		"rate(1 hour)",
		"rate(1 day)",
		"rate(10 minutes)",
		"rate(106751 days)",
		"at(1970-01-01T00:00:00)",
		"at(2028-02-29T23:59:59)",
		"at(0001-01-01T00:00:00)",
	} {
		e, err := Parse(s)
		require.NoError(t, err, s)
		require.Equal(t, s, e.String())
	}
}

// Next is safe for concurrent use (cronexpr's Next is not: it writes to
// its expression).
func TestConcurrentNext(t *testing.T) {
	e, err := Parse("cron(0 0 L * ? *)")
	require.NoError(t, err)
	start := utc(t, "2026-01-01 00:00")
	want := e.NextN(start, nil, time.Time{}, 24)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if got := e.NextN(start, nil, time.Time{}, 24); !equalTimes(want, got) {
					t.Errorf("concurrent NextN differs: %v", got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func equalTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// Next from extreme times neither panics nor loops.
func TestExtremeTimes(t *testing.T) {
	for _, s := range []string{"cron(0 10 * * ? *)", "cron(0 0 ? * 6L 2099)", "rate(7 days)", "at(2026-12-25T09:00:00)"} {
		e, err := Parse(s)
		require.NoError(t, err)
		for _, after := range []time.Time{
			{},
			time.Unix(-1<<62, 0),
			time.Unix(1<<62, 0),
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
			time.Date(2099, 12, 31, 23, 59, 0, 0, time.UTC),
		} {
			for _, anchor := range []time.Time{{}, time.Unix(-1<<62, 0), time.Unix(1<<62, 0), utc(t, "2026-01-01 00:00")} {
				got := e.NextN(after, nil, anchor, 3)
				prev := after
				for _, g := range got {
					require.True(t, g.After(prev), "%s after %v anchor %v: %v", s, after, anchor, got)
					prev = g
				}
			}
		}
	}
	e, err := Parse("cron(0 10 * * ? *)")
	require.NoError(t, err)
	require.Equal(t, utc(t, "1970-01-01 10:00"), e.Next(time.Time{}, nil, time.Time{}))
	require.True(t, e.Next(utc(t, "2099-12-31 10:00"), nil, time.Time{}).IsZero())
}
