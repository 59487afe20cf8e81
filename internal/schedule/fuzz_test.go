package schedule

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fuzzSeeds are added in code; more seeds, and any crashers found, are in
// testdata/fuzz/FuzzParse.
var fuzzSeeds = []string{
	"cron(0 10 * * ? *)",
	"cron(0/5 8-17 ? * MON-FRI *)",
	"cron(0 9 ? * 2#1 *)",
	"cron(0 12 ? * 6L *)",
	"cron(0 0 LW * ? *)",
	"cron(0 0 15W * ? *)",
	"cron(* * * * ? 2099-2199)",
	"cron(30 2 * * ? *)",
	"cron(0 22-2 ? * FRI-MON *)",
	"cron(0 0 31 2 ? *)",
	"cron(0 12 * * * *)",
	"cron(0 0 ? * 8 *)",
	"rate(1 minute)",
	"rate(7 days)",
	"rate(106751 days)",
	"rate(1 minutes)",
	"at(2026-11-01T01:30:00)",
	"at(2026-03-08T02:30:00)",
	"at(2026-13-01T00:00:00)",
	"every 5 minutes",
	"",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	zones := []*time.Location{
		time.UTC,
		loadLoc(f, "America/New_York"),
		loadLoc(f, "Europe/Berlin"),
		loadLoc(f, "Australia/Lord_Howe"),
		time.FixedZone("odd", -(3*3600 + 25*60 + 45)),
	}
	afters := []time.Time{
		time.Date(2026, 3, 8, 6, 59, 30, 500, time.UTC),  // New York, just before 02:00 is skipped
		time.Date(2026, 11, 1, 5, 59, 0, 0, time.UTC),    // New York, 01:59 EDT, before the repeat
		time.Date(2026, 10, 24, 23, 30, 0, 0, time.UTC),  // Berlin, before the repeat
		time.Date(2099, 12, 31, 20, 0, 0, 0, time.UTC),   // the end of cronexpr's years
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), // before its first
	}
	anchor := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 4

	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			require.Nil(t, e)
			var pe *ParseError
			require.True(t, errors.As(err, &pe))
			require.Equal(t, s, pe.Expr)
			require.NotEmpty(t, pe.Reason)
			require.NotEmpty(t, err.Error())
			return
		}
		require.Equal(t, s, e.String())
		again, err := Parse(e.String())
		require.NoError(t, err)
		require.Equal(t, e.Kind(), again.Kind())
		require.Equal(t, e.Interval(), again.Interval())
		if e.Kind() == Rate {
			require.Positive(t, e.Interval())
		} else {
			require.Zero(t, e.Interval())
		}

		for _, loc := range zones {
			for _, after := range afters {
				got := e.NextN(after, loc, anchor, n)
				require.LessOrEqual(t, len(got), n)
				prev := after
				for _, g := range got {
					require.True(t, g.After(prev), "%s in %s after %s: %v", s, loc, after, got)
					require.Equal(t, loc, g.Location())
					if e.Kind() == Cron {
						// The wall time matches the fields, and this is
						// its first occurrence.
						w := wallOf(g)
						require.True(t, e.spec.matchWall(w), "%s in %s: %s does not match", s, loc, g)
						r := resolve(w, loc)
						require.True(t, r.ok)
						require.True(t, r.first.Equal(g), "%s in %s: %s is not the first %s", s, loc, g, w)
					}
					prev = g
				}
				// Reproducible, and the same from a second Parse.
				require.Equal(t, got, e.NextN(after, loc, anchor, n))
				require.Equal(t, got, again.NextN(after, loc, anchor, n))
				next := e.Next(after, loc, anchor)
				if len(got) == 0 {
					require.True(t, next.IsZero())
				} else {
					require.Equal(t, got[0], next)
				}
			}
		}
	})
}
