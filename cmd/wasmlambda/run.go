package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/lambdatest"
	"github.com/wasmlambda/lambda/trigger/httpfn"
	"github.com/wasmlambda/lambda/trigger/s3"
	"github.com/wasmlambda/lambda/trigger/s3/awss3"
	"github.com/wasmlambda/lambda/trigger/schedule"
	"github.com/wasmlambda/lambda/trigger/sqs"
)

// defaultShutdownTimeout bounds a graceful shutdown when the config does
// not say.
const defaultShutdownTimeout = 30 * time.Second

type runOptions struct {
	config  string
	check   bool
	metrics string
}

func newRunCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run functions, layers and triggers from a YAML config until stopped",
		Long: `Run deploys the functions, layers, queues, buckets and triggers of a YAML
config file (see the README), and runs them until SIGINT (Ctrl-C) or SIGTERM.
Then it shuts down gracefully: triggers stop and hand back what they hold,
asynchronous events accepted are run to the end (retries included) or kept
in the state directory, and dead letters are delivered. A second signal
stops at once.

Triggers are schedules, SQS queues, S3 buckets and HTTP ports of
127.0.0.1 (a function URL, an HTTP API or a REST API; several functions
may share a port, each at its own path).

Compiling a module takes about a second the first time; run shows each
while it compiles. Later runs find the modules in the compilation cache.

Config errors name the file, the line, the field and the problem.`,
		Example: `  wasmlambda run --config wasmlambda.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	cmd.Flags().StringVarP(&o.config, "config", "c", "wasmlambda.yaml", "the YAML config file")
	cmd.Flags().BoolVar(&o.check, "check", false, "check the config file and exit, deploying nothing")
	cmd.Flags().StringVar(&o.metrics, "metrics", "", "serve Prometheus /metrics at this address, on 127.0.0.1 unless it names a host (\"9464\"); overrides the config's metrics")
	return cmd
}

func (o *runOptions) run(cmd *cobra.Command) error {
	// Signals first, so that one during the deploys stops them.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	cfg, err := loadConfig(o.config)
	if err != nil {
		return err
	}
	if o.metrics != "" {
		cfg.Metrics = o.metrics
	}
	if o.check {
		fmt.Fprintf(cmd.ErrOrStderr(), "wasmlambda: %s: %s and %s, no error found\n", o.config,
			plural(len(cfg.Functions), "function"), plural(cfg.triggerCount(), "trigger"))
		return nil
	}
	p := newProgress(cmd.ErrOrStderr())
	defer p.Close()

	ctx, stop := context.WithCancel(cmd.Context())
	defer stop()
	closeCtx, abort := context.WithCancel(context.Background())
	defer abort()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case s := <-sigs:
			p.Printf("%v: shutting down gracefully (again to stop at once)", s)
			stop()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			p.Printf("%v: stopping at once", s)
			abort()
		case <-done:
		}
	}()

	a := &app{cfg: cfg, file: o.config, p: p}
	startErr := a.start(ctx)
	if startErr == nil {
		p.Printf("running %s; stop with Ctrl-C or SIGTERM", a.summary())
		<-ctx.Done()
	}
	timeout := cfg.ShutdownTimeout
	if timeout == 0 {
		timeout = defaultShutdownTimeout
	}
	closeCtx, cancel := context.WithTimeout(closeCtx, timeout)
	defer cancel()
	closeErr := a.close(closeCtx)
	if startErr != nil {
		if ctx.Err() != nil && errors.Is(startErr, context.Canceled) {
			return errors.New("stopped before every function was deployed")
		}
		return startErr
	}
	switch {
	case errors.Is(closeCtx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("shutdown not done after shutdownTimeout %v: the events in flight were stopped and %s", timeout, a.keptWhere())
	case closeCtx.Err() != nil:
		return fmt.Errorf("shutdown cut short: the events in flight were stopped and %s", a.keptWhere())
	case closeErr != nil:
		return fmt.Errorf("shutdown: %w", closeErr)
	}
	p.Printf("stopped")
	return nil
}

// app is what a config deployed.
type app struct {
	cfg  *config
	file string
	p    *progress

	rt        *lambda.Runtime
	metrics   *metricsServer
	logger    *slog.Logger
	layers    map[string]*lambda.LayerVersion
	embedded  *sqs.Embedded
	queues    map[string]queue
	buckets   map[string]*s3.Bucket
	amazon    map[string]*amazonHandle
	mu        sync.Mutex // guards closers, added to by concurrent deploys
	closers   []func() error
	functions []*lambda.Function
	// attached holds each function's attachments, by the function's index.
	attached [][]*lambda.Attachment
	triggers int
	// muxes are the HTTP triggers' muxes, by port, portAt the first
	// trigger on each, and servers serve them.
	muxes   map[int]*http.ServeMux
	portAt  map[int]at
	servers []*http.Server
}

// amazonHandle is a bucket of Amazon S3, or of a store that speaks its
// protocol.
type amazonHandle struct {
	client *sdks3.Client
	// name is the bucket's name in S3.
	name string
	cfg  *amazonBucket
}

// queue is an embedded or an Amazon queue.
type queue interface {
	sqs.Queue
	lambda.QueueSender
}

// errAt is err at an element of the config.
func (a *app) errAt(pos at, err error) error {
	return &configError{File: a.file, Line: pos.Line, Col: pos.Column, Path: pos.Path, Msg: err.Error()}
}

// summary says what runs.
func (a *app) summary() string {
	return plural(len(a.functions), "function") + " and " + plural(a.triggers, "trigger")
}

// start deploys everything in the config: layers, queues, buckets,
// functions, then the triggers, so that no trigger fires before every
// function is there.
func (a *app) start(ctx context.Context) error {
	cfg := a.cfg
	opts := lambda.Options{
		CacheDir:        cfg.CacheDir,
		Logger:          newLogger(a.p, true, slog.LevelInfo),
		Region:          cfg.Region,
		AccountID:       cfg.AccountID,
		UndeliveredFile: cfg.UndeliveredFile,
	}
	if opts.CacheDir == "" {
		opts.CacheDir = lambdatest.DefaultCompileCacheDir()
	}
	if cfg.StateDir != "" {
		opts.StateDir = filepath.Join(cfg.StateDir, "async")
	}
	if cfg.Metrics != "" {
		m, err := serveMetrics(cfg.Metrics)
		if err != nil {
			return a.errAt(cfg.At, fmt.Errorf("metrics: %w", err))
		}
		a.metrics, opts.Observer = m, m.observer
		a.p.Printf("metrics at %s", m.url)
	}
	rt, err := lambda.New(opts)
	if err != nil {
		return err
	}
	a.rt, a.logger = rt, opts.Logger
	if cfg.StateDir != "" {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, "buckets"), 0o755); err != nil {
			return a.errAt(cfg.At, fmt.Errorf("stateDir: %w", err))
		}
	}
	region, account := or(cfg.Region, "us-east-1"), or(cfg.AccountID, "000000000000")

	a.layers = map[string]*lambda.LayerVersion{}
	for _, l := range cfg.Layers {
		content, err := layerContent(l.Path)
		if err == nil {
			a.layers[l.Name], err = rt.PublishLayerVersion(ctx, l.Name, content)
		}
		if err != nil {
			return a.errAt(l.At, err)
		}
	}

	if err := a.openQueues(ctx, region, account); err != nil {
		return err
	}

	a.buckets = map[string]*s3.Bucket{}
	a.amazon = map[string]*amazonHandle{}
	for _, b := range cfg.Buckets {
		if am := b.Amazon; am != nil {
			client, err := amazonBucketClient(ctx, am, region)
			if err != nil {
				return a.errAt(b.At, err)
			}
			h := &amazonHandle{client: client, name: or(am.Bucket, b.Name), cfg: am}
			a.amazon[b.Name] = h
			how := "mounted only"
			switch {
			case am.Queue.Name != "":
				how = "notified through queue " + am.Queue.Name
			case am.Poll > 0:
				how = "polled every " + am.Poll.String()
			}
			a.p.Printf("bucket %s: Amazon S3 bucket %s, %s", b.Name, h.name, how)
			continue
		}
		e := b.Embedded
		bucket, err := s3.NewBucket(b.Name, s3.BucketOptions{
			Dir:        e.Dir,
			Versioning: e.Versioning,
			WatchDir:   e.Watch,
			Quiet:      e.Quiet,
			Logger:     opts.Logger.With(slog.String("bucket", b.Name)),
		})
		if err != nil {
			return a.errAt(b.At, err)
		}
		a.buckets[b.Name] = bucket
		a.addCloser(bucket.Close)
		where := "in memory"
		if e.Dir != "" {
			where = "in " + e.Dir
			if e.Watch {
				where += ", watched"
			}
		}
		a.p.Printf("bucket %s: %s", b.Name, where)
	}

	// Build every Go package first: go build uses every core itself.
	codes := make([]code, len(cfg.Functions))
	for i, f := range cfg.Functions {
		c, err := loadCode(ctx, a.p, f.Name, f.Code, buildOptions{Command: f.Command, Tags: f.Tags, Flags: f.BuildFlags})
		if err != nil {
			return a.errAt(f.At, err)
		}
		codes[i] = c
	}
	if err := a.deployFunctions(ctx, codes); err != nil {
		return err
	}

	a.attached = make([][]*lambda.Attachment, len(cfg.Functions))
	for i, f := range cfg.Functions {
		fn := a.functions[i]
		for _, t := range f.Triggers {
			trig, what := a.trigger(f.Name, t)
			att, err := fn.Attach(ctx, t.Name, trig)
			if err != nil {
				return a.errAt(t.At, err)
			}
			a.attached[i] = append(a.attached[i], att)
			a.triggers++
			a.p.Printf("%s: trigger %s, %s", f.Name, t.Name, what)
		}
	}
	return a.serveHTTP()
}

// mountHTTP mounts an HTTP trigger on its port's mux.
func (a *app) mountHTTP(h *httpTrigger, trig *httpfn.Trigger) {
	if a.muxes == nil {
		a.muxes, a.portAt = map[int]*http.ServeMux{}, map[int]at{}
	}
	mux := a.muxes[h.Port]
	if mux == nil {
		mux = http.NewServeMux()
		a.muxes[h.Port], a.portAt[h.Port] = mux, h.At
	}
	pattern, prefix := h.mount()
	var handler http.Handler = trig
	if prefix != "" {
		handler = http.StripPrefix(prefix, trig)
		// The prefix alone is the function's root, as a function URL's
		// domain alone is.
		mux.Handle(prefix, http.StripPrefix(prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.URL.Path, r.URL.RawPath = "/", ""
			trig.ServeHTTP(w, r)
		})))
	}
	mux.Handle(pattern, handler)
}

// serveHTTP listens on the HTTP triggers' ports, once every trigger is
// attached.
func (a *app) serveHTTP() error {
	ports := make([]int, 0, len(a.muxes))
	for port := range a.muxes {
		ports = append(ports, port)
	}
	slices.Sort(ports)
	for _, port := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return a.errAt(a.portAt[port], fmt.Errorf("port %d: %w", port, err))
		}
		srv := &http.Server{Handler: a.muxes[port], ReadHeaderTimeout: time.Minute, ErrorLog: log.New(io.Discard, "", 0)}
		a.servers = append(a.servers, srv)
		go func() { _ = srv.Serve(ln) }()
		a.p.Printf("listening on http://%s", ln.Addr())
	}
	return nil
}

// openQueues opens the embedded queues, each after its dead-letter queue,
// and the Amazon ones.
func (a *app) openQueues(ctx context.Context, region, account string) error {
	a.queues = map[string]queue{}
	var pending []*queueConfig
	for i := range a.cfg.Queues {
		q := &a.cfg.Queues[i]
		if q.Amazon != nil {
			aq, err := openAmazonQueue(ctx, q.Amazon, region)
			if err != nil {
				return a.errAt(q.At, err)
			}
			a.queues[q.Name] = aq
			a.p.Printf("queue %s: Amazon SQS, %s", q.Name, aq.URL())
			continue
		}
		pending = append(pending, q)
	}
	if len(pending) == 0 {
		return nil
	}
	eopts := sqs.EmbeddedOptions{Region: region, Account: account}
	if a.cfg.StateDir != "" {
		dir := filepath.Join(a.cfg.StateDir, "queues")
		e, err := sqs.OpenEmbedded(dir, eopts)
		if err != nil {
			return a.errAt(a.cfg.At, fmt.Errorf("stateDir: queues: %w", err))
		}
		a.embedded = e
	} else {
		a.embedded = sqs.NewEmbedded(eopts)
	}
	for len(pending) > 0 {
		var later []*queueConfig
		for _, q := range pending {
			if rp := q.Embedded.RedrivePolicy; rp != nil && a.queues[rp.DeadLetterQueue.Name] == nil {
				later = append(later, q)
				continue
			}
			if err := a.createQueue(ctx, q); err != nil {
				return err
			}
		}
		if len(later) == len(pending) {
			return a.errAt(later[0].Embedded.RedrivePolicy.At, errors.New("the dead-letter queues form a cycle"))
		}
		pending = later
	}
	return nil
}

// createQueue creates an embedded queue and sends its messages, or finds it
// in the state directory as an earlier run left it.
func (a *app) createQueue(ctx context.Context, q *queueConfig) error {
	e := q.Embedded
	if eq := a.embedded.Queue(q.Name); eq != nil {
		a.queues[q.Name] = eq
		a.p.Printf("queue %s: reopened from %s with %s; its messages are not sent again", q.Name, a.cfg.StateDir, plural(eq.Len(), "message"))
		return nil
	}
	qc := sqs.QueueConfig{
		FIFO:                      e.FIFO,
		ContentBasedDeduplication: e.ContentBasedDeduplication,
		VisibilityTimeout:         e.VisibilityTimeout,
		Delay:                     e.Delay,
		ReceiveWaitTime:           e.ReceiveWaitTime,
		RetentionPeriod:           e.RetentionPeriod,
		MaximumMessageSize:        e.MaximumMessageSize,
	}
	if rp := e.RedrivePolicy; rp != nil {
		qc.RedrivePolicy = &sqs.RedrivePolicy{DeadLetterQueue: rp.DeadLetterQueue.Name, MaxReceiveCount: rp.MaxReceiveCount}
	}
	eq, err := a.embedded.CreateQueue(q.Name, qc)
	if err != nil {
		return a.errAt(e.At, err)
	}
	a.queues[q.Name] = eq
	if len(e.Messages) > 0 {
		entries := make([]sqs.SendEntry, len(e.Messages))
		for i, m := range e.Messages {
			entries[i] = sqs.SendEntry{
				Body:                   string(m.Body),
				Delay:                  m.Delay,
				MessageGroupID:         m.MessageGroupID,
				MessageDeduplicationID: m.MessageDeduplicationID,
			}
			if len(m.Attributes) > 0 {
				entries[i].MessageAttributes = map[string]events.SQSMessageAttribute{}
				for k, v := range m.Attributes {
					entries[i].MessageAttributes[k] = events.SQSMessageAttribute{DataType: "String", StringValue: &v}
				}
			}
		}
		_, failed, err := eq.Send(ctx, entries)
		if err != nil {
			return a.errAt(e.At, err)
		}
		if len(failed) > 0 {
			// An entry without an ID is named by its index.
			if idx, err := strconv.Atoi(failed[0].ID); err == nil && idx >= 0 && idx < len(e.Messages) {
				return a.errAt(e.Messages[idx].At, failed[0])
			}
			return a.errAt(e.At, failed[0])
		}
	}
	a.p.Printf("queue %s: embedded, %s sent", q.Name, plural(len(e.Messages), "message"))
	return nil
}

// deployFunctions deploys the functions, at most GOMAXPROCS at a time, each
// after the functions its sinks and destinations name.
func (a *app) deployFunctions(ctx context.Context, codes []code) error {
	cfg := a.cfg
	a.functions = make([]*lambda.Function, len(cfg.Functions))
	byName := map[string]*lambda.Function{}
	var mu sync.Mutex
	deployed := func(name string) *lambda.Function {
		mu.Lock()
		defer mu.Unlock()
		return byName[name]
	}
	remaining := make([]int, len(cfg.Functions))
	for i := range remaining {
		remaining[i] = i
	}
	for len(remaining) > 0 {
		var wave, later []int
		for _, i := range remaining {
			ready := true
			for _, dep := range cfg.Functions[i].dependencies() {
				if deployed(dep) == nil {
					ready = false
				}
			}
			if ready {
				wave = append(wave, i)
			} else {
				later = append(later, i)
			}
		}
		if len(wave) == 0 {
			f := cfg.Functions[later[0]]
			return a.errAt(f.At, errors.New("the functions' sinks and destinations form a cycle"))
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(runtime.GOMAXPROCS(0))
		for _, i := range wave {
			f := cfg.Functions[i]
			g.Go(func() error {
				fc, err := a.functionConfig(f, deployed)
				if err != nil {
					return a.errAt(f.At, err)
				}
				fn, err := deploy(gctx, a.p, a.rt, fc, codes[i], true)
				if err != nil {
					return a.errAt(f.At, err)
				}
				mu.Lock()
				byName[f.Name] = fn
				a.functions[i] = fn
				mu.Unlock()
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		remaining = later
	}
	return nil
}

// dependencies are the functions f's sinks and destinations name.
func (f functionConfig) dependencies() []string {
	var out []string
	if a := f.Async; a != nil {
		for _, s := range []*sinkConfig{a.DeadLetter, a.OnSuccess, a.OnFailure} {
			if s != nil && s.Function.Name != "" {
				out = append(out, s.Function.Name)
			}
		}
	}
	return out
}

// functionConfig is the lambda.FunctionConfig of f.
func (a *app) functionConfig(f functionConfig, deployed func(string) *lambda.Function) (lambda.FunctionConfig, error) {
	fc := lambda.FunctionConfig{
		Name:               f.Name,
		Handler:            f.Handler,
		Timeout:            f.Timeout,
		MemorySize:         f.Memory,
		Environment:        f.Environment,
		EphemeralStorageMB: f.EphemeralStorage,
		MaxConcurrency:     f.MaxConcurrency,
		MinWarm:            f.MinWarm,
		IdleTimeout:        f.IdleTimeout,
	}
	for _, l := range f.Layers {
		fc.Layers = append(fc.Layers, a.layers[l.Name])
	}
	for _, m := range f.Mounts {
		mount := lambda.Mount{Path: m.Path, HostDir: m.HostDir, ReadWrite: m.ReadWrite}
		if b := a.buckets[m.Bucket.Name]; b != nil {
			if m.ReadWrite {
				mount.FS = b.WriteFS(m.Prefix)
			} else {
				mount.FS = b.FS(m.Prefix)
			}
		}
		if h := a.amazon[m.Bucket.Name]; h != nil {
			fsys := awss3.NewFS(h.client, h.name, m.Prefix)
			if m.ReadWrite {
				mount.FS = &awss3.WriteFS{FS: fsys}
			} else {
				mount.FS = fsys
			}
		}
		fc.Mounts = append(fc.Mounts, mount)
	}
	if ac := f.Async; ac != nil {
		fc.Async = lambda.AsyncConfig{
			RetryBackoff: ac.RetryBackoff,
			MaxEventAge:  ac.MaxEventAge,
			Concurrency:  ac.Concurrency,
			QueueSize:    ac.QueueSize,
		}
		if ac.Retries != nil {
			fc.Async.MaxRetryAttempts = lambda.Retries(*ac.Retries)
		}
		if s := ac.DeadLetter; s != nil {
			sink, err := a.deadLetterSink(s, deployed)
			if err != nil {
				return fc, err
			}
			fc.Async.DeadLetter = sink
		}
		for _, d := range []struct {
			s   *sinkConfig
			dst *lambda.Destination
		}{{ac.OnSuccess, &fc.Async.OnSuccess}, {ac.OnFailure, &fc.Async.OnFailure}} {
			if d.s == nil {
				continue
			}
			dst, err := a.destination(d.s, deployed)
			if err != nil {
				return fc, err
			}
			*d.dst = dst
		}
	}
	return fc, nil
}

// deadLetterSink is the sink s names.
func (a *app) deadLetterSink(s *sinkConfig, deployed func(string) *lambda.Function) (lambda.DeadLetterSink, error) {
	switch {
	case s.File != "":
		if err := os.MkdirAll(filepath.Dir(s.File), 0o755); err != nil {
			return nil, err
		}
		fs, err := lambda.OpenFileSink(s.File)
		if err != nil {
			return nil, err
		}
		a.addCloser(fs.Close)
		return fs, nil
	case s.Queue.Name != "":
		return &lambda.QueueSink{Queue: a.queues[s.Queue.Name]}, nil
	default:
		return &lambda.FunctionSink{Function: deployed(s.Function.Name)}, nil
	}
}

// destination is the destination s names.
func (a *app) destination(s *sinkConfig, deployed func(string) *lambda.Function) (lambda.Destination, error) {
	switch {
	case s.File != "":
		if err := os.MkdirAll(filepath.Dir(s.File), 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(s.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		a.addCloser(f.Close)
		return &fileDestination{f: f}, nil
	case s.Queue.Name != "":
		return &lambda.QueueDestination{Queue: a.queues[s.Queue.Name]}, nil
	default:
		return &lambda.FunctionDestination{Function: deployed(s.Function.Name)}, nil
	}
}

func (a *app) addCloser(c func() error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closers = append(a.closers, c)
}

// fileDestination appends invocation records to a JSON Lines file, synced
// before Deliver returns.
type fileDestination struct {
	mu sync.Mutex
	f  *os.File
}

// Deliver appends rec as one line.
func (d *fileDestination) Deliver(_ context.Context, rec *lambda.InvocationRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.f.Write(append(b, '\n')); err != nil {
		return err
	}
	return d.f.Sync()
}

// trigger is the trigger t of function fn, and what it is for a person.
func (a *app) trigger(fn string, t triggerConfig) (lambda.Trigger, string) {
	switch {
	case t.HTTP != nil:
		h := t.HTTP
		front := fronts[or(h.Front, "functionUrl")]
		trig := httpfn.New(httpfn.Options{Front: front, Streaming: h.Streaming, IntegrationTimeout: h.IntegrationTimeout})
		a.mountHTTP(h, trig)
		what := fmt.Sprintf("%s on http://127.0.0.1:%d%s", front, h.Port, or(h.Path, "/"))
		if h.Streaming {
			what += ", streaming"
		}
		return trig, what
	case t.Schedule != nil:
		s := t.Schedule
		what := "schedule " + s.Expression
		if s.Timezone != "" {
			what += " in " + s.Timezone
		}
		return &schedule.Schedule{Expression: s.Expression, Timezone: s.Timezone, Input: s.Input, FlexibleWindow: s.FlexibleWindow}, what
	case t.SQS != nil:
		return t.SQS.eventSource(a.queues[t.SQS.Queue.Name]), "queue " + t.SQS.Queue.Name
	}
	s := t.S3
	if h := a.amazon[s.Bucket.Name]; h != nil && h.cfg.Queue.Name != "" {
		return &s3.QueueNotifications{Queue: a.queues[h.cfg.Queue.Name]},
			fmt.Sprintf("bucket %s, S3's notifications from queue %s", s.Bucket.Name, h.cfg.Queue.Name)
	}
	rules := s.rules()
	var parts []string
	for _, r := range rules {
		parts = append(parts, strings.Join(r.Events, ",")+filterText(r))
	}
	what := "bucket " + s.Bucket.Name + " " + strings.Join(parts, "; ")
	var source s3.Source = a.buckets[s.Bucket.Name]
	if h := a.amazon[s.Bucket.Name]; h != nil {
		// A poller per trigger: one Watch runs at a time on a Poller, and
		// one Poller on a cursor file.
		p := &s3.Poller{
			BucketName: h.name,
			Lister:     &awss3.Lister{API: h.client, Bucket: h.name},
			Prefix:     h.cfg.Prefix,
			Interval:   h.cfg.Poll,
			Logger:     a.logger.With(slog.String("function", fn), slog.String("trigger", t.Name)),
		}
		if a.cfg.StateDir != "" {
			p.Cursor = filepath.Join(a.cfg.StateDir, "buckets", fmt.Sprintf("%s.%s.%s.cursor", s.Bucket.Name, fn, t.Name))
		}
		source = p
		what += ", polled every " + h.cfg.Poll.String()
	}
	return &s3.Notifications{Source: source, Rules: rules}, what
}

// filterText is a rule's key filter, for a person.
func filterText(r s3.Rule) string {
	switch {
	case r.Prefix != "" && r.Suffix != "":
		return fmt.Sprintf(" on %s*%s", r.Prefix, r.Suffix)
	case r.Prefix != "":
		return fmt.Sprintf(" on %s*", r.Prefix)
	case r.Suffix != "":
		return fmt.Sprintf(" on *%s", r.Suffix)
	}
	return ""
}

// keptWhere says where a shutdown cut short left the events in flight.
func (a *app) keptWhere() string {
	if a.cfg.StateDir != "" {
		return "kept in " + filepath.Join(a.cfg.StateDir, "async") + " for the next run"
	}
	file := a.cfg.UndeliveredFile
	if file == "" {
		file = filepath.Join(os.TempDir(), "wasmlambda-undelivered.jsonl")
	}
	return "went to their dead-letter sinks, or to " + file
}

// close shuts down what start opened, in the order that loses nothing:
// the runtime (which stops the triggers, drains the asynchronous events and
// delivers the dead letters), then the queues and buckets, then the files.
func (a *app) close(ctx context.Context) error {
	var err error
	// The HTTP listeners first: no new request, and those in flight end.
	for _, srv := range a.servers {
		if e := srv.Shutdown(ctx); e != nil {
			err = errors.Join(err, srv.Close())
		}
	}
	if a.rt != nil {
		err = a.rt.Close(ctx)
		var ue *lambda.UndeliveredError
		if errors.As(err, &ue) {
			a.p.Printf("%v", err) // kept in the undelivered file: not lost
			err = nil
		}
		for i, fn := range a.functions {
			if fn == nil {
				continue
			}
			ps, as := fn.Stats(), fn.AsyncStats()
			line := fmt.Sprintf("%s: %s, %s", fn.Name(), plural(int(ps.Invocations), "invocation"), plural(int(ps.ColdStarts), "cold start"))
			if n := as.Accepted + as.Recovered; n > 0 {
				line += fmt.Sprintf("; %s: %d succeeded, %d dead-lettered", plural(int(n), "asynchronous event"), as.Succeeded, as.DeadLettered)
			}
			if i < len(a.attached) {
				for _, att := range a.attached[i] {
					line += triggerStats(att)
				}
			}
			a.p.Printf("%s", line)
		}
	}
	if a.embedded != nil {
		for _, q := range a.cfg.Queues {
			eq := a.embedded.Queue(q.Name)
			if eq == nil || eq.Len() == 0 {
				continue
			}
			if a.cfg.StateDir != "" {
				a.p.Printf("queue %s: %s kept in %s for the next run", q.Name, plural(eq.Len(), "message"), a.cfg.StateDir)
			} else {
				a.p.Printf("queue %s: %s left in memory end with the process: set stateDir to keep them", q.Name, plural(eq.Len(), "message"))
			}
		}
		err = errors.Join(err, a.embedded.Close())
	}
	for i := len(a.closers) - 1; i >= 0; i-- {
		err = errors.Join(err, a.closers[i]())
	}
	if a.metrics != nil {
		err = errors.Join(err, a.metrics.close(ctx))
	}
	return err
}

// triggerStats says what a trigger did.
func triggerStats(att *lambda.Attachment) string {
	st := att.Stats()
	s := fmt.Sprintf("; %s: %s", st.Name, plural(int(st.Events), "event"))
	if st.Errors > 0 {
		s += fmt.Sprintf(", %s (last: %s)", plural(int(st.Errors), "error"), st.LastError)
	}
	return s
}

// plural counts what: "1 event", "2 events".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
