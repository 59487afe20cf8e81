package sqs

import "time"

// The embedded queue's indexes, so that a receive costs about the number
// of messages it returns: visible messages in a min-heap by send order (on
// a FIFO queue, each group's visible messages in a heap of their own and
// the first of each group not blocked in the queue's),
// delayed and in-flight ones in a min-heap by the time they become
// visible, and every message in a min-heap by its sent time for
// retention. Entries of deleted messages (and waiting entries of an
// earlier visibility) are dropped lazily, and the heaps are rebuilt when
// they hold more dead entries than live messages. All of it is guarded by
// e.mu.

// minHeap is a binary min-heap ordered by less.
type minHeap[T any] struct {
	items []T
	less  func(a, b T) bool
}

func (h *minHeap[T]) len() int { return len(h.items) }

func (h *minHeap[T]) push(x T) {
	h.items = append(h.items, x)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(h.items[i], h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *minHeap[T]) peek() T { return h.items[0] }

func (h *minHeap[T]) pop() T {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	var zero T
	h.items[last] = zero
	h.items = h.items[:last]
	h.down(0)
	return top
}

func (h *minHeap[T]) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h.less(h.items[r], h.items[l]) {
			c = r
		}
		if !h.less(h.items[c], h.items[i]) {
			return
		}
		h.items[i], h.items[c] = h.items[c], h.items[i]
		i = c
	}
}

// filter keeps the items for which keep holds and restores the heap.
func (h *minHeap[T]) filter(keep func(T) bool) {
	kept := h.items[:0]
	for _, x := range h.items {
		if keep(x) {
			kept = append(kept, x)
		}
	}
	var zero T
	for i := len(kept); i < len(h.items); i++ {
		h.items[i] = zero
	}
	h.items = kept
	for i := len(h.items)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// waitEntry is a message that becomes visible at a time; it is stale if
// the message's visibility changed since (ver) or it was deleted.
type waitEntry struct {
	at  time.Time
	m   *message
	ver uint64
}

func (w waitEntry) stale() bool { return w.m.deleted || w.m.ver != w.ver }

// dedupKey is a deduplication ID in the order its entry expires.
type dedupKey struct {
	key     string
	expires time.Time
}

// initIndex makes q's empty indexes.
func (q *EmbeddedQueue) initIndex() {
	q.ready = minHeap[*message]{less: func(a, b *message) bool { return a.ord < b.ord }}
	q.waiting = minHeap[waitEntry]{less: func(a, b waitEntry) bool { return a.at.Before(b.at) }}
	q.byAge = minHeap[*message]{less: func(a, b *message) bool {
		if a.sent.Equal(b.sent) {
			return a.ord < b.ord
		}
		return a.sent.Before(b.sent)
	}}
	if q.cfg.FIFO {
		q.busy = map[string]int{}
		q.groups = map[string]*minHeap[*message]{}
	}
}

// pushReady makes m, visible, ready to be taken.
func (q *EmbeddedQueue) pushReady(m *message) {
	if !q.cfg.FIFO {
		q.ready.push(m)
		return
	}
	h := q.groups[m.group]
	if h == nil {
		h = &minHeap[*message]{less: q.ready.less}
		q.groups[m.group] = h
	}
	h.push(m)
	if q.busy[m.group] == 0 && q.groupHead(m.group) == m {
		q.ready.push(m)
	}
}

// groupHead returns the first visible message of a FIFO group, or nil.
func (q *EmbeddedQueue) groupHead(g string) *message {
	h := q.groups[g]
	for h != nil && h.len() > 0 && h.peek().deleted {
		h.pop()
	}
	if h == nil || h.len() == 0 {
		delete(q.groups, g)
		return nil
	}
	return h.peek()
}

// popReady removes and returns the next message to take, or nil. On a
// FIFO queue it is the first of a group that is not blocked; the group's
// next message takes its place, so a batch may hold several of a group.
func (q *EmbeddedQueue) popReady() *message {
	for q.ready.len() > 0 {
		m := q.ready.pop()
		if m.deleted {
			continue
		}
		if !q.cfg.FIFO {
			return m
		}
		if q.busy[m.group] > 0 || q.groupHead(m.group) != m {
			continue // an entry of a blocked group, or an old head
		}
		q.groups[m.group].pop()
		if next := q.groupHead(m.group); next != nil {
			q.ready.push(next)
		}
		return m
	}
	return nil
}

// add puts a new message (sent, loaded or moved from another queue) in
// q's indexes.
func (q *EmbeddedQueue) add(now time.Time, m *message) {
	q.nextOrd++
	m.ord = q.nextOrd
	q.live++
	q.byAge.push(m)
	if now.Before(m.visibleAt) {
		q.wait(m)
	} else {
		q.pushReady(m)
	}
}

// wait puts m, not visible until m.visibleAt, in the waiting heap. An
// in-flight message of a FIFO queue blocks its group until it comes out.
func (q *EmbeddedQueue) wait(m *message) {
	if !m.waiting {
		m.waiting = true
		if q.cfg.FIFO && m.inFlight {
			m.blocking = true
			q.busy[m.group]++
		}
	}
	m.ver++
	q.waiting.push(waitEntry{at: m.visibleAt, m: m, ver: m.ver})
}

// unblock ends m's blocking of its group.
func (q *EmbeddedQueue) unblock(m *message) {
	m.waiting = false
	if m.blocking {
		m.blocking = false
		if q.busy[m.group]--; q.busy[m.group] <= 0 {
			delete(q.busy, m.group)
			if head := q.groupHead(m.group); head != nil {
				q.ready.push(head)
			}
		}
	}
}

// pump moves the messages visible at now from the waiting heap to the
// ready heap and returns the next time a message becomes visible.
func (q *EmbeddedQueue) pump(now time.Time) time.Time {
	for q.waiting.len() > 0 {
		w := q.waiting.peek()
		if w.stale() {
			q.waiting.pop()
			continue
		}
		if now.Before(w.at) {
			return w.at
		}
		q.waiting.pop()
		q.unblock(w.m)
		q.pushReady(w.m)
	}
	return time.Time{}
}

// removed accounts for m's deletion and rebuilds the heaps when they
// hold many dead entries.
func (q *EmbeddedQueue) removed(m *message) {
	q.live--
	if m.waiting {
		q.unblock(m)
	}
	limit := 2*q.live + 64
	if q.ready.len() > limit {
		q.ready.filter(func(m *message) bool {
			return !m.deleted && (!q.cfg.FIFO || q.busy[m.group] == 0 && q.groupHead(m.group) == m)
		})
	}
	if q.waiting.len() > limit {
		q.waiting.filter(func(w waitEntry) bool { return !w.stale() })
	}
	if q.byAge.len() > limit {
		q.byAge.filter(func(m *message) bool { return !m.deleted })
	}
}

// remember records a FIFO deduplication entry.
func (q *EmbeddedQueue) remember(key string, d dedupEntry) {
	q.dedup[key] = d
	q.dedupOrder = append(q.dedupOrder, dedupKey{key: key, expires: d.expires})
}
