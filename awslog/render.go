package awslog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	lambda "github.com/wasmlambda/lambda"
)

// timeLayout is the UTC, millisecond form of AWS's JSON records' times.
const timeLayout = "2006-01-02T15:04:05.000Z"

// isPlatform reports whether r is START, END or REPORT of an invocation.
func (r *record) isPlatform() bool {
	switch r.Message {
	case "START", "END", "REPORT":
		return r.has("request_id")
	}
	return false
}

// isOutput reports whether r's message is a line as the function wrote it,
// or as the runtime writes it for the function: the guest's output, the
// error it reported, and the platform's timeout line.
func (r *record) isOutput() bool {
	switch {
	case r.has("stream"):
		return true
	case r.Level >= slog.LevelError && r.has("error_type") && strings.HasPrefix(r.Message, "{"):
		return true
	case strings.HasPrefix(r.Message, "Task timed out after"):
		return true
	}
	return false
}

// textLine renders r in AWS's Text format.
func textLine(r *record) string {
	switch {
	case r.isPlatform() && r.Message == "START":
		version := r.get("version")
		if version == "" {
			version = lambda.LatestVersion
		}
		return "START RequestId: " + r.get("request_id") + " Version: " + version
	case r.isPlatform() && r.Message == "END":
		return "END RequestId: " + r.get("request_id")
	case r.isPlatform():
		return reportText(r)
	case r.isOutput():
		return r.Message
	}
	var b strings.Builder
	b.WriteString(string(lambda.LevelName(r.Level)))
	b.WriteByte(' ')
	b.WriteString(r.Message)
	for _, a := range r.attrs {
		if skipped[a.Key] {
			continue
		}
		fmt.Fprintf(&b, " %s=%s", a.Key, quoteValue(a.Value.String()))
	}
	return b.String()
}

// reportText is AWS's REPORT line. Its fields are separated by tabs, and
// end with one when the invocation succeeded; durations are in ms with two
// decimals. A failed invocation ends with "Status: timeout", or "Status:
// error" and its "Error Type". An invocation whose function returned an
// error (status failure) succeeded for the platform: AWS's REPORT says
// nothing of it.
func reportText(r *record) string {
	parts := []string{
		"REPORT RequestId: " + r.get("request_id"),
		"Duration: " + decimals(r, "duration_ms") + " ms",
		"Billed Duration: " + r.get("billed_duration_ms") + " ms",
		"Memory Size: " + r.get("memory_size_mb") + " MB",
		"Max Memory Used: " + r.get("max_memory_used_mb") + " MB",
	}
	if r.has("init_duration_ms") {
		parts = append(parts, "Init Duration: "+decimals(r, "init_duration_ms")+" ms")
	}
	switch r.get("status") {
	case "timeout":
		parts = append(parts, "Status: timeout")
	case "error":
		parts = append(parts, "Status: error")
		if t := r.get("error_type"); t != "" {
			parts = append(parts, "Error Type: "+t)
		}
	default:
		parts = append(parts, "")
	}
	return strings.Join(parts, "\t")
}

// decimals is the number at key with two decimals.
func decimals(r *record, key string) string {
	f, ok := number(r, key)
	if !ok {
		return r.get(key)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// number is the number at key, of whatever kind it was logged as.
func number(r *record, key string) (float64, bool) {
	v, ok := r.value(key)
	if !ok {
		return 0, false
	}
	switch v.Kind() {
	case slog.KindFloat64:
		return v.Float64(), true
	case slog.KindInt64:
		return float64(v.Int64()), true
	case slog.KindUint64:
		return float64(v.Uint64()), true
	}
	f, err := strconv.ParseFloat(v.String(), 64)
	return f, err == nil
}

// quoteValue quotes a value that would not read as one word.
func quoteValue(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return strconv.Quote(s)
	}
	return s
}

// jsonLine renders r in AWS's JSON format. A line that is not a JSON
// object becomes {"timestamp","level","requestId","message"}, in the order
// of the records AWS's runtimes write for a plain line (Node.js's
// console.log, as CloudWatch Logs shows them); the requestId is absent
// during init, as on AWS.
func jsonLine(r *record) string {
	switch {
	case r.isPlatform():
		return platformJSON(r)
	case r.isOutput() && isJSONObject(r.Message):
		// "Lambda doesn't double-encode any logs that are already JSON
		// encoded."
		return r.Message
	}
	var b obj
	b.str("timestamp", jsonTime(r.Time))
	b.str("level", string(lambda.LevelName(r.Level)))
	if id := r.get("request_id"); id != "" {
		b.str("requestId", id)
	}
	b.str("message", r.Message)
	if !r.isOutput() {
		for _, a := range r.attrs {
			if skipped[a.Key] || a.Key == "request_id" {
				continue
			}
			b.raw(a.Key, jsonValue(a.Value))
		}
	}
	return b.close()
}

// platformJSON is the Telemetry API event of START (platform.start), END
// (platform.runtimeDone) or REPORT (platform.report), with the members in
// the order CloudWatch Logs shows them.
func platformJSON(r *record) string {
	var rec obj
	rec.str("requestId", r.get("request_id"))
	typ := "platform.start"
	switch r.Message {
	case "START":
		if arn := r.get("function_arn"); arn != "" {
			rec.str("functionArn", arn)
		}
		version := r.get("version")
		if version == "" {
			version = lambda.LatestVersion
		}
		rec.str("version", version)
	case "END":
		typ = "platform.runtimeDone"
		status(&rec, r)
	case "REPORT":
		typ = "platform.report"
		var m obj
		m.raw("durationMs", awsFloat(r, "duration_ms"))
		m.raw("billedDurationMs", awsInt(r, "billed_duration_ms"))
		m.raw("memorySizeMB", awsInt(r, "memory_size_mb"))
		m.raw("maxMemoryUsedMB", awsInt(r, "max_memory_used_mb"))
		if r.has("init_duration_ms") {
			m.raw("initDurationMs", awsFloat(r, "init_duration_ms"))
		}
		rec.raw("metrics", m.close())
		status(&rec, r)
	}
	var ev obj
	ev.str("time", jsonTime(r.Time))
	ev.str("type", typ)
	ev.raw("record", rec.close())
	return ev.close()
}

// status adds the invocation's status, success unless the record says
// otherwise, and the error type of an error or a failure. A timeout has
// none: AWS's record of one says only "status":"timeout".
func status(o *obj, r *record) {
	s := r.get("status")
	if s == "" {
		s = "success"
	}
	o.str("status", s)
	if t := r.get("error_type"); t != "" && (s == "error" || s == "failure") {
		o.str("errorType", t)
	}
}

// awsFloat writes a number as AWS's records do: as short as it can be, and
// with a decimal point (5000.0, 1233.96).
func awsFloat(r *record, key string) string {
	f, ok := number(r, key)
	if !ok {
		return "null"
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// awsInt writes a whole number.
func awsInt(r *record, key string) string {
	f, ok := number(r, key)
	if !ok {
		return "null"
	}
	return strconv.FormatFloat(f, 'f', 0, 64)
}

func jsonTime(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format(timeLayout)
}

func isJSONObject(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "{") && json.Valid([]byte(s))
}

// jsonValue encodes an attribute's value.
func jsonValue(v slog.Value) string {
	switch v.Kind() {
	case slog.KindString:
		return jsonString(v.String())
	case slog.KindInt64, slog.KindUint64, slog.KindBool:
		return v.String()
	case slog.KindFloat64:
		return strconv.FormatFloat(v.Float64(), 'f', -1, 64)
	case slog.KindDuration, slog.KindTime:
		return jsonString(v.String())
	case slog.KindGroup:
		var o obj
		for _, a := range v.Group() {
			o.raw(a.Key, jsonValue(a.Value.Resolve()))
		}
		return o.close()
	}
	if err, ok := v.Any().(error); ok {
		return jsonString(err.Error())
	}
	b, err := json.Marshal(v.Any())
	if err != nil {
		return jsonString(v.String())
	}
	return string(b)
}

// jsonString encodes s as a JSON string, leaving <, > and & as they are.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// obj writes a JSON object with its members in the order added.
type obj struct {
	b strings.Builder
}

func (o *obj) raw(key, value string) {
	if o.b.Len() == 0 {
		o.b.WriteByte('{')
	} else {
		o.b.WriteByte(',')
	}
	o.b.WriteString(jsonString(key))
	o.b.WriteByte(':')
	o.b.WriteString(value)
}

func (o *obj) str(key, value string) { o.raw(key, jsonString(value)) }

func (o *obj) close() string {
	if o.b.Len() == 0 {
		return "{}"
	}
	return o.b.String() + "}"
}
