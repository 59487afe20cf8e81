package sqs

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/cond"
	"github.com/wasmlambda/lambda/internal/journal"
	"github.com/wasmlambda/lambda/internal/uuid"
)

// Defaults and limits of the embedded queue, SQS's.
const (
	DefaultVisibilityTimeout  = 30 * time.Second
	DefaultRetentionPeriod    = 4 * 24 * time.Hour
	DefaultMaximumMessageSize = 256 * 1024
	MaxVisibilityTimeout      = 12 * time.Hour
	MaxWaitTime               = 20 * time.Second
	MaxDelay                  = 15 * time.Minute
	DeduplicationInterval     = 5 * time.Minute
)

var (
	_ Queue              = (*EmbeddedQueue)(nil)
	_ lambda.QueueSender = (*EmbeddedQueue)(nil)
)

// EmbeddedOptions configure an Embedded. The zero value is ready to use.
type EmbeddedOptions struct {
	// Region is the region in the queues' ARNs. Empty means us-east-1.
	Region string
	// Account is the account ID in the queues' ARNs and the SenderId of
	// messages. Empty means 123456789012.
	Account string
}

// Embedded is a set of in-memory queues, the embedded default: queues
// refer to each other by name for redrive. It is safe for concurrent use.
type Embedded struct {
	region, account string

	mu     sync.Mutex
	cond   cond.Cond
	gen    uint64 // counts broadcasts
	queues map[string]*EmbeddedQueue
	closed bool

	// A persistent Embedded's journal (see OpenEmbedded), the changes not
	// yet written, and the key of the next queue created.
	store     *journal.Store
	ops       []journal.Op
	nextQueue uint64

	// clockSkew is added to the time, by tests of what takes days.
	clockSkew time.Duration
	// rng makes receipt handles; see newReceipt.
	rng *mrand.ChaCha8
}

// now is the time the queues go by. e.mu is held.
func (e *Embedded) now() time.Time { return time.Now().Add(e.clockSkew) }

// NewEmbedded returns an empty set of embedded queues.
func NewEmbedded(opts EmbeddedOptions) *Embedded {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	return &Embedded{region: opts.Region, account: opts.Account, queues: map[string]*EmbeddedQueue{}}
}

// QueueConfig is the configuration of an embedded queue. A zero field
// means SQS's default, given in its comment.
type QueueConfig struct {
	// FIFO makes a FIFO queue; its name must end in ".fifo".
	FIFO bool
	// ContentBasedDeduplication deduplicates a FIFO queue's messages by the
	// SHA-256 of their body when they carry no deduplication ID.
	ContentBasedDeduplication bool
	// VisibilityTimeout is the default visibility timeout: 0 (30 s) to 12 h.
	VisibilityTimeout time.Duration
	// Delay is the default delay of new messages: 0 (none) to 15 minutes.
	Delay time.Duration
	// ReceiveWaitTime is the default long-polling wait: 0 (none) to 20 s.
	ReceiveWaitTime time.Duration
	// RetentionPeriod is how long a message is kept: 0 (4 days) or 60 s
	// to 14 days.
	RetentionPeriod time.Duration
	// MaximumMessageSize is the limit on body plus attributes in bytes:
	// 0 (256 KiB) or 1,024 to 262,144.
	MaximumMessageSize int
	// RedrivePolicy moves messages received too often to a dead-letter
	// queue. Nil means none.
	RedrivePolicy *RedrivePolicy
}

// RedrivePolicy is a queue's redrive policy.
type RedrivePolicy struct {
	// DeadLetterQueue is the name of the dead-letter queue, created
	// before this one in the same Embedded and of the same kind (FIFO or
	// standard).
	DeadLetterQueue string
	// MaxReceiveCount is the number of receives after which a message is
	// moved: 1 to 1,000.
	MaxReceiveCount int
}

// CreateQueue creates a queue. It fails if a queue of that name exists or
// if cfg is out of SQS's bounds.
func (e *Embedded) CreateQueue(name string, cfg QueueConfig) (*EmbeddedQueue, error) {
	if err := validName(name, cfg.FIFO); err != nil {
		return nil, err
	}
	if cfg.VisibilityTimeout == 0 {
		cfg.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if cfg.RetentionPeriod == 0 {
		cfg.RetentionPeriod = DefaultRetentionPeriod
	}
	if cfg.MaximumMessageSize == 0 {
		cfg.MaximumMessageSize = DefaultMaximumMessageSize
	}
	switch {
	case cfg.VisibilityTimeout < 0 || cfg.VisibilityTimeout > MaxVisibilityTimeout:
		return nil, fmt.Errorf("sqs: visibility timeout %v is outside 0 to 12h", cfg.VisibilityTimeout)
	case cfg.Delay < 0 || cfg.Delay > MaxDelay:
		return nil, fmt.Errorf("sqs: delay %v is outside 0 to 15m", cfg.Delay)
	case cfg.ReceiveWaitTime < 0 || cfg.ReceiveWaitTime > MaxWaitTime:
		return nil, fmt.Errorf("sqs: receive wait time %v is outside 0 to 20s", cfg.ReceiveWaitTime)
	case cfg.RetentionPeriod < time.Minute || cfg.RetentionPeriod > 14*24*time.Hour:
		return nil, fmt.Errorf("sqs: retention period %v is outside 60s to 14 days", cfg.RetentionPeriod)
	case cfg.MaximumMessageSize < 1024 || cfg.MaximumMessageSize > DefaultMaximumMessageSize:
		return nil, fmt.Errorf("sqs: maximum message size %d is outside 1024 to 262144", cfg.MaximumMessageSize)
	case cfg.ContentBasedDeduplication && !cfg.FIFO:
		return nil, errors.New("sqs: content-based deduplication needs a FIFO queue")
	}
	if rp := cfg.RedrivePolicy; rp != nil {
		copied := *rp
		cfg.RedrivePolicy = &copied
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if q, ok := e.queues[name]; ok {
		if reflect.DeepEqual(q.cfg, cfg) {
			return q, nil // as SQS's CreateQueue with the same attributes
		}
		return nil, fmt.Errorf("sqs: queue %q already exists with other attributes (QueueAlreadyExists)", name)
	}
	q, err := e.newQueue(name, cfg)
	if err != nil {
		return nil, err
	}
	e.nextQueue = max(e.nextQueue, 1)
	q.pseq = e.nextQueue
	e.nextQueue++
	e.putQueue(q)
	if err := e.flush(); err != nil {
		delete(e.queues, name)
		return nil, err
	}
	return q, nil
}

// newQueue makes and registers a queue whose cfg has its defaults and is
// within bounds. e.mu is held.
func (e *Embedded) newQueue(name string, cfg QueueConfig) (*EmbeddedQueue, error) {
	if _, ok := e.queues[name]; ok {
		return nil, fmt.Errorf("sqs: queue %q already exists", name)
	}
	var dlq *EmbeddedQueue
	if rp := cfg.RedrivePolicy; rp != nil {
		if rp.MaxReceiveCount < 1 || rp.MaxReceiveCount > 1000 {
			return nil, fmt.Errorf("sqs: maxReceiveCount %d is outside 1 to 1000", rp.MaxReceiveCount)
		}
		dlq = e.queues[rp.DeadLetterQueue]
		if dlq == nil {
			return nil, fmt.Errorf("sqs: dead-letter queue %q does not exist", rp.DeadLetterQueue)
		}
		if dlq.cfg.FIFO != cfg.FIFO {
			return nil, fmt.Errorf("sqs: dead-letter queue %q must be of the same kind (FIFO or standard) as %q", rp.DeadLetterQueue, name)
		}
	}
	q := &EmbeddedQueue{
		e:     e,
		name:  name,
		arn:   "arn:aws:sqs:" + e.region + ":" + e.account + ":" + name,
		cfg:   cfg,
		dlq:   dlq,
		byRH:  map[string]*message{},
		dedup: map[string]dedupEntry{},
	}
	q.initIndex()
	e.queues[name] = q
	return q, nil
}

// Queue returns the queue of that name, or nil.
func (e *Embedded) Queue(name string) *EmbeddedQueue {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.queues[name]
}

// Close ends every wait and makes later calls fail with ErrClosed. A
// persistent Embedded closes its state directory.
func (e *Embedded) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.broadcast()
	if e.store != nil {
		err := e.flush()
		if cerr := e.store.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return nil
}

// broadcast wakes the waiting receives. e.mu is held.
func (e *Embedded) broadcast() {
	e.gen++
	e.cond.Broadcast()
}

func validName(name string, fifo bool) error {
	base := name
	if fifo {
		if !strings.HasSuffix(name, ".fifo") {
			return fmt.Errorf("sqs: FIFO queue name %q must end in .fifo", name)
		}
		base = strings.TrimSuffix(name, ".fifo")
	} else if strings.HasSuffix(name, ".fifo") {
		return fmt.Errorf("sqs: queue name %q ends in .fifo but the queue is not FIFO", name)
	}
	if len(name) > 80 || base == "" {
		return fmt.Errorf("sqs: queue name %q must have 1 to 80 characters", name)
	}
	for _, r := range base {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("sqs: queue name %q may only have letters, digits, - and _", name)
		}
	}
	return nil
}

// EmbeddedQueue is one in-memory queue of an Embedded. It implements Queue
// and lambda.QueueSender.
type EmbeddedQueue struct {
	e    *Embedded
	name string
	arn  string
	cfg  QueueConfig
	dlq  *EmbeddedQueue

	// Guarded by e.mu.
	byRH       map[string]*message
	dedup      map[string]dedupEntry
	dedupOrder []dedupKey // in the order the entries expire
	seq        uint64

	// The indexes (see embedded_index.go) and the number of messages.
	ready   minHeap[*message]             // visible, by send order
	groups  map[string]*minHeap[*message] // FIFO: each group's visible ones
	waiting minHeap[waitEntry]            // delayed or in flight, by visibleAt
	byAge   minHeap[*message]             // by sent time, for retention
	busy    map[string]int                // FIFO: a group's in-flight messages
	live    int
	nextOrd uint64

	pseq    uint64 // the queue's key in the journal
	nextMsg uint64 // the key of the next message in the journal
}

type dedupEntry struct {
	expires   time.Time
	messageID string
	seq       string
}

type message struct {
	id, body, md5 string
	attrs         map[string]events.SQSMessageAttribute
	sent          time.Time
	firstReceive  time.Time
	receives      int
	visibleAt     time.Time
	inFlight      bool   // made invisible by a receive (not by a delay)
	receipt       string // of the latest receive
	group, dedup  string
	seq           string
	deleted       bool
	pseq          uint64 // the message's key in the journal, or 0

	ord      uint64 // the message's place in the queue's send order
	ver      uint64 // counts the message's waiting entries
	waiting  bool   // in the waiting heap
	blocking bool   // blocks its FIFO group while waiting
}

// Name is the queue's name.
func (q *EmbeddedQueue) Name() string { return q.name }

// ARN is the queue's ARN.
func (q *EmbeddedQueue) ARN() string { return q.arn }

// FIFO reports whether the queue is a FIFO queue.
func (q *EmbeddedQueue) FIFO() bool { return q.cfg.FIFO }

// Len returns the number of messages in the queue, visible or not.
func (q *EmbeddedQueue) Len() int {
	q.e.mu.Lock()
	defer q.e.mu.Unlock()
	q.expire(q.e.now())
	_ = q.e.flush() // retention's deletes; a failure shows at the next call
	return q.live
}

// SendMessage sends a message with msg's body and attributes, for
// lambda.QueueSink and lambda.QueueDestination. Like Lambda's dead-letter
// queues and destinations, it needs a standard queue: on a FIFO queue it
// fails.
func (q *EmbeddedQueue) SendMessage(ctx context.Context, msg lambda.QueueMessage) (string, error) {
	if q.cfg.FIFO {
		return "", fmt.Errorf("sqs: queue %s is FIFO; dead letters and destination records need a standard queue", q.name)
	}
	sent, failed, err := q.Send(ctx, []SendEntry{{Body: msg.Body, MessageAttributes: ConvertAttributes(msg.Attributes)}})
	if err != nil {
		return "", err
	}
	if len(failed) > 0 {
		return "", failed[0]
	}
	return sent[0].MessageID, nil
}

// ConvertAttributes converts the root's message attributes to the events
// type.
func ConvertAttributes(in map[string]lambda.MessageAttribute) map[string]events.SQSMessageAttribute {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]events.SQSMessageAttribute, len(in))
	for k, a := range in {
		ea := events.SQSMessageAttribute{DataType: a.DataType}
		if strings.HasPrefix(a.DataType, "Binary") {
			ea.BinaryValue = a.BinaryValue
		} else {
			s := a.StringValue
			ea.StringValue = &s
		}
		out[k] = ea
	}
	return out
}

func entryID(id string, i int) string {
	if id == "" {
		return strconv.Itoa(i)
	}
	return id
}

func distinctIDs(ids []string) error {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return fmt.Errorf("sqs: entry ID %q is used twice in one batch (BatchEntryIdsNotDistinct)", id)
		}
		seen[id] = true
	}
	return nil
}

func messageSize(body string, attrs map[string]events.SQSMessageAttribute) int {
	n := len(body)
	for k, a := range attrs {
		n += len(k) + len(a.DataType) + len(a.BinaryValue)
		if a.StringValue != nil {
			n += len(*a.StringValue)
		}
	}
	return n
}

// Send enqueues messages; see Queue.Send.
func (q *EmbeddedQueue) Send(ctx context.Context, entries []SendEntry) ([]SendResult, []EntryError, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if len(entries) == 0 {
		return nil, nil, errors.New("sqs: empty batch")
	}
	ids := make([]string, len(entries))
	for i, en := range entries {
		ids[i] = entryID(en.ID, i)
	}
	if err := distinctIDs(ids); err != nil {
		return nil, nil, err
	}
	e := q.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, nil, ErrClosed
	}
	now := e.now()
	q.expire(now)
	var sent []SendResult
	var failed []EntryError
	for i, en := range entries {
		r, ee := q.sendOne(now, en)
		if ee != nil {
			ee.ID = ids[i]
			failed = append(failed, *ee)
			continue
		}
		r.ID = ids[i]
		sent = append(sent, r)
	}
	e.broadcast()
	if err := e.flush(); err != nil {
		return nil, nil, err
	}
	return sent, failed, nil
}

func senderFault(code, format string, args ...any) *EntryError {
	return &EntryError{Code: code, Message: fmt.Sprintf(format, args...), SenderFault: true}
}

func (q *EmbeddedQueue) sendOne(now time.Time, en SendEntry) (SendResult, *EntryError) {
	if en.Body == "" {
		return SendResult{}, senderFault(CodeMissingParameter, "the message body must not be empty")
	}
	if !validContents(en.Body) {
		return SendResult{}, senderFault(CodeInvalidMessageContents, "the body has characters SQS refuses: only #x9, #xA, #xD, #x20 to #xD7FF and #xE000 to #xFFFD (and above #xFFFF) are valid")
	}
	if n := messageSize(en.Body, en.MessageAttributes); n > q.cfg.MaximumMessageSize {
		return SendResult{}, senderFault(CodeMessageTooLong, "the message is too long: %d bytes of body and attributes, more than the queue's limit of %d", n, q.cfg.MaximumMessageSize)
	}
	if en.Delay < 0 || en.Delay > MaxDelay {
		return SendResult{}, senderFault(CodeInvalidParameterValue, "delay %v is outside 0 to 15m", en.Delay)
	}
	delay := q.cfg.Delay
	m := &message{body: en.Body, attrs: cloneAttrs(en.MessageAttributes), sent: now}
	sum := md5.Sum([]byte(en.Body))
	m.md5 = hex.EncodeToString(sum[:])
	if q.cfg.FIFO {
		if en.Delay != 0 {
			return SendResult{}, senderFault(CodeInvalidParameterValue, "a FIFO queue takes no per-message delay")
		}
		if en.MessageGroupID == "" {
			return SendResult{}, senderFault(CodeMissingParameter, "a FIFO queue needs a MessageGroupId")
		}
		m.group, m.dedup = en.MessageGroupID, en.MessageDeduplicationID
		if m.dedup == "" {
			if !q.cfg.ContentBasedDeduplication {
				return SendResult{}, senderFault(CodeInvalidParameterValue, "the queue has no content-based deduplication: a MessageDeduplicationId is needed")
			}
			h := sha256.Sum256([]byte(en.Body))
			m.dedup = hex.EncodeToString(h[:])
		}
		if d, ok := q.dedup[m.dedup]; ok && now.Before(d.expires) {
			return SendResult{MessageID: d.messageID, MD5OfBody: m.md5, SequenceNumber: d.seq}, nil
		}
		q.seq++
		m.seq = fmt.Sprintf("%020d", q.seq)
	} else {
		if en.MessageGroupID != "" || en.MessageDeduplicationID != "" {
			return SendResult{}, senderFault(CodeInvalidParameterValue, "a standard queue takes no MessageGroupId or MessageDeduplicationId")
		}
		if en.Delay != 0 {
			delay = en.Delay
		}
	}
	m.id = uuid.New()
	m.visibleAt = now.Add(delay)
	if q.cfg.FIFO {
		q.remember(m.dedup, dedupEntry{expires: now.Add(DeduplicationInterval), messageID: m.id, seq: m.seq})
	}
	q.add(now, m)
	q.putMessage(m)
	return SendResult{MessageID: m.id, MD5OfBody: m.md5, SequenceNumber: m.seq}, nil
}

// validContents reports whether s has only the characters SQS accepts in
// a body.
func validContents(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

func cloneAttrs(in map[string]events.SQSMessageAttribute) map[string]events.SQSMessageAttribute {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]events.SQSMessageAttribute, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// expire drops messages past the retention period and deduplication
// entries past their interval. e.mu is held.
func (q *EmbeddedQueue) expire(now time.Time) {
	for q.byAge.len() > 0 {
		m := q.byAge.peek()
		if m.deleted {
			q.byAge.pop()
			continue
		}
		if now.Sub(m.sent) < q.cfg.RetentionPeriod {
			break
		}
		q.byAge.pop()
		q.forget(m)
	}
	for len(q.dedupOrder) > 0 && !now.Before(q.dedupOrder[0].expires) {
		k := q.dedupOrder[0]
		q.dedupOrder[0] = dedupKey{}
		q.dedupOrder = q.dedupOrder[1:]
		if d, ok := q.dedup[k.key]; ok && !now.Before(d.expires) {
			delete(q.dedup, k.key)
		}
	}
}

func (q *EmbeddedQueue) forget(m *message) {
	if m.deleted {
		return
	}
	q.deleteMessage(m)
	m.deleted = true
	q.removed(m)
	if m.receipt != "" {
		delete(q.byRH, m.receipt)
		m.receipt = ""
	}
}

// newReceipt returns a new receipt handle: 32 bytes from a ChaCha8 stream
// seeded once from crypto/rand, so a handle is as hard to guess as a random
// one without a system call per receive. e.mu is held.
func (e *Embedded) newReceipt() string {
	if e.rng == nil {
		var seed [32]byte
		if _, err := rand.Read(seed[:]); err != nil {
			panic(err)
		}
		e.rng = mrand.NewChaCha8(seed)
	}
	var b [32]byte
	_, _ = e.rng.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Receive receives messages; see Queue.Receive.
func (q *EmbeddedQueue) Receive(ctx context.Context, opts ReceiveOptions) ([]Message, error) {
	maxN := opts.MaxMessages
	if maxN == 0 {
		maxN = 1
	}
	wait, vis := opts.WaitTime, opts.VisibilityTimeout
	switch {
	case maxN < 0:
		return nil, fmt.Errorf("sqs: MaxMessages %d is negative", maxN)
	case wait < 0 || wait > MaxWaitTime:
		return nil, fmt.Errorf("sqs: wait time %v is outside 0 to 20s", wait)
	case vis < 0 || vis > MaxVisibilityTimeout:
		return nil, fmt.Errorf("sqs: visibility timeout %v is outside 0 to 12h", vis)
	}
	if wait == 0 {
		wait = q.cfg.ReceiveWaitTime
	}
	if vis == 0 {
		vis = q.cfg.VisibilityTimeout
	}
	e := q.e
	e.mu.Lock()
	defer e.mu.Unlock()
	end := e.now().Add(wait)
	for {
		if e.closed {
			return nil, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		now := e.now()
		got, next, moved := q.take(now, maxN, vis)
		if moved {
			e.broadcast() // the dead-letter queue gained messages
		}
		if err := e.flush(); err != nil {
			return nil, err
		}
		if len(got) > 0 || !now.Before(end) {
			return got, nil
		}
		// Wait for a send, a change, or the next time a message becomes
		// visible, within the long-polling wait.
		until := end
		if !next.IsZero() && next.Before(until) {
			until = next
		}
		wctx, cancel := context.WithTimeout(ctx, until.Sub(now)) // a duration: e.now may be skewed
		gen := e.gen
		err := e.cond.WaitUntil(wctx, &e.mu, func() bool { return e.gen != gen })
		cancel()
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// take takes up to n visible messages and returns them, the next time a
// message becomes visible, and whether it moved messages to the
// dead-letter queue. e.mu is held.
func (q *EmbeddedQueue) take(now time.Time, n int, vis time.Duration) ([]Message, time.Time, bool) {
	q.expire(now)
	next := q.pump(now)
	got := make([]Message, 0, min(n, 16))
	taken := make([]*message, 0, min(n, 16))
	moved := false
	for len(got) < n {
		m := q.popReady()
		if m == nil {
			break
		}
		if rp := q.cfg.RedrivePolicy; rp != nil && m.receives >= rp.MaxReceiveCount {
			q.moveToDLQ(now, m)
			moved = true
			continue
		}
		if m.receipt != "" {
			delete(q.byRH, m.receipt)
		}
		m.receives++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		m.receipt = q.e.newReceipt()
		m.inFlight = true
		m.visibleAt = now.Add(vis)
		q.byRH[m.receipt] = m
		q.putMessage(m)
		got = append(got, m.toMessage(q.cfg.FIFO, q.e.account))
		taken = append(taken, m)
	}
	// Only now: a batch may hold several messages of one FIFO group.
	for _, m := range taken {
		q.wait(m)
		if next.IsZero() || m.visibleAt.Before(next) {
			next = m.visibleAt
		}
	}
	return got, next, moved
}

// moveToDLQ moves m to the dead-letter queue, keeping its ID, body,
// attributes, sent time and receive count. e.mu is held.
func (q *EmbeddedQueue) moveToDLQ(now time.Time, m *message) {
	q.forget(m)
	d := q.dlq
	c := *m
	c.deleted, c.inFlight, c.receipt = false, false, ""
	c.visibleAt = now
	c.pseq = 0
	if d.cfg.FIFO {
		d.seq++
		c.seq = fmt.Sprintf("%020d", d.seq)
	}
	c.ord, c.ver, c.waiting, c.blocking = 0, 0, false, false
	d.add(now, &c)
	d.putMessage(&c)
}

func (m *message) toMessage(fifo bool, account string) Message {
	n := 4
	if fifo {
		n = 7
	}
	attrs := make(map[string]string, n)
	attrs[AttrApproximateReceiveCount] = strconv.Itoa(m.receives)
	attrs[AttrSentTimestamp] = strconv.FormatInt(m.sent.UnixMilli(), 10)
	attrs[AttrSenderID] = account
	attrs[AttrApproximateFirstReceiveTimestamp] = strconv.FormatInt(m.firstReceive.UnixMilli(), 10)
	if fifo {
		attrs[AttrMessageGroupID] = m.group
		attrs[AttrMessageDeduplicationID] = m.dedup
		attrs[AttrSequenceNumber] = m.seq
	}
	return Message{
		MessageID:         m.id,
		ReceiptHandle:     m.receipt,
		Body:              m.body,
		MD5OfBody:         m.md5,
		Attributes:        attrs,
		MessageAttributes: cloneAttrs(m.attrs),
	}
}

// Delete deletes messages; see Queue.Delete. A receipt handle from an
// earlier receive than the message's latest fails with
// ReceiptHandleIsInvalid.
func (q *EmbeddedQueue) Delete(ctx context.Context, entries []DeleteEntry) ([]EntryError, error) {
	ids := make([]string, len(entries))
	handles := make([]string, len(entries))
	for i, en := range entries {
		ids[i], handles[i] = entryID(en.ID, i), en.ReceiptHandle
	}
	return q.batch(ctx, ids, handles, func(now time.Time, i int, m *message) *EntryError {
		q.forget(m)
		return nil
	})
}

// ChangeVisibility changes visibility timeouts; see Queue.ChangeVisibility.
// A message that is no longer in flight fails with MessageNotInflight.
func (q *EmbeddedQueue) ChangeVisibility(ctx context.Context, entries []VisibilityEntry) ([]EntryError, error) {
	ids := make([]string, len(entries))
	handles := make([]string, len(entries))
	for i, en := range entries {
		ids[i], handles[i] = entryID(en.ID, i), en.ReceiptHandle
		if v := en.VisibilityTimeout; v < 0 || v > MaxVisibilityTimeout {
			return nil, fmt.Errorf("sqs: visibility timeout %v is outside 0 to 12h", v)
		}
	}
	return q.batch(ctx, ids, handles, func(now time.Time, i int, m *message) *EntryError {
		if !m.inFlight || !now.Before(m.visibleAt) {
			return senderFault(CodeMessageNotInflight, "the message is not in flight")
		}
		m.visibleAt = now.Add(entries[i].VisibilityTimeout)
		if entries[i].VisibilityTimeout == 0 {
			m.inFlight = false
		}
		q.wait(m)
		q.putMessage(m)
		return nil
	})
}

func (q *EmbeddedQueue) batch(ctx context.Context, ids, handles []string, do func(now time.Time, i int, m *message) *EntryError) ([]EntryError, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("sqs: empty batch")
	}
	if err := distinctIDs(ids); err != nil {
		return nil, err
	}
	e := q.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	now := e.now()
	q.expire(now)
	var failed []EntryError
	for i, h := range handles {
		m := q.byRH[h]
		if m == nil || m.deleted {
			failed = append(failed, EntryError{ID: ids[i], Code: CodeReceiptHandleIsInvalid, Message: "the receipt handle is not the latest of a message in the queue", SenderFault: true})
			continue
		}
		if ee := do(now, i, m); ee != nil {
			ee.ID = ids[i]
			failed = append(failed, *ee)
		}
	}
	e.broadcast()
	if err := e.flush(); err != nil {
		return nil, err
	}
	return failed, nil
}
