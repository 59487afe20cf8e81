package sqs

import "time"

// AdvanceClock moves e's clock forward by d, for tests of retention.
func AdvanceClock(e *Embedded, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clockSkew += d
}
