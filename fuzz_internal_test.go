package lambda

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/abi"
	"github.com/wasmlambda/lambda/internal/vfs"
)

// FuzzFunctionConfig fuzzes the fields of a FunctionConfig through its
// validation: an invalid config is an ErrInvalidConfig, a valid one comes
// back with every bound held and every zero resolved, and resolving it
// again changes nothing.
func FuzzFunctionConfig(f *testing.F) {
	f.Add("fn", []byte("\x00asm"), "", "", int64(0), 0, "", "", 0, 0, int64(0), 0, 0, 0, 0, "", "", "", 0, int64(0), int64(0))
	f.Add("my-function_1", []byte("x"), "$LATEST", "bootstrap", int64(3*time.Second), 128, "KEY=v", "fs", 4, 1, int64(time.Minute), 1<<20, 1<<20, 4096, 512,
		"JSON", "INFO", "WARN", 2, int64(time.Hour), int64(time.Second))
	f.Add("", []byte(nil), "", "", int64(-1), -1, "AWS_REGION=x", "", -1, -1, int64(-1), -1, -1, -1, -1, "Text", "bad", "", 3, int64(-1), int64(-1))
	f.Add(strings.Repeat("a", 65), []byte("x"), "1", "h", int64(901*time.Second), 10241, "WASMLAMBDA_X=1", "", 0, 2, int64(0), 0, 0, 0, 10241, "", "", "", -5, int64(7*time.Hour), int64(0))
	f.Fuzz(func(t *testing.T, name string, code []byte, version, handler string, timeout int64, memory int, env, caps string,
		maxConc, minWarm int, idle int64, maxReq, maxResp, maxLog, storage int, logFormat, appLevel, sysLevel string,
		retries int, maxAge, backoff int64) {
		c := FunctionConfig{
			Name: name, Code: code, Version: version, Handler: handler, Timeout: time.Duration(timeout), MemorySize: memory,
			MaxConcurrency: maxConc, MinWarm: minWarm, IdleTimeout: time.Duration(idle),
			MaxRequestBytes: maxReq, MaxResponseBytes: maxResp, MaxLogBytes: maxLog, EphemeralStorageMB: storage,
			Logging: LoggingConfig{LogFormat: LogFormat(logFormat), ApplicationLogLevel: LogLevel(appLevel), SystemLogLevel: LogLevel(sysLevel)},
			Async:   AsyncConfig{MaxRetryAttempts: Retries(retries), MaxEventAge: time.Duration(maxAge), RetryBackoff: []time.Duration{time.Duration(backoff)}},
		}
		if env != "" {
			c.Environment = map[string]string{}
			for _, kv := range strings.Split(env, ";") {
				k, v, _ := strings.Cut(kv, "=")
				c.Environment[k] = v
			}
		}
		if caps != "" {
			c.Capabilities = strings.Split(caps, ",")
		}
		orig := c.clone()
		got, err := c.withDefaults()
		require.Equal(t, orig, c.clone(), "withDefaults changed its receiver")
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidConfig)
			return
		}
		require.Regexp(t, `^[a-zA-Z0-9_-]{1,64}$`, got.Name)
		require.NotEmpty(t, got.Version)
		require.NotEmpty(t, got.Handler)
		require.True(t, got.Timeout > 0 && got.Timeout <= MaxTimeout, "Timeout %v", got.Timeout)
		require.True(t, got.MemorySize >= MinMemorySize && got.MemorySize <= MaxMemorySize, "MemorySize %d", got.MemorySize)
		require.True(t, got.EphemeralStorageMB > 0 && got.EphemeralStorageMB <= MaxEphemeralStorageMB)
		require.Positive(t, got.MaxConcurrency)
		require.True(t, got.MinWarm >= 0 && got.MinWarm <= got.MaxConcurrency)
		require.Positive(t, got.MaxRequestBytes)
		require.Positive(t, got.MaxResponseBytes)
		require.Positive(t, got.MaxLogBytes)
		require.NotNil(t, got.Async.MaxRetryAttempts)
		require.True(t, *got.Async.MaxRetryAttempts >= 0 && *got.Async.MaxRetryAttempts <= MaxRetryAttempts)
		require.True(t, got.Async.MaxEventAge > 0 && got.Async.MaxEventAge <= MaxEventAge)
		for _, d := range got.Async.RetryBackoff {
			require.GreaterOrEqual(t, d, time.Duration(0))
		}
		size := 0
		for k, v := range got.Environment {
			size += len(k) + len(v)
			require.False(t, strings.HasPrefix(k, "WASMLAMBDA_") || reservedEnv[k], "reserved variable %s", k)
		}
		require.LessOrEqual(t, size, MaxEnvironmentSize)
		again, err := got.withDefaults()
		require.NoError(t, err, "a resolved config must stay valid")
		require.Equal(t, got, again, "resolving a resolved config changed it")
	})
}

// FuzzParseFunctionError: a guest's error payload, whatever it holds,
// becomes a FunctionError with a type and a message of bounded size; an
// ErrorPayload the guest SDK encodes comes back field for field.
func FuzzParseFunctionError(f *testing.F) {
	f.Add([]byte(`{"errorMessage":"failure requested","errorType":"EchoError"}`))
	f.Add([]byte(`{"errorMessage":"m","errorType":"T","stackTrace":[{"path":"a.go","line":3,"label":"f"},"g"]}`))
	f.Add([]byte(`{"errorMessage":5}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"stackTrace":[{"line":"x"}]}`))
	f.Add([]byte(strings.Repeat("é", 600)))
	f.Fuzz(func(t *testing.T, payload []byte) {
		fe := parseFunctionError("r", payload)
		require.NotNil(t, fe)
		// A type or a message, at least: a JSON object with a message and
		// no type keeps its empty type, as AWS passes it on.
		require.True(t, fe.Type != "" || fe.Message != "", "an error with neither type nor message: %q", payload)
		require.Equal(t, "r", fe.RequestID)
		if fe.Type == ErrorTypeInvalidError {
			require.LessOrEqual(t, len(fe.Message), MaxErrorMessageBytes+len("…")+8)
			if utf8.Valid(payload) {
				require.True(t, utf8.ValidString(fe.Message), "truncation split a character")
			}
		}
		var p abi.ErrorPayload
		if json.Unmarshal(payload, &p) == nil && (p.Type != "" || p.Message != "") {
			require.Equal(t, p.Type, fe.Type)
			require.Equal(t, p.Message, fe.Message)
			require.Len(t, fe.StackTrace, len(p.StackTrace))
			// What the function reports, it reports again the same.
			again := parseFunctionError("r", fe.Payload())
			require.Equal(t, fe.Type, again.Type)
			require.Equal(t, fe.Message, again.Message)
			require.Equal(t, fe.StackTrace, again.StackTrace)
		}
	})
}

// FuzzPackageFiles: whatever zip a deployment brings, the module comes from
// a file at the root of its tree, the tree holds to the limit, and a
// non-zip is the module itself.
func FuzzPackageFiles(f *testing.F) {
	zipOf := func(files ...string) []byte {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		for i := 0; i+1 < len(files); i += 2 {
			fw, err := w.Create(files[i])
			require.NoError(f, err)
			_, _ = io.WriteString(fw, files[i+1])
		}
		require.NoError(f, w.Close())
		return buf.Bytes()
	}
	f.Add(zipOf("bootstrap.wasm", "\x00asm\x01\x00\x00\x00", "lib/data.txt", "x"), "bootstrap")
	f.Add(zipOf("a.wasm", "\x00asm", "b.wasm", "\x00asm"), "c")
	f.Add(zipOf("../x.wasm", "\x00asm"), "x")
	f.Add(zipOf("sub/h.wasm", "\x00asm"), "sub/h")
	f.Add([]byte("\x00asm\x01\x00\x00\x00"), "bootstrap")
	f.Add([]byte("PK\x05\x06"), "bootstrap")
	lim := vfs.Limits{MaxBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, code []byte, handler string) {
		mod, tree, err := packageFiles(&FunctionConfig{Handler: handler}, code, lim)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "package: "), "%v", err)
			return
		}
		if tree == nil {
			require.Equal(t, code, mod)
			return
		}
		require.LessOrEqual(t, tree.Size(), lim.MaxBytes)
		// The module is one of the tree's files: the handler's, or the one
		// .wasm at the root.
		found := false
		for _, name := range tree.Files() {
			b, err := tree.ReadFile(name)
			require.NoError(t, err)
			if bytes.Equal(b, mod) && (name == handler || name == handler+".wasm" || !strings.Contains(name, "/")) {
				found = true
			}
		}
		require.True(t, found, "the module is no file of the package")
	})
}
