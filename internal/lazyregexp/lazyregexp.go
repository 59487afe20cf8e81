// Package lazyregexp is a regular expression compiled on its first use
// rather than when the program starts, after Go's own internal/lazyregexp.
//
// A package-level regexp.MustCompile runs in the start-up of every process
// that links the package, whether or not it ever matches: a bounded
// repetition such as {1,140} compiles to that many copies of its operand,
// a good part of a millisecond each, which a command that runs for a tenth
// of a second and never needs them should not pay.
package lazyregexp

import (
	"regexp"
	"sync"
)

// Regexp is a regexp.Regexp compiled on first use. It is safe for
// concurrent use.
type Regexp struct {
	str  string
	once sync.Once
	rx   *regexp.Regexp
}

// New returns the regular expression str, to be compiled on first use.
// The first use panics if str does not compile, as regexp.MustCompile
// does.
func New(str string) *Regexp { return &Regexp{str: str} }

func (r *Regexp) re() *regexp.Regexp {
	r.once.Do(func() { r.rx = regexp.MustCompile(r.str) })
	return r.rx
}

// MatchString is regexp.Regexp.MatchString.
func (r *Regexp) MatchString(s string) bool { return r.re().MatchString(s) }

// ReplaceAllString is regexp.Regexp.ReplaceAllString.
func (r *Regexp) ReplaceAllString(src, repl string) string {
	return r.re().ReplaceAllString(src, repl)
}

// String is the source text of the regular expression.
func (r *Regexp) String() string { return r.str }
