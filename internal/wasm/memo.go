package wasm

import (
	"bytes"
	"crypto/sha256"
	"hash/crc32"
	"io"
	"math"
	"os"
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

// rewriteRuns counts the rewrites the memo could not avoid, and fileReads
// the module files instrumentFile had to read whole, for tests.
var rewriteRuns, fileReads atomic.Int64

// instrument returns instrument(code), from the memo or else from disk
// (when disk is not nil) when it can. A rewrite it has to make is stored in
// both.
func (c *rewriteMemo) instrument(code []byte, disk *rewriteStore) ([]byte, error) {
	out, _, err := c.instrumentKeyed(code, disk)
	return out, err
}

// instrumentKeyed is instrument, and returns the SHA-256 of code too.
func (c *rewriteMemo) instrumentKeyed(code []byte, disk *rewriteStore) ([]byte, [sha256.Size]byte, error) {
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
		return out, key, nil
	}
	if !found || stored != key {
		rewriteRuns.Add(1)
		var err error
		if out, err = instrument(code); err != nil {
			return nil, key, err
		}
		out = out[:len(out):len(out)] // an append by a caller copies
		disk.put(code, key, out)
	}
	c.put(key, out)
	return out, key, nil
}

// fileChunk is how much of a module file instrumentFile reads at a time.
const fileChunk = 128 << 10

// instrumentFile is instrumentKeyed for the module in f. It hashes the file
// as it reads it, a piece at a time, and reads it whole only when neither
// the memo nor disk holds its rewrite: a module deployed before costs the
// hashes of the file, and no copy of it in memory (for a module of
// megabytes, a thousand page faults of a short-lived process). As in
// instrument, the entry on disk is read while the SHA-256 that must match
// it is computed: the file is read twice side by side, once for the
// SHA-256 and once for the cheap checksums that name the entry. f is read
// with ReadAt, from its start.
func (c *rewriteMemo) instrumentFile(f *os.File, disk *rewriteStore) ([]byte, [sha256.Size]byte, error) {
	type sum struct {
		key [sha256.Size]byte
		n   int64
		err error
	}
	sumc := make(chan sum, 1)
	go func() {
		var s sum
		h := sha256.New()
		s.n, s.err = io.CopyBuffer(h, io.NewSectionReader(f, 0, math.MaxInt64), make([]byte, fileChunk))
		h.Sum(s.key[:0])
		sumc <- s
	}()
	var stored [sha256.Size]byte
	var out []byte
	found := false
	if disk != nil {
		crcC, crcI := crc32.New(castagnoli), crc32.NewIEEE()
		n, err := io.CopyBuffer(io.MultiWriter(crcC, crcI), io.NewSectionReader(f, 0, math.MaxInt64), make([]byte, fileChunk))
		if err == nil && n > 0 {
			stored, out, found = disk.loadNamed(entryName{crcC.Sum32(), crcI.Sum32(), n})
		}
	}
	s := <-sumc
	switch {
	case s.err != nil:
		return nil, s.key, readError{s.err}
	case s.n == 0:
		return nil, s.key, errEmpty
	}
	if out, ok := c.get(s.key); ok {
		return out, s.key, nil
	}
	if found && stored == s.key {
		c.put(s.key, out)
		return out, s.key, nil
	}
	// The file may have changed since: instrumentKeyed hashes what it
	// rewrites.
	fileReads.Add(1)
	var code bytes.Buffer
	code.Grow(int(s.n) + bytes.MinRead)
	if _, err := code.ReadFrom(io.NewSectionReader(f, 0, math.MaxInt64)); err != nil {
		return nil, s.key, readError{err}
	}
	if code.Len() == 0 {
		return nil, s.key, errEmpty
	}
	return c.instrumentKeyed(code.Bytes(), disk)
}

// readError is an error reading a module's file: no fault of the module.
type readError struct{ err error }

func (e readError) Error() string { return "read the module: " + e.err.Error() }
func (e readError) Unwrap() error { return e.err }

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
