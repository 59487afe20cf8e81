package awslog_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/awslog"
)

// handle writes one record, made at t with attrs, through a Handler that
// carries the runtime's attributes of a function, and returns what it
// wrote.
func handle(t *testing.T, opts *awslog.Options, fn []slog.Attr, at time.Time, level slog.Level, msg string, attrs ...slog.Attr) string {
	t.Helper()
	var out bytes.Buffer
	h := awslog.NewHandler(&out, opts).WithAttrs(fn)
	r := slog.NewRecord(at, level, msg, 0)
	r.AddAttrs(attrs...)
	require.NoError(t, h.Handle(context.Background(), r))
	return out.String()
}

// The attributes the runtime gives a function's records.
var (
	textFn = []slog.Attr{slog.String("function", "f"), slog.String("version", "$LATEST")}
	jsonFn = []slog.Attr{slog.String("function", "f"), slog.String("version", "$LATEST"), slog.String("log_format", "JSON")}
)

// TestTextGolden checks the Text format against the messages AWS writes to
// CloudWatch Logs, character for character: the messages below are AWS's
// as CloudWatch Logs' GetLogEvents and FilterLogEvents return them, tabs,
// decimals, units and the trailing tab of a successful REPORT included,
// each with its request ID and figures.
func TestTextGolden(t *testing.T) {
	at := time.Date(2022, 10, 12, 9, 22, 49, 638e6, time.UTC)
	tests := []struct {
		name  string
		level slog.Level
		msg   string
		attrs []slog.Attr
		want  string
	}{{
		name: "START", msg: "START",
		attrs: []slog.Attr{slog.String("request_id", "59c29f07-00fb-45f2-ba67-68ce90d6ed3b"), slog.String("function_arn", "arn:aws:lambda:us-east-1:000000000000:function:f")},
		want:  "START RequestId: 59c29f07-00fb-45f2-ba67-68ce90d6ed3b Version: $LATEST\n",
	}, {
		name: "END", msg: "END",
		attrs: []slog.Attr{slog.String("request_id", "59c29f07-00fb-45f2-ba67-68ce90d6ed3b")},
		want:  "END RequestId: 59c29f07-00fb-45f2-ba67-68ce90d6ed3b\n",
	}, {
		name: "REPORT of a cold start", msg: "REPORT",
		attrs: []slog.Attr{
			slog.String("request_id", "00000000-0000-0000-0000-000000000000"),
			slog.Float64("duration_ms", 2336.3), slog.Int64("billed_duration_ms", 2346),
			slog.Int("memory_size_mb", 128), slog.Uint64("max_memory_used_mb", 20),
			slog.Float64("init_duration_ms", 8.97),
		},
		want: "REPORT RequestId: 00000000-0000-0000-0000-000000000000\tDuration: 2336.30 ms\tBilled Duration: 2346 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 8.97 ms\t\n",
	}, {
		name: "REPORT of a warm start", msg: "REPORT",
		attrs: []slog.Attr{
			slog.String("request_id", "9c1e95f4-8857-4877-813e-7c790b9e1c73"),
			slog.Float64("duration_ms", 41.71), slog.Int64("billed_duration_ms", 42),
			slog.Int("memory_size_mb", 384), slog.Uint64("max_memory_used_mb", 232),
		},
		want: "REPORT RequestId: 9c1e95f4-8857-4877-813e-7c790b9e1c73\tDuration: 41.71 ms\tBilled Duration: 42 ms\tMemory Size: 384 MB\tMax Memory Used: 232 MB\t\n",
	}, {
		name: "REPORT of the documented example", msg: "REPORT",
		attrs: []slog.Attr{
			slog.String("request_id", "r"), slog.Float64("duration_ms", 12.34), slog.Int64("billed_duration_ms", 13),
			slog.Int("memory_size_mb", 128), slog.Uint64("max_memory_used_mb", 20), slog.Float64("init_duration_ms", 3.45),
		},
		want: "REPORT RequestId: r\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 3.45 ms\t\n",
	}, {
		name: "REPORT of a whole number of ms", msg: "REPORT",
		attrs: []slog.Attr{
			slog.String("request_id", "r"), slog.Float64("duration_ms", 3000), slog.Int64("billed_duration_ms", 3000),
			slog.Int("memory_size_mb", 128), slog.Uint64("max_memory_used_mb", 70),
		},
		want: "REPORT RequestId: r\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\t\n",
	}, {
		name: "REPORT of a crash", msg: "REPORT",
		attrs: []slog.Attr{
			slog.String("request_id", "59c29f07-00fb-45f2-ba67-68ce90d6ed3b"),
			slog.Float64("duration_ms", 1012.45), slog.Int64("billed_duration_ms", 1013),
			slog.Int("memory_size_mb", 512), slog.Uint64("max_memory_used_mb", 314),
			slog.String("status", "error"), slog.String("error_type", "Runtime.Unknown"),
		},
		want: "REPORT RequestId: 59c29f07-00fb-45f2-ba67-68ce90d6ed3b\tDuration: 1012.45 ms\tBilled Duration: 1013 ms\tMemory Size: 512 MB\tMax Memory Used: 314 MB\tStatus: error\tError Type: Runtime.Unknown\n",
	}, {
		name: "REPORT of running out of memory", msg: "REPORT",
		attrs: []slog.Attr{
			slog.String("request_id", "595dc20a-caa6-455c-b6cb-182bc88397ed"),
			slog.Float64("duration_ms", 103085.64), slog.Int64("billed_duration_ms", 103086),
			slog.Int("memory_size_mb", 128), slog.Uint64("max_memory_used_mb", 126),
			slog.String("status", "error"), slog.String("error_type", "Runtime.OutOfMemory"),
		},
		want: "REPORT RequestId: 595dc20a-caa6-455c-b6cb-182bc88397ed\tDuration: 103085.64 ms\tBilled Duration: 103086 ms\tMemory Size: 128 MB\tMax Memory Used: 126 MB\tStatus: error\tError Type: Runtime.OutOfMemory\n",
	}, {
		name: "REPORT of a timeout", msg: "REPORT",
		attrs: []slog.Attr{
			slog.String("request_id", "3dca290b-7b88-47c9-8dbd-84f107ecf9e1"),
			slog.Float64("duration_ms", 3000), slog.Int64("billed_duration_ms", 3000),
			slog.Int("memory_size_mb", 128), slog.Uint64("max_memory_used_mb", 70), slog.Float64("init_duration_ms", 164.66),
			slog.String("status", "timeout"), slog.String("error_type", lambda.ErrorTypeTimeout),
		},
		want: "REPORT RequestId: 3dca290b-7b88-47c9-8dbd-84f107ecf9e1\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\tInit Duration: 164.66 ms\tStatus: timeout\n",
	}, {
		name: "REPORT when the function returned an error", msg: "REPORT",
		attrs: []slog.Attr{
			slog.String("request_id", "r"), slog.Float64("duration_ms", 1.5), slog.Int64("billed_duration_ms", 2),
			slog.Int("memory_size_mb", 128), slog.Uint64("max_memory_used_mb", 6),
			slog.String("status", "failure"), slog.String("error_type", "errorString"),
		},
		want: "REPORT RequestId: r\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 6 MB\t\n",
	}, {
		name: "the function's line", msg: "order o-1 accepted",
		attrs: []slog.Attr{slog.String("stream", "stdout"), slog.String("request_id", "r")},
		want:  "order o-1 accepted\n",
	}, {
		name: "the error the function returned", level: slog.LevelError, msg: `{"errorMessage":"boom","errorType":"errorString"}`,
		attrs: []slog.Attr{slog.String("request_id", "r"), slog.String("error_type", "errorString")},
		want:  `{"errorMessage":"boom","errorType":"errorString"}` + "\n",
	}, {
		name: "the timeout line", level: slog.LevelError, msg: "Task timed out after 3.00 seconds",
		attrs: []slog.Attr{slog.String("request_id", "r")},
		want:  "Task timed out after 3.00 seconds\n",
	}, {
		name: "the runtime's own record", level: slog.LevelWarn, msg: "log output truncated",
		attrs: []slog.Attr{slog.String("request_id", "r"), slog.Int("dropped_bytes", 10), slog.String("note", "two words")},
		want:  "WARN log output truncated request_id=r dropped_bytes=10 note=\"two words\"\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, handle(t, nil, textFn, at, tt.level, tt.msg, tt.attrs...))
		})
	}
}

// TestJSONGolden checks the JSON format against the records AWS writes to
// CloudWatch Logs with LogFormat JSON: their members, in CloudWatch's order,
// and the types of their values (durations with a decimal point, sizes
// whole), as AWS's Telemetry API Event schema gives them and CloudWatch
// Logs shows them.
func TestJSONGolden(t *testing.T) {
	tests := []struct {
		name  string
		at    time.Time
		level slog.Level
		msg   string
		attrs []slog.Attr
		want  string
	}{{
		name: "platform.start", msg: "START", at: time.Date(2026, 10, 8, 7, 30, 28, 235e6, time.UTC),
		attrs: []slog.Attr{slog.String("request_id", "79b5e81f-9cdd-4145-b1f6-7c50ef8a2a36"), slog.String("function_arn", "arn:aws:lambda:eu-central-1:825765399535:function:tenner-notifier")},
		want:  `{"time":"2026-10-08T07:30:28.235Z","type":"platform.start","record":{"requestId":"79b5e81f-9cdd-4145-b1f6-7c50ef8a2a36","functionArn":"arn:aws:lambda:eu-central-1:825765399535:function:tenner-notifier","version":"$LATEST"}}`,
	}, {
		name: "platform.report of a cold start", msg: "REPORT", at: time.Date(2026, 10, 8, 7, 30, 29, 470e6, time.UTC),
		attrs: []slog.Attr{
			slog.String("request_id", "79b5e81f-9cdd-4145-b1f6-7c50ef8a2a36"),
			slog.Float64("duration_ms", 1233.96), slog.Int64("billed_duration_ms", 1698),
			slog.Int("memory_size_mb", 256), slog.Uint64("max_memory_used_mb", 123), slog.Float64("init_duration_ms", 463.512),
		},
		want: `{"time":"2026-10-08T07:30:29.470Z","type":"platform.report","record":{"requestId":"79b5e81f-9cdd-4145-b1f6-7c50ef8a2a36","metrics":{"durationMs":1233.96,"billedDurationMs":1698,"memorySizeMB":256,"maxMemoryUsedMB":123,"initDurationMs":463.512},"status":"success"}}`,
	}, {
		name: "platform.report of a warm start", msg: "REPORT", at: time.Date(2026, 10, 8, 7, 30, 42, 149e6, time.UTC),
		attrs: []slog.Attr{
			slog.String("request_id", "f0c9f58b-8ebe-4e84-a656-95eb6eee865a"),
			slog.Float64("duration_ms", 1072.145), slog.Int64("billed_duration_ms", 1073),
			slog.Int("memory_size_mb", 256), slog.Uint64("max_memory_used_mb", 125),
		},
		want: `{"time":"2026-10-08T07:30:42.149Z","type":"platform.report","record":{"requestId":"f0c9f58b-8ebe-4e84-a656-95eb6eee865a","metrics":{"durationMs":1072.145,"billedDurationMs":1073,"memorySizeMB":256,"maxMemoryUsedMB":125},"status":"success"}}`,
	}, {
		name: "platform.report of a timeout", level: slog.LevelWarn, msg: "REPORT", at: time.Date(2026, 7, 9, 6, 5, 50, 581e6, time.UTC),
		attrs: []slog.Attr{
			slog.String("request_id", "aec7a529-47f9-4090-be01-c9ed91bf83cf"),
			slog.Float64("duration_ms", 5000), slog.Int64("billed_duration_ms", 5000),
			slog.Int("memory_size_mb", 128), slog.Uint64("max_memory_used_mb", 94),
			slog.String("status", "timeout"), slog.String("error_type", lambda.ErrorTypeTimeout),
		},
		want: `{"time":"2026-07-09T06:05:50.581Z","type":"platform.report","record":{"requestId":"aec7a529-47f9-4090-be01-c9ed91bf83cf","metrics":{"durationMs":5000.0,"billedDurationMs":5000,"memorySizeMB":128,"maxMemoryUsedMB":94},"status":"timeout"}}`,
	}, {
		name: "platform.report of a crash", level: slog.LevelWarn, msg: "REPORT", at: time.Date(2026, 7, 9, 6, 5, 50, 581e6, time.UTC),
		attrs: []slog.Attr{
			slog.String("request_id", "r"), slog.Float64("duration_ms", 800.1), slog.Int64("billed_duration_ms", 801),
			slog.Int("memory_size_mb", 128), slog.Uint64("max_memory_used_mb", 128),
			slog.String("status", "error"), slog.String("error_type", "Runtime.OutOfMemory"),
		},
		want: `{"time":"2026-07-09T06:05:50.581Z","type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":800.1,"billedDurationMs":801,"memorySizeMB":128,"maxMemoryUsedMB":128},"status":"error","errorType":"Runtime.OutOfMemory"}}`,
	}, {
		name: "platform.runtimeDone", level: slog.LevelDebug, msg: "END", at: time.Date(2024, 7, 1, 8, 54, 54, 125e6, time.UTC),
		attrs: []slog.Attr{slog.String("request_id", "b2de8fdb-259d-476f-9546-0b4822dce67a")},
		want:  `{"time":"2024-07-01T08:54:54.125Z","type":"platform.runtimeDone","record":{"requestId":"b2de8fdb-259d-476f-9546-0b4822dce67a","status":"success"}}`,
	}, {
		name: "the function's plain line", level: slog.LevelInfo, msg: "ENV 2024-05-20T16:29:42.891Z", at: time.Date(2024, 5, 20, 16, 29, 45, 9e6, time.UTC),
		attrs: []slog.Attr{slog.String("stream", "stdout"), slog.String("request_id", "4b142fc3-17b8-4cdb-a46b-a8dbe7918715")},
		want:  `{"timestamp":"2024-05-20T16:29:45.009Z","level":"INFO","requestId":"4b142fc3-17b8-4cdb-a46b-a8dbe7918715","message":"ENV 2024-05-20T16:29:42.891Z"}`,
	}, {
		name: "the function's line with quotes, < and &", level: slog.LevelInfo, msg: `say "a<b" & go`, at: time.Date(2024, 5, 20, 16, 29, 45, 9e6, time.UTC),
		attrs: []slog.Attr{slog.String("stream", "stderr"), slog.String("request_id", "r")},
		want:  `{"timestamp":"2024-05-20T16:29:45.009Z","level":"INFO","requestId":"r","message":"say \"a<b\" & go"}`,
	}, {
		name: "the function's line during init", level: slog.LevelInfo, msg: "init", at: time.Date(2024, 5, 20, 16, 29, 45, 9e6, time.UTC),
		attrs: []slog.Attr{slog.String("stream", "stdout"), slog.String("phase", "init")},
		want:  `{"timestamp":"2024-05-20T16:29:45.009Z","level":"INFO","message":"init"}`,
	}, {
		name: "the function's JSON line, as it is", level: slog.LevelDebug, msg: `{"level": "debug", "msg": "my debug log", "timestamp": "2024-11-02T16:51:31.587199Z"}`, at: time.Now(),
		attrs: []slog.Attr{slog.String("stream", "stdout"), slog.String("request_id", "r")},
		want:  `{"level": "debug", "msg": "my debug log", "timestamp": "2024-11-02T16:51:31.587199Z"}`,
	}, {
		name: "the error the function returned", level: slog.LevelError, msg: `{"errorMessage":"boom","errorType":"errorString"}`, at: time.Now(),
		attrs: []slog.Attr{slog.String("request_id", "r"), slog.String("error_type", "errorString")},
		want:  `{"errorMessage":"boom","errorType":"errorString"}`,
	}, {
		name: "the runtime's own record", level: slog.LevelWarn, msg: "log output truncated", at: time.Date(2024, 5, 20, 16, 29, 45, 9e6, time.UTC),
		attrs: []slog.Attr{slog.String("request_id", "r"), slog.Int("dropped_bytes", 10), slog.String("note", "two words")},
		want:  `{"timestamp":"2024-05-20T16:29:45.009Z","level":"WARN","requestId":"r","message":"log output truncated","dropped_bytes":10,"note":"two words"}`,
	}, {
		name: "TRACE and FATAL", level: lambda.LevelFatal, msg: "the end", at: time.Date(2024, 5, 20, 16, 29, 45, 9e6, time.UTC),
		attrs: []slog.Attr{slog.String("stream", "stdout"), slog.String("request_id", "r")},
		want:  `{"timestamp":"2024-05-20T16:29:45.009Z","level":"FATAL","requestId":"r","message":"the end"}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A function's records name the format; the handler's Format
			// renders the others.
			require.Equal(t, tt.want+"\n", handle(t, nil, jsonFn, tt.at, tt.level, tt.msg, tt.attrs...))
			require.Equal(t, tt.want+"\n", handle(t, &awslog.Options{Format: lambda.LogFormatJSON}, textFn[:1], tt.at, tt.level, tt.msg, tt.attrs...))
		})
	}
}

// TestHandlerOptions: the level, the prefixes, and a multi-line message.
func TestHandlerOptions(t *testing.T) {
	var out bytes.Buffer
	fn := slog.New(awslog.NewHandler(&out, &awslog.Options{Prefix: true, Level: slog.LevelInfo})).With(textFn[0], textFn[1])
	fn.Info("line one\nline two", "stream", "stdout", "request_id", "r-2")
	fn.With(slog.String("trigger", "sqs-orders")).Error("trigger error", "error", "queue closed")
	fn.Debug("not shown")
	fn.WithGroup("g").Info("grouped", "k", "v")
	slog.New(awslog.NewHandler(&out, &awslog.Options{Prefix: true})).Info("no function")
	require.Equal(t, `[f] line one
[f] line two
[f/sqs-orders] ERROR trigger error error="queue closed"
[f] INFO grouped g.k=v
INFO no function
`, out.String())

	out.Reset()
	slog.New(awslog.NewHandler(&out, nil)).Log(context.Background(), lambda.LevelTrace, "every level by default")
	require.Equal(t, "TRACE every level by default\n", out.String())
}
