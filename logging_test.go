package lambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/awslog"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// TestLoggingConfig: AWS's validation and defaults of LoggingConfig, with
// errors that name the field.
func TestLoggingConfig(t *testing.T) {
	rt := newRuntime(t, lambda.Options{})
	code := testguest.WAT(t, "counter")
	tests := []struct {
		name    string
		in      lambda.LoggingConfig
		want    lambda.LoggingConfig
		wantErr string
	}{
		{name: "default", want: lambda.LoggingConfig{LogFormat: lambda.LogFormatText}},
		{name: "Text", in: lambda.LoggingConfig{LogFormat: lambda.LogFormatText}, want: lambda.LoggingConfig{LogFormat: lambda.LogFormatText}},
		{name: "JSON defaults", in: lambda.LoggingConfig{LogFormat: lambda.LogFormatJSON},
			want: lambda.LoggingConfig{LogFormat: lambda.LogFormatJSON, ApplicationLogLevel: lambda.LogLevelInfo, SystemLogLevel: lambda.LogLevelInfo}},
		{name: "JSON levels", in: lambda.LoggingConfig{LogFormat: lambda.LogFormatJSON, ApplicationLogLevel: lambda.LogLevelTrace, SystemLogLevel: lambda.LogLevelWarn},
			want: lambda.LoggingConfig{LogFormat: lambda.LogFormatJSON, ApplicationLogLevel: lambda.LogLevelTrace, SystemLogLevel: lambda.LogLevelWarn}},
		{name: "a format AWS does not spell so", in: lambda.LoggingConfig{LogFormat: "json"}, wantErr: `Logging.LogFormat "json"`},
		{name: "an application level with Text", in: lambda.LoggingConfig{ApplicationLogLevel: lambda.LogLevelDebug}, wantErr: `Logging.ApplicationLogLevel "DEBUG": log levels need Logging.LogFormat "JSON"`},
		{name: "a system level with Text", in: lambda.LoggingConfig{LogFormat: lambda.LogFormatText, SystemLogLevel: lambda.LogLevelWarn}, wantErr: `Logging.SystemLogLevel "WARN": log levels need Logging.LogFormat "JSON"`},
		{name: "an unknown application level", in: lambda.LoggingConfig{LogFormat: lambda.LogFormatJSON, ApplicationLogLevel: "info"}, wantErr: `Logging.ApplicationLogLevel "info"`},
		{name: "a system level AWS does not allow", in: lambda.LoggingConfig{LogFormat: lambda.LogFormatJSON, SystemLogLevel: lambda.LogLevelTrace}, wantErr: `Logging.SystemLogLevel "TRACE": want DEBUG, INFO or WARN`},
		{name: "FATAL for the system", in: lambda.LoggingConfig{LogFormat: lambda.LogFormatJSON, SystemLogLevel: lambda.LogLevelFatal}, wantErr: `Logging.SystemLogLevel "FATAL"`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := rt.Deploy(context.Background(), lambda.FunctionConfig{Name: "logcfg" + string(rune('a'+i)), Code: code, Logging: tt.in})
			if tt.wantErr != "" {
				require.ErrorIs(t, err, lambda.ErrInvalidConfig)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, f.Config().Logging)
		})
	}
}

// syncBuf is a bytes.Buffer for concurrent writers.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// take returns what was written and forgets it.
func (s *syncBuf) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	s.b.Reset()
	return out
}

// TestLogsText: what a Go guest's invocations log in AWS's Text format,
// through the awslog handler, line for line.
func TestLogsText(t *testing.T) {
	var out syncBuf
	rt := newRuntime(t, lambda.Options{Logger: slog.New(awslog.NewHandler(&out, nil))})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "text", Code: testguest.Go(t, "behave")})
	ctx := context.Background()
	out.take() // init

	num := `[0-9]+\.[0-9]{2}`
	_, err := f.Invoke(ctx, []byte(`{"op":"log","lines":2}`), lambda.WithRequestID("req-log"))
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^START RequestId: req-log Version: \$LATEST
line 1
err 1
line 2
err 2
END RequestId: req-log
REPORT RequestId: req-log\tDuration: `+num+` ms\tBilled Duration: [0-9]+ ms\tMemory Size: 128 MB\tMax Memory Used: [0-9]+ MB\tInit Duration: `+num+` ms\t
$`), out.take())

	// A function's error is the function's, not the platform's: REPORT
	// says nothing of it, as on AWS.
	_, err = f.Invoke(ctx, []byte(`{"op":"error","message":"bad input"}`), lambda.WithRequestID("req-err"))
	require.Error(t, err)
	require.Regexp(t, regexp.MustCompile(`^START RequestId: req-err Version: \$LATEST
\{"errorMessage":"bad input","errorType":"errorString"\}
END RequestId: req-err
REPORT RequestId: req-err\tDuration: `+num+` ms\tBilled Duration: [0-9]+ ms\tMemory Size: 128 MB\tMax Memory Used: [0-9]+ MB\t
$`), out.take())

	// A crash is the platform's: Status and Error Type, no trailing tab.
	_, err = f.Invoke(ctx, []byte(`{"op":"exit","code":3}`), lambda.WithRequestID("req-exit"))
	require.Error(t, err)
	require.Regexp(t, regexp.MustCompile(`(?m)^REPORT RequestId: req-exit\tDuration: `+num+` ms\tBilled Duration: [0-9]+ ms\tMemory Size: 128 MB\tMax Memory Used: [0-9]+ MB\tStatus: error\tError Type: Runtime.ExitError\n$`), out.take())
}

// jsonLines parses the JSON lines of out, each one an object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "a JSON object: %s", l)
		recs = append(recs, m)
	}
	return recs
}

// kinds names each record: its platform type, or its message.
func kinds(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		switch {
		case r["type"] != nil:
			out = append(out, r["type"].(string))
		case r["message"] != nil:
			out = append(out, r["message"].(string))
		case r["msg"] != nil:
			out = append(out, r["msg"].(string))
		default:
			out = append(out, r["errorMessage"].(string))
		}
	}
	return out
}

// TestLogsJSON: a Go guest's invocations in AWS's JSON format, and the
// levels filtering them as AWS does: the guest's JSON lines keep their
// level and pass as they are, its other lines are INFO, wrapped; the
// platform's records have AWS's levels.
func TestLogsJSON(t *testing.T) {
	var out syncBuf
	rt := newRuntime(t, lambda.Options{Logger: slog.New(awslog.NewHandler(&out, nil))})
	guest := testguest.Go(t, "behave")
	ctx := context.Background()

	debugLine := `{"timestamp":"2024-11-02T16:51:31.587199Z","level":"debug","msg":"a debug line"}`
	warnLine := `{"time":"2024-11-02T16:51:31.5+01:00","level":"WARN","msg":"a warning"}`
	noTime := `{"level":"error","msg":"no timestamp: INFO"}`
	invoke := func(t *testing.T, f *lambda.Function, id string) string {
		t.Helper()
		for _, line := range []string{debugLine, warnLine, noTime} {
			ev, _ := json.Marshal(map[string]any{"op": "stderr", "message": line})
			_, err := f.Invoke(ctx, ev, lambda.WithRequestID(id))
			require.NoError(t, err)
		}
		_, err := f.Invoke(ctx, []byte(`{"op":"log","lines":1}`), lambda.WithRequestID(id))
		require.NoError(t, err)
		_, err = f.Invoke(ctx, []byte(`{"op":"error","message":"bad input"}`), lambda.WithRequestID(id))
		require.Error(t, err)
		return out.take()
	}

	tests := []struct {
		name     string
		app, sys lambda.LogLevel
		want     []string
	}{{
		name: "the defaults: INFO and INFO",
		want: []string{
			"platform.start", "platform.report", // the debug line dropped
			"platform.start", "a warning", "platform.report",
			"platform.start", "no timestamp: INFO", "platform.report",
			"platform.start", "line 1", "err 1", "platform.report",
			"platform.start", "bad input", "platform.runtimeDone", "platform.report", // a failure: WARN
		},
	}, {
		name: "DEBUG and DEBUG", app: lambda.LogLevelDebug, sys: lambda.LogLevelDebug,
		want: []string{
			"platform.start", "a debug line", "platform.runtimeDone", "platform.report",
			"platform.start", "a warning", "platform.runtimeDone", "platform.report",
			"platform.start", "no timestamp: INFO", "platform.runtimeDone", "platform.report",
			"platform.start", "line 1", "err 1", "platform.runtimeDone", "platform.report",
			"platform.start", "bad input", "platform.runtimeDone", "platform.report",
		},
	}, {
		name: "WARN and WARN", app: lambda.LogLevelWarn, sys: lambda.LogLevelWarn,
		want: []string{"a warning", "bad input", "platform.runtimeDone", "platform.report"},
	}, {
		name: "FATAL", app: lambda.LogLevelFatal, sys: lambda.LogLevelWarn,
		want: []string{"platform.runtimeDone", "platform.report"},
	}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := deploy(t, rt, lambda.FunctionConfig{Name: "json" + string(rune('a'+i)), Code: guest,
				Logging: lambda.LoggingConfig{LogFormat: lambda.LogFormatJSON, ApplicationLogLevel: tt.app, SystemLogLevel: tt.sys}})
			out.take() // init
			recs := jsonLines(t, invoke(t, f, "req-"+f.Name()))
			require.Equal(t, tt.want, kinds(recs))
			for _, r := range recs {
				switch r["type"] {
				case "platform.start":
					require.Equal(t, map[string]any{"requestId": "req-" + f.Name(), "functionArn": f.ARN(), "version": "$LATEST"}, r["record"])
				case "platform.report":
					rec := r["record"].(map[string]any)
					require.Equal(t, "req-"+f.Name(), rec["requestId"])
					m := rec["metrics"].(map[string]any)
					require.Equal(t, 128.0, m["memorySizeMB"])
					require.Greater(t, m["maxMemoryUsedMB"], 0.0)
				}
			}
		})
	}

	t.Run("records in AWS's words", func(t *testing.T) {
		f, _ := rt.Function("jsona")
		_, err := f.Invoke(ctx, []byte(`{"op":"log","lines":1}`), lambda.WithRequestID("req-words"))
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSuffix(out.take(), "\n"), "\n")
		require.Len(t, lines, 4)
		ts := `"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`
		require.Regexp(t, `^\{"time":`+ts+`,"type":"platform.start","record":\{"requestId":"req-words","functionArn":"arn:aws:lambda:us-east-1:000000000000:function:jsona","version":"\$LATEST"\}\}$`, lines[0])
		require.Regexp(t, `^\{"timestamp":`+ts+`,"level":"INFO","requestId":"req-words","message":"line 1"\}$`, lines[1])
		require.Regexp(t, `^\{"time":`+ts+`,"type":"platform.report","record":\{"requestId":"req-words","metrics":\{"durationMs":\d+\.\d+,"billedDurationMs":\d+,"memorySizeMB":128,"maxMemoryUsedMB":\d+\},"status":"success"\}\}$`, lines[3])
	})

	t.Run("structured handlers get the levels", func(t *testing.T) {
		logs := &logRecorder{}
		rt := newRuntime(t, lambda.Options{Logger: slog.New(logs)})
		f := deploy(t, rt, lambda.FunctionConfig{Name: "levels", Code: guest,
			Logging: lambda.LoggingConfig{LogFormat: lambda.LogFormatJSON, ApplicationLogLevel: lambda.LogLevelTrace}})
		ev, _ := json.Marshal(map[string]any{"op": "stderr", "message": strings.Replace(debugLine, "debug", "TRACE", 1)})
		_, err := f.Invoke(ctx, ev, lambda.WithRequestID("req-trace"))
		require.NoError(t, err)
		var levels []slog.Level
		for _, r := range logs.forRequest("req-trace") {
			levels = append(levels, r.Level)
			require.Equal(t, "JSON", r.Attrs["log_format"])
		}
		require.Equal(t, []slog.Level{slog.LevelInfo, lambda.LevelTrace, slog.LevelInfo}, levels, "START, the line, REPORT")
	})
}

// TestMaxMemoryUsed: REPORT's Max Memory Used is the guest's linear memory
// high-water mark, in MB rounded up, and a warm sandbox's stays at its
// mark, as AWS reports the most any invocation of the environment used.
func TestMaxMemoryUsed(t *testing.T) {
	logs := &logRecorder{}
	rt := newRuntime(t, lambda.Options{Logger: slog.New(logs)})
	f := deploy(t, rt, lambda.FunctionConfig{Name: "mem", Code: testguest.Go(t, "behave"), MaxConcurrency: 1})
	ctx := context.Background()
	used := func(id string) uint64 {
		return reportOf(t, logs, id).Attrs["max_memory_used_mb"].(uint64)
	}
	_, err := f.Invoke(ctx, []byte(`{"op":"echo"}`), lambda.WithRequestID("mem-1"))
	require.NoError(t, err)
	before := used("mem-1")
	_, err = f.Invoke(ctx, []byte(`{"op":"alloc","mb":40}`), lambda.WithRequestID("mem-2"))
	require.NoError(t, err)
	peak := used("mem-2")
	require.GreaterOrEqual(t, peak, before+40, "40 MiB more, at least")
	_, err = f.Invoke(ctx, []byte(`{"op":"alloc","mb":0}`), lambda.WithRequestID("mem-3"))
	require.NoError(t, err)
	require.Equal(t, peak, used("mem-3"), "freed memory stays in the high-water mark")
	require.LessOrEqual(t, peak, uint64(128))
}

// TestHostLogLevels: the records a guest logs through CapabilityLog are
// application logs, which ApplicationLogLevel filters with the JSON format.
func TestHostLogLevels(t *testing.T) {
	for _, tt := range []struct {
		level lambda.LogLevel
		want  int
	}{{lambda.LogLevelWarn, 1}, {lambda.LogLevelError, 0}} {
		t.Run(string(tt.level), func(t *testing.T) {
			logs := &logRecorder{}
			fn, _ := hostFunction(t, slog.New(logs), lambda.FunctionConfig{
				Name:         "hostlog",
				Code:         testguest.C(t, "hostcall", true),
				Capabilities: []string{"test", lambda.CapabilitySettings, lambda.CapabilityLog},
				Logging:      lambda.LoggingConfig{LogFormat: lambda.LogFormatJSON, ApplicationLogLevel: tt.level},
			})
			_, err := fn.Invoke(context.Background(), []byte(`"hi"`))
			require.NoError(t, err)
			require.Len(t, logs.find("c guest called the host"), tt.want, "a WARN record")
		})
	}
}
