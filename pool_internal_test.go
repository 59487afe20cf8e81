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
	made      []*sandbox
}

func (fk *fakeSandboxes) newSandbox(ctx context.Context, _ bool) (*sandbox, error) {
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
	dir, err := os.MkdirTemp(fk.dir, "sandbox-")
	if err != nil {
		return nil, err
	}
	sb := &sandbox{tmpDir: dir}
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

// newFakePool returns the pool of a function configured by cfg, whose
// sandboxes are fakes. The pool is closed when the test ends, and every
// fake must be closed by then.
func newFakePool(t *testing.T, cfg FunctionConfig) (*pool, *fakeSandboxes) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "fake"
	}
	cfg.Code = []byte("fake")
	cfg, err := cfg.withDefaults()
	require.NoError(t, err)
	f := &Function{cfg: cfg, name: cfg.Name, arn: "arn:aws:lambda:us-east-1:000000000000:function:" + cfg.Name}
	fakes := &fakeSandboxes{dir: t.TempDir(), started: make(chan struct{}, 100)}
	f.pool = newPool(f)
	f.pool.newSandbox = fakes.newSandbox
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- f.pool.close(context.Background()) }()
		select {
		case err := <-done:
			require.NoError(t, err)
			require.Empty(t, fakes.open(), "every sandbox is closed with the pool")
		case <-time.After(30 * time.Second):
			t.Error("the pool did not close")
		}
	})
	return f.pool, fakes
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
				p, fakes := newFakePool(t, FunctionConfig{MaxConcurrency: 1})
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
				s := p.f.Stats()
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
	p, fakes := newFakePool(t, FunctionConfig{})
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
	require.Zero(t, p.f.Stats().Open)
}

// TestPoolCloseAbortsLateSandboxes: a sandbox whose creation completes
// after a Close's context ended is aborted at birth, so that the Close
// does not wait for the invocation it serves.
func TestPoolCloseAbortsLateSandboxes(t *testing.T) {
	p, fakes := newFakePool(t, FunctionConfig{})
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
