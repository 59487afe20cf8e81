package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/lazyregexp"
	"github.com/wasmlambda/lambda/trigger/httpfn"
	"github.com/wasmlambda/lambda/trigger/s3"
	"github.com/wasmlambda/lambda/trigger/schedule"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// config is the YAML file of wasmlambda run. Paths in it are relative to
// the file's directory. See the README's "wasmlambda run" section.
type config struct {
	At at
	// Region and AccountID are the runtime's: AWS_REGION, and the ARNs.
	Region    string `yaml:"region"`
	AccountID string `yaml:"accountId"`
	// StateDir keeps asynchronous events (StateDir/async) and embedded
	// queues (StateDir/queues) across restarts. Default none: in memory.
	StateDir string `yaml:"stateDir"`
	// CacheDir is the compilation cache.
	CacheDir string `yaml:"cacheDir"`
	// UndeliveredFile receives dead letters with nowhere else to go.
	UndeliveredFile string `yaml:"undeliveredFile"`
	// ShutdownTimeout bounds the graceful shutdown. Default 30s.
	ShutdownTimeout time.Duration `yaml:"shutdownTimeout"`
	// Metrics is the address where Prometheus /metrics is served, on
	// 127.0.0.1 when it names no host: "9464" or ":9464". Default none.
	Metrics string `yaml:"metrics"`

	Layers    []layerConfig    `yaml:"layers"`
	Queues    []queueConfig    `yaml:"queues"`
	Buckets   []bucketConfig   `yaml:"buckets"`
	Functions []functionConfig `yaml:"functions"`
}

type layerConfig struct {
	At   at
	Name string `yaml:"name"`
	// Path is a directory or a zip.
	Path string `yaml:"path"`
}

type queueConfig struct {
	At       at
	Name     string         `yaml:"name"`
	Embedded *embeddedQueue `yaml:"embedded"`
	Amazon   *amazonQueue   `yaml:"amazon"`
}

type embeddedQueue struct {
	At                        at
	FIFO                      bool           `yaml:"fifo"`
	ContentBasedDeduplication bool           `yaml:"contentBasedDeduplication"`
	VisibilityTimeout         time.Duration  `yaml:"visibilityTimeout"`
	Delay                     time.Duration  `yaml:"delay"`
	ReceiveWaitTime           time.Duration  `yaml:"receiveWaitTime"`
	RetentionPeriod           time.Duration  `yaml:"retentionPeriod"`
	MaximumMessageSize        int            `yaml:"maximumMessageSize"`
	RedrivePolicy             *redrivePolicy `yaml:"redrivePolicy"`
	// Messages are sent when the queue is created, not when it is
	// reopened from the state directory.
	Messages []queueMessage `yaml:"messages"`
}

type redrivePolicy struct {
	At              at
	DeadLetterQueue ref `yaml:"deadLetterQueue"`
	MaxReceiveCount int `yaml:"maxReceiveCount"`
}

type queueMessage struct {
	At                     at
	Body                   text              `yaml:"body"`
	MessageGroupID         string            `yaml:"messageGroupId"`
	MessageDeduplicationID string            `yaml:"messageDeduplicationId"`
	Delay                  time.Duration     `yaml:"delay"`
	Attributes             map[string]string `yaml:"attributes"`
}

type amazonQueue struct {
	At at
	// URL is the queue's URL.
	URL string `yaml:"url"`
	// Region is the queue's region. Default the URL's, or the config's.
	Region string `yaml:"region"`
	// Endpoint is an SQS-protocol endpoint other than Amazon's.
	Endpoint string `yaml:"endpoint"`
}

type bucketConfig struct {
	At       at
	Name     string          `yaml:"name"`
	Embedded *embeddedBucket `yaml:"embedded"`
	Amazon   *amazonBucket   `yaml:"amazon"`
}

type embeddedBucket struct {
	At at
	// Dir keeps the bucket in a directory; default in memory.
	Dir string `yaml:"dir"`
	// Watch makes files other programs put in Dir objects put.
	Watch      bool          `yaml:"watch"`
	Versioning bool          `yaml:"versioning"`
	Quiet      time.Duration `yaml:"quiet"`
}

type amazonBucket struct {
	At at
	// Bucket is the bucket's name in S3. Default the config's name.
	Bucket string `yaml:"bucket"`
	// Queue is the queue, one of the config's queues, that S3 sends the
	// bucket's event notifications to (its QueueConfiguration).
	Queue ref `yaml:"queue"`
	// Poll lists the bucket this often instead, for a store that sends no
	// notifications.
	Poll time.Duration `yaml:"poll"`
	// Prefix restricts the polling to the keys under it.
	Prefix string `yaml:"prefix"`
	// Region is the bucket's region. Default the config's.
	Region string `yaml:"region"`
	// Endpoint is an S3-compatible endpoint other than Amazon's, reached
	// with path-style addressing.
	Endpoint string `yaml:"endpoint"`
}

type functionConfig struct {
	At      at
	Name    string `yaml:"name"`
	Code    string `yaml:"code"`
	Handler string `yaml:"handler"`
	// Command, Tags and BuildFlags build a Go package directory.
	Command          bool              `yaml:"command"`
	Tags             string            `yaml:"tags"`
	BuildFlags       []string          `yaml:"buildFlags"`
	Memory           int               `yaml:"memory"`
	Timeout          time.Duration     `yaml:"timeout"`
	Environment      map[string]string `yaml:"environment"`
	Layers           []ref             `yaml:"layers"`
	EphemeralStorage int               `yaml:"ephemeralStorage"`
	MaxConcurrency   int               `yaml:"maxConcurrency"`
	MinWarm          int               `yaml:"minWarm"`
	IdleTimeout      time.Duration     `yaml:"idleTimeout"`
	Mounts           []mountConfig     `yaml:"mounts"`
	Async            *asyncConfig      `yaml:"async"`
	Triggers         []triggerConfig   `yaml:"triggers"`
}

type mountConfig struct {
	At   at
	Path string `yaml:"path"`
	// HostDir or Bucket (with Prefix) is mounted.
	HostDir   string `yaml:"hostDir"`
	Bucket    ref    `yaml:"bucket"`
	Prefix    string `yaml:"prefix"`
	ReadWrite bool   `yaml:"readWrite"`
}

type asyncConfig struct {
	At           at
	Retries      *int            `yaml:"retries"`
	RetryBackoff []time.Duration `yaml:"retryBackoff"`
	MaxEventAge  time.Duration   `yaml:"maxEventAge"`
	Concurrency  int             `yaml:"concurrency"`
	QueueSize    int             `yaml:"queueSize"`
	DeadLetter   *sinkConfig     `yaml:"deadLetter"`
	OnSuccess    *sinkConfig     `yaml:"onSuccess"`
	OnFailure    *sinkConfig     `yaml:"onFailure"`
}

// sinkConfig is where dead letters or invocation records go: a JSON Lines
// file, a queue, or a function.
type sinkConfig struct {
	At       at
	File     string `yaml:"file"`
	Queue    ref    `yaml:"queue"`
	Function ref    `yaml:"function"`
}

type triggerConfig struct {
	At       at
	Name     string           `yaml:"name"`
	Schedule *scheduleTrigger `yaml:"schedule"`
	SQS      *sqsTrigger      `yaml:"sqs"`
	S3       *s3Trigger       `yaml:"s3"`
	HTTP     *httpTrigger     `yaml:"http"`
}

// httpTrigger serves the function over HTTP on 127.0.0.1:Port, at Path.
// Triggers on one port share its listener, each on its own path.
type httpTrigger struct {
	At   at
	Port int `yaml:"port"`
	// Path is the prefix the function is mounted at; the function sees
	// the path after it, as behind a function URL. Default "/": every path.
	Path string `yaml:"path"`
	// Front is functionUrl (default), httpApi or restApi.
	Front              string        `yaml:"front"`
	Streaming          bool          `yaml:"streaming"`
	IntegrationTimeout time.Duration `yaml:"integrationTimeout"`
}

// fronts are the front doors an HTTP trigger may mirror, by their names in
// the config.
var fronts = map[string]httpfn.Front{"functionUrl": httpfn.FunctionURL, "httpApi": httpfn.HTTPAPI, "restApi": httpfn.RESTAPI}

// mount is the pattern of the trigger's path on its port's mux, and the
// prefix to strip ("" for the root).
func (h *httpTrigger) mount() (pattern, prefix string) {
	if h.Path == "" || h.Path == "/" {
		return "/", ""
	}
	return h.Path + "/", h.Path
}

type scheduleTrigger struct {
	At             at
	Expression     string        `yaml:"expression"`
	Timezone       string        `yaml:"timezone"`
	Input          jsonText      `yaml:"input"`
	FlexibleWindow time.Duration `yaml:"flexibleWindow"`
}

type sqsTrigger struct {
	At                      at
	Queue                   ref           `yaml:"queue"`
	BatchSize               int           `yaml:"batchSize"`
	MaximumBatchingWindow   time.Duration `yaml:"maximumBatchingWindow"`
	MaximumConcurrency      int           `yaml:"maximumConcurrency"`
	ReportBatchItemFailures bool          `yaml:"reportBatchItemFailures"`
	FilterCriteria          []jsonText    `yaml:"filterCriteria"`
	VisibilityTimeout       time.Duration `yaml:"visibilityTimeout"`
	Heartbeat               bool          `yaml:"heartbeat"`
}

type s3Trigger struct {
	At     at
	Bucket ref      `yaml:"bucket"`
	Events []string `yaml:"events"`
	Prefix string   `yaml:"prefix"`
	Suffix string   `yaml:"suffix"`
	// Rules are several notification rules; Events, Prefix and Suffix
	// are one.
	Rules []s3Rule `yaml:"rules"`
}

type s3Rule struct {
	At     at
	ID     string   `yaml:"id"`
	Events []string `yaml:"events"`
	Prefix string   `yaml:"prefix"`
	Suffix string   `yaml:"suffix"`
}

// triggerCount is the number of triggers of every function.
func (c *config) triggerCount() int {
	n := 0
	for _, f := range c.Functions {
		n += len(f.Triggers)
	}
	return n
}

// loadConfig reads and checks the config file at path. Its errors are
// configErrors, each naming the file, the line, the field and the problem.
func loadConfig(path string) (*config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, unwrapPathError(err))
	}
	d := &decoder{file: path}
	var c config
	d.decodeDocument(src, &c)
	if err := d.err(); err != nil {
		return nil, err
	}
	c.check(d)
	if err := d.err(); err != nil {
		return nil, err
	}
	c.resolvePaths(filepath.Dir(path))
	return &c, nil
}

var validName = lazyregexp.New(`^[a-zA-Z0-9_-]{1,64}$`)

// check checks what the decoder could not: required fields, names and
// references, and the values the runtime and triggers would refuse later,
// so that their errors point into the file.
func (c *config) check(d *decoder) {
	if len(c.Functions) == 0 {
		d.failField(c.At, "functions", "at least one function is required")
	}

	layers := map[string]bool{}
	for _, l := range c.Layers {
		checkName(d, l.At, "layer", l.Name, layers)
		if l.Path == "" {
			d.failField(l.At, "path", "required: a directory or a zip")
		}
	}

	queues := map[string]*queueConfig{}
	seenQueue := map[string]bool{}
	for i := range c.Queues {
		q := &c.Queues[i]
		checkName(d, q.At, "queue", q.Name, seenQueue)
		queues[q.Name] = q
		switch {
		case q.Embedded != nil && q.Amazon != nil:
			d.failField(q.At, "amazon", "a queue is embedded or amazon, not both")
		case q.Amazon != nil:
			if q.Amazon.URL == "" {
				d.failField(q.Amazon.At, "url", "required: the queue's URL")
			}
		default:
			if q.Embedded == nil {
				q.Embedded = &embeddedQueue{At: q.At}
			}
			e := q.Embedded
			if e.FIFO != strings.HasSuffix(q.Name, ".fifo") {
				d.failField(q.At, "name", "a FIFO queue's name ends in .fifo, and only a FIFO queue's does")
			}
			for j, m := range e.Messages {
				if m.Body == "" {
					d.failField(m.At, "body", "required: messages[%d] has no body", j)
				}
				if e.FIFO && m.MessageGroupID == "" {
					d.failField(m.At, "messageGroupId", "required on a FIFO queue")
				}
				if e.FIFO && m.MessageDeduplicationID == "" && !e.ContentBasedDeduplication {
					d.failField(m.At, "messageDeduplicationId", "required on a FIFO queue without contentBasedDeduplication")
				}
			}
		}
	}
	for _, q := range c.Queues {
		if q.Embedded == nil || q.Embedded.RedrivePolicy == nil {
			continue
		}
		rp := q.Embedded.RedrivePolicy
		dlq, ok := queues[rp.DeadLetterQueue.Name]
		switch {
		case rp.DeadLetterQueue.Name == "":
			d.failField(rp.At, "deadLetterQueue", "required: the name of an embedded queue")
		case !ok || dlq.Embedded == nil:
			d.failf(rp.DeadLetterQueue.At.Line, rp.DeadLetterQueue.At.Column, rp.DeadLetterQueue.At.Path, "no embedded queue named %q", rp.DeadLetterQueue.Name)
		case dlq.Name == q.Name:
			d.failField(rp.At, "deadLetterQueue", "a queue cannot be its own dead-letter queue")
		}
		if rp.MaxReceiveCount < 1 || rp.MaxReceiveCount > 1000 {
			d.failField(rp.At, "maxReceiveCount", "want 1 to 1000, got %d", rp.MaxReceiveCount)
		}
	}

	buckets := map[string]*bucketConfig{}
	seenBucket := map[string]bool{}
	for i := range c.Buckets {
		b := &c.Buckets[i]
		checkName(d, b.At, "bucket", b.Name, seenBucket)
		buckets[b.Name] = b
		switch {
		case b.Embedded != nil && b.Amazon != nil:
			d.failField(b.At, "amazon", "a bucket is embedded or amazon, not both")
		case b.Amazon != nil:
			checkAmazonBucket(d, b, queues)
		default:
			if b.Embedded == nil {
				b.Embedded = &embeddedBucket{At: b.At}
			}
			if b.Embedded.Watch && b.Embedded.Dir == "" {
				d.failField(b.Embedded.At, "watch", "needs dir: the directory to watch")
			}
		}
	}

	functions := map[string]bool{}
	for _, f := range c.Functions {
		if f.Name != "" {
			functions[f.Name] = true
		}
	}
	seenFunction := map[string]bool{}
	mounts := map[string]string{} // "port path" -> the trigger there
	for i := range c.Functions {
		f := &c.Functions[i]
		checkName(d, f.At, "function", f.Name, seenFunction)
		if f.Code == "" {
			d.failField(f.At, "code", "required: a .wasm file, a zip or a Go package directory")
		}
		if f.Memory != 0 && (f.Memory < lambda.MinMemorySize || f.Memory > lambda.MaxMemorySize) {
			d.failField(f.At, "memory", "want %d to %d MB, got %d", lambda.MinMemorySize, lambda.MaxMemorySize, f.Memory)
		}
		if f.Timeout > lambda.MaxTimeout {
			d.failField(f.At, "timeout", "at most %v, got %v", lambda.MaxTimeout, f.Timeout)
		}
		for _, l := range f.Layers {
			if !layers[l.Name] {
				d.failf(l.At.Line, l.At.Column, l.At.Path, "no layer named %q", l.Name)
			}
		}
		for _, m := range f.Mounts {
			switch {
			case m.Path == "":
				d.failField(m.At, "path", "required: the guest path, such as /mnt/data")
			case !strings.HasPrefix(m.Path, "/"):
				d.failField(m.At, "path", "want an absolute guest path, such as /mnt/data, got %q", m.Path)
			}
			switch {
			case m.HostDir != "" && m.Bucket.Name != "":
				d.failField(m.At, "bucket", "a mount is a hostDir or a bucket, not both")
			case m.HostDir == "" && m.Bucket.Name == "":
				d.failField(m.At, "hostDir", "required: a host directory, or a bucket")
			case m.Bucket.Name != "":
				if _, ok := buckets[m.Bucket.Name]; !ok {
					d.failf(m.Bucket.At.Line, m.Bucket.At.Column, m.Bucket.At.Path, "no bucket named %q", m.Bucket.Name)
				}
			}
			if m.Prefix != "" && m.Bucket.Name == "" {
				d.failField(m.At, "prefix", "only for a bucket")
			}
		}
		if a := f.Async; a != nil {
			if a.Retries != nil && (*a.Retries < 0 || *a.Retries > lambda.MaxRetryAttempts) {
				d.failField(a.At, "retries", "want 0 to %d, got %d", lambda.MaxRetryAttempts, *a.Retries)
			}
			if a.MaxEventAge > lambda.MaxEventAge {
				d.failField(a.At, "maxEventAge", "at most %v, got %v", lambda.MaxEventAge, a.MaxEventAge)
			}
			for _, s := range []struct {
				field string
				sink  *sinkConfig
			}{{"deadLetter", a.DeadLetter}, {"onSuccess", a.OnSuccess}, {"onFailure", a.OnFailure}} {
				if s.sink != nil {
					checkSink(d, a.At, s.field, s.sink, queues, functions, f.Name)
				}
			}
		}
		triggers := map[string]bool{}
		for j := range f.Triggers {
			t := &f.Triggers[j]
			defaulted := t.Name == ""
			checkTrigger(d, t, queues, buckets)
			if defaulted && t.Name != "" {
				base := t.Name
				for n := 2; triggers[t.Name]; n++ {
					t.Name = fmt.Sprintf("%s-%d", base, n)
				}
			}
			if t.Name != "" && !validName.MatchString(t.Name) {
				d.failField(t.At, "name", "want 1 to 64 letters, digits, hyphens and underscores, got %q", t.Name)
			}
			if triggers[t.Name] {
				d.failField(t.At, "name", "the function has another trigger named %q; give each a name", t.Name)
			}
			triggers[t.Name] = true
			if h := t.HTTP; h != nil && h.Port > 0 && h.Port < 65536 {
				pattern, _ := h.mount()
				key := fmt.Sprintf("%d %s", h.Port, pattern)
				if other, ok := mounts[key]; ok {
					d.failField(h.At, "path", "port %d serves %s at %s already: give each trigger on a port its own path", h.Port, other, or(h.Path, "/"))
				}
				mounts[key] = fmt.Sprintf("function %s's trigger %s", f.Name, t.Name)
			}
		}
	}
}

// checkName checks an element's name: given, valid, and unique among seen.
func checkName(d *decoder, a at, kind, name string, seen map[string]bool) {
	switch {
	case name == "":
		d.failField(a, "name", "required")
	case kind == "bucket" && !validBucket.MatchString(name):
		d.failField(a, "name", "want a bucket name of 3 to 63 lower-case letters, digits, dots and hyphens, got %q", name)
	case kind == "queue" && !validQueue.MatchString(name):
		d.failField(a, "name", "want a queue name of 1 to 80 letters, digits, hyphens and underscores (and .fifo), got %q", name)
	case kind != "bucket" && kind != "queue" && !validName.MatchString(name):
		d.failField(a, "name", "want 1 to 64 letters, digits, hyphens and underscores, got %q", name)
	case seen[name]:
		d.failField(a, "name", "another %s is named %q", kind, name)
	}
	seen[name] = true
}

var (
	validBucket = lazyregexp.New(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	validQueue  = lazyregexp.New(`^[a-zA-Z0-9_-]{1,75}(\.fifo)?$`)
)

// checkSink checks a dead-letter sink or destination: exactly one target.
func checkSink(d *decoder, parent at, field string, s *sinkConfig, queues map[string]*queueConfig, functions map[string]bool, self string) {
	n := 0
	for _, set := range []bool{s.File != "", s.Queue.Name != "", s.Function.Name != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		line, col, path := parent.field(field)
		d.failf(line, col, path, "want one of file, queue and function")
		return
	}
	if q := s.Queue; q.Name != "" {
		qc, ok := queues[q.Name]
		switch {
		case !ok:
			d.failf(q.At.Line, q.At.Column, q.At.Path, "no queue named %q", q.Name)
		case qc.Embedded != nil && qc.Embedded.FIFO:
			d.failf(q.At.Line, q.At.Column, q.At.Path, "queue %q is a FIFO queue; dead letters and records need a standard queue, as on AWS", q.Name)
		}
	}
	if fn := s.Function; fn.Name != "" {
		switch {
		case !functions[fn.Name]:
			d.failf(fn.At.Line, fn.At.Column, fn.At.Path, "no function named %q", fn.Name)
		case fn.Name == self:
			d.failf(fn.At.Line, fn.At.Column, fn.At.Path, "a function cannot be its own %s", field)
		}
	}
}

// checkTrigger checks a trigger and names it when it has no name: after
// its kind and source, such as sqs-orders, s3-uploads or schedule.
func checkTrigger(d *decoder, t *triggerConfig, queues map[string]*queueConfig, buckets map[string]*bucketConfig) {
	kinds := 0
	for _, set := range []bool{t.Schedule != nil, t.SQS != nil, t.S3 != nil, t.HTTP != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		d.failf(t.At.Line, t.At.Column, t.At.Path, "want one of schedule, sqs, s3 and http")
		return
	}
	switch {
	case t.HTTP != nil:
		checkHTTP(d, t)
	case t.Schedule != nil:
		s := t.Schedule
		if t.Name == "" {
			t.Name = "schedule"
		}
		if s.Expression == "" {
			d.failField(s.At, "expression", "required: rate(...), cron(...) or at(...)")
			return
		}
		if _, err := schedule.NextFirings(s.Expression, s.Timezone, time.Now(), 1); err != nil {
			field := "expression"
			if strings.Contains(err.Error(), "time zone") {
				field = "timezone"
			}
			d.failField(s.At, field, "%v", err)
		}
		if s.FlexibleWindow > schedule.MaxFlexibleWindow {
			d.failField(s.At, "flexibleWindow", "at most %v, got %v", schedule.MaxFlexibleWindow, s.FlexibleWindow)
		}
	case t.SQS != nil:
		s := t.SQS
		if s.Queue.Name == "" {
			d.failField(s.At, "queue", "required: the name of a queue")
			return
		}
		q, ok := queues[s.Queue.Name]
		if !ok {
			d.failf(s.Queue.At.Line, s.Queue.At.Column, s.Queue.At.Path, "no queue named %q", s.Queue.Name)
			return
		}
		if t.Name == "" {
			t.Name = "sqs-" + strings.TrimSuffix(q.Name, ".fifo")
		}
		fifo := q.Embedded != nil && q.Embedded.FIFO || q.Amazon != nil && strings.HasSuffix(q.Amazon.URL, ".fifo")
		if err := s.eventSource(fifoQueue{fifo: fifo}).Validate(); err != nil {
			d.failf(s.At.Line, s.At.Column, s.At.Path, "%v", err)
		}
	case t.S3 != nil:
		s := t.S3
		if s.Bucket.Name == "" {
			d.failField(s.At, "bucket", "required: the name of a bucket")
			return
		}
		b, ok := buckets[s.Bucket.Name]
		if !ok {
			d.failf(s.Bucket.At.Line, s.Bucket.At.Column, s.Bucket.At.Path, "no bucket named %q", s.Bucket.Name)
			return
		}
		if t.Name == "" {
			t.Name = "s3-" + strings.ReplaceAll(s.Bucket.Name, ".", "-")
		}
		if a := b.Amazon; a != nil {
			switch {
			case a.Queue.Name != "":
				// S3 filters what it sends to the queue: the bucket's
				// notification configuration is the rules.
				if len(s.Rules) > 0 || len(s.Events) > 0 || s.Prefix != "" || s.Suffix != "" {
					d.failf(s.At.Line, s.At.Column, s.At.Path, "bucket %q is notified through queue %q: S3 filters the notifications it sends there by the bucket's notification configuration; leave out events, prefix, suffix and rules", b.Name, a.Queue.Name)
				}
				return
			case a.Poll == 0:
				d.failf(s.Bucket.At.Line, s.Bucket.At.Column, s.Bucket.At.Path, "bucket %q has neither queue nor poll: nothing tells of its changes", b.Name)
				return
			}
		}
		if len(s.Rules) > 0 && (len(s.Events) > 0 || s.Prefix != "" || s.Suffix != "") {
			d.failField(s.At, "rules", "give rules, or events with prefix and suffix, not both")
			return
		}
		if len(s.Rules) == 0 && len(s.Events) == 0 {
			d.failField(s.At, "events", "required: the event types, such as [\"s3:ObjectCreated:*\"]")
			return
		}
		if err := s3.ValidateRules(s.rules()); err != nil {
			d.failf(s.At.Line, s.At.Column, s.At.Path, "%v", err)
		}
	}
}

// checkHTTP checks an HTTP trigger and names it when it has no name:
// http-PORT.
func checkHTTP(d *decoder, t *triggerConfig) {
	h := t.HTTP
	if h.Port < 1 || h.Port > 65535 {
		d.failField(h.At, "port", "required: a port of 127.0.0.1, 1 to 65535, got %d", h.Port)
	} else if t.Name == "" {
		t.Name = fmt.Sprintf("http-%d", h.Port)
	}
	if p := h.Path; p != "" && (!strings.HasPrefix(p, "/") || p != "/" && (strings.HasSuffix(p, "/") || path.Clean(p) != p) || strings.ContainsAny(p, "{}? ")) {
		d.failField(h.At, "path", "want an absolute path such as /orders, without a trailing slash, got %q", p)
	}
	front, ok := fronts[or(h.Front, "functionUrl")]
	if !ok {
		d.failField(h.At, "front", "want functionUrl, httpApi or restApi, got %q", h.Front)
		return
	}
	if h.Streaming && front != httpfn.FunctionURL {
		d.failField(h.At, "streaming", "only a function URL (front: functionUrl) streams responses")
	}
	switch {
	case h.IntegrationTimeout < 0:
		d.failField(h.At, "integrationTimeout", "want a positive duration, got %v", h.IntegrationTimeout)
	case h.IntegrationTimeout > 0 && front == httpfn.FunctionURL:
		d.failField(h.At, "integrationTimeout", "only an API Gateway front door (httpApi, restApi) has one; a function URL waits for the function's timeout")
	}
}

// fifoQueue stands for a queue in checks of an event source's settings,
// which need to know only whether it is a FIFO queue.
type fifoQueue struct {
	sqs.Queue
	fifo bool
}

func (q fifoQueue) FIFO() bool { return q.fifo }

// eventSource is the trigger's event source on q.
func (s *sqsTrigger) eventSource(q sqs.Queue) *sqs.EventSource {
	filters := make([]string, len(s.FilterCriteria))
	for i, f := range s.FilterCriteria {
		filters[i] = string(f)
	}
	return &sqs.EventSource{
		Queue:                   q,
		BatchSize:               s.BatchSize,
		MaximumBatchingWindow:   s.MaximumBatchingWindow,
		MaximumConcurrency:      s.MaximumConcurrency,
		FilterCriteria:          filters,
		ReportBatchItemFailures: s.ReportBatchItemFailures,
		VisibilityTimeout:       s.VisibilityTimeout,
		Heartbeat:               s.Heartbeat,
	}
}

// rules are the trigger's notification rules.
func (s *s3Trigger) rules() []s3.Rule {
	if len(s.Rules) == 0 {
		return []s3.Rule{{Events: s.Events, Prefix: s.Prefix, Suffix: s.Suffix}}
	}
	out := make([]s3.Rule, len(s.Rules))
	for i, r := range s.Rules {
		out[i] = s3.Rule{ID: r.ID, Events: r.Events, Prefix: r.Prefix, Suffix: r.Suffix}
	}
	return out
}

// resolvePaths makes the file's relative paths relative to dir, the
// file's directory.
func (c *config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.StateDir)
	abs(&c.CacheDir)
	abs(&c.UndeliveredFile)
	for i := range c.Layers {
		abs(&c.Layers[i].Path)
	}
	for i := range c.Buckets {
		if e := c.Buckets[i].Embedded; e != nil {
			abs(&e.Dir)
		}
	}
	for i := range c.Functions {
		f := &c.Functions[i]
		abs(&f.Code)
		for j := range f.Mounts {
			abs(&f.Mounts[j].HostDir)
		}
		if a := f.Async; a != nil {
			for _, s := range []*sinkConfig{a.DeadLetter, a.OnSuccess, a.OnFailure} {
				if s != nil {
					abs(&s.File)
				}
			}
		}
	}
}
