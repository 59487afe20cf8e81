package schedule

import (
	"context"
	"sync"
	"time"
)

// Lock makes replicas that run the same schedule fire each firing once.
// Claim is called before each firing with a key naming the schedule and
// the firing time; only the caller that claims it fires.
//
// MemoryLock serves replicas in one process. Across processes, back it
// with what they share, for example a database: an INSERT of the key into
// a table with a unique constraint, where the insert that succeeds claims
// it (and a periodic DELETE of keys past their ttl keeps the table small).
// An advisory lock alone is not enough: it is released when Claim's
// transaction ends, before a slower replica's timer fires.
type Lock interface {
	// Claim claims key until ttl has passed. It reports whether this call
	// claimed it; false means another holder did.
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// MemoryLock is a Lock for replicas in one process. The zero value is
// ready to use, and it is safe for concurrent use.
type MemoryLock struct {
	mu      sync.Mutex
	expires map[string]time.Time
}

var _ Lock = (*MemoryLock)(nil)

// Claim claims key until ttl has passed, unless a claim on it still holds.
func (l *MemoryLock) Claim(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.expires == nil {
		l.expires = map[string]time.Time{}
	}
	if exp, ok := l.expires[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(l.expires) > 1024 {
		for k, exp := range l.expires {
			if !now.Before(exp) {
				delete(l.expires, k)
			}
		}
	}
	l.expires[key] = now.Add(ttl)
	return true, nil
}
