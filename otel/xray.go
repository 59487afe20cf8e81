package otel

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// TraceID returns the AWS X-Ray trace ID (a trace header) of sc:
// "Root=1-" and sc's trace ID, its first 8 hex digits, a hyphen and its
// last 24; ";Parent=" and sc's span ID; ";Sampled=1" or 0 as sc is
// sampled. It returns "" for an invalid sc.
//
// X-Ray reads the first 8 digits of the Root as the trace's start, in
// seconds since the epoch: a TracerProvider whose trace IDs are to be
// accepted by X-Ray itself makes them so (as the X-Ray ID generator of
// OpenTelemetry's contributions does).
func TraceID(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	var b [len("Root=1-") + 8 + 1 + 24 + len(";Parent=") + 16 + len(";Sampled=1")]byte
	n := copy(b[:], "Root=1-")
	hex.Encode(b[n:], tid[:4])
	n += 8
	b[n] = '-'
	n++
	hex.Encode(b[n:], tid[4:])
	n += 24
	n += copy(b[n:], ";Parent=")
	hex.Encode(b[n:], sid[:])
	n += 16
	sampled := ";Sampled=0"
	if sc.IsSampled() {
		sampled = ";Sampled=1"
	}
	copy(b[n:], sampled)
	return string(b[:])
}

// traceID is the Observer's TraceID: that of the span in ctx.
func traceID(ctx context.Context) string { return TraceID(trace.SpanContextFromContext(ctx)) }

// errTraceID is the error of a malformed trace ID.
var errTraceID = errors.New("otel: malformed X-Ray trace ID")

// ParseTraceID parses an AWS X-Ray trace ID (a trace header, whose keys
// may come in any order, with spaces around them) into a remote span
// context: the inverse of TraceID. A header without Parent has no span to
// be the child of, and is refused; Sampled defaults to 0, and other keys
// (Lineage, Self) are ignored.
//
// # Errors
//
// A Root that is not version 1 with 8 and 24 hex digits, or a Parent that
// is not 16 hex digits.
func ParseTraceID(h string) (trace.SpanContext, error) {
	var cfg trace.SpanContextConfig
	var root, parent bool
	for part := range strings.SplitSeq(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			if len(v) != 35 || v[:2] != "1-" || v[10] != '-' {
				return trace.SpanContext{}, fmt.Errorf("%w: Root %q", errTraceID, v)
			}
			if _, err := hex.Decode(cfg.TraceID[:4], []byte(v[2:10])); err != nil {
				return trace.SpanContext{}, fmt.Errorf("%w: Root %q", errTraceID, v)
			}
			if _, err := hex.Decode(cfg.TraceID[4:], []byte(v[11:])); err != nil {
				return trace.SpanContext{}, fmt.Errorf("%w: Root %q", errTraceID, v)
			}
			root = true
		case "Parent":
			if len(v) != 16 {
				return trace.SpanContext{}, fmt.Errorf("%w: Parent %q", errTraceID, v)
			}
			if _, err := hex.Decode(cfg.SpanID[:], []byte(v)); err != nil {
				return trace.SpanContext{}, fmt.Errorf("%w: Parent %q", errTraceID, v)
			}
			parent = true
		case "Sampled":
			if v == "1" {
				cfg.TraceFlags = trace.FlagsSampled
			}
		}
	}
	if !root || !parent {
		return trace.SpanContext{}, fmt.Errorf("%w: %q has no Root or no Parent", errTraceID, h)
	}
	cfg.Remote = true
	sc := trace.NewSpanContext(cfg)
	if !sc.IsValid() {
		return trace.SpanContext{}, fmt.Errorf("%w: %q is all zeros", errTraceID, h)
	}
	return sc, nil
}
