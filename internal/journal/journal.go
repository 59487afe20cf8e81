// Package journal is the durable store behind durable asynchronous
// invocation: accepted events and undelivered outbound records, kept in one
// bbolt file and synced to disk before a write returns.
//
// Records are opaque values keyed by a function name, a kind and a
// sequence number. Writes from many goroutines are grouped into one
// transaction, and so one fsync.
package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Kind names a class of records.
type Kind string

// The kinds of records the runtime keeps.
const (
	// Events are accepted asynchronous events not yet finished.
	Events Kind = "events"
	// Outbox holds dead letters and destination records not yet delivered.
	Outbox Kind = "outbox"
)

// Record is one stored value and its sequence number.
type Record struct {
	Seq   uint64
	Value []byte
}

// Op is one change: a Put when Value is non-nil, otherwise a Delete.
type Op struct {
	Function string
	Kind     Kind
	Seq      uint64
	Value    []byte
}

// Store is an open journal. It is safe for concurrent use.
type Store struct {
	db *bolt.DB

	gmu        sync.Mutex
	pending    []*commit // calls waiting for the next commit
	committing bool
}

// Open opens the journal in dir, creating both if needed. It fails after a
// second when another process holds the journal open.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "async.db")
	_, statErr := os.Stat(path)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%s is in use by another process", path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// A new file's directory entry must reach the disk too, or a
		// power loss could take the journal and what it holds.
		if err := syncDir(dir); err != nil {
			db.Close()
			return nil, fmt.Errorf("sync %s: %w", dir, err)
		}
	}
	return &Store{db: db}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Path is the journal's file.
func (s *Store) Path() string { return s.db.Path() }

// Close closes the journal.
func (s *Store) Close() error { return s.db.Close() }

func key(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// Apply makes every change in ops in one transaction, synced to disk before
// it returns. A Delete of a missing record is not an error.
//
// Concurrent calls share commits: a call that finds no commit under way
// commits at once, and the calls that arrive meanwhile are committed
// together, in one transaction and one fsync, by the first of them. (bbolt's
// own Batch would make a lone writer wait for company first.)
func (s *Store) Apply(ops ...Op) error {
	if len(ops) == 0 {
		return nil
	}
	c := &commit{ops: ops, done: make(chan error, 1), lead: make(chan struct{}, 1)}
	s.gmu.Lock()
	s.pending = append(s.pending, c)
	if s.committing {
		s.gmu.Unlock()
		select {
		case err := <-c.done:
			return err
		case <-c.lead: // the previous leader handed over
		}
		s.gmu.Lock()
	}
	s.committing = true
	group := s.pending
	s.pending = nil
	s.gmu.Unlock()

	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, g := range group {
			if err := applyOps(tx, g.ops); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && len(group) > 1 {
		// One bad call must not fail the others: each alone.
		for _, g := range group {
			g.done <- s.db.Update(func(tx *bolt.Tx) error { return applyOps(tx, g.ops) })
		}
	} else {
		for _, g := range group {
			g.done <- err
		}
	}

	s.gmu.Lock()
	if len(s.pending) > 0 {
		s.pending[0].lead <- struct{}{}
	} else {
		s.committing = false
	}
	s.gmu.Unlock()
	return <-c.done
}

// commit is one Apply call waiting for its commit.
type commit struct {
	ops  []Op
	done chan error
	lead chan struct{}
}

func applyOps(tx *bolt.Tx, ops []Op) error {
	for _, op := range ops {
		fb, err := tx.CreateBucketIfNotExists([]byte(op.Function))
		if err != nil {
			return err
		}
		kb, err := fb.CreateBucketIfNotExists([]byte(op.Kind))
		if err != nil {
			return err
		}
		if op.Value == nil {
			err = kb.Delete(key(op.Seq))
		} else {
			err = kb.Put(key(op.Seq), op.Value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Load returns a function's records of one kind, in sequence order.
func (s *Store) Load(function string, kind Kind) ([]Record, error) {
	var out []Record
	err := s.db.View(func(tx *bolt.Tx) error {
		fb := tx.Bucket([]byte(function))
		if fb == nil {
			return nil
		}
		kb := fb.Bucket([]byte(kind))
		if kb == nil {
			return nil
		}
		return kb.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("journal: bad key %x in %s/%s", k, function, kind)
			}
			out = append(out, Record{Seq: binary.BigEndian.Uint64(k), Value: append([]byte(nil), v...)})
			return nil
		})
	})
	return out, err
}

// LastSeq returns the largest sequence number a function has used, in any
// kind, or 0.
func (s *Store) LastSeq(function string) (uint64, error) {
	var last uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		fb := tx.Bucket([]byte(function))
		if fb == nil {
			return nil
		}
		return fb.ForEachBucket(func(name []byte) error {
			if k, _ := fb.Bucket(name).Cursor().Last(); len(k) == 8 {
				last = max(last, binary.BigEndian.Uint64(k))
			}
			return nil
		})
	})
	return last, err
}
