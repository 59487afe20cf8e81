// Package pattern compiles and matches EventBridge event patterns, as
// Lambda's event source mappings use them in FilterCriteria.
//
// A pattern is a JSON object. Every key of it must match (AND). A key whose
// value is an object matches a nested object of the event; a key whose value
// is an array is a leaf, and matches when any of its alternatives matches
// (OR). The alternatives are exact values (strings, numbers compared
// numerically, booleans and null) and the operators prefix, suffix,
// equals-ignore-case, wildcard, anything-but, numeric and exists. A key
// "$or" holds an array of patterns, at least one of which must match.
//
// As in EventBridge, the event is seen as its leaves: a leaf alternative
// matches scalar values only, an array in the event matches when any of its
// elements matches, and an array of objects matches a nested pattern when
// any one of its elements matches the whole nested pattern. So
// {"exists": true} matches a field holding a scalar (or an array holding
// one), never a field holding only an object, and {"exists": false} matches
// a field that is missing or holds no scalar.
//
// Numbers are compared as 64-bit floats. A numeric operator, or an exact
// number, never matches a string, even one that spells a number. EventBridge
// documents numeric matching for values within ±5.0e9 and to six decimal
// places; here any finite float64 compiles and compares exactly.
//
// anything-but matches a field holding a scalar that its argument does not
// match, whatever the scalar's type: {"anything-but": "x"} matches 5, and
// {"anything-but": {"prefix": "x"}} matches true. It never matches a
// missing field. The cidr operator is refused.
//
// Compile parses a pattern once; Match decodes the event and walks the
// compiled pattern. A Pattern is immutable and safe for concurrent use.
package pattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// MaxFilters is the number of patterns Lambda accepts in one event source
// mapping's FilterCriteria by default. AWS raises it to MaxFiltersQuota on
// request; Filters itself takes any number, so the caller's configuration
// check enforces the limit it chooses.
const MaxFilters = 5

// MaxFiltersQuota is the most patterns one event source mapping can have
// after a quota increase.
const MaxFiltersQuota = 10

// MaxPatternLen is the longest pattern, in bytes, that Lambda accepts in a
// filter. Compile refuses longer ones.
const MaxPatternLen = 4096

// Error is a pattern that does not compile: where, and why.
type Error struct {
	// Path is the dotted path of the offending key ("body.price"), empty
	// for the pattern as a whole.
	Path string
	// Reason says what is wrong there.
	Reason string
}

// Error returns "pattern: <path>: <reason>".
func (e *Error) Error() string {
	if e.Path == "" {
		return "pattern: " + e.Reason
	}
	return "pattern: " + e.Path + ": " + e.Reason
}

// Pattern is a compiled event pattern.
type Pattern struct {
	src  string
	root *object
}

// object is a pattern object: every field and every $or must match.
type object struct {
	fields []field
	ors    [][]*object // each: at least one must match
}

type field struct {
	key    string
	nested *object // set for a nested object
	leaf   []*alt  // set for a leaf
}

// kind of alternative.
type kind int

const (
	kExact kind = iota
	kPrefix
	kSuffix
	kEqualsIgnoreCase
	kWildcard
	kNumeric
	kExists
	kAnythingBut
)

// alt is one alternative of a leaf.
type alt struct {
	kind kind

	// kExact: one value. kAnythingBut with values: the set excluded.
	values []value

	// kPrefix, kSuffix, kEqualsIgnoreCase, kWildcard.
	str        string
	ignoreCase bool // prefix and suffix with equals-ignore-case

	// kNumeric: the bounds.
	lo, hi       float64
	loInc, hiInc bool
	hasLo, hasHi bool

	// kExists.
	exists bool

	// kAnythingBut with an operator: the operator whose match is excluded.
	not *alt
}

// value is an exact value of a pattern or a scalar of an event.
type value struct {
	typ  vtype
	s    string  // vString
	n    float64 // vNumber
	b    bool    // vBool
	okNu bool    // vNumber: n is a finite float64
}

type vtype int

const (
	vString vtype = iota
	vNumber
	vBool
	vNull
)

// Compile parses an event pattern. Its errors are *Error values naming the
// path and the problem.
func Compile(pattern []byte) (*Pattern, error) {
	if len(pattern) > MaxPatternLen {
		return nil, &Error{Reason: fmt.Sprintf("longer than %d bytes", MaxPatternLen)}
	}
	v, err := decode(pattern)
	if err != nil {
		return nil, &Error{Reason: "invalid JSON: " + err.Error()}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Reason: "want a JSON object"}
	}
	root, err := compileObject(m, "", true)
	if err != nil {
		return nil, err
	}
	return &Pattern{src: string(pattern), root: root}, nil
}

// String returns the pattern's source, as given to Compile.
func (p *Pattern) String() string { return p.src }

// decode parses one JSON value, keeping numbers' text.
func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the value")
	}
	return v, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func compileObject(m map[string]any, path string, top bool) (*object, error) {
	if len(m) == 0 && !top {
		return nil, &Error{Path: path, Reason: "empty object"}
	}
	o := &object{}
	for _, k := range sortedKeys(m) {
		p := join(path, k)
		if k == "$or" {
			list, ok := m[k].([]any)
			if !ok || len(list) < 2 {
				return nil, &Error{Path: p, Reason: "want an array of at least two patterns"}
			}
			var alts []*object
			for i, e := range list {
				em, ok := e.(map[string]any)
				if !ok || len(em) == 0 {
					return nil, &Error{Path: fmt.Sprintf("%s[%d]", p, i), Reason: "want a pattern object"}
				}
				sub, err := compileObject(em, path, false)
				if err != nil {
					return nil, err
				}
				alts = append(alts, sub)
			}
			o.ors = append(o.ors, alts)
			continue
		}
		switch v := m[k].(type) {
		case map[string]any:
			sub, err := compileObject(v, p, false)
			if err != nil {
				return nil, err
			}
			o.fields = append(o.fields, field{key: k, nested: sub})
		case []any:
			if len(v) == 0 {
				return nil, &Error{Path: p, Reason: "empty array: want at least one value or operator"}
			}
			leaf := make([]*alt, 0, len(v))
			for _, e := range v {
				a, err := compileAlt(e, p)
				if err != nil {
					return nil, err
				}
				leaf = append(leaf, a)
			}
			o.fields = append(o.fields, field{key: k, leaf: leaf})
		default:
			return nil, &Error{Path: p, Reason: "want an object or an array of values"}
		}
	}
	return o, nil
}

// scalar converts a decoded scalar; ok is false for objects and arrays.
func scalar(v any) (value, bool) {
	switch x := v.(type) {
	case string:
		return value{typ: vString, s: x}, true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return value{typ: vNumber, n: f, okNu: err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)}, true
	case bool:
		return value{typ: vBool, b: x}, true
	case nil:
		return value{typ: vNull}, true
	}
	return value{}, false
}

func compileAlt(e any, path string) (*alt, error) {
	switch x := e.(type) {
	case map[string]any:
		return compileOp(x, path)
	case []any:
		return nil, &Error{Path: path, Reason: "nested array: want a value or an operator"}
	}
	v, _ := scalar(e)
	if v.typ == vNumber && !v.okNu {
		return nil, &Error{Path: path, Reason: "number out of range"}
	}
	return &alt{kind: kExact, values: []value{v}}, nil
}

func compileOp(m map[string]any, path string) (*alt, error) {
	if len(m) != 1 {
		return nil, &Error{Path: path, Reason: "an operator object must have exactly one key"}
	}
	var op string
	var arg any
	for k, v := range m {
		op, arg = k, v
	}
	bad := func(reason string) error { return &Error{Path: path, Reason: op + ": " + reason} }
	switch op {
	case "prefix", "suffix":
		k := kPrefix
		if op == "suffix" {
			k = kSuffix
		}
		switch a := arg.(type) {
		case string:
			return &alt{kind: k, str: a}, nil
		case map[string]any:
			s, ok := a["equals-ignore-case"].(string)
			if len(a) != 1 || !ok {
				return nil, bad(`want a string or {"equals-ignore-case": string}`)
			}
			return &alt{kind: k, str: s, ignoreCase: true}, nil
		}
		return nil, bad(`want a string or {"equals-ignore-case": string}`)
	case "equals-ignore-case":
		s, ok := arg.(string)
		if !ok {
			return nil, bad("want a string")
		}
		return &alt{kind: kEqualsIgnoreCase, str: s}, nil
	case "wildcard":
		s, ok := arg.(string)
		if !ok {
			return nil, bad("want a string")
		}
		if err := checkWildcard(s); err != "" {
			return nil, bad(err)
		}
		return &alt{kind: kWildcard, str: s}, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return nil, bad("want true or false")
		}
		return &alt{kind: kExists, exists: b}, nil
	case "numeric":
		return compileNumeric(arg, bad)
	case "anything-but":
		return compileAnythingBut(arg, path, bad)
	case "cidr":
		return nil, bad("not supported")
	}
	return nil, &Error{Path: path, Reason: fmt.Sprintf("unknown operator %q", op)}
}

func compileNumeric(arg any, bad func(string) error) (*alt, error) {
	list, ok := arg.([]any)
	if !ok || (len(list) != 2 && len(list) != 4) {
		return nil, bad("want an operator and a number, or two of each")
	}
	a := &alt{kind: kNumeric}
	for i := 0; i < len(list); i += 2 {
		op, ok1 := list[i].(string)
		num, ok2 := list[i+1].(json.Number)
		if !ok1 || !ok2 {
			return nil, bad("want an operator and a number")
		}
		v, _ := scalar(num)
		if !v.okNu {
			return nil, bad("number out of range")
		}
		switch op {
		case "=":
			if len(list) != 2 {
				return nil, bad(`"=" must be alone`)
			}
			a.lo, a.hi, a.loInc, a.hiInc, a.hasLo, a.hasHi = v.n, v.n, true, true, true, true
		case ">", ">=":
			if a.hasLo {
				return nil, bad("two lower bounds")
			}
			a.lo, a.loInc, a.hasLo = v.n, op == ">=", true
		case "<", "<=":
			if a.hasHi {
				return nil, bad("two upper bounds")
			}
			a.hi, a.hiInc, a.hasHi = v.n, op == "<=", true
		default:
			return nil, bad(fmt.Sprintf("unknown comparison %q: want =, <, <=, > or >=", op))
		}
	}
	if a.hasLo && a.hasHi && (a.lo > a.hi || (a.lo == a.hi && !(a.loInc && a.hiInc))) {
		return nil, bad("empty range")
	}
	return a, nil
}

func compileAnythingBut(arg any, path string, bad func(string) error) (*alt, error) {
	switch x := arg.(type) {
	case map[string]any:
		if len(x) != 1 {
			return nil, bad("want one operator: prefix, suffix, equals-ignore-case or wildcard")
		}
		var op string
		for k := range x {
			op = k
		}
		switch op {
		case "prefix", "suffix", "wildcard":
			if _, ok := x[op].(string); !ok {
				return nil, bad(op + ": want a string")
			}
		case "equals-ignore-case":
			// A string or an array of strings.
			if list, ok := x[op].([]any); ok {
				if len(list) == 0 {
					return nil, bad(op + ": want a string or strings")
				}
				var vals []value
				for _, e := range list {
					s, ok := e.(string)
					if !ok {
						return nil, bad(op + ": want a string or strings")
					}
					vals = append(vals, value{typ: vString, s: s})
				}
				return &alt{kind: kAnythingBut, not: &alt{kind: kEqualsIgnoreCase, values: vals}}, nil
			}
			if _, ok := x[op].(string); !ok {
				return nil, bad(op + ": want a string or strings")
			}
		default:
			return nil, bad(fmt.Sprintf("unknown operator %q: want prefix, suffix, equals-ignore-case or wildcard", op))
		}
		inner, err := compileOp(x, path)
		if err != nil {
			return nil, &Error{Path: path, Reason: "anything-but: " + err.(*Error).Reason}
		}
		return &alt{kind: kAnythingBut, not: inner}, nil
	case []any:
		if len(x) == 0 {
			return nil, bad("empty array")
		}
		var vals []value
		for _, e := range x {
			v, ok := scalar(e)
			if !ok || (v.typ != vString && v.typ != vNumber) {
				return nil, bad("want strings or numbers")
			}
			if v.typ == vNumber && !v.okNu {
				return nil, bad("number out of range")
			}
			if len(vals) > 0 && vals[0].typ != v.typ {
				return nil, bad("want only strings or only numbers")
			}
			vals = append(vals, v)
		}
		return &alt{kind: kAnythingBut, values: vals}, nil
	}
	v, ok := scalar(arg)
	if !ok || (v.typ != vString && v.typ != vNumber) {
		return nil, bad("want a string, a number, an array of them, or an operator")
	}
	if v.typ == vNumber && !v.okNu {
		return nil, bad("number out of range")
	}
	return &alt{kind: kAnythingBut, values: []value{v}}, nil
}

// checkWildcard returns why s is not a valid wildcard, or "".
func checkWildcard(s string) string {
	prevStar := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*':
			if prevStar {
				return "consecutive wildcard characters"
			}
			prevStar = true
			continue
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return `a backslash must escape "*" or "\"`
			}
			i++
		}
		prevStar = false
	}
	return ""
}
