package sqs

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wasmlambda/lambda/internal/journal"
)

// The records of a persistent Embedded in its journal: the queues, in
// creation order, under the name "sqs", and each queue's messages under
// "sqs/<queue>". Queue names have no "/", so neither clashes with the other.
const (
	journalQueues              = "sqs"
	kindQueues    journal.Kind = "sqs-queues"
	kindMessages  journal.Kind = "sqs-messages"
)

type storedQueue struct {
	Name   string
	Config QueueConfig
}

type storedMessage struct {
	ID, Body, MD5 string
	Attrs         map[string]events.SQSMessageAttribute `json:",omitempty"`
	Sent          time.Time
	FirstReceive  time.Time
	Receives      int
	VisibleAt     time.Time
	InFlight      bool
	Receipt       string `json:",omitempty"`
	Group         string `json:",omitempty"`
	Dedup         string `json:",omitempty"`
	Seq           string `json:",omitempty"`
}

// OpenEmbedded opens the embedded queues kept in the state directory dir,
// creating it if needed: the queues and messages of an earlier run are
// there again, in flight or not as they were (visibility timeouts run on
// the wall clock, so one may end while the process is down). Every change
// is written to disk, synced, before the call that made it returns.
//
// dir holds a bbolt journal like durable asynchronous invocation's; it
// must not be the runtime's own state directory, which that journal holds
// open.
//
// # Notes
//
// Deduplication IDs are kept with their messages: once a FIFO message is
// deleted, a restart forgets its deduplication ID.
func OpenEmbedded(dir string, opts EmbeddedOptions) (*Embedded, error) {
	store, err := journal.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("sqs: opening the state directory: %w", err)
	}
	e := NewEmbedded(opts)
	if err := e.load(store); err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("sqs: loading %s: %w", dir, err)
	}
	e.store = store
	return e, nil
}

func (e *Embedded) load(store *journal.Store) error {
	recs, err := store.Load(journalQueues, kindQueues)
	if err != nil {
		return err
	}
	for _, r := range recs {
		var sq storedQueue
		if err := json.Unmarshal(r.Value, &sq); err != nil {
			return fmt.Errorf("queue record %d: %w", r.Seq, err)
		}
		q, err := e.newQueue(sq.Name, sq.Config)
		if err != nil {
			return err
		}
		q.pseq = r.Seq
		e.nextQueue = max(e.nextQueue, r.Seq+1)
		msgs, err := store.Load(journalQueues+"/"+q.name, kindMessages)
		if err != nil {
			return err
		}
		for _, mr := range msgs {
			var sm storedMessage
			if err := json.Unmarshal(mr.Value, &sm); err != nil {
				return fmt.Errorf("message record %d of %s: %w", mr.Seq, q.name, err)
			}
			m := &message{
				id: sm.ID, body: sm.Body, md5: sm.MD5, attrs: sm.Attrs,
				sent: sm.Sent, firstReceive: sm.FirstReceive, receives: sm.Receives,
				visibleAt: sm.VisibleAt, inFlight: sm.InFlight, receipt: sm.Receipt,
				group: sm.Group, dedup: sm.Dedup, seq: sm.Seq, pseq: mr.Seq,
			}
			q.add(e.now(), m)
			q.nextMsg = max(q.nextMsg, mr.Seq+1)
			if m.receipt != "" {
				q.byRH[m.receipt] = m
			}
			if q.cfg.FIFO && m.dedup != "" {
				q.remember(m.dedup, dedupEntry{expires: m.sent.Add(DeduplicationInterval), messageID: m.id, seq: m.seq})
			}
			var n uint64
			if _, err := fmt.Sscan(m.seq, &n); err == nil && n > q.seq {
				q.seq = n
			}
		}
	}
	return nil
}

// putQueue records q's creation. e.mu is held.
func (e *Embedded) putQueue(q *EmbeddedQueue) {
	if e.store == nil {
		return
	}
	b, err := json.Marshal(storedQueue{Name: q.name, Config: q.cfg})
	if err != nil {
		panic(err) // plain data
	}
	e.ops = append(e.ops, journal.Op{Function: journalQueues, Kind: kindQueues, Seq: q.pseq, Value: b})
}

// putMessage records m's state in q. e.mu is held.
func (q *EmbeddedQueue) putMessage(m *message) {
	if q.e.store == nil {
		return
	}
	if m.pseq == 0 {
		q.nextMsg = max(q.nextMsg, 1)
		m.pseq = q.nextMsg
		q.nextMsg++
	}
	b, err := json.Marshal(storedMessage{
		ID: m.id, Body: m.body, MD5: m.md5, Attrs: m.attrs,
		Sent: m.sent, FirstReceive: m.firstReceive, Receives: m.receives,
		VisibleAt: m.visibleAt, InFlight: m.inFlight, Receipt: m.receipt,
		Group: m.group, Dedup: m.dedup, Seq: m.seq,
	})
	if err != nil {
		panic(err) // plain data
	}
	q.e.ops = append(q.e.ops, journal.Op{Function: journalQueues + "/" + q.name, Kind: kindMessages, Seq: m.pseq, Value: b})
}

// deleteMessage records m's removal from q. e.mu is held.
func (q *EmbeddedQueue) deleteMessage(m *message) {
	if q.e.store == nil || m.pseq == 0 {
		return
	}
	q.e.ops = append(q.e.ops, journal.Op{Function: journalQueues + "/" + q.name, Kind: kindMessages, Seq: m.pseq})
}

// flush writes the recorded changes. e.mu is held.
func (e *Embedded) flush() error {
	if e.store == nil || len(e.ops) == 0 {
		return nil
	}
	ops := e.ops
	e.ops = nil
	if err := e.store.Apply(ops...); err != nil {
		return fmt.Errorf("sqs: writing the state directory: %w", err)
	}
	return nil
}
