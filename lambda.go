// Package lambda brings AWS Lambda's programming model into a Go process.
//
// Functions compiled to WebAssembly run in sandboxes managed by a pool of
// warm instances. A Runtime owns the compiled code and the functions; a
// Function is a deployed unit with AWS's configuration, defaults and limits,
// invoked synchronously with Invoke or InvokeJSON.
//
// Guests implement the guest ABI v1 (docs/ABI.md); Go guests use the SDK in
// package github.com/wasmlambda/lambda/guest, which accepts the same handler
// signatures as aws-lambda-go. Any WASI command also runs, one-shot, in
// compatibility mode.
//
// # Configuration: defaults and off
//
// Every configuration struct ([Options], [FunctionConfig], [AsyncConfig],
// [RedriveOptions], the triggers' configs) follows one rule, as net/http's
// Server does: the zero value of a field means its documented default,
// AWS Lambda's wherever AWS has one, so that a literal names only what it
// changes. An empty string and a nil slice, map, func or interface are zero
// values too; for the optional parts (Options.Logger, Options.StateDir,
// FunctionConfig.Layers, AsyncConfig.DeadLetter and the like) the default
// is none.
//
// A field that can be turned off, to mean none, never or no limit, is
// turned off with a negative value, and its doc says so. There are three:
//
//   - [FunctionConfig.IdleTimeout]: negative keeps idle sandboxes forever.
//   - [FunctionConfig.MaxUses]: negative, like the default 0, recycles no
//     sandbox for its number of uses.
//   - [AsyncConfig.MaxRetryAttempts]: negative, like Retries(0), retries no
//     failed event.
//
// A negative value in any other field is refused with [ErrInvalidConfig].
//
// AsyncConfig.MaxRetryAttempts is the one pointer field, set with
// [Retries]: on AWS a MaximumRetryAttempts of 0 means no retries, and in an
// int field that 0 would be the zero value, the default, and retry twice.
// As a *int, nil is the default, Retries(0) means what AWS's 0 means, and a
// bare 0 does not compile. AWS's SDK for Go v2 declares it a pointer too
// (PutFunctionEventInvokeConfigInput.MaximumRetryAttempts is an *int32).
package lambda

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/wasmlambda/lambda/internal/journal"
	"github.com/wasmlambda/lambda/internal/wasm"
)

// Options configures a Runtime. The zero value is ready to use: an
// in-memory compilation cache, no logging, AWS's defaults. As for every
// configuration in this package (see the package doc), a zero field means
// the documented default; no field here can be turned off with a negative
// value.
type Options struct {
	// CacheDir, when set, keeps compiled code on disk there, with each
	// module's instrumented rewrite (in its subdirectory "rewrite"), so
	// that a later process deploys the same module in milliseconds rather
	// than rewriting and compiling it again. The directory is created if
	// needed. Compiled code is always cached in memory as well; default
	// none on disk.
	CacheDir string

	// CompileWorkers is how many goroutines compile a module that no cache
	// holds, its functions shared out among them: about 1.7 times as fast
	// on two cores as one. Default runtime.GOMAXPROCS(0); 1 compiles on
	// the deploying goroutine alone. Code found in a cache is not
	// compiled.
	CompileWorkers int

	// Logger receives the guests' output and the START, END and REPORT
	// records, with the attributes function, version and request_id; the
	// messages are constant and the figures attributes (docs/AWS.md,
	// "Logs"). Package awslog's handler writes them in AWS's Text or JSON
	// format, byte for byte. A nil Logger keeps the runtime silent and
	// skips the capture altogether.
	Logger *slog.Logger

	// Region is the AWS_REGION guests see and the region of function ARNs.
	// Default "us-east-1".
	Region string

	// AccountID is the account of function ARNs. Default "000000000000".
	AccountID string

	// StateDir turns on durable asynchronous invocation: accepted events
	// and undelivered dead letters and records are journaled there, synced
	// to disk before InvokeAsync returns, and recovered when a function of
	// the same name is deployed again, in this process or the next. One
	// process at a time may use a StateDir. Default none: asynchronous
	// events are held in memory only.
	StateDir string

	// MaxLayers is how many layers a function may use. Default 5, as AWS.
	MaxLayers int

	// MaxUnzippedSize bounds, in bytes, a function's package and layers
	// together, unzipped, and each layer version. Default AWS's 250 MB
	// (262,144,000 bytes).
	MaxUnzippedSize int64

	// ScratchDir is the host directory under which each sandbox's /tmp is
	// made, and removed with the sandbox. Default os.TempDir().
	ScratchDir string

	// UndeliveredFile is a JSON Lines file of dead letters that had
	// nowhere else to go: those of functions without a dead-letter sink or
	// on-failure destination, and those whose sink still failed at Close.
	// ReadDeadLetters reads it and OpenFileSink opens it for Redrive.
	// Default "undelivered.jsonl" in StateDir, or
	// "wasmlambda-undelivered.jsonl" in os.TempDir(). It is created only
	// when needed.
	UndeliveredFile string

	// HostModules are registered as Runtime.RegisterHostModule registers
	// them, for the functions whose FunctionConfig.Capabilities grant them.
	// Default none.
	HostModules []*HostModule

	// Observer is called at invocations, sandboxes, asynchronous events,
	// deliveries and trigger events, for telemetry: see Observer, and
	// package github.com/wasmlambda/lambda/otel. Default none.
	Observer *Observer
}

// Runtime runs functions. It owns one compilation cache shared by all its
// functions. A Runtime is safe for concurrent use.
type Runtime struct {
	cache     *wasm.Cache
	logger    *slog.Logger
	region    string
	accountID string

	store           *journal.Store
	asyncActivity   atomic.Uint64 // events handed from one function to another
	undeliveredPath string
	undelivered     *FileSink // opened on first use, under mu

	maxLayers   int
	maxUnzipped int64
	scratchDir  string

	obs *Observer // nil: none

	mu        sync.Mutex
	layers    map[string][]*LayerVersion // by name, oldest first
	layerSeq  map[string]int             // the last version number of each name
	functions map[string]*Function       // deployed and ready
	deploying map[string]*Function       // names taken by Deploys under way
	closed    bool
	closeDone chan struct{}  // closed when the first Close returns
	deploys   sync.WaitGroup // Deploys under way, which Close waits for

	// hostModules are the registered host modules' functions, by module,
	// under mu.
	hostModules map[string]map[string]HostFunc

	// testHookDeploy, when set, is called by Deploy at each stage: once
	// the name is taken ("registered") and just before the function is
	// published ("ready"). Nil outside tests.
	testHookDeploy func(stage string, f *Function)
}

// New returns a Runtime.
//
// # Errors
//
// New fails with ErrInvalidConfig when CacheDir cannot be created or used,
// or when Options.HostModules holds a module that RegisterHostModule would
// refuse (two of one name fail with ErrConflict).
func New(opts Options) (*Runtime, error) {
	if opts.MaxLayers < 0 {
		return nil, invalidConfig("MaxLayers %d: want 0 (AWS's 5) or more", opts.MaxLayers)
	}
	if opts.MaxUnzippedSize < 0 {
		return nil, invalidConfig("MaxUnzippedSize %d: want 0 (AWS's 250 MB) or more", opts.MaxUnzippedSize)
	}
	if opts.CompileWorkers < 0 {
		return nil, invalidConfig("CompileWorkers %d: want 0 (GOMAXPROCS) or more", opts.CompileWorkers)
	}
	cache, err := wasm.NewCache(opts.CacheDir, opts.CompileWorkers)
	if err != nil {
		return nil, invalidConfig("CacheDir: %v", err)
	}
	r := &Runtime{
		cache:     cache,
		logger:    opts.Logger,
		region:    opts.Region,
		accountID: opts.AccountID,
		functions: map[string]*Function{},
		deploying: map[string]*Function{},
		layers:    map[string][]*LayerVersion{},
		layerSeq:  map[string]int{},

		hostModules: map[string]map[string]HostFunc{},

		maxLayers:   opts.MaxLayers,
		maxUnzipped: opts.MaxUnzippedSize,
		scratchDir:  opts.ScratchDir,
	}
	if opts.Observer != nil {
		obs := *opts.Observer
		r.obs = &obs
	}
	if r.maxLayers == 0 {
		r.maxLayers = DefaultMaxLayers
	}
	if r.maxUnzipped == 0 {
		r.maxUnzipped = DefaultMaxUnzippedSize
	}
	if r.scratchDir == "" {
		r.scratchDir = os.TempDir()
	}
	if r.region == "" {
		r.region = "us-east-1"
	}
	if r.accountID == "" {
		r.accountID = "000000000000"
	}
	for _, m := range opts.HostModules {
		if err := r.RegisterHostModule(m); err != nil {
			_ = cache.Close(context.Background())
			return nil, err
		}
	}
	r.undeliveredPath = opts.UndeliveredFile
	if opts.StateDir != "" {
		if r.store, err = journal.Open(opts.StateDir); err != nil {
			_ = cache.Close(context.Background())
			return nil, invalidConfig("StateDir: %v", err)
		}
		if r.undeliveredPath == "" {
			r.undeliveredPath = filepath.Join(opts.StateDir, "undelivered.jsonl")
		}
	}
	if r.undeliveredPath == "" {
		r.undeliveredPath = filepath.Join(os.TempDir(), "wasmlambda-undelivered.jsonl")
	}
	return r, nil
}

// parallel calls fn on every item at once and joins their errors, keeping
// one of each context error.
func parallel[T any](items []T, fn func(T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(it)
		}()
	}
	wg.Wait()
	return joinDistinct(errs)
}

// undeliveredFile returns the sink of the undelivered file, opening it on
// first use.
func (r *Runtime) undeliveredFile() (*FileSink, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.undelivered == nil {
		fs, err := OpenFileSink(r.undeliveredPath)
		if err != nil {
			return nil, err
		}
		r.undelivered = fs
	}
	return r.undelivered, nil
}

// Function returns the deployed function with the given name. A function
// still being deployed is not returned until Deploy has finished.
func (r *Runtime) Function(name string) (*Function, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.functions[name]
	return f, ok
}

// Functions returns the deployed functions, in no particular order, not
// counting those still being deployed.
func (r *Runtime) Functions() []*Function {
	r.mu.Lock()
	defer r.mu.Unlock()
	fs := make([]*Function, 0, len(r.functions))
	for _, f := range r.functions {
		fs = append(fs, f)
	}
	return fs
}

// Close closes every function, at once, as Function.Close does: it stops
// new work, drains asynchronous events and deliveries, waits for in-flight
// invocations to finish and releases every sandbox and all compiled code.
// Work still running when ctx ends is aborted or handed on, and Close
// returns ctx's error. A call while another runs waits for that one to
// finish, or for its own ctx to end, and returns nil or ctx's error; calls
// after the first has finished return nil.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		done := r.closeDone
		r.mu.Unlock()
		return awaitClose(ctx, done)
	}
	r.closed = true
	r.closeDone = make(chan struct{})
	defer close(r.closeDone)
	r.mu.Unlock()
	r.deploys.Wait()
	fs := r.Functions()

	// Drain the asynchronous work of all functions together, since one
	// function's destination or sink may be another: stop only when every
	// function is quiet and nothing was handed between them meanwhile.
	// Triggers stop first, so that no new event arrives while the
	// functions drain.
	terr := parallel(fs, func(f *Function) error { return f.stopTriggers(ctx) })
	for _, f := range fs {
		f.async.stopAccepting()
	}
drain:
	for {
		before := r.asyncActivity.Load()
		for _, f := range fs {
			if f.async.waitQuiet(ctx) != nil {
				break drain
			}
		}
		if r.asyncActivity.Load() == before {
			break
		}
	}

	errs := []error{terr, parallel(fs, func(f *Function) error { return f.Close(ctx) })}
	errs = append(errs, r.cache.Close(context.Background()))
	if r.store != nil {
		errs = append(errs, r.store.Close())
	}
	r.mu.Lock()
	if r.undelivered != nil {
		errs = append(errs, r.undelivered.Close())
	}
	r.mu.Unlock()
	return joinDistinct(errs)
}

// register takes f's name for a Deploy under way, which publishes f when
// it is ready. The name is taken meanwhile, but Function and Functions do
// not return f.
func (r *Runtime) register(f *Function) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return serviceError(ErrClosed, "the runtime is closed")
	}
	_, deployed := r.functions[f.name]
	_, deploying := r.deploying[f.name]
	if deployed || deploying {
		return serviceError(ErrConflict, "Function already exist: %s", f.name)
	}
	r.deploying[f.name] = f
	r.deploys.Add(1) // Deploy calls Done
	return nil
}

// publish makes f, registered and now ready, visible. A Close under way
// waits for the Deploy, and then closes f with the others.
func (r *Runtime) publish(f *Function) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.deploying[f.name] == f {
		delete(r.deploying, f.name)
		r.functions[f.name] = f
	}
}

// unregister frees f's name, whether f is deployed or still deploying.
func (r *Runtime) unregister(f *Function) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.functions[f.name] == f {
		delete(r.functions, f.name)
	}
	if r.deploying[f.name] == f {
		delete(r.deploying, f.name)
	}
}
