package schedule

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
)

// FuzzScheduleConfig: a schedule's settings come from a user's config (the
// CLI's YAML among them). What Start checks before it starts anything, the
// expression, time zone and the other fields, never panics, refuses only
// with a lambda.ErrInvalidConfig, and what it accepts holds every bound.
func FuzzScheduleConfig(f *testing.F) {
	f.Add("rate(5 minutes)", "", int64(0), int64(0), int64(0), 0, []byte(nil))
	f.Add("cron(0 12 * * ? *)", "Europe/Berlin", int64(15*time.Minute), int64(1700000000), int64(1800000000), 1, []byte(`{"a":1}`))
	f.Add("at(2030-01-02T03:04:05)", "America/New_York", int64(MaxFlexibleWindow), int64(0), int64(1800000000), 0, []byte(`[]`))
	f.Add("rate(1 hour)", "../etc/passwd", int64(MaxFlexibleWindow+1), int64(1800000000), int64(1700000000), 2, []byte(`{`))
	f.Add("cron(0/15 * ? * MON-FRI *)", "Not/AZone", int64(-1), int64(5), int64(5), -1, []byte("\xff"))
	f.Fuzz(func(t *testing.T, expr, tz string, flex, start, end int64, missed int, input []byte) {
		if len(tz) > 64 {
			return // time.LoadLocation reads the file system by this name
		}
		s := &Schedule{
			Expression:     expr,
			Timezone:       tz,
			FlexibleWindow: time.Duration(flex),
			Missed:         MissedFirings(missed),
			Input:          input,
		}
		if start != 0 {
			s.StartDate = time.Unix(start, 0)
		}
		if end != 0 {
			s.EndDate = time.Unix(end, 0)
		}
		_, loc, err := parseSchedule(s.Expression, s.Timezone)
		if err == nil {
			require.NotNil(t, loc)
			err = s.validate()
		}
		if err != nil {
			require.True(t, errors.Is(err, lambda.ErrInvalidConfig), "%v", err)
			return
		}
		require.True(t, flex >= 0 && time.Duration(flex) <= MaxFlexibleWindow, "FlexibleWindow %d", flex)
		require.True(t, start == 0 || end == 0 || end > start, "StartDate %d, EndDate %d", start, end)
		require.True(t, s.Missed == FireOnce || s.Missed == SkipMissed, "Missed %d", missed)
		require.True(t, len(input) == 0 || json.Valid(input), "Input %q", input)
	})
}
