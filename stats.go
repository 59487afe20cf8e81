package lambda

import "sort"

// RuntimeStats is a snapshot of every deployed function's counters, for
// users without OpenTelemetry: plain values a dashboard or an expvar can
// print.
type RuntimeStats struct {
	// Functions are the deployed functions' stats, by name.
	Functions []FunctionStats
}

// FunctionStats is a snapshot of one function's counters.
type FunctionStats struct {
	// Name and Version are the function's.
	Name    string
	Version string
	// Mode is how its module runs, as Function.Mode reports it: a Go
	// guest built without -buildmode=c-shared is ModeCommand.
	Mode Mode
	// Pool is its sandbox pool, as Function.Stats returns it.
	Pool PoolStats
	// Async is its asynchronous invocations, as Function.AsyncStats
	// returns them.
	Async AsyncStats
	// Triggers are its attached triggers' counters, as Attachment.Stats
	// returns them, in the order they were attached.
	Triggers []TriggerStats
}

// Stats returns a snapshot of every deployed function's pool,
// asynchronous and trigger counters, functions by name. Each part is a
// consistent snapshot of its own, as the function's Stats, AsyncStats and
// its attachments' Stats return them; the parts are taken one after the
// other, not at one instant. Functions still being deployed are not
// included. Stats is safe for concurrent use, and does not block beyond
// the locks of the counters.
func (r *Runtime) Stats() RuntimeStats {
	fs := r.Functions()
	sort.Slice(fs, func(i, j int) bool { return fs[i].name < fs[j].name })
	out := RuntimeStats{Functions: make([]FunctionStats, 0, len(fs))}
	for _, f := range fs {
		s := FunctionStats{Name: f.name, Version: f.cfg.Version, Mode: f.Mode(), Pool: f.Stats(), Async: f.AsyncStats()}
		for _, a := range f.Triggers() {
			s.Triggers = append(s.Triggers, a.Stats())
		}
		out.Functions = append(out.Functions, s)
	}
	return out
}
