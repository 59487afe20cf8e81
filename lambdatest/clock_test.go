package lambdatest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmlambda/lambda/lambdatest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// fired reports the time a timer fired at, if it has.
func fired(c <-chan time.Time) (time.Time, bool) {
	select {
	case at := <-c:
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestManualClockFiresWhenMoved(t *testing.T) {
	t.Parallel()
	c := lambdatest.NewManualClock(t0)
	require.Equal(t, t0, c.Now())
	early, late := c.NewTimer(time.Minute), c.NewTimer(time.Hour)
	require.Equal(t, 2, c.Timers())
	next, ok := c.NextTimer()
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Minute), next)

	c.Advance(59 * time.Second)
	_, ok = fired(early.C())
	require.False(t, ok, "not due yet")

	c.Advance(2 * time.Minute)
	at, ok := fired(early.C())
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Minute), at, "a timer receives the time it was due")
	require.False(t, early.Stop(), "it had fired")
	require.Equal(t, 1, c.Timers())

	require.True(t, late.Stop(), "it had not fired")
	require.Zero(t, c.Timers())
	_, ok = c.NextTimer()
	require.False(t, ok)
	c.Set(t0.Add(2 * time.Hour))
	_, ok = fired(late.C())
	require.False(t, ok, "a stopped timer never fires")
}

func TestManualClockSetBackFiresNothing(t *testing.T) {
	t.Parallel()
	c := lambdatest.NewManualClock(t0)
	tm := c.NewTimer(time.Minute)
	c.Set(t0.Add(-time.Hour))
	_, ok := fired(tm.C())
	require.False(t, ok)
	require.Equal(t, t0.Add(-time.Hour), c.Now())
	c.Set(t0.Add(time.Minute))
	at, ok := fired(tm.C())
	require.True(t, ok, "due at its time, not after a duration from now")
	require.Equal(t, t0.Add(time.Minute), at)
}

func TestManualClockTimerNotInTheFutureFiresAtOnce(t *testing.T) {
	t.Parallel()
	c := lambdatest.NewManualClock(t0)
	for _, d := range []time.Duration{0, -time.Second} {
		at, ok := fired(c.NewTimer(d).C())
		require.True(t, ok, "d=%v", d)
		require.Equal(t, t0, at)
	}
	require.Zero(t, c.Timers())
}

func TestManualClockWaitTimers(t *testing.T) {
	t.Parallel()
	c := lambdatest.NewManualClock(t0)
	armed := make(chan error, 1)
	go func() { armed <- c.WaitTimers(context.Background(), 2) }()
	c.NewTimer(time.Second)
	c.NewTimer(time.Second)
	require.NoError(t, <-armed)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.WaitTimers(ctx, 3)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "wait for 3 timers, have 2")
}
