package lambda

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeSandboxes makes the sandboxes of a pool under test, in the manner of
// database/sql's fakedb_test.go. A fake has no instance, only a scratch
// directory, which closing it removes: closed reports which were closed.
type fakeSandboxes struct {
	dir string
	// started receives a value as each creation starts.
	started chan struct{}

	mu sync.Mutex
	// gate, when set, holds each creation until it is closed, or until
	// the creation's context ends unless ignoreCtx is set.
	gate      chan struct{}
	ignoreCtx bool
	// fail, when set, fails the next creation, once past the gate.
	fail error
	made []*sandbox
}

func (fk *fakeSandboxes) newSandbox(ctx context.Context, provisioned bool) (*sandbox, error) {
	fk.mu.Lock()
	gate, ignoreCtx := fk.gate, fk.ignoreCtx
	fk.mu.Unlock()
	select {
	case fk.started <- struct{}{}:
	default:
	}
	if gate != nil {
		if ignoreCtx {
			<-gate
		} else {
			select {
			case <-gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	fk.mu.Lock()
	fail := fk.fail
	fk.fail = nil
	fk.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	dir, err := os.MkdirTemp(fk.dir, "sandbox-")
	if err != nil {
		return nil, err
	}
	sb := &sandbox{tmpDir: dir, provisioned: provisioned}
	fk.mu.Lock()
	fk.made = append(fk.made, sb)
	fk.mu.Unlock()
	return sb, nil
}

// hold makes creations wait for the returned release.
func (fk *fakeSandboxes) hold(ignoreCtx bool) (release func()) {
	gate := make(chan struct{})
	fk.mu.Lock()
	fk.gate, fk.ignoreCtx = gate, ignoreCtx
	fk.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

// failNext makes the next creation fail with err.
func (fk *fakeSandboxes) failNext(err error) {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	fk.fail = err
}

// open returns the fakes made and not closed.
func (fk *fakeSandboxes) open() []*sandbox {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	var out []*sandbox
	for _, sb := range fk.made {
		if _, err := os.Stat(sb.tmpDir); !errors.Is(err, fs.ErrNotExist) {
			out = append(out, sb)
		}
	}
	return out
}

// newFakePool returns a pool configured by c, whose sandboxes are fakes
// and whose clock is a fakeClock, unless c sets them. A zero max means
// DefaultMaxConcurrency. The pool is closed when the test ends, and every
// fake must be closed by then.
func newFakePool(t *testing.T, c poolConfig) (*pool, *fakeSandboxes) {
	t.Helper()
	if c.name == "" {
		c.name = "fake"
	}
	c.arn = "arn:aws:lambda:us-east-1:000000000000:function:" + c.name
	if c.max == 0 {
		c.max = DefaultMaxConcurrency
	}
	fakes := &fakeSandboxes{dir: t.TempDir(), started: make(chan struct{}, 100)}
	if c.newSandbox == nil {
		c.newSandbox = fakes.newSandbox
	}
	if c.clock == nil {
		c.clock = newFakeClock()
	}
	p := newPool(c)
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- p.close(context.Background()) }()
		select {
		case err := <-done:
			require.NoError(t, err)
			require.Empty(t, fakes.open(), "every sandbox is closed with the pool")
		case <-time.After(30 * time.Second):
			t.Error("the pool did not close")
		}
	})
	return p, fakes
}

// eventually waits, without a test's assertions, until ok holds: for use
// from goroutines other than the test's.
func eventually(ok func() bool) {
	for !ok() {
		time.Sleep(time.Millisecond)
	}
}

func (p *pool) locked(fn func() bool) func() bool {
	return func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return fn()
	}
}

// TestPoolGrantToWaiterGivingUp hands a waiter a sandbox, or a slot, just
// as its context ends, and, in the same window, may close the pool. The
// waiter gives the grant back: to the idle list or the slot count of an
// open pool, and out of a closed one, whose Close then returns.
func TestPoolGrantToWaiterGivingUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		grant string // "sandbox": the held one comes back; "slot": it breaks, freeing its slot
		close bool   // the pool closes in the window
	}{
		{"sandbox, pool open", "sandbox", false},
		{"slot, pool open", "slot", false},
		{"sandbox, pool closing", "sandbox", true},
		{"slot, pool closing", "slot", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := 0; round < 200; round++ {
				p, fakes := newFakePool(t, poolConfig{max: 1})
				ctx := context.Background()
				held, err := p.acquire(ctx)
				require.NoError(t, err)

				closed := make(chan error, 1)
				p.testHookWaitEnded = func() {
					// The waiter's context has ended and it has not yet
					// taken the lock: the held sandbox comes back, which
					// grants the waiter a sandbox or a slot, and the pool
					// may close.
					p.release(held, tc.grant == "slot")
					if tc.close {
						go func() { closed <- p.close(ctx) }()
						eventually(p.locked(func() bool { return p.closed }))
					}
				}
				waitCtx, cancel := context.WithCancel(ctx)
				got := make(chan error, 1)
				go func() {
					_, err := p.acquire(waitCtx)
					got <- err
				}()
				require.Eventually(t, p.locked(func() bool { return len(p.waiters) == 1 }), 30*time.Second, time.Millisecond)
				cancel()
				require.ErrorIs(t, <-got, context.Canceled)

				if tc.close {
					select {
					case err := <-closed:
						require.NoError(t, err)
					case <-time.After(30 * time.Second):
						t.Fatal("Close waits for ever for the grant given back")
					}
					require.Empty(t, fakes.open())
				}
				s := p.snapshot()
				switch {
				case tc.close:
					require.Zero(t, s.Open)
					require.Zero(t, s.Idle)
				case tc.grant == "sandbox":
					require.Equal(t, 1, s.Open, "%+v", s)
					require.Equal(t, 1, s.Idle, "the sandbox given back is idle")
				default:
					require.Zero(t, s.Open, "the slot given back is free")
				}
				require.Zero(t, s.InUse)
			}
		})
	}
}

// TestPoolCloseStopsCreations: a Close whose context ends stops the
// sandboxes being created, and returns, rather than wait for them.
func TestPoolCloseStopsCreations(t *testing.T) {
	p, fakes := newFakePool(t, poolConfig{})
	release := fakes.hold(false)
	defer release()
	got := make(chan error, 1)
	go func() {
		_, err := p.acquire(context.Background())
		got <- err
	}()
	<-fakes.started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	closed := make(chan error, 1)
	go func() { closed <- p.close(ctx) }()
	select {
	case err := <-closed:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(30 * time.Second):
		t.Fatal("Close waits for a creation after its context ended")
	}
	require.ErrorIs(t, <-got, context.Canceled)
	require.Zero(t, p.snapshot().Open)
}

// TestPoolCloseAbortsLateSandboxes: a sandbox whose creation completes
// after a Close's context ended is aborted at birth, so that the Close
// does not wait for the invocation it serves.
func TestPoolCloseAbortsLateSandboxes(t *testing.T) {
	p, fakes := newFakePool(t, poolConfig{})
	release := fakes.hold(true)
	defer release()
	type acquired struct {
		sb  *sandbox
		err error
	}
	got := make(chan acquired, 1)
	go func() {
		sb, err := p.acquire(context.Background())
		got <- acquired{sb, err}
	}()
	<-fakes.started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	closed := make(chan error, 1)
	go func() { closed <- p.close(ctx) }()
	require.Eventually(t, p.locked(func() bool { return p.aborting }), 30*time.Second, time.Millisecond)
	release()
	a := <-got
	require.NoError(t, a.err)
	require.True(t, a.sb.wasAborted(), "a sandbox made after the abort is aborted")
	p.release(a.sb, false)
	require.ErrorIs(t, <-closed, context.Canceled)
	require.Empty(t, fakes.open())
}

// fakeClock is a poolClock that moves only when told: Advance runs the
// functions of the timers it passes, in order, before it returns.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at   time.Time
	f    func()
	done bool // fired or stopped
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		stopped := !t.done
		t.done = true
		return stopped
	}
}

// Advance moves the clock forward by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var due *fakeTimer
		for _, t := range c.timers {
			if !t.done && !t.at.After(c.now) && (due == nil || t.at.Before(due.at)) {
				due = t
			}
		}
		if due != nil {
			due.done = true
		}
		c.mu.Unlock()
		if due == nil {
			return
		}
		due.f()
	}
}

// armed returns the number of timers neither fired nor stopped.
func (c *fakeClock) armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.done {
			n++
		}
	}
	return n
}

type acquired struct {
	sb  *sandbox
	err error
}

// goAcquire acquires a sandbox in a goroutine of its own.
func goAcquire(p *pool, ctx context.Context) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		sb, err := p.acquire(ctx)
		ch <- acquired{sb, err}
	}()
	return ch
}

// recv receives from ch, within a generous bound.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("nothing received in 30 s")
		panic("unreachable")
	}
}

// requireBlocked checks that nothing is received from ch yet.
func requireBlocked[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s: got %v", what, v)
	default:
	}
}

// waitWaiters waits until n invocations wait for a sandbox.
func waitWaiters(t *testing.T, p *pool, n int) {
	t.Helper()
	require.Eventually(t, p.locked(func() bool { return len(p.waiters) == n }), 30*time.Second, time.Millisecond, "want %d waiters", n)
}

func (p *pool) fakeClock() *fakeClock { return p.clock.(*fakeClock) }

// TestPoolWaitersServedInOrder: waiters are served first come, first
// served, whether the invocation before hands on its sandbox or, broken,
// frees its slot for the waiter to create one in.
func TestPoolWaitersServedInOrder(t *testing.T) {
	t.Parallel()
	for _, broken := range []bool{false, true} {
		name := map[bool]string{false: "sandbox handed on", true: "slot handed on"}[broken]
		t.Run(name, func(t *testing.T) {
			p, fakes := newFakePool(t, poolConfig{max: 1})
			ctx := context.Background()
			held, err := p.acquire(ctx)
			require.NoError(t, err)
			const n = 5
			var waiting [n]<-chan acquired
			for i := range waiting {
				waiting[i] = goAcquire(p, ctx)
				waitWaiters(t, p, i+1)
			}
			for i := range waiting {
				p.fakeClock().Advance(time.Second)
				p.release(held, broken)
				got := recv(t, waiting[i])
				require.NoError(t, got.err)
				if !broken {
					require.Same(t, held, got.sb, "the sandbox is handed on")
				}
				for _, later := range waiting[i+1:] {
					requireBlocked(t, later, "a later waiter was served first")
				}
				require.Len(t, p.waiters, n-1-i)
				held = got.sb
			}
			p.release(held, false)

			s := p.snapshot()
			want := PoolStats{
				MaxConcurrency: 1, Open: 1, Idle: 1,
				Invocations: 1 + n, ColdStarts: 1, WaitCount: n,
				// Waiter i waited i+1 seconds on the fake clock.
				WaitDuration: (1 + 2 + 3 + 4 + 5) * time.Second,
			}
			if broken {
				want.ColdStarts, want.Discarded = 1+n, n
			}
			require.Equal(t, want, s)
			require.Len(t, fakes.open(), 1)
		})
	}
}

// TestPoolWaiterCancelled ends a waiter's context at every point of the
// hand-off: before a grant, after a sandbox was granted, while it creates a
// sandbox in a granted slot; and fails the creation in a granted slot. A
// grant the waiter cannot use goes to the next waiter; the count of open
// sandboxes stays exact. (A grant that arrives as the waiter gives up is
// TestPoolGrantToWaiterGivingUp's.)
func TestPoolWaiterCancelled(t *testing.T) {
	t.Parallel()
	errInit := &FunctionError{Type: ErrorTypeInit, Message: "Init failed: fake"}
	for _, tc := range []struct {
		name string
		// run makes the first waiter, w1, end as the case says, with a
		// second waiter queued behind it, and returns w1's error.
		run  func(t *testing.T, p *pool, fakes *fakeSandboxes, held *sandbox, w1 <-chan acquired, cancel context.CancelFunc) error
		want PoolStats // with w2 served and every sandbox released
	}{
		{
			name: "before a grant",
			run: func(t *testing.T, p *pool, _ *fakeSandboxes, held *sandbox, w1 <-chan acquired, cancel context.CancelFunc) error {
				cancel()
				err := recv(t, w1).err
				require.Len(t, p.waiters, 1, "the waiter gave up its place")
				p.release(held, false)
				return err
			},
			want: PoolStats{Invocations: 2, ColdStarts: 1, WaitCount: 2},
		},
		{
			name: "after a sandbox was granted",
			run: func(t *testing.T, p *pool, _ *fakeSandboxes, held *sandbox, w1 <-chan acquired, cancel context.CancelFunc) error {
				p.release(held, false)
				got := recv(t, w1)
				require.NoError(t, got.err)
				require.Same(t, held, got.sb)
				cancel() // the sandbox is the caller's now
				p.release(got.sb, false)
				return nil
			},
			want: PoolStats{Invocations: 3, ColdStarts: 1, WaitCount: 2},
		},
		{
			name: "while creating in a granted slot",
			run: func(t *testing.T, p *pool, fakes *fakeSandboxes, held *sandbox, w1 <-chan acquired, cancel context.CancelFunc) error {
				release := fakes.hold(false)
				defer release()
				p.release(held, true)
				<-fakes.started
				cancel()
				err := recv(t, w1).err
				// The slot went to the next waiter, which creates in it.
				<-fakes.started
				release()
				return err
			},
			want: PoolStats{Invocations: 3, ColdStarts: 2, WaitCount: 2, Discarded: 1},
		},
		{
			name: "creation failing in a granted slot",
			run: func(t *testing.T, p *pool, fakes *fakeSandboxes, held *sandbox, w1 <-chan acquired, _ context.CancelFunc) error {
				fakes.failNext(errInit)
				p.release(held, true)
				return recv(t, w1).err
			},
			want: PoolStats{Invocations: 3, ColdStarts: 2, WaitCount: 2, Discarded: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, fakes := newFakePool(t, poolConfig{max: 1})
			ctx := context.Background()
			held, err := p.acquire(ctx)
			require.NoError(t, err)
			<-fakes.started
			ctx1, cancel := context.WithCancel(ctx)
			defer cancel()
			w1 := goAcquire(p, ctx1)
			waitWaiters(t, p, 1)
			w2 := goAcquire(p, ctx)
			waitWaiters(t, p, 2)

			err = tc.run(t, p, fakes, held, w1, cancel)
			switch tc.name {
			case "after a sandbox was granted":
				require.NoError(t, err)
			case "creation failing in a granted slot":
				require.ErrorIs(t, err, errInit)
			default:
				require.ErrorIs(t, err, context.Canceled)
			}
			got := recv(t, w2)
			require.NoError(t, got.err, "the second waiter is served")
			require.Empty(t, p.waiters)
			p.release(got.sb, false)

			want := tc.want
			want.MaxConcurrency, want.Open, want.Idle = 1, 1, 1
			require.Equal(t, want, p.snapshot())
			require.Len(t, fakes.open(), 1)
		})
	}
}

// TestPoolCreationFails: a creation that fails, with no one waiting, frees
// its slot.
func TestPoolCreationFails(t *testing.T) {
	t.Parallel()
	p, fakes := newFakePool(t, poolConfig{max: 1})
	errInit := &FunctionError{Type: ErrorTypeInit, Message: "Init failed: fake"}
	fakes.failNext(errInit)
	_, err := p.acquire(context.Background())
	require.ErrorIs(t, err, errInit)
	require.Equal(t, PoolStats{MaxConcurrency: 1, Invocations: 1}, p.snapshot())
	sb, err := p.acquire(context.Background())
	require.NoError(t, err, "the slot is free again")
	p.release(sb, false)
}

// TestPoolClose closes a pool in each state it can be in: Close fails the
// waiters at once, waits for the sandboxes in use and those being created,
// and closes every sandbox; when its context ends it aborts what runs.
func TestPoolClose(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	// closing starts p.close(ctx) and waits until the pool refuses work.
	closing := func(t *testing.T, p *pool, ctx context.Context) <-chan error {
		closed := make(chan error, 1)
		go func() { closed <- p.close(ctx) }()
		require.Eventually(t, p.locked(func() bool { return p.closed }), 30*time.Second, time.Millisecond)
		return closed
	}
	t.Run("with waiters", func(t *testing.T) {
		p, fakes := newFakePool(t, poolConfig{max: 1})
		held, err := p.acquire(bg)
		require.NoError(t, err)
		w1 := goAcquire(p, bg)
		waitWaiters(t, p, 1)
		w2 := goAcquire(p, bg)
		waitWaiters(t, p, 2)
		closed := closing(t, p, bg)
		for _, w := range []<-chan acquired{w1, w2} {
			require.ErrorIs(t, recv(t, w).err, ErrClosed, "a waiter is refused at once")
		}
		requireBlocked(t, closed, "Close returned with a sandbox in use")
		_, err = p.acquire(bg)
		require.ErrorIs(t, err, ErrClosed)
		p.release(held, false)
		require.NoError(t, recv(t, closed))
		require.Empty(t, fakes.open())
		require.Equal(t, PoolStats{MaxConcurrency: 1, Invocations: 1, ColdStarts: 1, WaitCount: 2}, p.snapshot())
	})
	t.Run("with sandboxes in use", func(t *testing.T) {
		p, fakes := newFakePool(t, poolConfig{max: 3})
		var sbs []*sandbox
		for i := 0; i < 3; i++ {
			sb, err := p.acquire(bg)
			require.NoError(t, err)
			sbs = append(sbs, sb)
		}
		p.release(sbs[0], false)
		closed := closing(t, p, bg)
		require.Eventually(t, func() bool { return len(fakes.open()) == 2 }, 30*time.Second, time.Millisecond, "the idle sandbox is closed at once")
		p.release(sbs[1], false)
		require.Len(t, fakes.open(), 1, "a sandbox released after Close is closed, not kept")
		requireBlocked(t, closed, "Close returned with a sandbox in use")
		p.release(sbs[2], false)
		require.NoError(t, recv(t, closed))
		require.Empty(t, fakes.open())
		require.Equal(t, PoolStats{MaxConcurrency: 3, Invocations: 3, ColdStarts: 3}, p.snapshot())
	})
	t.Run("with a creation in flight", func(t *testing.T) {
		p, fakes := newFakePool(t, poolConfig{})
		release := fakes.hold(false)
		defer release()
		got := goAcquire(p, bg)
		<-fakes.started
		closed := closing(t, p, bg)
		requireBlocked(t, closed, "Close returned with a creation in flight")
		release()
		a := recv(t, got)
		require.NoError(t, a.err, "the creation under way completes")
		requireBlocked(t, closed, "Close returned with a sandbox in use")
		p.release(a.sb, false)
		require.NoError(t, recv(t, closed))
		require.Empty(t, fakes.open())
	})
	t.Run("with a replenishment in flight", func(t *testing.T) {
		p, fakes := newFakePool(t, poolConfig{max: 2, minWarm: 1})
		require.NoError(t, p.prewarm(bg))
		<-fakes.started
		sb, err := p.acquire(bg)
		require.NoError(t, err)
		release := fakes.hold(true)
		defer release()
		p.release(sb, true) // replenished in the background
		<-fakes.started
		closed := closing(t, p, bg)
		requireBlocked(t, closed, "Close returned with a replenishment in flight")
		release()
		require.NoError(t, recv(t, closed))
		require.Empty(t, fakes.open(), "the sandbox made after Close is closed")
		require.Equal(t, PoolStats{MaxConcurrency: 2, MinWarm: 1, Invocations: 1, ColdStarts: 2, Discarded: 1}, p.snapshot())
	})
	t.Run("context ending", func(t *testing.T) {
		p, fakes := newFakePool(t, poolConfig{})
		held, err := p.acquire(bg)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(bg)
		closed := closing(t, p, ctx)
		requireBlocked(t, closed, "Close returned with a sandbox in use")
		require.False(t, held.wasAborted())
		cancel()
		require.Eventually(t, held.wasAborted, 30*time.Second, time.Millisecond, "the invocation running is aborted")
		// It is not cut off: it waits for the aborted invocation to stop.
		requireBlocked(t, closed, "Close returned with an aborted sandbox in use")
		p.release(held, true)
		require.ErrorIs(t, recv(t, closed), context.Canceled)
		require.Empty(t, fakes.open())
	})
	t.Run("twice", func(t *testing.T) {
		p, _ := newFakePool(t, poolConfig{})
		require.NoError(t, p.close(bg))
		require.NoError(t, p.close(bg))
	})
}

// TestPoolMinWarm: MinWarm sandboxes are made ahead, provisioned, and made
// again in the background when one is discarded.
func TestPoolMinWarm(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	t.Run("prewarm and replenish", func(t *testing.T) {
		p, fakes := newFakePool(t, poolConfig{max: 5, minWarm: 3})
		require.NoError(t, p.prewarm(bg))
		require.Equal(t, PoolStats{MaxConcurrency: 5, MinWarm: 3, Open: 3, Idle: 3, ColdStarts: 3}, p.snapshot())
		for _, sb := range fakes.open() {
			require.True(t, sb.provisioned)
		}

		sb, err := p.acquire(bg)
		require.NoError(t, err)
		require.Equal(t, PoolStats{MaxConcurrency: 5, MinWarm: 3, Open: 3, InUse: 1, Idle: 2, Invocations: 1, ColdStarts: 3}, p.snapshot(),
			"a provisioned sandbox serves the first call warm")
		p.release(sb, true)
		require.Eventually(t, p.locked(func() bool { return len(p.idle) == 3 }), 30*time.Second, time.Millisecond, "the discarded sandbox is replaced")
		require.Equal(t, PoolStats{MaxConcurrency: 5, MinWarm: 3, Open: 3, Idle: 3, Invocations: 1, ColdStarts: 4, Discarded: 1}, p.snapshot())
		open := fakes.open()
		require.Len(t, open, 3)
		for _, sb := range open {
			require.True(t, sb.provisioned, "a replacement is provisioned too")
		}
	})
	t.Run("prewarm fails", func(t *testing.T) {
		p, fakes := newFakePool(t, poolConfig{max: 5, minWarm: 3})
		errInit := &FunctionError{Type: ErrorTypeInit, Message: "Init failed: fake"}
		fakes.failNext(errInit)
		require.ErrorIs(t, p.prewarm(bg), errInit)
		require.Equal(t, PoolStats{MaxConcurrency: 5, MinWarm: 3}, p.snapshot())
	})
	t.Run("replenishment fails", func(t *testing.T) {
		p, fakes := newFakePool(t, poolConfig{max: 5, minWarm: 1})
		require.NoError(t, p.prewarm(bg))
		sb, err := p.acquire(bg)
		require.NoError(t, err)
		fakes.failNext(errors.New("fake"))
		p.release(sb, true)
		require.Eventually(t, p.locked(func() bool { return p.numOpen == 0 && p.creating == 0 }), 30*time.Second, time.Millisecond, "the failed creation frees its slot")
		require.Equal(t, PoolStats{MaxConcurrency: 5, MinWarm: 1, Invocations: 1, ColdStarts: 1, Discarded: 1}, p.snapshot())
	})
}

// TestPoolIdleTimeout runs the janitor on a fake clock: a sandbox idle for
// IdleTimeout is closed, oldest first, MinWarm excepted, and the janitor is
// armed only while an idle sandbox may expire.
func TestPoolIdleTimeout(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	const timeout = 10 * time.Minute
	t.Run("expires oldest first and keeps MinWarm", func(t *testing.T) {
		p, fakes := newFakePool(t, poolConfig{max: 3, minWarm: 1, idleTimeout: timeout})
		clk := p.fakeClock()
		require.NoError(t, p.prewarm(bg))
		require.Zero(t, clk.armed(), "MinWarm sandboxes never expire: no janitor")
		var sbs []*sandbox
		for i := 0; i < 3; i++ {
			sb, err := p.acquire(bg)
			require.NoError(t, err)
			sbs = append(sbs, sb)
		}
		for _, sb := range sbs { // idle at 0, 1 and 2 minutes
			p.release(sb, false)
			clk.Advance(time.Minute)
		}
		require.Equal(t, 1, clk.armed(), "one janitor, for the oldest")

		clk.Advance(timeout - 3*time.Minute - 1) // just before the first expires
		require.Equal(t, 3, p.snapshot().Idle)
		require.Zero(t, p.snapshot().IdleClosed)

		clk.Advance(1)
		require.Equal(t, PoolStats{MaxConcurrency: 3, MinWarm: 1, Open: 2, Idle: 2, Invocations: 3, ColdStarts: 3, IdleClosed: 1}, p.snapshot())
		require.NotContains(t, fakes.open(), sbs[0], "the oldest went first")
		require.Equal(t, 1, clk.armed(), "armed again for the next")

		clk.Advance(time.Minute)
		require.Equal(t, PoolStats{MaxConcurrency: 3, MinWarm: 1, Open: 1, Idle: 1, Invocations: 3, ColdStarts: 3, IdleClosed: 2}, p.snapshot())
		require.Equal(t, []*sandbox{sbs[2]}, fakes.open())
		require.Zero(t, clk.armed(), "only MinWarm is left: the janitor stops")

		clk.Advance(24 * time.Hour)
		require.Equal(t, 1, p.snapshot().Open, "MinWarm is kept")
	})
	t.Run("a sandbox used again starts over", func(t *testing.T) {
		p, fakes := newFakePool(t, poolConfig{idleTimeout: timeout})
		clk := p.fakeClock()
		sb, err := p.acquire(bg)
		require.NoError(t, err)
		p.release(sb, false)
		clk.Advance(timeout / 2)
		got, err := p.acquire(bg)
		require.NoError(t, err)
		require.Same(t, sb, got)
		clk.Advance(timeout / 2)
		require.Zero(t, clk.armed(), "the janitor found nothing idle and stopped")
		p.release(got, false)
		clk.Advance(timeout - 1)
		require.Len(t, fakes.open(), 1)
		clk.Advance(1)
		require.Empty(t, fakes.open())
		require.Equal(t, PoolStats{MaxConcurrency: DefaultMaxConcurrency, Invocations: 2, ColdStarts: 1, IdleClosed: 1}, p.snapshot())
		require.Zero(t, clk.armed())
	})
	t.Run("kept forever", func(t *testing.T) {
		p, _ := newFakePool(t, poolConfig{idleTimeout: -1})
		clk := p.fakeClock()
		sb, err := p.acquire(bg)
		require.NoError(t, err)
		p.release(sb, false)
		require.Zero(t, clk.armed())
		clk.Advance(24 * time.Hour)
		require.Equal(t, 1, p.snapshot().Idle)
	})
	t.Run("close stops the janitor", func(t *testing.T) {
		p, fakes := newFakePool(t, poolConfig{idleTimeout: timeout})
		clk := p.fakeClock()
		sb, err := p.acquire(bg)
		require.NoError(t, err)
		p.release(sb, false)
		require.Equal(t, 1, clk.armed())
		require.NoError(t, p.close(bg))
		require.Zero(t, clk.armed())
		require.Empty(t, fakes.open())
		require.Zero(t, p.snapshot().IdleClosed)
	})
	t.Run("the system clock", func(t *testing.T) {
		p, fakes := newFakePool(t, poolConfig{idleTimeout: time.Millisecond, clock: systemClock{}})
		sb, err := p.acquire(bg)
		require.NoError(t, err)
		p.release(sb, false)
		require.Eventually(t, func() bool { return p.snapshot().IdleClosed == 1 }, 30*time.Second, time.Millisecond)
		require.Empty(t, fakes.open())
		require.Eventually(t, p.locked(func() bool { return !p.janitorArmed }), 30*time.Second, time.Millisecond)
	})
}

// TestPoolRecyclesAfterMaxUses: a sandbox is closed after MaxUses
// invocations, and the next gets a new one.
func TestPoolRecyclesAfterMaxUses(t *testing.T) {
	t.Parallel()
	p, fakes := newFakePool(t, poolConfig{maxUses: 3})
	var made []*sandbox
	var uses []int
	for i := 0; i < 7; i++ {
		sb, err := p.acquire(context.Background())
		require.NoError(t, err)
		if len(made) == 0 || made[len(made)-1] != sb {
			made = append(made, sb)
		}
		uses = append(uses, sb.uses+1)
		p.release(sb, false)
	}
	require.Equal(t, []int{1, 2, 3, 1, 2, 3, 1}, uses)
	require.Len(t, made, 3)
	require.Equal(t, []*sandbox{made[2]}, fakes.open(), "the used-up sandboxes are closed")
	require.Equal(t, PoolStats{MaxConcurrency: DefaultMaxConcurrency, Open: 1, Idle: 1, Invocations: 7, ColdStarts: 3, Recycled: 2}, p.snapshot())
}

// TestPoolThrottles: with ThrottleWhenBusy, an invocation that finds every
// sandbox busy fails at once with ErrThrottled rather than wait.
func TestPoolThrottles(t *testing.T) {
	t.Parallel()
	p, _ := newFakePool(t, poolConfig{name: "busy", max: 2, throttle: true})
	bg := context.Background()
	a, err := p.acquire(bg)
	require.NoError(t, err)
	b, err := p.acquire(bg)
	require.NoError(t, err)
	_, err = p.acquire(bg)
	require.ErrorIs(t, err, ErrThrottled)
	var se *ServiceError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 429, se.StatusCode)
	require.Contains(t, se.Message, "busy", "the error names the function")
	require.Equal(t, PoolStats{MaxConcurrency: 2, Open: 2, InUse: 2, Invocations: 2, ColdStarts: 2, Throttles: 1}, p.snapshot())
	p.release(a, false)
	c, err := p.acquire(bg)
	require.NoError(t, err, "a freed sandbox serves the next")
	require.Same(t, a, c)
	p.release(b, false)
	p.release(c, false)
	require.Equal(t, PoolStats{MaxConcurrency: 2, Open: 2, Idle: 2, Invocations: 3, ColdStarts: 2, Throttles: 1}, p.snapshot())
}

// TestPoolOneShot: a one-shot pool's idle slots count as neither open nor
// idle, a run counts its own cold start, and a broken run keeps its slot.
func TestPoolOneShot(t *testing.T) {
	t.Parallel()
	p, fakes := newFakePool(t, poolConfig{oneShot: true})
	sb, err := p.acquire(context.Background())
	require.NoError(t, err)
	p.countColdStart()
	p.release(sb, true)
	require.Equal(t, PoolStats{MaxConcurrency: DefaultMaxConcurrency, Invocations: 1, ColdStarts: 1, Discarded: 1}, p.snapshot())
	require.Len(t, fakes.open(), 1, "the slot keeps its /tmp")
}
