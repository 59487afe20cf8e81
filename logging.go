package lambda

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"time"
)

// LogFormat is the format of a function's logs, as AWS's LoggingConfig
// LogFormat: LogFormatText or LogFormatJSON.
type LogFormat string

// The log formats, spelled as AWS's API spells them.
const (
	// LogFormatText is AWS's plain text: START, END and REPORT lines, and
	// the function's output as it wrote it.
	LogFormatText LogFormat = "Text"
	// LogFormatJSON is AWS's structured JSON: platform.start,
	// platform.runtimeDone and platform.report records, and the function's
	// lines as JSON objects, filtered by ApplicationLogLevel and
	// SystemLogLevel.
	LogFormatJSON LogFormat = "JSON"
)

// LogLevel is a log level as AWS names them: "TRACE", "DEBUG", "INFO",
// "WARN", "ERROR" or "FATAL".
type LogLevel string

// AWS's log levels, from the most detail to the least.
const (
	LogLevelTrace LogLevel = "TRACE"
	LogLevelDebug LogLevel = "DEBUG"
	LogLevelInfo  LogLevel = "INFO"
	LogLevelWarn  LogLevel = "WARN"
	LogLevelError LogLevel = "ERROR"
	LogLevelFatal LogLevel = "FATAL"
)

// The slog levels of AWS's TRACE and FATAL, which slog does not name:
// TRACE is below slog.LevelDebug and FATAL above slog.LevelError, four
// apart as slog's own levels are. AWS's DEBUG, INFO, WARN and ERROR are
// slog's.
const (
	LevelTrace = slog.LevelDebug - 4
	LevelFatal = slog.LevelError + 4
)

var logLevels = map[LogLevel]slog.Level{
	LogLevelTrace: LevelTrace,
	LogLevelDebug: slog.LevelDebug,
	LogLevelInfo:  slog.LevelInfo,
	LogLevelWarn:  slog.LevelWarn,
	LogLevelError: slog.LevelError,
	LogLevelFatal: LevelFatal,
}

// Level returns l's slog level, and false when l is not one of AWS's
// levels.
func (l LogLevel) Level() (slog.Level, bool) {
	s, ok := logLevels[l]
	return s, ok
}

// LevelName returns AWS's name of the slog level l: TRACE below DEBUG,
// DEBUG below INFO, and so on up to FATAL at LevelFatal and above.
func LevelName(l slog.Level) LogLevel {
	switch {
	case l < slog.LevelDebug:
		return LogLevelTrace
	case l < slog.LevelInfo:
		return LogLevelDebug
	case l < slog.LevelWarn:
		return LogLevelInfo
	case l < slog.LevelError:
		return LogLevelWarn
	case l < LevelFatal:
		return LogLevelError
	default:
		return LogLevelFatal
	}
}

// LoggingConfig is a function's logging configuration, as AWS's
// LoggingConfig (CreateFunction's LoggingConfig, without LogGroup: the
// records go to Options.Logger). As on AWS, the levels can be set only
// with the JSON format.
type LoggingConfig struct {
	// LogFormat is LogFormatText (the default) or LogFormatJSON.
	LogFormat LogFormat

	// ApplicationLogLevel drops the function's lines below it: TRACE,
	// DEBUG, INFO, WARN, ERROR or FATAL. JSON format only; default INFO.
	// A line's level is that of a JSON object with a "level" and a valid
	// RFC 3339 "timestamp" (or "time"); any other line is INFO.
	ApplicationLogLevel LogLevel

	// SystemLogLevel drops the platform's records below it: DEBUG, INFO
	// or WARN. JSON format only; default INFO. START and a successful
	// REPORT are INFO, a successful END (platform.runtimeDone) DEBUG, and
	// a failed END or REPORT WARN, as AWS maps them.
	SystemLogLevel LogLevel
}

// withDefaults validates c as AWS does, and resolves its defaults.
func (c LoggingConfig) withDefaults(fn string) (LoggingConfig, error) {
	switch c.LogFormat {
	case "":
		c.LogFormat = LogFormatText
	case LogFormatText, LogFormatJSON:
	default:
		return c, invalidConfig("function %s: Logging.LogFormat %q: want %q or %q", fn, c.LogFormat, LogFormatText, LogFormatJSON)
	}
	if c.LogFormat == LogFormatText {
		// AWS: "LogLevel is not supported when LogFormat is set to Text".
		if c.ApplicationLogLevel != "" {
			return c, invalidConfig("function %s: Logging.ApplicationLogLevel %q: log levels need Logging.LogFormat %q, as on AWS", fn, c.ApplicationLogLevel, LogFormatJSON)
		}
		if c.SystemLogLevel != "" {
			return c, invalidConfig("function %s: Logging.SystemLogLevel %q: log levels need Logging.LogFormat %q, as on AWS", fn, c.SystemLogLevel, LogFormatJSON)
		}
		return c, nil
	}
	if c.ApplicationLogLevel == "" {
		c.ApplicationLogLevel = LogLevelInfo
	} else if _, ok := c.ApplicationLogLevel.Level(); !ok {
		return c, invalidConfig("function %s: Logging.ApplicationLogLevel %q: want TRACE, DEBUG, INFO, WARN, ERROR or FATAL", fn, c.ApplicationLogLevel)
	}
	switch c.SystemLogLevel {
	case "":
		c.SystemLogLevel = LogLevelInfo
	case LogLevelDebug, LogLevelInfo, LogLevelWarn:
	default:
		return c, invalidConfig("function %s: Logging.SystemLogLevel %q: want DEBUG, INFO or WARN", fn, c.SystemLogLevel)
	}
	return c, nil
}

// logPolicy is what a function's LoggingConfig asks of the records it
// emits. The zero value is the Text format: no filtering.
type logPolicy struct {
	json     bool
	appLevel slog.Level
	sysLevel slog.Level
}

func newLogPolicy(c LoggingConfig) logPolicy {
	if c.LogFormat != LogFormatJSON {
		return logPolicy{}
	}
	app, _ := c.ApplicationLogLevel.Level()
	sys, _ := c.SystemLogLevel.Level()
	return logPolicy{json: true, appLevel: app, sysLevel: sys}
}

// system reports whether a platform record at level is logged.
func (p logPolicy) system(level slog.Level) bool { return !p.json || level >= p.sysLevel }

// application reports whether a function's line at level is logged.
func (p logPolicy) application(level slog.Level) bool { return !p.json || level >= p.appLevel }

// lineLevel is the level of a function's line in the JSON format, as AWS
// reads it: a JSON object's "level", if it is one of AWS's levels (in any
// case) and the object has a valid RFC 3339 timestamp, under "timestamp"
// or, as Go's log/slog names it, "time"; else INFO. Lambda's docs: "If the
// "level" value field is invalid or missing, Lambda will assign the log
// output the level INFO. … If you don't supply a valid timestamp, Lambda
// will assign the log the level INFO."
func lineLevel(line []byte) slog.Level {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return slog.LevelInfo
	}
	var obj struct {
		Level     *string `json:"level"`
		Timestamp *string `json:"timestamp"`
		Time      *string `json:"time"`
	}
	if json.Unmarshal(line, &obj) != nil || obj.Level == nil {
		return slog.LevelInfo
	}
	ts := obj.Timestamp
	if ts == nil {
		ts = obj.Time
	}
	if ts == nil {
		return slog.LevelInfo
	}
	if _, err := time.Parse(time.RFC3339Nano, *ts); err != nil {
		return slog.LevelInfo
	}
	l, ok := LogLevel(strings.ToUpper(*obj.Level)).Level()
	if !ok {
		return slog.LevelInfo
	}
	return l
}
