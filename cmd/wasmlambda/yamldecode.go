package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file decodes a YAML document into the config's structs through
// yaml.Node, so that every error names the file, the line and column, the
// field's path (functions[0].timeout) and the problem, and unknown fields
// are errors rather than silently ignored. Struct fields are named by their
// yaml tags.

// at is where a config element is: the line and column of its value, and of
// each of its fields' values. A struct with an At field gets it filled in.
type at struct {
	Line, Column int
	// Path is the element's path, such as functions[0].
	Path string
	// fields holds the value node of each field present.
	fields map[string]*yaml.Node
}

// field is where the field's value is, or the element itself when the
// field was not given.
func (a at) field(field string) (line, col int, path string) {
	path = joinPath(a.Path, field)
	if n := a.fields[field]; n != nil {
		return n.Line, n.Column, path
	}
	return a.Line, a.Column, path
}

// ref is a name that refers to another element (a layer, a queue, a
// bucket), with where it was written.
type ref struct {
	Name string
	At   at
}

// jsonText is a JSON value: a YAML mapping or sequence converted to JSON,
// or a string that holds JSON text.
type jsonText []byte

// text is a string, or a YAML mapping or sequence converted to JSON: a
// message body, which need not be JSON.
type text string

var (
	durationType = reflect.TypeFor[time.Duration]()
	jsonTextType = reflect.TypeFor[jsonText]()
	textType     = reflect.TypeFor[text]()
	refType      = reflect.TypeFor[ref]()
	atType       = reflect.TypeFor[at]()
)

// configError is one problem of a config file.
type configError struct {
	File      string
	Line, Col int
	Path      string
	Msg       string
}

func (e *configError) Error() string {
	loc := e.File
	switch {
	case e.Line > 0 && e.Col > 0:
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Col)
	case e.Line > 0:
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Path == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Path + ": " + e.Msg
}

// configErrors are the problems of a config file, one a line.
type configErrors []*configError

// maxConfigErrors bounds the problems reported at once.
const maxConfigErrors = 20

func (es configErrors) Error() string {
	lines := make([]string, 0, len(es))
	for i, e := range es {
		if i == maxConfigErrors {
			lines = append(lines, fmt.Sprintf("... and %d more", len(es)-i))
			break
		}
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
}

// decoder decodes nodes of one file and collects its errors.
type decoder struct {
	file string
	errs configErrors
}

func (d *decoder) failf(line, col int, path, format string, args ...any) {
	d.errs = append(d.errs, &configError{File: d.file, Line: line, Col: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// failAt records a problem of a node.
func (d *decoder) failAt(n *yaml.Node, path, format string, args ...any) {
	d.failf(n.Line, n.Column, path, format, args...)
}

// failField records a problem of an element's field.
func (d *decoder) failField(a at, field, format string, args ...any) {
	line, col, path := a.field(field)
	d.failf(line, col, path, format, args...)
}

// err is the errors found, or nil.
func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	return d.errs
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// kindName names a node's kind for an error.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}

// decodeDocument decodes the YAML src into v, a pointer to a struct.
func (d *decoder) decodeDocument(src []byte, v any) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		line, msg := syntaxError(src, err)
		d.failf(line, 0, "", "not valid YAML: %s", msg)
		return
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		d.failf(0, 0, "", "the file is empty")
		return
	}
	d.decode(doc.Content[0], reflect.ValueOf(v).Elem(), "")
}

// syntaxError finds the line of a YAML syntax error. yaml's errors read
// "yaml: line N: problem", where N is often the line where the block that
// holds the problem begins rather than the problem's own: the problem's
// line is the first whose addition to the lines before it makes the same
// error.
func syntaxError(src []byte, err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, after
			}
		}
	}
	lines := strings.SplitAfter(string(src), "\n")
	for k := 1; k <= len(lines); k++ {
		var n yaml.Node
		perr := yaml.Unmarshal([]byte(strings.Join(lines[:k], "")), &n)
		if perr != nil && strings.HasSuffix(perr.Error(), ": "+msg) {
			return k, msg
		}
	}
	return line, msg
}

// decode decodes n into v.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	null := n.Kind == yaml.ScalarNode && n.Tag == "!!null"
	t := v.Type()
	switch t {
	case durationType:
		if n.Kind != yaml.ScalarNode || null {
			d.failAt(n, path, "want a duration, such as 30s or 1m30s, got %s", kindName(n))
			return
		}
		dur, err := parseDuration(n.Value)
		if err != nil {
			d.failAt(n, path, "%v", err)
			return
		}
		v.SetInt(int64(dur))
		return
	case jsonTextType:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			if err := checkJSON([]byte(n.Value)); err != nil {
				d.failAt(n, path, "want JSON, or YAML that converts to it: the string is %v", err)
				return
			}
			v.SetBytes([]byte(n.Value))
			return
		}
		b, err := nodeJSON(n)
		if err != nil {
			d.failAt(n, path, "%v", err)
			return
		}
		v.SetBytes(b)
		return
	case textType:
		if n.Kind == yaml.ScalarNode {
			if null {
				d.failAt(n, path, "want a string, got nothing")
				return
			}
			v.SetString(n.Value)
			return
		}
		b, err := nodeJSON(n)
		if err != nil {
			d.failAt(n, path, "%v", err)
			return
		}
		v.SetString(string(b))
		return
	case refType:
		if n.Kind != yaml.ScalarNode || null || n.Value == "" {
			d.failAt(n, path, "want a name, got %s", kindName(n))
			return
		}
		v.Set(reflect.ValueOf(ref{Name: n.Value, At: at{Line: n.Line, Column: n.Column, Path: path}}))
		return
	}

	switch t.Kind() {
	case reflect.Pointer:
		if null && t.Elem().Kind() != reflect.Struct {
			return // not given
		}
		// An empty key of a struct ("embedded:") is the struct with its
		// defaults.
		p := reflect.New(t.Elem())
		if !null {
			d.decode(n, p.Elem(), path)
		} else {
			d.decodeStruct(&yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}, p.Elem(), path)
		}
		v.Set(p)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.failAt(n, path, "want a mapping of fields, got %s", kindName(n))
			return
		}
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if null {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.failAt(n, path, "want a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.decode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if null {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.failAt(n, path, "want a mapping, got %s", kindName(n))
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := joinPath(path, k.Value)
			if k.Kind != yaml.ScalarNode {
				d.failAt(k, path, "want a name as the key, got %s", kindName(k))
				continue
			}
			if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
				d.failAt(k, kp, "given twice")
				continue
			}
			e := reflect.New(t.Elem()).Elem()
			d.decode(val, e, kp)
			m.SetMapIndex(reflect.ValueOf(k.Value), e)
		}
		v.Set(m)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || null {
			d.failAt(n, path, "want a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.failAt(n, path, "want a whole number, got %s", kindName(n))
			return
		}
		var i int
		if err := n.Decode(&i); err != nil {
			d.failAt(n, path, "want a whole number, got %s", kindName(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.failAt(n, path, "want true or false, got %s", kindName(n))
			return
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.failAt(n, path, "want true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	default:
		panic("config: no decoding for " + t.String())
	}
}

// decodeStruct decodes the mapping n into the struct v, field by field.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	fields := map[string]int{}
	var names []string
	atField := -1
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type == atType && f.Name == "At" {
			atField = i
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	pos := at{Line: n.Line, Column: n.Column, Path: path, fields: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.failAt(k, path, "want a field name, got %s", kindName(k))
			continue
		}
		idx, ok := fields[k.Value]
		if !ok {
			d.failAt(k, kp, "unknown field%s", suggest(k.Value, names))
			continue
		}
		if pos.fields[k.Value] != nil {
			d.failAt(k, kp, "given twice")
			continue
		}
		pos.fields[k.Value] = val
		d.decode(val, v.Field(idx), kp)
	}
	if atField >= 0 {
		v.Field(atField).Set(reflect.ValueOf(pos))
	}
}

// suggest says which known name an unknown one may mean.
func suggest(name string, known []string) string {
	best, bestDist := "", 4
	for _, k := range known {
		ln, lk := strings.ToLower(name), strings.ToLower(k)
		if ln == lk || len(lk) >= 4 && (strings.HasPrefix(ln, lk) || strings.HasPrefix(lk, ln)) {
			return fmt.Sprintf("; did you mean %q?", k)
		}
		if dist := editDistance(strings.ToLower(name), strings.ToLower(k)); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	sorted := slices.Sorted(slices.Values(known))
	return "; the fields are " + strings.Join(sorted, ", ")
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// nodeJSON converts a YAML value to JSON.
func nodeJSON(n *yaml.Node) ([]byte, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fmt.Errorf("cannot convert to JSON: %v", err)
	}
	b, err := json.Marshal(jsonSafe(v))
	if err != nil {
		var ue *json.UnsupportedValueError
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("cannot convert to JSON: %v", ue.Str)
		}
		return nil, fmt.Errorf("cannot convert to JSON: %v", err)
	}
	return b, nil
}

// jsonSafe turns the map[any]any of YAML mappings with non-string keys
// into map[string]any, for encoding/json.
func jsonSafe(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonSafe(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonSafe(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = jsonSafe(e)
		}
		return v
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	return v
}
