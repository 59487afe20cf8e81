package pattern

import (
	"strconv"
	"strings"
)

// Event is a decoded event, to match against several patterns without
// decoding it again.
type Event struct {
	m map[string]any
}

// ParseEvent decodes an event. It must be a JSON object.
func ParseEvent(event []byte) (*Event, error) {
	v, err := decode(event)
	if err != nil {
		return nil, &Error{Reason: "event: invalid JSON: " + err.Error()}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Reason: "event: want a JSON object"}
	}
	return &Event{m: m}, nil
}

// Match reports whether the event, a JSON object, matches the pattern. An
// event that is not a JSON object matches nothing.
func (p *Pattern) Match(event []byte) bool {
	e, err := ParseEvent(event)
	if err != nil {
		return false
	}
	return p.MatchEvent(e)
}

// MatchEvent reports whether a decoded event matches the pattern.
func (p *Pattern) MatchEvent(e *Event) bool {
	return matchObject(p.root, e.m)
}

func matchObject(o *object, m map[string]any) bool {
	for i := range o.fields {
		f := &o.fields[i]
		v, present := m[f.key]
		if f.nested != nil {
			if !matchNested(f.nested, v, present) {
				return false
			}
			continue
		}
		var leaves []value
		if present {
			leaves = collectLeaves(v, nil)
		}
		if !matchLeaf(f.leaf, leaves) {
			return false
		}
	}
	for _, alts := range o.ors {
		ok := false
		for _, sub := range alts {
			if matchObject(sub, m) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchNested matches a nested pattern against a field: an object, any
// object of an array, or (when there is none) no fields at all, which only
// patterns of {"exists": false} match.
func matchNested(o *object, v any, present bool) bool {
	if !present {
		return matchObject(o, nil)
	}
	found := false
	var try func(v any) bool
	try = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			found = true
			return matchObject(o, x)
		case []any:
			for _, e := range x {
				if try(e) {
					return true
				}
			}
		}
		return false
	}
	if try(v) {
		return true
	}
	return !found && matchObject(o, nil)
}

// collectLeaves appends the scalars of v, flattening arrays; objects hold
// no leaves of this field.
func collectLeaves(v any, out []value) []value {
	if a, ok := v.([]any); ok {
		for _, e := range a {
			out = collectLeaves(e, out)
		}
		return out
	}
	if s, ok := scalar(v); ok {
		out = append(out, s)
	}
	return out
}

func matchLeaf(alts []*alt, leaves []value) bool {
	for _, a := range alts {
		if a.kind == kExists {
			if a.exists == (len(leaves) > 0) {
				return true
			}
			continue
		}
		for _, v := range leaves {
			if a.match(v) {
				return true
			}
		}
	}
	return false
}

func equal(a, b value) bool {
	if a.typ != b.typ {
		return false
	}
	switch a.typ {
	case vString:
		return a.s == b.s
	case vNumber:
		return a.okNu && b.okNu && a.n == b.n
	case vBool:
		return a.b == b.b
	}
	return true // null
}

// match reports whether one scalar of the event satisfies the alternative.
func (a *alt) match(v value) bool {
	switch a.kind {
	case kExact:
		return equal(a.values[0], v)
	case kPrefix:
		if v.typ != vString {
			return false
		}
		if a.ignoreCase {
			return strings.HasPrefix(strings.ToLower(v.s), strings.ToLower(a.str))
		}
		return strings.HasPrefix(v.s, a.str)
	case kSuffix:
		if v.typ != vString {
			return false
		}
		if a.ignoreCase {
			return strings.HasSuffix(strings.ToLower(v.s), strings.ToLower(a.str))
		}
		return strings.HasSuffix(v.s, a.str)
	case kEqualsIgnoreCase:
		if v.typ != vString {
			return false
		}
		if a.values != nil {
			for _, x := range a.values {
				if strings.EqualFold(x.s, v.s) {
					return true
				}
			}
			return false
		}
		return strings.EqualFold(a.str, v.s)
	case kWildcard:
		return v.typ == vString && wildcard(a.str, v.s)
	case kNumeric:
		if v.typ != vNumber || !v.okNu {
			return false
		}
		if a.hasLo && (v.n < a.lo || (v.n == a.lo && !a.loInc)) {
			return false
		}
		if a.hasHi && (v.n > a.hi || (v.n == a.hi && !a.hiInc)) {
			return false
		}
		return true
	case kAnythingBut:
		if a.not != nil {
			return !a.not.match(v)
		}
		for _, x := range a.values {
			if equal(x, v) {
				return false
			}
		}
		return true
	}
	return false
}

// wildcard matches s against a pattern where "*" matches any run of
// characters and "\*" and "\\" stand for themselves. The pattern has been
// checked by checkWildcard. It backtracks to the last star only, so it runs
// in time proportional to len(p)*len(s) at worst.
func wildcard(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) {
			c := p[pi]
			if c == '*' {
				star, mark = pi, si
				pi++
				continue
			}
			lit, width := c, 1
			if c == '\\' {
				lit, width = p[pi+1], 2
			}
			if lit == s[si] {
				pi += width
				si++
				continue
			}
		}
		if star < 0 {
			return false
		}
		mark++
		pi, si = star+1, mark
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// Filters is a mapping's filter criteria: a list of patterns, ORed. An
// empty list matches every event.
type Filters []*Pattern

// CompileFilters compiles each pattern. Its error names the failing
// pattern's index. It does not check the number of patterns against
// MaxFilters: that is the caller's configuration rule.
func CompileFilters(patterns []string) (Filters, error) {
	fs := make(Filters, 0, len(patterns))
	for i, s := range patterns {
		p, err := Compile([]byte(s))
		if err != nil {
			return nil, &FilterError{Index: i, Err: err}
		}
		fs = append(fs, p)
	}
	return fs, nil
}

// FilterError is a filter of a list that does not compile.
type FilterError struct {
	// Index is the filter's position in the list, from 0.
	Index int
	// Err is the *Error from Compile.
	Err error
}

// Error returns "filter <index>: pattern: ...".
func (e *FilterError) Error() string {
	return "filter " + strconv.Itoa(e.Index) + ": " + e.Err.Error()
}

// Unwrap returns the *Error from Compile.
func (e *FilterError) Unwrap() error { return e.Err }

// Match reports whether the event matches any of the patterns, or fs is
// empty. The event is decoded once.
func (fs Filters) Match(event []byte) bool {
	if len(fs) == 0 {
		return true
	}
	e, err := ParseEvent(event)
	if err != nil {
		return false
	}
	return fs.MatchEvent(e)
}

// MatchEvent reports whether a decoded event matches any of the patterns,
// or fs is empty.
func (fs Filters) MatchEvent(e *Event) bool {
	if len(fs) == 0 {
		return true
	}
	for _, p := range fs {
		if p.MatchEvent(e) {
			return true
		}
	}
	return false
}
