package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

func TestRunConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config string
		want   []string // each a line of standard error
	}{{
		name: "an unknown field",
		config: `functions:
  - name: orders
    code: orders.wasm
    memorySize: 256
`,
		want: []string{`cfg.yaml:4:5: functions[0].memorySize: unknown field; did you mean "memory"?`},
	}, {
		name: "an unknown field far from any",
		config: `functions:
  - name: orders
    code: orders.wasm
    colour: blue
`,
		want: []string{`cfg.yaml:4:5: functions[0].colour: unknown field; the fields are async, buildFlags, code, command, environment, ephemeralStorage`},
	}, {
		name: "a number that is not",
		config: `functions:
  - name: orders
    code: orders.wasm
    memory: lots
`,
		want: []string{`cfg.yaml:4:13: functions[0].memory: want a whole number, got "lots"`},
	}, {
		name: "a duration without a unit it knows",
		config: `functions:
  - name: orders
    code: orders.wasm
    timeout: 3 parsecs
`,
		want: []string{`cfg.yaml:4:14: functions[0].timeout: "3 parsecs" is not a duration: want a number of seconds or a duration such as 1m30s`},
	}, {
		name: "memory out of AWS's bounds",
		config: `functions:
  - name: orders
    code: orders.wasm
    memory: 64
`,
		want: []string{`cfg.yaml:4:13: functions[0].memory: want 128 to 10240 MB, got 64`},
	}, {
		name: "a missing code, and a name twice",
		config: `functions:
  - name: orders
  - name: orders
    code: b.wasm
`,
		want: []string{
			`cfg.yaml:2:5: functions[0].code: required: a .wasm file, a zip or a Go package directory`,
			`cfg.yaml:3:11: functions[1].name: another function is named "orders"`,
		},
	}, {
		name: "a queue that is not there",
		config: `queues:
  - name: orders
functions:
  - name: worker
    code: w.wasm
    triggers:
      - sqs:
          queue: ordres
`,
		want: []string{`cfg.yaml:8:18: functions[0].triggers[0].sqs.queue: no queue named "ordres"`},
	}, {
		name: "an event source AWS would refuse",
		config: `queues:
  - name: orders
functions:
  - name: worker
    code: w.wasm
    triggers:
      - sqs: {queue: orders, batchSize: 100}
`,
		want: []string{`cfg.yaml:7:14: functions[0].triggers[0].sqs: InvalidParameterValueException: sqs event source: BatchSize 100 over 10 needs a MaximumBatchingWindow of at least 1s, not 0s`},
	}, {
		name: "a bad schedule expression",
		config: `functions:
  - name: nightly
    code: n.wasm
    triggers:
      - schedule:
          expression: rate(0 minutes)
`,
		want: []string{`cfg.yaml:6:23: functions[0].triggers[0].schedule.expression: InvalidParameterValueException`},
	}, {
		name: "an unknown time zone",
		config: `functions:
  - name: nightly
    code: n.wasm
    triggers:
      - schedule: {expression: "cron(0 6 * * ? *)", timezone: Mars/Olympus}
`,
		want: []string{`cfg.yaml:5:63: functions[0].triggers[0].schedule.timezone: InvalidParameterValueException: schedule time zone "Mars/Olympus"`},
	}, {
		name: "a trigger of two kinds",
		config: `queues: [{name: q}]
functions:
  - name: f
    code: f.wasm
    triggers:
      - schedule: {expression: rate(1 minute)}
        sqs: {queue: q}
`,
		want: []string{`cfg.yaml:6:9: functions[0].triggers[0]: want one of schedule, sqs, s3 and http`},
	}, {
		name: "overlapping S3 rules",
		config: `buckets: [{name: uploads}]
functions:
  - name: f
    code: f.wasm
    triggers:
      - s3:
          bucket: uploads
          rules:
            - {events: ["s3:ObjectCreated:*"], prefix: images/}
            - {events: ["s3:ObjectCreated:Put"], prefix: images/cats/}
`,
		want: []string{`cfg.yaml:7:11: functions[0].triggers[0].s3: InvalidParameterValueException`, "overlap"},
	}, {
		name: "an amazon bucket both notified and polled",
		config: `queues: [{name: photo-events, amazon: {url: "https://sqs.us-east-1.amazonaws.com/123456789012/photo-events"}}]
buckets:
  - name: photos
    amazon: {queue: photo-events, poll: 1m}
functions: [{name: f, code: f.wasm}]
`,
		want: []string{`cfg.yaml:4:41: buckets[0].amazon.poll: a bucket is notified through a queue or polled, not both`},
	}, {
		name: "rules for a bucket S3 notifies through a queue, a trigger on a bucket nothing notifies",
		config: `queues: [{name: photo-events, amazon: {url: "https://sqs.us-east-1.amazonaws.com/123456789012/photo-events"}}]
buckets:
  - name: photos
    amazon: {queue: photo-events}
  - name: archive
    amazon: {endpoint: "http://127.0.0.1:9000"}
functions:
  - name: f
    code: f.wasm
    triggers:
      - s3: {bucket: photos, events: ["s3:ObjectCreated:*"]}
      - s3: {bucket: archive, events: ["s3:ObjectCreated:*"]}
`,
		want: []string{
			`cfg.yaml:11:13: functions[0].triggers[0].s3: bucket "photos" is notified through queue "photo-events": S3 filters the notifications it sends there`,
			`cfg.yaml:12:22: functions[0].triggers[1].s3.bucket: bucket "archive" has neither queue nor poll: nothing tells of its changes`,
		},
	}, {
		name: "a watch without a directory",
		config: `buckets:
  - name: uploads
    embedded:
      watch: true
functions: [{name: f, code: f.wasm}]
`,
		want: []string{`cfg.yaml:4:14: buckets[0].embedded.watch: needs dir: the directory to watch`},
	}, {
		name: "a layer that is not there, a mount of a relative path",
		config: `layers: [{name: common, path: ./layer}]
functions:
  - name: f
    code: f.wasm
    layers: [common, shared]
    mounts:
      - {path: mnt/data, hostDir: ./data}
`,
		want: []string{
			`cfg.yaml:5:22: functions[0].layers[1]: no layer named "shared"`,
			`cfg.yaml:7:16: functions[0].mounts[0].path: want an absolute guest path, such as /mnt/data, got "mnt/data"`,
		},
	}, {
		name: "a FIFO queue's message without a group",
		config: `queues:
  - name: jobs.fifo
    embedded:
      fifo: true
      contentBasedDeduplication: true
      messages:
        - body: one
functions: [{name: f, code: f.wasm}]
`,
		want: []string{`cfg.yaml:7:11: queues[0].embedded.messages[0].messageGroupId: required on a FIFO queue`},
	}, {
		name: "retries out of bounds, a dead-letter sink of two kinds",
		config: `queues: [{name: dlq}]
functions:
  - name: f
    code: f.wasm
    async:
      retries: 3
      deadLetter: {file: dead.jsonl, queue: dlq}
`,
		want: []string{
			`cfg.yaml:6:16: functions[0].async.retries: want 0 to 2, got 3`,
			`cfg.yaml:7:19: functions[0].async.deadLetter: want one of file, queue and function`,
		},
	}, {
		name: "a list where a mapping belongs",
		config: `functions:
  - name: f
    code: f.wasm
    environment: [A, B]
`,
		want: []string{`cfg.yaml:4:18: functions[0].environment: want a mapping, got a list`},
	}, {
		name: "HTTP triggers with bad fields",
		config: `functions:
  - name: api
    code: api.wasm
    triggers:
      - http: {port: 0}
      - http: {port: 8080, path: api/}
      - http: {port: 8081, front: websocket}
      - http: {port: 8082, front: httpApi, streaming: true}
      - http: {port: 8083, integrationTimeout: 5s}
`,
		want: []string{
			`cfg.yaml:5:22: functions[0].triggers[0].http.port: required: a port of 127.0.0.1, 1 to 65535, got 0`,
			`cfg.yaml:6:34: functions[0].triggers[1].http.path: want an absolute path such as /orders, without a trailing slash, got "api/"`,
			`cfg.yaml:7:35: functions[0].triggers[2].http.front: want functionUrl, httpApi or restApi, got "websocket"`,
			`cfg.yaml:8:55: functions[0].triggers[3].http.streaming: only a function URL (front: functionUrl) streams responses`,
			`cfg.yaml:9:48: functions[0].triggers[4].http.integrationTimeout: only an API Gateway front door (httpApi, restApi) has one`,
		},
	}, {
		name: "an unknown field of an HTTP trigger",
		config: `functions:
  - name: api
    code: api.wasm
    triggers:
      - http: {port: 8084, method: GET}
`,
		want: []string{`cfg.yaml:5:28: functions[0].triggers[0].http.method: unknown field; the fields are front, integrationTimeout, path, port, streaming`},
	}, {
		name: "two HTTP triggers on one port and path",
		config: `functions:
  - name: orders
    code: orders.wasm
    triggers:
      - http: {port: 8080, path: /orders}
  - name: users
    code: users.wasm
    triggers:
      - http: {port: 8080, path: /orders}
      - http: {port: 8080}
`,
		want: []string{`cfg.yaml:9:34: functions[1].triggers[0].http.path: port 8080 serves function orders's trigger http-8080 at /orders already: give each trigger on a port its own path`},
	}, {
		name:   "YAML that does not parse",
		config: "functions:\n  - name: f\n    code: x.wasm\n   memory: 128\n",
		want:   []string{`cfg.yaml:4: not valid YAML: did not find expected '-' indicator`},
	}, {
		name:   "a tab in the indentation",
		config: "functions:\n  - name: f\n\tcode: x.wasm\n",
		want:   []string{`cfg.yaml:3: not valid YAML: found a tab character that violates indentation`},
	}, {
		name:   "an empty file",
		config: "",
		want:   []string{`cfg.yaml: the file is empty`},
	}, {
		name:   "no function",
		config: "region: eu-west-1\n",
		want:   []string{`cfg.yaml:1:1: functions: at least one function is required`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFile(t, dir, "cfg.yaml", tt.config)
			r := cli(t, dir, "", "run", "--config", "cfg.yaml")
			require.Equal(t, exitError, r.code, "%s", r)
			require.Empty(t, r.stdout)
			for _, w := range tt.want {
				require.Contains(t, r.stderr, w, "%s", r)
			}
			require.True(t, strings.HasPrefix(r.stderr, "wasmlambda: cfg.yaml"), "%s", r)
		})
	}

	t.Run("a missing config file", func(t *testing.T) {
		t.Parallel()
		r := cli(t, t.TempDir(), "", "run", "--config", "missing.yaml")
		require.Equal(t, exitError, r.code, "%s", r)
		require.Equal(t, "wasmlambda: config missing.yaml: no such file or directory\n", r.stderr)
	})
}

// TestRunDeployErrors checks that what fails when the config is deployed,
// rather than read, is named by where it is in the file.
func TestRunDeployErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "notwasm.wasm", "hello")
	writeFile(t, dir, "cfg.yaml", `functions:
  - name: ok
    code: missing.wasm
`)
	r := cli(t, dir, "", "run", "--config", "cfg.yaml")
	require.Equal(t, exitError, r.code, "%s", r)
	require.Contains(t, r.stderr, "cfg.yaml:2:5: functions[0]: code missing.wasm: no such file or directory")

	writeFile(t, dir, "cfg.yaml", `functions:
  - name: ok
    code: notwasm.wasm
`)
	r = cli(t, dir, "", "run", "--config", "cfg.yaml")
	require.Equal(t, exitError, r.code, "%s", r)
	require.Contains(t, r.stderr, `cfg.yaml:2:5: functions[0]: code notwasm.wasm: not a wasm module or a zip (it begins "hello")`)
}

// TestRunPortInUse checks that an HTTP trigger's port that cannot be
// listened on is named by where it is in the file.
func TestRunPortInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "echo.wasm"), testguest.Go(t, "echo"), 0o644))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	writeFile(t, dir, "cfg.yaml", fmt.Sprintf(`cacheDir: %s
functions:
  - name: echo
    code: echo.wasm
    triggers:
      - http: {port: %d}
`, cacheDir(), port))
	r := cli(t, dir, "", "run", "--config", "cfg.yaml")
	require.Equal(t, exitError, r.code, "%s", r)
	require.Contains(t, r.stderr, fmt.Sprintf("cfg.yaml:6:15: functions[0].triggers[0].http: port %d: listen tcp 127.0.0.1:%d: bind: address already in use", port, port), "%s", r)
}

// record is what the tests read of an invocation record.
type record struct {
	RequestContext struct {
		Condition string `json:"condition"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

// readRecords reads a JSON Lines file of invocation records.
func readRecords(t *testing.T, path string) []record {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []record
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r record
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		out = append(out, r)
	}
	return out
}

// TestRun runs a config of an embedded queue with messages, a watched
// bucket and a schedule until SIGTERM, and checks that every event was
// processed, and the command stopped cleanly.
func TestRun(t *testing.T) {
	orders := filepath.Join(testguest.Root(), "examples", "unit-testing")
	warmGoDir(t, orders)
	dir := t.TempDir()
	s3event := filepath.Join(dir, "s3event.wasm")
	require.NoError(t, os.WriteFile(s3event, testguest.Go(t, "s3event"), 0o644))
	echo := filepath.Join(dir, "echo.wasm")
	require.NoError(t, os.WriteFile(echo, testguest.Go(t, "echo"), 0o644))
	uploads := filepath.Join(dir, "uploads")
	require.NoError(t, os.MkdirAll(uploads, 0o755))

	writeFile(t, dir, "wasmlambda.yaml", `# The config of TestRun.
cacheDir: `+cacheDir()+`
queues:
  - name: orders
    embedded:
      messages:
        - body: {id: o-1, cents: 250}
        - body: '{"id":"o-2","cents":199}'
buckets:
  - name: uploads
    embedded: {dir: ./uploads, watch: true, quiet: 100ms}
functions:
  - name: orders
    code: `+orders+`
    timeout: 10s
    triggers:
      - sqs: {queue: orders, reportBatchItemFailures: true}
  - name: thumbnails
    code: s3event.wasm
    async:
      onSuccess: {file: out/thumbnails.jsonl}
    triggers:
      - s3: {bucket: uploads, events: ["s3:ObjectCreated:*"], suffix: .jpg}
  - name: nightly
    code: echo.wasm
    environment: {MODE: test}
    async:
      retries: 0
      onSuccess: {file: out/nightly.jsonl}
    triggers:
      - name: every-minute
        schedule: {expression: rate(1 minute), input: {report: daily}}
`)
	s := start(t, dir, "run")
	s.waitOutput(t, commandTimeout,
		"wasmlambda: queue orders: embedded, 2 messages sent\n",
		"wasmlambda: bucket uploads: in uploads, watched\n",
		"wasmlambda: orders ready in ",
		"wasmlambda: orders: trigger sqs-orders, queue orders\n",
		"wasmlambda: thumbnails: trigger s3-uploads, bucket uploads s3:ObjectCreated:* on *.jpg\n",
		"wasmlambda: nightly: trigger every-minute, schedule rate(1 minute)\n",
		"wasmlambda: running 3 functions and 3 triggers; stop with Ctrl-C or SIGTERM\n",
	)
	// The queue's messages, in the function's own log lines.
	s.waitOutput(t, time.Minute, "[orders] order o-1 accepted: 250 cents\n", "[orders] order o-2 accepted: 199 cents\n", "[orders] REPORT RequestId: ")
	// A rate schedule fires first when it is attached, as on AWS.
	require.Eventually(t, func() bool { return len(readRecords(t, filepath.Join(dir, "out", "nightly.jsonl"))) == 1 }, time.Minute, 20*time.Millisecond)
	nightly := readRecords(t, filepath.Join(dir, "out", "nightly.jsonl"))[0]
	require.Equal(t, lambda.ConditionSuccess, nightly.RequestContext.Condition)
	require.JSONEq(t, `{"report":"daily"}`, string(nightly.ResponsePayload))

	// A file dropped into the watched directory is a put.
	writeFile(t, uploads, "cats/tom.jpg", "meow")
	writeFile(t, uploads, "notes.txt", "not a picture")
	require.Eventually(t, func() bool { return len(readRecords(t, filepath.Join(dir, "out", "thumbnails.jsonl"))) == 1 }, time.Minute, 20*time.Millisecond)
	thumb := readRecords(t, filepath.Join(dir, "out", "thumbnails.jsonl"))[0]
	var got struct{ Bucket, Key, Event string }
	require.NoError(t, json.Unmarshal(thumb.ResponsePayload, &got))
	require.Equal(t, "uploads", got.Bucket)
	require.Equal(t, "cats/tom.jpg", got.Key)
	require.Equal(t, "ObjectCreated:Put", got.Event)

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, s.wait(t, time.Minute), "a graceful shutdown exits 0")
	out := s.stderr.String()
	for _, w := range []string{
		"wasmlambda: terminated: shutting down gracefully (again to stop at once)\n",
		"wasmlambda: thumbnails: 1 invocation, 1 cold start; 1 asynchronous event: 1 succeeded, 0 dead-lettered; s3-uploads: 1 event\n",
		"wasmlambda: stopped\n",
	} {
		require.Contains(t, out, w)
	}
	// The queue's two messages came in one batch or two; the schedule
	// fires each minute, for as long as the test ran.
	m := regexp.MustCompile(`wasmlambda: orders: ([12]) invocations?, [12] cold starts?; sqs-orders: ([12]) events?\n`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Equal(t, m[1], m[2], "an event per invocation")
	m = regexp.MustCompile(`wasmlambda: nightly: ([0-9]+) invocations?, 1 cold start; ([0-9]+) asynchronous events?: ([0-9]+) succeeded, 0 dead-lettered; every-minute: ([0-9]+) events?\n`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Equal(t, []string{m[1], m[1], m[1]}, m[2:], "every firing succeeded")
	require.Len(t, readRecords(t, filepath.Join(dir, "out", "thumbnails.jsonl")), 1, "the .txt file matched no rule")
	require.NotContains(t, out, "messages left in memory", "the queue is empty")
	require.Empty(t, s.stdout.String())
}

// TestRunShutdown checks that SIGINT lets an invocation in flight finish
// before the command exits, and that a second SIGINT stops at once with the
// event in the undelivered file: no event is lost either way.
func TestRunShutdown(t *testing.T) {
	dir := t.TempDir()
	behave := filepath.Join(dir, "behave.wasm")
	require.NoError(t, os.WriteFile(behave, testguest.Go(t, "behave"), 0o644))
	config := func(ms int) string {
		return fmt.Sprintf(`cacheDir: %s
undeliveredFile: out/undelivered.jsonl
shutdownTimeout: 5m
functions:
  - name: sleeper
    code: behave.wasm
    timeout: 5m
    async:
      retries: 0
      onSuccess: {file: out/done.jsonl}
    triggers:
      - schedule: {expression: rate(1 hour), input: {op: sleep, ms: %d}}
`, cacheDir(), ms)
	}

	t.Run("SIGINT waits for the invocation in flight", func(t *testing.T) {
		writeFile(t, dir, "graceful.yaml", config(1500))
		s := start(t, dir, "run", "-c", "graceful.yaml")
		s.waitOutput(t, commandTimeout, "[sleeper] START RequestId: ")
		require.NoError(t, s.cmd.Process.Signal(os.Interrupt))
		require.Equal(t, 0, s.wait(t, time.Minute), "a graceful shutdown exits 0")
		require.Contains(t, s.stderr.String(), "wasmlambda: interrupt: shutting down gracefully (again to stop at once)\n")
		require.Contains(t, s.stderr.String(), "1 asynchronous event: 1 succeeded, 0 dead-lettered")
		done := readRecords(t, filepath.Join(dir, "out", "done.jsonl"))
		require.Len(t, done, 1, "the event finished before the command exited")
		require.JSONEq(t, `{"slept_ms":1500}`, string(done[0].ResponsePayload))
	})

	t.Run("a second SIGINT stops at once", func(t *testing.T) {
		writeFile(t, dir, "abort.yaml", config(600000))
		s := start(t, dir, "run", "-c", "abort.yaml")
		s.waitOutput(t, commandTimeout, "[sleeper] START RequestId: ")
		require.NoError(t, s.cmd.Process.Signal(os.Interrupt))
		s.waitOutput(t, time.Minute, "shutting down gracefully")
		require.NoError(t, s.cmd.Process.Signal(os.Interrupt))
		require.Equal(t, exitError, s.wait(t, time.Minute), "an aborted shutdown is an error")
		require.Contains(t, s.stderr.String(), "wasmlambda: interrupt: stopping at once\n")
		require.Contains(t, s.stderr.String(), "wasmlambda: shutdown cut short: the events in flight were stopped and went to their dead-letter sinks, or to out/undelivered.jsonl\n")
		letters, err := lambda.ReadDeadLetters(filepath.Join(dir, "out", "undelivered.jsonl"))
		require.NoError(t, err)
		require.Len(t, letters, 1, "the event cut short is kept, not lost")
		require.Equal(t, "sleeper", letters[0].FunctionName)
		require.JSONEq(t, `{"op":"sleep","ms":600000}`, string(letters[0].Payload))
	})
}

// TestReadmeConfig checks the README's example of a config file: it has no
// error, so that the docs cannot rot.
func TestReadmeConfig(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join(testguest.Root(), "README.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "The file, every part optional but one function")
	require.True(t, ok, "the README introduces its example config")
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	require.True(t, ok)
	example, _, ok := strings.Cut(rest, "```\n")
	require.True(t, ok)

	dir := t.TempDir()
	writeFile(t, dir, "wasmlambda.yaml", example)
	r := cli(t, dir, "", "run", "--check")
	require.Equal(t, 0, r.code, "%s", r)
	require.Equal(t, "wasmlambda: wasmlambda.yaml: 3 functions and 4 triggers, no error found\n", r.stderr)

	// --check finds what run would refuse.
	writeFile(t, dir, "wasmlambda.yaml", strings.Replace(example, "memory: 256", "memory: 64", 1))
	r = cli(t, dir, "", "run", "--check")
	require.Equal(t, exitError, r.code, "%s", r)
	require.Contains(t, r.stderr, "functions[0].memory: want 128 to 10240 MB, got 64")
}

// TestRunHTTP runs two functions behind HTTP triggers that share a port of
// 127.0.0.1, one at /echo and one at the root, and calls them with a real
// HTTP client.
func TestRunHTTP(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "echo.wasm"), testguest.Go(t, "echo"), 0o644))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())

	writeFile(t, dir, "wasmlambda.yaml", fmt.Sprintf(`cacheDir: %s
functions:
  - name: echo
    code: echo.wasm
    triggers:
      - http: {port: %d, path: /echo}
  - name: root
    code: echo.wasm
    triggers:
      - http: {port: %d, front: httpApi}
`, cacheDir(), port, port))
	s := start(t, dir, "run")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	s.waitOutput(t, commandTimeout,
		fmt.Sprintf("wasmlambda: echo: trigger http-%d, function URL on %s/echo\n", port, base),
		fmt.Sprintf("wasmlambda: root: trigger http-%d, HTTP API on %s/\n", port, base),
		fmt.Sprintf("wasmlambda: listening on %s\n", base),
		"wasmlambda: running 2 functions and 2 triggers",
	)

	// The echo guest answers with the event, which is not a response
	// object: the inferred response, the event as a JSON body.
	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		var ev map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&ev))
		return resp.StatusCode, ev
	}
	for _, tc := range []struct {
		path, rawPath, query, routeKey string
	}{
		{"/echo/orders/7?full=1", "/orders/7", "full=1", "$default"}, // the prefix stripped
		{"/echo", "/", "", "$default"},
		{"/users?id=1", "/users", "id=1", "$default"},
	} {
		status, ev := get(tc.path)
		require.Equal(t, http.StatusOK, status, tc.path)
		require.Equal(t, tc.rawPath, ev["rawPath"], tc.path)
		require.Equal(t, tc.query, ev["rawQueryString"], tc.path)
		require.Equal(t, tc.routeKey, ev["routeKey"], tc.path)
		require.Equal(t, "GET", ev["requestContext"].(map[string]any)["http"].(map[string]any)["method"], tc.path)
	}

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, s.wait(t, time.Minute), "a graceful shutdown exits 0")
	out := s.stderr.String()
	require.Contains(t, out, fmt.Sprintf("wasmlambda: echo: 2 invocations, 1 cold start; http-%d: 2 events\n", port))
	require.Contains(t, out, fmt.Sprintf("wasmlambda: root: 1 invocation, 1 cold start; http-%d: 1 event\n", port))
	_, err = http.Get(base + "/users")
	require.Error(t, err, "the port is closed after the shutdown")
}
