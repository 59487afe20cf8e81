package lambda

import (
	"context"
	"sync"
	"time"
)

// PoolStats is a snapshot of a function's sandbox pool, in the manner of
// database/sql's DBStats: plain numbers a dashboard can print.
type PoolStats struct {
	// MaxConcurrency is the cap on open sandboxes.
	MaxConcurrency int
	// MinWarm is the number of sandboxes kept initialised.
	MinWarm int

	// Open is the number of sandboxes open or being initialised. In
	// compatibility mode a sandbox is open only while a command runs: no
	// instance is open or idle between one-shot runs.
	Open int
	// InUse is the number serving an invocation.
	InUse int
	// Idle is the number warm and waiting.
	Idle int

	// Invocations counts invocations that got a sandbox.
	Invocations int64
	// ColdStarts counts instances initialised, MinWarm ones included. In
	// compatibility mode every invocation is one.
	ColdStarts int64
	// WaitCount counts invocations that waited for a sandbox.
	WaitCount int64
	// WaitDuration is the total time spent waiting.
	WaitDuration time.Duration
	// Throttles counts invocations refused with ErrThrottled.
	Throttles int64
	// Discarded counts sandboxes dropped because they trapped, timed out,
	// exited or hit their memory limit. In compatibility mode it counts the
	// runs that trapped, timed out or hit their memory limit; a non-zero
	// exit status is the command's error reply and does not count.
	Discarded int64
	// Recycled counts sandboxes closed after MaxUses invocations.
	Recycled int64
	// IdleClosed counts sandboxes closed after IdleTimeout.
	IdleClosed int64
}

// Stats returns a snapshot of the function's pool.
func (f *Function) Stats() PoolStats { return f.pool.snapshot() }

func (p *pool) snapshot() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.MaxConcurrency = p.max
	s.MinWarm = p.minWarm
	s.Open = p.numOpen
	s.Idle = len(p.idle)
	s.InUse = p.numOpen - len(p.idle) - p.creating
	if p.oneShot {
		// An idle slot holds only the /tmp of one-shot runs to come.
		s.Open -= s.Idle
		s.Idle = 0
	}
	return s
}

// poolConfig is what a pool is made of: its limits, the names its errors
// give, and the factory of its sandboxes.
type poolConfig struct {
	// name and arn name the function in errors.
	name, arn string

	max         int // MaxConcurrency
	minWarm     int
	maxUses     int           // 0: no limit
	idleTimeout time.Duration // 0 or less: idle sandboxes are kept
	throttle    bool          // ThrottleWhenBusy
	// oneShot pools hold slots for one-shot commands, whose idle slot
	// holds only the /tmp of runs to come.
	oneShot bool

	// newSandbox makes a sandbox: Function.newSandbox, or a fake in tests.
	newSandbox func(ctx context.Context, provisioned bool) (*sandbox, error)
	// clock is the time the pool reads. Nil means the system's.
	clock poolClock
}

// poolClock is the time a pool reads: the system's, or a fake in tests.
type poolClock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed, unless
	// stop is called first; stop reports whether it stopped the call.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// pool holds a function's sandboxes. Waiters queue on channels, in order,
// as database/sql's connection requests do.
type pool struct {
	poolConfig

	mu       sync.Mutex
	all      map[*sandbox]struct{} // every sandbox open
	idle     []*sandbox            // by the time each went idle, oldest first
	numOpen  int                   // idle + in use + being created
	creating int
	waiters  []chan grant
	closed   bool
	drained  chan struct{} // closed when numOpen reaches 0 after close
	stats    PoolStats

	// The janitor is a timer, armed while an idle sandbox may expire: as
	// database/sql's connection cleaner, it runs only while there is
	// something to clean, so that an idle function costs no goroutine.
	// stopJanitor stops the armed timer.
	janitorArmed bool
	stopJanitor  func() bool

	// wg counts the replenishing creations and the armed janitor.
	wg sync.WaitGroup

	// aborting is set when a close's context has ended: a sandbox created
	// from then on is aborted at birth. abortCreate cancels quit, which
	// stops the creations under way.
	aborting    bool
	quit        context.Context
	abortCreate context.CancelFunc

	// testHookWaitEnded, when set, is called as a waiter whose context
	// ended gives up, before it takes the pool's lock. Nil outside tests.
	testHookWaitEnded func()
}

// grant hands a waiter either a sandbox or, with sb nil and err nil, the
// right to create one.
type grant struct {
	sb  *sandbox
	err error
}

func newPool(c poolConfig) *pool {
	if c.clock == nil {
		c.clock = systemClock{}
	}
	p := &pool{
		poolConfig: c,
		all:        map[*sandbox]struct{}{},
		drained:    make(chan struct{}),
	}
	p.quit, p.abortCreate = context.WithCancel(context.Background())
	return p
}

// prewarm initialises MinWarm sandboxes.
func (p *pool) prewarm(ctx context.Context) error {
	for i := 0; i < p.minWarm; i++ {
		p.mu.Lock()
		p.numOpen++
		p.creating++
		p.mu.Unlock()
		sb, err := p.create(ctx, true)
		p.mu.Lock()
		p.creating--
		if err != nil {
			p.numOpen--
			p.mu.Unlock()
			return err
		}
		p.putIdleLocked(sb)
		p.mu.Unlock()
	}
	return nil
}

// create makes a sandbox. It is called with a slot already counted in
// numOpen. A close whose context has ended stops the creation, and aborts
// a sandbox that is made all the same.
func (p *pool) create(ctx context.Context, provisioned bool) (*sandbox, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.quit, cancel)()
	sb, err := p.newSandbox(ctx, provisioned)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.all[sb] = struct{}{}
	if !p.oneShot {
		// A one-shot run counts its own, in countColdStart.
		p.stats.ColdStarts++
	}
	if p.aborting {
		sb.abort()
	}
	p.mu.Unlock()
	return sb, nil
}

// countColdStart counts a one-shot command instance.
func (p *pool) countColdStart() {
	p.mu.Lock()
	p.stats.ColdStarts++
	p.mu.Unlock()
}

// acquire returns a sandbox for one invocation, and whether it is new.
func (p *pool) acquire(ctx context.Context) (*sandbox, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, serviceError(ErrClosed, "Function not found: %s (closed)", p.arn)
	}
	if n := len(p.idle); n > 0 {
		sb := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.stats.Invocations++
		p.mu.Unlock()
		return sb, nil
	}
	if p.numOpen < p.max {
		p.numOpen++
		p.stats.Invocations++
		p.mu.Unlock()
		return p.createForCaller(ctx)
	}
	if p.throttle {
		p.stats.Throttles++
		p.mu.Unlock()
		return nil, serviceError(ErrThrottled, "Rate Exceeded. Function %s is running at its MaxConcurrency of %d.", p.name, p.max)
	}
	ch := make(chan grant, 1)
	p.waiters = append(p.waiters, ch)
	p.stats.WaitCount++
	p.mu.Unlock()

	start := p.clock.Now()
	select {
	case g := <-ch:
		p.mu.Lock()
		p.stats.WaitDuration += p.clock.Now().Sub(start)
		if g.err == nil {
			p.stats.Invocations++
		}
		p.mu.Unlock()
		if g.err != nil || g.sb != nil {
			return g.sb, g.err
		}
		return p.createForCaller(ctx)
	case <-ctx.Done():
		if p.testHookWaitEnded != nil {
			p.testHookWaitEnded()
		}
		p.mu.Lock()
		p.stats.WaitDuration += p.clock.Now().Sub(start)
		removed := p.removeWaiterLocked(ch)
		p.mu.Unlock()
		if !removed {
			// A grant is on its way or already sent: hand it back. The
			// pool may have closed meanwhile.
			if g := <-ch; g.err == nil {
				if g.sb != nil {
					p.putBack(g.sb, false)
				} else {
					p.mu.Lock()
					p.numOpen--
					p.grantSlotLocked()
					p.checkDrainedLocked()
					p.mu.Unlock()
				}
			}
		}
		return nil, ctx.Err()
	}
}

func (p *pool) createForCaller(ctx context.Context) (*sandbox, error) {
	p.mu.Lock()
	p.creating++
	p.mu.Unlock()
	sb, err := p.create(ctx, false)
	p.mu.Lock()
	p.creating--
	if err != nil {
		p.numOpen--
		p.grantSlotLocked()
		p.checkDrainedLocked()
	}
	p.mu.Unlock()
	return sb, err
}

func (p *pool) removeWaiterLocked(ch chan grant) bool {
	for i, w := range p.waiters {
		if w == ch {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// release returns a sandbox after an invocation. A broken sandbox is
// closed and never reused.
func (p *pool) release(sb *sandbox, broken bool) {
	sb.uses++
	p.putBack(sb, broken)
}

// putBack returns a sandbox to the pool: to the first waiter or the idle
// list, or, when it is broken, used up or the pool is closed, out of the
// count and closed.
func (p *pool) putBack(sb *sandbox, broken bool) {
	p.mu.Lock()
	if broken && p.oneShot {
		// A command's instance went with its run. Its slot keeps /tmp for
		// the next one, as AWS's reset after a crash or timeout keeps it.
		p.stats.Discarded++
		broken = false
	}
	switch {
	case broken:
		p.stats.Discarded++
	case p.maxUses > 0 && sb.uses >= p.maxUses:
		p.stats.Recycled++
	case p.closed:
	default:
		p.putIdleLocked(sb)
		p.mu.Unlock()
		return
	}
	p.numOpen--
	delete(p.all, sb)
	p.grantSlotLocked()
	p.replenishLocked()
	p.checkDrainedLocked()
	p.mu.Unlock()
	sb.close()
}

// putIdleLocked hands sb to the first waiter, or keeps it idle.
func (p *pool) putIdleLocked(sb *sandbox) {
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- grant{sb: sb}
		return
	}
	sb.lastUsed = p.clock.Now()
	p.idle = append(p.idle, sb)
	p.armJanitorLocked()
}

// grantSlotLocked lets the first waiter create a sandbox in a freed slot.
func (p *pool) grantSlotLocked() {
	if p.closed || len(p.waiters) == 0 || p.numOpen >= p.max {
		return
	}
	ch := p.waiters[0]
	p.waiters = p.waiters[1:]
	p.numOpen++
	ch <- grant{}
}

// replenishLocked starts initialising sandboxes in the background until
// MinWarm are open again.
func (p *pool) replenishLocked() {
	for !p.closed && p.numOpen < p.minWarm {
		p.numOpen++
		p.creating++
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), InitTimeout)
			sb, err := p.create(ctx, true)
			cancel()
			p.mu.Lock()
			p.creating--
			if err != nil || p.closed {
				p.numOpen--
				if sb != nil {
					delete(p.all, sb)
				}
				p.checkDrainedLocked()
				p.mu.Unlock()
				if sb != nil {
					// Before Done: close waits for it.
					sb.close()
				}
				return
			}
			p.putIdleLocked(sb)
			p.mu.Unlock()
		}()
	}
}

// expiringLocked reports whether an idle sandbox may expire: one is idle,
// and more than MinWarm are open.
func (p *pool) expiringLocked() bool {
	return p.idleTimeout > 0 && len(p.idle) > 0 && p.numOpen > p.minWarm
}

// armJanitorLocked arms the janitor for the oldest idle sandbox's expiry,
// unless it is armed already or none may expire.
func (p *pool) armJanitorLocked() {
	if p.janitorArmed || p.closed || !p.expiringLocked() {
		return
	}
	p.janitorArmed = true
	p.wg.Add(1)
	p.stopJanitor = p.clock.AfterFunc(p.idle[0].lastUsed.Add(p.idleTimeout).Sub(p.clock.Now()), p.janitor)
}

// janitor closes the sandboxes idle past the idle timeout, keeping MinWarm,
// and arms itself again for the next expiry, if any.
func (p *pool) janitor() {
	defer p.wg.Done()
	var expired []*sandbox
	p.mu.Lock()
	p.janitorArmed = false
	if !p.closed {
		now := p.clock.Now()
		// idle is ordered by the time each went idle, oldest first.
		for p.expiringLocked() && !now.Before(p.idle[0].lastUsed.Add(p.idleTimeout)) {
			expired = append(expired, p.idle[0])
			delete(p.all, p.idle[0])
			p.idle[0] = nil
			p.idle = p.idle[1:]
			p.numOpen--
			p.stats.IdleClosed++
		}
		p.armJanitorLocked()
	}
	p.mu.Unlock()
	for _, sb := range expired {
		sb.close()
	}
}

func (p *pool) checkDrainedLocked() {
	if p.closed && p.numOpen == 0 {
		select {
		case <-p.drained:
		default:
			close(p.drained)
		}
	}
}

// close stops new invocations, fails the waiters, waits for the sandboxes
// in use and closes all of them. When ctx ends first, it aborts the
// invocations still running, stops the sandboxes still being created and
// aborts those made all the same, and then waits only for them to stop.
func (p *pool) close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.janitorArmed && p.stopJanitor() {
		p.janitorArmed = false
		p.wg.Done()
	}
	for _, ch := range p.waiters {
		ch <- grant{err: serviceError(ErrClosed, "Function not found: %s (closed)", p.arn)}
	}
	p.waiters = nil
	idle := p.idle
	p.idle = nil
	p.numOpen -= len(idle)
	for _, sb := range idle {
		delete(p.all, sb)
	}
	p.checkDrainedLocked()
	p.mu.Unlock()
	for _, sb := range idle {
		sb.close()
	}
	var err error
	select {
	case <-p.drained:
	case <-ctx.Done():
		// Abort what still runs, and what is still being created. A
		// guest stops at its next loop or call, and a sleeping one
		// wakes, so the drain below is short. It is not cut off at a
		// deadline: the module is closed next, and never while a call
		// runs in it.
		err = ctx.Err()
		p.mu.Lock()
		p.aborting = true
		for sb := range p.all {
			sb.abort()
		}
		p.mu.Unlock()
		p.abortCreate()
		<-p.drained
	}
	p.abortCreate()
	p.wg.Wait()
	return err
}
