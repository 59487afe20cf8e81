package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"sync"

	"github.com/wasmlambda/lambda/internal/cond"
	"github.com/wasmlambda/lambda/internal/journal"
)

// shutdownGrace bounds the last delivery attempt Close makes, after its
// context has ended, before it writes dead letters to the undelivered file.
const shutdownGrace = time.Second

// target is where an outbound item goes.
type target int

const (
	targetDeadLetter target = iota
	targetSuccess
	targetFailure
	numTargets
)

func (t target) String() string {
	return [...]string{"dead-letter sink", "on-success destination", "on-failure destination"}[t]
}

// outItem is a dead letter or an invocation record waiting for delivery.
type outItem struct {
	seq        uint64
	Target     target
	DeadLetter *DeadLetter
	Record     *InvocationRecord
	// Trigger is the trigger that sent the event, or "", for the
	// observer.
	Trigger string
	// Qualifier is the one the event was sent to, whose destinations
	// take a record, and OwnConfig says it had a configuration of its own
	// when the event finished.
	Qualifier string
	OwnConfig bool
	recovered bool // loaded from the state directory at Deploy
}

// outItemJSON is outItem as the journal keeps it. The payload is kept as
// bytes, so that it comes back exactly.
type outItemJSON struct {
	Target     target            `json:"target"`
	DeadLetter *deadLetterJSON   `json:"deadLetter,omitempty"`
	Payload    []byte            `json:"payload,omitempty"`
	Record     *InvocationRecord `json:"record,omitempty"`
	Qualifier  string            `json:"qualifier,omitempty"`
	OwnConfig  bool              `json:"ownConfig,omitempty"`
	Trigger    string            `json:"trigger,omitempty"`
}

func (it *outItem) MarshalJSON() ([]byte, error) {
	j := outItemJSON{Target: it.Target, Record: it.Record, Qualifier: it.Qualifier, OwnConfig: it.OwnConfig, Trigger: it.Trigger}
	if it.DeadLetter != nil {
		j.DeadLetter = (*deadLetterJSON)(it.DeadLetter)
		j.Payload = it.DeadLetter.Payload
	}
	return json.Marshal(j)
}

func (it *outItem) UnmarshalJSON(b []byte) error {
	var j outItemJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Target < 0 || j.Target >= numTargets {
		return fmt.Errorf("unknown target %d", j.Target)
	}
	it.Target, it.Record, it.Qualifier, it.OwnConfig, it.Trigger = j.Target, j.Record, j.Qualifier, j.OwnConfig, j.Trigger
	if j.DeadLetter != nil {
		it.DeadLetter = (*DeadLetter)(j.DeadLetter)
		it.DeadLetter.Payload = j.Payload
	}
	return nil
}

// outbox delivers one target's items in order, retrying the first with
// backoff until it goes through. Its goroutine runs only while it has
// items.
type outbox struct {
	e      *asyncEngine
	target target
	// undeliveredFile returns the sink of last resort, the runtime's
	// undelivered file, opening it on first use.
	undeliveredFile func() (*FileSink, error)

	mu      sync.Mutex
	items   []*outItem
	running bool
	halted  bool
	empty   cond.Cond // broadcast when items empties
	stop    chan struct{}
	wg      sync.WaitGroup
}

func (o *outbox) push(it *outItem) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.items = append(o.items, it)
	if !o.running && !o.halted {
		o.running = true
		o.wg.Add(1)
		go o.run()
	}
}

func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items)
}

func (o *outbox) run() {
	defer o.wg.Done()
	e := o.e
	var wait time.Duration
	for {
		o.mu.Lock()
		if len(o.items) == 0 || o.halted {
			o.running = false
			o.mu.Unlock()
			return
		}
		it := o.items[0]
		o.mu.Unlock()

		err := o.deliver(e.runCtx, it)
		if err == nil {
			wait = 0
			o.delivered(it)
			continue
		}
		if errors.Is(err, ErrClosed) {
			// The target is a function that closed for good: retrying
			// cannot help.
			o.giveUp(it, err)
			continue
		}
		if wait == 0 {
			wait = e.cfg.DeliveryBackoffMin
		} else {
			wait = min(2*wait, e.cfg.DeliveryBackoffMax)
		}
		if e.logger != nil {
			e.logger.Warn("delivery failed; will retry", slog.String("target", o.target.String()), slog.String("request_id", it.requestID()), slog.String("error", err.Error()), slog.Duration("retry_in", wait))
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-o.stop:
			t.Stop()
		}
	}
}

func (it *outItem) requestID() string {
	if it.DeadLetter != nil {
		return it.DeadLetter.RequestID
	}
	return it.Record.RequestContext.RequestID
}

// deliver makes one delivery attempt, counting a failure. A panicking sink
// or destination fails the attempt.
func (o *outbox) deliver(ctx context.Context, it *outItem) (err error) {
	e := o.e
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s panicked: %v", o.target, p)
		}
		if err != nil {
			if o.target == targetDeadLetter {
				e.deadLetterErrors.Add(1)
			} else {
				e.destinationErrors.Add(1)
			}
		}
		if e.obs != nil {
			e.observeDelivery(o.target, it, err)
		}
	}()
	switch o.target {
	case targetDeadLetter:
		sink := e.cfg.DeadLetter
		if sink == nil {
			fs, err := o.undeliveredFile()
			if err != nil {
				return err
			}
			sink = fs
		}
		return sink.Send(ctx, it.DeadLetter)
	}
	c := e.eventConfig(it.Qualifier)
	if it.recovered && it.OwnConfig && !c.own {
		// Recovered before the qualifier's configuration was put again:
		// wait for its destination.
		return serviceError(ErrNotFound, "The function %s:%s doesn't have an EventInvokeConfig yet: the record waits for it", e.arn, configKey(it.Qualifier))
	}
	switch o.target {
	case targetSuccess:
		if c.onSuccess == nil {
			// Journaled for a destination the function no longer has.
			if e.logger != nil {
				e.logger.Warn("success record dropped: the function has no on-success destination now", slog.String("request_id", it.requestID()))
			}
			return nil
		}
		return c.onSuccess.Deliver(ctx, it.Record)
	default:
		if c.onFailure == nil {
			// Journaled for a destination the function no longer has:
			// the dead letter takes the dead-letter path instead.
			return e.enqueue(&outItem{Target: targetDeadLetter, DeadLetter: it.DeadLetter, Trigger: it.Trigger})
		}
		return c.onFailure.Deliver(ctx, it.Record)
	}
}

// giveUp takes the first item off the queue for good: with a state
// directory it stays in the journal for the next start; otherwise its dead
// letter goes to the undelivered file, and a success record is logged.
func (o *outbox) giveUp(it *outItem, cause error) {
	e := o.e
	o.dropFirst(it)
	if e.logger != nil {
		e.logger.Error("delivery given up", slog.String("target", o.target.String()), slog.String("request_id", it.requestID()), slog.String("error", cause.Error()))
	}
	if e.store != nil {
		return
	}
	e.undelivered.Add(1)
	if it.DeadLetter == nil {
		return
	}
	fs, err := o.undeliveredFile()
	if err == nil {
		err = fs.Send(context.Background(), it.DeadLetter)
	}
	if err != nil {
		e.observeDropped(it, err)
	}
	if err != nil && e.logger != nil {
		b, _ := it.DeadLetter.MarshalJSON()
		e.logger.Error("dead letter lost: the undelivered file failed", slog.String("request_id", it.requestID()), slog.String("dead_letter", string(b)), slog.String("error", err.Error()))
	}
}

// enqueue journals a new item and queues it for delivery.
func (e *asyncEngine) enqueue(it *outItem) error {
	it.seq = e.seq.Add(1)
	if e.store != nil {
		b, err := json.Marshal(it)
		if err != nil {
			return err
		}
		if err := e.store.Apply(journal.Op{Function: e.name, Kind: journal.Outbox, Seq: it.seq, Value: b}); err != nil {
			return err
		}
	}
	e.outs[it.Target].push(it)
	return nil
}

// delivered drops the first item, which went through.
func (o *outbox) delivered(it *outItem) {
	if s := o.e.store; s != nil {
		if err := s.Apply(journal.Op{Function: o.e.name, Kind: journal.Outbox, Seq: it.seq}); err != nil {
			o.e.journalError("drop a delivered item", err)
		}
	}
	o.dropFirst(it)
}

// dropFirst takes it, the first item, off the queue.
func (o *outbox) dropFirst(it *outItem) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.items) > 0 && o.items[0] == it {
		o.items[0] = nil
		o.items = o.items[1:]
	}
	if len(o.items) == 0 {
		o.empty.Broadcast()
	}
}

// waitEmpty waits until every item is delivered, or ctx ends.
func (o *outbox) waitEmpty(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.empty.WaitUntil(ctx, &o.mu, func() bool { return len(o.items) == 0 })
}

// halt stops the goroutine and returns what is left.
func (o *outbox) halt() []*outItem {
	o.mu.Lock()
	if !o.halted {
		o.halted = true
		close(o.stop)
	}
	o.mu.Unlock()
	o.wg.Wait()
	o.mu.Lock()
	defer o.mu.Unlock()
	left := o.items
	o.items = nil
	return left
}

// flush delivers pending items until ctx ends. Then, without a state
// directory, it makes one last attempt at each item left, and writes the
// dead letters that still fail to the undelivered file.
func (e *asyncEngine) flush(ctx context.Context) error {
	var waitErr error
	for _, o := range e.outs {
		if waitErr = o.waitEmpty(ctx); waitErr != nil {
			e.cancelRun() // a delivery that hangs gives up
			break
		}
	}
	var left []*outItem
	for _, o := range e.outs {
		left = append(left, o.halt()...)
	}
	if len(left) == 0 {
		return nil
	}
	if e.store != nil {
		if e.logger != nil {
			e.logger.Warn("deliveries pending at close are kept for the next start", slog.Int("items", len(left)), slog.String("state", e.store.Path()))
		}
		return waitErr
	}
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	uerr := &UndeliveredError{Function: e.name}
	written := map[string]bool{}
	for _, it := range left {
		if gctx.Err() == nil && e.outs[it.Target].deliver(gctx, it) == nil {
			continue
		}
		if it.DeadLetter == nil {
			e.undelivered.Add(1)
			uerr.Records++
			if e.logger != nil {
				b, _ := json.Marshal(it.Record)
				e.logger.Error("success record undelivered at close", slog.String("request_id", it.requestID()), slog.String("record", string(b)))
			}
			continue
		}
		if written[it.DeadLetter.RequestID] {
			continue
		}
		written[it.DeadLetter.RequestID] = true
		e.undelivered.Add(1)
		uerr.DeadLetters++
		fs, err := e.undeliveredFile()
		if err == nil {
			uerr.Path = fs.Path()
			err = fs.Send(context.Background(), it.DeadLetter)
		}
		if err != nil {
			e.observeDropped(it, err)
			uerr.Err = errors.Join(uerr.Err, err)
			if e.logger != nil {
				b, _ := it.DeadLetter.MarshalJSON()
				e.logger.Error("dead letter lost: the undelivered file failed", slog.String("request_id", it.requestID()), slog.String("dead_letter", string(b)), slog.String("error", err.Error()))
			}
		}
	}
	if uerr.DeadLetters+uerr.Records == 0 {
		return nil // the last attempts went through
	}
	if e.logger != nil {
		e.logger.Error("undelivered at close", slog.Int("dead_letters", uerr.DeadLetters), slog.Int("records", uerr.Records), slog.String("path", uerr.Path))
	}
	return uerr
}
