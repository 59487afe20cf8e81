package wasm

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
)

// Bounds of the rewrite memo.
const (
	memoEntries = 8
	memoBytes   = 64 << 20
)

// rewrites remembers the modules instrument produced last, by the SHA-256 of
// their input, so that deploying the same code again (as several functions,
// or again after a Close) skips the rewrite, which reads every instruction.
// The rewrite is a pure function of its input, so a remembered output is
// exactly what a new rewrite would give.
var rewrites = &rewriteMemo{maxEntries: memoEntries, maxBytes: memoBytes}

// rewriteMemo is a small LRU of rewritten modules, bounded in count and in
// bytes. It is safe for concurrent use. Its outputs are shared and must not
// be modified.
type rewriteMemo struct {
	maxEntries, maxBytes int

	mu      sync.Mutex
	entries []memoEntry // most recently used last
	bytes   int
}

type memoEntry struct {
	key [sha256.Size]byte
	out []byte
}

// rewriteRuns counts the rewrites the memo could not avoid, for tests.
var rewriteRuns atomic.Int64

// instrument returns instrument(code), from the memo or else from disk
// (when disk is not nil) when it can. A rewrite it has to make is stored in
// both.
func (c *rewriteMemo) instrument(code []byte, disk *rewriteStore) ([]byte, error) {
	var key, stored [sha256.Size]byte
	var out []byte
	found := false
	if disk == nil {
		key = sha256.Sum256(code)
	} else {
		// Read the entry while the hash that must match it is computed.
		keyc := make(chan [sha256.Size]byte, 1)
		go func() { keyc <- sha256.Sum256(code) }()
		stored, out, found = disk.load(code)
		key = <-keyc
	}
	if out, ok := c.get(key); ok {
		return out, nil
	}
	if !found || stored != key {
		rewriteRuns.Add(1)
		var err error
		if out, err = instrument(code); err != nil {
			return nil, err
		}
		out = out[:len(out):len(out)] // an append by a caller copies
		disk.put(code, key, out)
	}
	c.put(key, out)
	return out, nil
}

// ForgetRewrites empties the memo of rewritten modules, so that the next
// deploy of any code in this process finds only what a new process would:
// the on-disk cache, if any. For benchmarks and tests.
func ForgetRewrites() {
	rewrites.mu.Lock()
	defer rewrites.mu.Unlock()
	clear(rewrites.entries)
	rewrites.entries = nil
	rewrites.bytes = 0
}

func (c *rewriteMemo) get(key [sha256.Size]byte) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.key == key {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			return e.out, true
		}
	}
	return nil, false
}

func (c *rewriteMemo) put(key [sha256.Size]byte, out []byte) {
	if len(out) > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.key == key {
			return // a concurrent rewrite of the same code got here first
		}
	}
	c.entries = append(c.entries, memoEntry{key, out})
	c.bytes += len(out)
	for len(c.entries) > c.maxEntries || c.bytes > c.maxBytes {
		c.bytes -= len(c.entries[0].out)
		c.entries[0] = memoEntry{}
		c.entries = c.entries[1:]
	}
}
