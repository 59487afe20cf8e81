package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/wasmlambda/lambda/internal/lazyregexp"
	"github.com/wasmlambda/lambda/internal/vfs"
	"github.com/wasmlambda/lambda/internal/wasm"
)

// AWS Lambda's defaults and limits.
const (
	// DefaultTimeout is AWS's default function timeout.
	DefaultTimeout = 3 * time.Second
	// MaxTimeout is AWS's largest function timeout.
	MaxTimeout = 900 * time.Second
	// DefaultMemorySize is AWS's default memory, in MB.
	DefaultMemorySize = 128
	// MinMemorySize and MaxMemorySize bound the memory, in MB.
	MinMemorySize = 128
	MaxMemorySize = 10240
	// DefaultMaxRequestBytes is AWS's limit on a synchronous request: 6 MB
	// (6,291,456 bytes).
	DefaultMaxRequestBytes = 6 * 1024 * 1024
	// DefaultMaxResponseBytes is AWS's limit on a synchronous response:
	// 6 MB and 100 bytes (6,291,556 bytes), what AWS's runtime API accepts.
	DefaultMaxResponseBytes = 6*1024*1024 + 100
	// MaxEnvironmentSize is AWS's limit on the environment: 4 KB of keys and
	// values together.
	MaxEnvironmentSize = 4 * 1024
	// DefaultMaxConcurrency is AWS's default account concurrency, the cap a
	// function without reserved concurrency runs under.
	DefaultMaxConcurrency = 1000
	// DefaultIdleTimeout is how long an idle sandbox is kept warm.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultMaxLogBytes bounds the output captured from one invocation.
	DefaultMaxLogBytes = 256 * 1024
	// InitTimeout is AWS's limit on a sandbox's initialisation.
	InitTimeout = 10 * time.Second
	// LatestVersion is the version of an unpublished function.
	LatestVersion = "$LATEST"
)

// FunctionConfig is a function's configuration. As for every configuration
// in this package (see the package doc), a zero field means the documented
// default, which is AWS Lambda's wherever AWS has one; a negative value turns
// off the fields that say so, IdleTimeout and MaxUses, and is refused
// elsewhere.
type FunctionConfig struct {
	// Name is the function's name: 1 to 64 letters, digits, hyphens and
	// underscores. Required.
	Name string

	// Code is the function's code: a wasm module, or a zip (AWS's
	// deployment package) holding the module and other files, which the
	// guest sees read-only under /var/task. In a zip, the module is the
	// root file named after Handler ("bootstrap", as for AWS's OS-only
	// runtimes), or Handler + ".wasm", or else the only .wasm file at the
	// root. Exactly one of Code and CodePath is set. Deploy does not keep
	// Code: Function.Config returns it nil.
	Code []byte
	// CodePath is a file holding the code: a wasm module or a zip. Deploy
	// and Update read it once: a later change to the file changes nothing
	// deployed, nor a version published after.
	CodePath string

	// Version is the version the unqualified function and $LATEST report:
	// in the guest's AWS_LAMBDA_FUNCTION_VERSION and lambdacontext, in
	// WithExecutedVersion, and in the executedVersion and functionArn of
	// invocation records and dead letters. Default "$LATEST", which is
	// what AWS reports: leave it unset to behave as AWS does. Set, it is a
	// label of the deployment, for hosts that do not publish versions;
	// PublishVersion refuses a label that is a number, which a published
	// version would share. Published versions report their numbers
	// whatever it is.
	Version string

	// Handler is the value of _HANDLER in the guest's environment. Default
	// "bootstrap", as for AWS's OS-only runtimes.
	Handler string

	// Timeout bounds one invocation. Default 3 s, at most 900 s. Unlike AWS,
	// which counts in whole seconds from 1 s, any positive duration is
	// accepted, so that tests can use short ones.
	Timeout time.Duration

	// MemorySize is the memory in MB, 128 to 10,240; default 128. It is
	// enforced as the limit of the guest's linear memory.
	MemorySize int

	// Environment holds the function's variables; default none. Keys
	// match [a-zA-Z][a-zA-Z0-9_]+, AWS's reserved names are refused, and
	// keys and values together take at most 4 KB.
	Environment map[string]string

	// MaxConcurrency caps the sandboxes, and so the invocations, the
	// function runs at once: AWS's reserved concurrency, or
	// database/sql's SetMaxOpenConns. Default 1000, AWS's default account
	// concurrency.
	MaxConcurrency int

	// MinWarm sandboxes are initialised at deploy and kept initialised:
	// AWS's provisioned concurrency. At most MaxConcurrency. Default 0:
	// none.
	MinWarm int

	// IdleTimeout closes a sandbox left idle this long, MinWarm excepted.
	// Default 10 minutes (DefaultIdleTimeout). Negative turns it off: idle
	// sandboxes are kept until the function closes.
	IdleTimeout time.Duration

	// MaxUses recycles a sandbox after this many invocations. Default 0,
	// as any negative value: no limit.
	MaxUses int

	// ThrottleWhenBusy makes an invocation that finds every allowed
	// sandbox busy fail at once with ErrThrottled, as AWS does. By default
	// it waits for a sandbox, bounded by its context, as database/sql waits
	// for a connection: in-process callers have no retrying client to
	// absorb a throttle.
	ThrottleWhenBusy bool

	// MaxRequestBytes and MaxResponseBytes bound a synchronous payload
	// each way. Default AWS's: 6 MB in (DefaultMaxRequestBytes), 6 MB and
	// 100 bytes out (DefaultMaxResponseBytes).
	MaxRequestBytes  int
	MaxResponseBytes int

	// MaxLogBytes bounds the guest output captured per invocation; past it
	// output is dropped and counted. Default 256 KiB.
	MaxLogBytes int

	// Layers are merged, in order, read-only under /opt: directories
	// merge, and for a file in several layers the last wins. At most
	// Options.MaxLayers (AWS's 5), one version per layer. Default none.
	Layers []*LayerVersion

	// EphemeralStorageMB is the size of /tmp in MB: a writable directory
	// private to each sandbox, kept across its warm invocations and
	// removed with it. Default 512, at most 10,240, as AWS; unlike AWS,
	// sizes below 512 are accepted. A write past it fails, and writes
	// nothing, with EIO ("I/O error"): wazero has no ENOSPC.
	EphemeralStorageMB int

	// Mounts grant host directories or file systems at other guest paths.
	// Nothing else of the host is visible. Default none.
	Mounts []Mount

	// Capabilities grant the guest host modules, by name: the built-in
	// CapabilitySettings and CapabilityLog, and the modules registered on
	// the runtime (Options.HostModules, Runtime.RegisterHostModule). A
	// guest may import the functions of these modules, and no others:
	// Deploy refuses a module that imports a host module it is not granted
	// with an error that names the import and the capability, and one that
	// imports anything the runtime does not know. Default none.
	Capabilities []string

	// Settings are key-value pairs a guest granted CapabilitySettings
	// reads one at a time, as Extism's plugin config: configuration for a
	// guest that is not in its environment, nor bound by its 4 KB. Keys are
	// not empty. Default none.
	Settings map[string]string

	// HTTP grants the guest outbound HTTP through the host, to the hosts
	// and with the methods it allows, within its limits: the capability
	// CapabilityHTTP, which a non-nil HTTP grants whether Capabilities
	// names it or not. Default nil: no HTTP, and Deploy refuses a module
	// that imports it.
	HTTP *HTTPGrant

	// Role is the function's execution role: the credentials its guest
	// sees as AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
	// AWS_SESSION_TOKEN, as on Lambda. StaticCredentials never change; a
	// provider that refreshes them (package awsrole adapts aws-sdk-go-v2's)
	// is asked again before they expire (CredentialsRefreshWindow). A new
	// sandbox starts with the current credentials in its environment, and
	// a warm one gets them set anew, before the handler runs, when they
	// have changed (docs/ABI.md, FlagEnv). The runtime never logs them,
	// nor puts them in an error or a dead letter. Default nil: none.
	Role CredentialsProvider

	// Async configures asynchronous invocation (InvokeAsync): retries,
	// maximum event age, the dead-letter sink and destinations.
	Async AsyncConfig

	// Logging is AWS's LoggingConfig: the format of the function's logs
	// (Text, the default, or JSON) and, with JSON, the levels that filter
	// them. See docs/AWS.md, "Logs".
	Logging LoggingConfig
}

var (
	nameRE   = lazyregexp.New(`^[a-zA-Z0-9_-]{1,64}$`)
	envKeyRE = lazyregexp.New(`^[a-zA-Z][a-zA-Z0-9_]+$`)
)

// reservedEnv are the keys AWS refuses in a function's environment: its
// documented reserved environment variables. Those it sets but lets a
// function override (LANG, PATH, LD_LIBRARY_PATH, TZ, AWS_XRAY_*) are not
// among them.
var reservedEnv = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true,
	"AWS_LAMBDA_LOG_GROUP_NAME": true, "AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true,
	"AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true,
	"AWS_LAMBDA_RUNTIME_API": true, "LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
	"AWS_LAMBDA_MAX_CONCURRENCY": true, "AWS_LAMBDA_METADATA_API": true, "AWS_LAMBDA_METADATA_TOKEN": true,
}

// withDefaults validates c and returns it with every zero field resolved.
func (c FunctionConfig) withDefaults() (FunctionConfig, error) { return c.resolve(false) }

// resolve is withDefaults; with keptCode, c sets no code, and needs none:
// it keeps the code of the incarnation it updates.
func (c FunctionConfig) resolve(keptCode bool) (FunctionConfig, error) {
	if !nameRE.MatchString(c.Name) {
		return c, invalidConfig("Name %q: want 1 to 64 letters, digits, hyphens or underscores", c.Name)
	}
	switch {
	case len(c.Code) > 0 && c.CodePath != "":
		return c, invalidConfig("function %s: set Code or CodePath, not both", c.Name)
	case len(c.Code) == 0 && c.CodePath == "" && !keptCode:
		return c, invalidConfig("function %s: Code or CodePath is required", c.Name)
	}
	if c.Version == "" {
		c.Version = LatestVersion
	}
	if c.Handler == "" {
		c.Handler = "bootstrap"
	}
	switch {
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	case c.Timeout < 0 || c.Timeout > MaxTimeout:
		return c, invalidConfig("function %s: Timeout %v: want more than 0 and at most %v", c.Name, c.Timeout, MaxTimeout)
	}
	switch {
	case c.MemorySize == 0:
		c.MemorySize = DefaultMemorySize
	case c.MemorySize < MinMemorySize || c.MemorySize > MaxMemorySize:
		return c, invalidConfig("function %s: MemorySize %d MB: want %d to %d", c.Name, c.MemorySize, MinMemorySize, MaxMemorySize)
	}
	switch {
	case c.EphemeralStorageMB == 0:
		c.EphemeralStorageMB = DefaultEphemeralStorageMB
	case c.EphemeralStorageMB < 0 || c.EphemeralStorageMB > MaxEphemeralStorageMB:
		return c, invalidConfig("function %s: EphemeralStorageMB %d: want 1 to %d", c.Name, c.EphemeralStorageMB, MaxEphemeralStorageMB)
	}
	if err := validateEnv(c.Name, c.Environment); err != nil {
		return c, err
	}
	if slices.Contains(c.Capabilities, "") {
		return c, invalidConfig("function %s: Capabilities: a capability name is empty", c.Name)
	}
	if _, ok := c.Settings[""]; ok {
		return c, invalidConfig("function %s: Settings: a key is empty", c.Name)
	}
	if c.HTTP != nil {
		c.HTTP = c.HTTP.clone()
		if err := c.HTTP.withDefaults(c.Name); err != nil {
			return c, err
		}
	}
	switch {
	case c.MaxConcurrency == 0:
		c.MaxConcurrency = DefaultMaxConcurrency
	case c.MaxConcurrency < 0:
		return c, invalidConfig("function %s: MaxConcurrency %d: want at least 1", c.Name, c.MaxConcurrency)
	}
	if c.MinWarm < 0 || c.MinWarm > c.MaxConcurrency {
		return c, invalidConfig("function %s: MinWarm %d: want 0 to MaxConcurrency (%d)", c.Name, c.MinWarm, c.MaxConcurrency)
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	for _, lim := range []struct {
		name string
		v    *int
		def  int
	}{{"MaxRequestBytes", &c.MaxRequestBytes, DefaultMaxRequestBytes}, {"MaxResponseBytes", &c.MaxResponseBytes, DefaultMaxResponseBytes}, {"MaxLogBytes", &c.MaxLogBytes, DefaultMaxLogBytes}} {
		switch {
		case *lim.v == 0:
			*lim.v = lim.def
		case *lim.v < 0:
			return c, invalidConfig("function %s: %s %d: want more than 0", c.Name, lim.name, *lim.v)
		}
	}
	logging, err := c.Logging.withDefaults(c.Name)
	if err != nil {
		return c, err
	}
	c.Logging = logging
	async, retries, err := c.Async.withDefaults(c.Name, c.MaxConcurrency)
	if err != nil {
		return c, err
	}
	c.Async = async
	c.Async.MaxRetryAttempts = Retries(retries)
	return c, nil
}

func validateEnv(fn string, env map[string]string) error {
	size := 0
	for k, v := range env {
		if !envKeyRE.MatchString(k) {
			return invalidConfig("function %s: environment variable %q: keys match [a-zA-Z][a-zA-Z0-9_]+", fn, k)
		}
		if reservedEnv[k] || len(k) >= len("WASMLAMBDA_") && k[:len("WASMLAMBDA_")] == "WASMLAMBDA_" {
			return invalidConfig("function %s: environment variable %s is reserved", fn, k)
		}
		size += len(k) + len(v)
	}
	if size > MaxEnvironmentSize {
		return invalidConfig("function %s: environment is %d bytes, over the %d-byte limit", fn, size, MaxEnvironmentSize)
	}
	return nil
}

// Function is a deployed function. It is safe for concurrent use.
type Function struct {
	rt     *Runtime
	cfg    FunctionConfig
	name   string
	arn    string
	module *wasm.Module
	env    [][2]string
	pool   *pool
	async  *asyncEngine
	files  *files
	http   *hostHTTP // wasmlambda_http, when it is granted
	role   *role     // the execution role's credentials, when it has one

	// vs holds the function's versions and aliases, on the Function that
	// Deploy returned; nil on each of its versions (see version.go).
	vs  *versions
	inc incarnation

	tmu            sync.Mutex
	triggers       []*Attachment
	triggersClosed bool
	logger         *slog.Logger
	logs           logPolicy
	timeout        string

	cmu       sync.Mutex
	closeDone chan struct{} // made by the first Close, closed when it ends
}

// Deploy compiles, validates and deploys a function. With MinWarm set, it
// also initialises that many sandboxes before it returns. The name is taken
// from the start, but Runtime.Function and Runtime.Functions return the
// function only once it is ready, when Deploy returns it.
//
// # Errors
//
//   - ErrInvalidConfig: a field out of AWS's bounds, a bad environment, a
//     capability that is not registered, or an import of a host module the
//     function is not granted (the message names the import and the
//     capability).
//   - ErrInvalidCode: malformed wasm, a missing handler export, or an
//     import the runtime does not provide; the message names it.
//   - ErrConflict: a function of that name is deployed, or being
//     deployed, already.
//   - a *FunctionError of type Runtime.InitError: a MinWarm sandbox failed
//     to initialise.
func (r *Runtime) Deploy(ctx context.Context, cfg FunctionConfig) (*Function, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	src := source{pkg: cfg.Code}
	if cfg.CodePath != "" {
		if src, err = openCode(cfg.CodePath); err != nil {
			return nil, invalidConfig("function %s: CodePath: %v", cfg.Name, err)
		}
		defer src.close()
	}
	f := &Function{
		rt:      r,
		cfg:     cfg.clone(), // without Code, which only this Deploy needs
		name:    cfg.Name,
		arn:     fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", r.region, r.accountID, cfg.Name),
		timeout: strconv.FormatFloat(cfg.Timeout.Seconds(), 'f', 2, 64),
		logs:    newLogPolicy(cfg.Logging),
		role:    newRole(cfg.Role),
	}
	f.vs = newVersions(f)
	f.logger = f.newLogger(cfg.Version)
	if err := r.register(f); err != nil {
		return nil, err
	}
	defer r.deploys.Done()
	if r.testHookDeploy != nil {
		r.testHookDeploy("registered", f)
	}
	if err := f.load(ctx, &cfg, src); err != nil {
		r.unregister(f)
		return nil, err
	}
	f.async = newAsyncEngine(asyncEngineConfig{
		name:            f.name,
		arn:             f.arn,
		version:         cfg.Version,
		cfg:             cfg.Async,
		retries:         *cfg.Async.MaxRetryAttempts,
		maxRequestBytes: cfg.MaxRequestBytes,
		invoke:          f.dispatch,
		handedOn:        func() { r.asyncActivity.Add(1) },
		undeliveredFile: r.undeliveredFile,
		store:           r.store,
		logger:          f.logger,
		obs:             r.obs,
	})
	if err := f.pool.prewarm(ctx); err != nil {
		_ = f.Close(context.Background())
		return nil, err
	}
	if err := f.async.recover(); err != nil {
		_ = f.Close(context.Background())
		return nil, fmt.Errorf("function %s: recover asynchronous events: %w", cfg.Name, err)
	}
	if r.testHookDeploy != nil {
		r.testHookDeploy("ready", f)
	}
	r.publish(f)
	return f, nil
}

// load packages, compiles and validates code for f, and makes its pool:
// what Deploy does for a function, and Update and PublishVersion for each
// of its versions.
func (f *Function) load(ctx context.Context, cfg *FunctionConfig, src source) error {
	module, pkg, err := packageFiles(cfg, src.pkg, vfs.Limits{MaxBytes: f.rt.maxUnzipped})
	if err != nil {
		if errors.Is(err, vfs.ErrTooLarge) {
			return invalidConfig("function %s: %v", cfg.Name, err)
		}
		return serviceError(ErrInvalidCode, "function %s: %v", cfg.Name, err)
	}
	moduleSize := len(module)
	if src.pkg == nil {
		moduleSize = src.size
	}
	if f.files, err = f.rt.buildFiles(cfg, pkg, moduleSize); err != nil {
		return err
	}
	granted, ungranted, err := f.rt.hostConfig(f)
	if err != nil {
		return err
	}
	f.module, err = wasm.Compile(ctx, wasm.Config{
		Code:             module,
		CodeFile:         src.file,
		Rewrite:          src.rewrite,
		MemoryLimitPages: uint32(cfg.MemorySize << 20 / wasm.PageSize), // in int: 4096 MB overflows a uint32
		Cache:            f.rt.cache,
		Host:             granted,
		Ungranted:        ungranted,
		HostPanic:        f.hostPanic,
	})
	if err != nil {
		var ue *wasm.UngrantedError
		if errors.As(err, &ue) {
			return ungrantedError(cfg.Name, ue)
		}
		return serviceError(ErrInvalidCode, "function %s: %v", cfg.Name, err)
	}
	if f.module.Mode() == wasm.ModeCommand && f.module.CarriesABI() && f.rt.logger != nil {
		f.rt.logger.LogAttrs(ctx, slog.LevelWarn, commandBuildWarning, slog.String("function", cfg.Name), slog.String("version", cfg.Version))
	}
	f.env = f.environment()
	f.pool = newPool(poolConfig{
		name:        f.name,
		arn:         f.arn,
		max:         cfg.MaxConcurrency,
		minWarm:     cfg.MinWarm,
		maxUses:     cfg.MaxUses,
		idleTimeout: cfg.IdleTimeout,
		throttle:    cfg.ThrottleWhenBusy,
		oneShot:     f.module.Mode() == wasm.ModeCommand,
		newSandbox:  f.newSandbox,
	})
	if f.rt.obs != nil {
		f.pool.observe = f.observeSandbox
	}
	f.inc.src = source{pkg: src.pkg, rewrite: src.rewrite, size: src.size}
	if src.file != nil {
		f.inc.src.rewrite = f.module.Rewrite()
	}
	return nil
}

// source is a function's code as load takes it: the package's bytes, or a
// module open at CodePath, or the rewrite of a module deployed from a file
// before, which is what an incarnation keeps of it (see incarnation).
type source struct {
	pkg     []byte        // a module or a zip
	file    *os.File      // or a module in a file, which wasm.Compile reads
	rewrite *wasm.Rewrite // or a module compiled from a file before
	size    int           // the module's size, with file or rewrite
}

// close closes the file, if any.
func (s source) close() {
	if s.file != nil {
		_ = s.file.Close()
	}
}

// newLogger is the function's logger for version, with the attributes
// every record of the function carries; nil without a runtime logger.
func (f *Function) newLogger(version string) *slog.Logger {
	if f.rt.logger == nil {
		return nil
	}
	attrs := []any{slog.String("function", f.name), slog.String("version", version)}
	if f.logs.json {
		attrs = append(attrs, slog.String("log_format", string(LogFormatJSON)))
	}
	return f.rt.logger.With(attrs...)
}

// Mode is how a function's module runs, as Function.Mode and
// FunctionStats.Mode report it.
type Mode string

const (
	// ModeReactor is a module that exports ABI v1 (a Go guest built with
	// -buildmode=c-shared): one instance serves invocation after
	// invocation, warm.
	ModeReactor Mode = "reactor"
	// ModeCommand is a WASI command, run one-shot in compatibility mode:
	// a new instance for each invocation.
	ModeCommand Mode = "command"
)

// Mode reports how the function's module runs: ModeReactor, warm (ABI
// v1), or ModeCommand, one-shot, a new instance per invocation
// (compatibility mode; see docs/ABI.md). Runtime.Stats reports it too.
func (f *Function) Mode() Mode {
	if f.module.Mode() == wasm.ModeCommand {
		return ModeCommand
	}
	return ModeReactor
}

// commandBuildWarning is what Deploy logs for a WASI command that carries
// the ABI v1 exports: a Go guest built without -buildmode=c-shared, which
// runs, but one-shot, each invocation a cold start.
const commandBuildWarning = "the module is a WASI command that carries the ABI v1 exports, " +
	"so it runs one-shot, a new instance per invocation (Function.Mode \"command\"), " +
	"many times slower than a warm reactor: build a Go guest with -buildmode=c-shared " +
	"(GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared)"

// environment is the guest's environment, sorted by key: the function's
// variables and the ones AWS sets for its OS-only runtime provided.al2023,
// where Go runs, as of its base image. As there, AWS_EXECUTION_ENV is
// unset, and the function may override LANG, PATH, LD_LIBRARY_PATH and TZ.
// The sandbox adds AWS_LAMBDA_INITIALIZATION_TYPE and
// AWS_LAMBDA_LOG_STREAM_NAME.
func (f *Function) environment() [][2]string {
	c := f.cfg
	env := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        c.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     c.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(c.MemorySize),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + c.Name,
		"AWS_REGION":                      f.rt.region,
		"AWS_DEFAULT_REGION":              f.rt.region,
		"LAMBDA_TASK_ROOT":                "/var/task",
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"_HANDLER":                        c.Handler,
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH":                 "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
		"TZ":                              ":UTC",
	}
	for k, v := range c.Environment {
		env[k] = v
	}
	out := make([][2]string, 0, len(env))
	for k, v := range env {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// Name is the function's name.
func (f *Function) Name() string { return f.name }

// Version is the function's version, "$LATEST" unless set.
func (f *Function) Version() string { return f.cfg.Version }

// Region is the region of the function's runtime (Options.Region), the
// AWS_REGION its guest sees and the region of its ARN.
func (f *Function) Region() string { return f.rt.region }

// AccountID is the account ID of the function's runtime
// (Options.AccountID), the account of its ARN.
func (f *Function) AccountID() string { return f.rt.accountID }

// ARN is the function's ARN, arn:aws:lambda:REGION:ACCOUNT:function:NAME.
func (f *Function) ARN() string { return f.arn }

// Config returns a copy of the function's configuration, with every
// default resolved. The copy is the caller's: its maps and slices are its
// own, and changing them changes nothing in the function. Code is nil, as
// the function does not keep its code once deployed.
func (f *Function) Config() FunctionConfig { return f.vs.current().cfg.clone() }

// clone returns c without Code, and with copies of everything a caller
// could change in place: Environment, Layers, Mounts, Capabilities,
// Settings, HTTP, Async.RetryBackoff and Async.MaxRetryAttempts.
func (c FunctionConfig) clone() FunctionConfig {
	c.Code = nil
	c.Environment = maps.Clone(c.Environment)
	c.Layers = slices.Clone(c.Layers)
	c.Mounts = slices.Clone(c.Mounts)
	c.Capabilities = slices.Clone(c.Capabilities)
	c.Settings = maps.Clone(c.Settings)
	c.HTTP = c.HTTP.clone()
	c.Async.RetryBackoff = slices.Clone(c.Async.RetryBackoff)
	if c.Async.MaxRetryAttempts != nil {
		c.Async.MaxRetryAttempts = Retries(*c.Async.MaxRetryAttempts)
	}
	return c
}

// Close shuts the function down, like http.Server's Shutdown:
//
//  0. It detaches its triggers, which finish or hand back what they hold.
//  1. It stops accepting asynchronous events, and runs those accepted,
//     retries included, until none is left or ctx ends. What is left then
//     stays in the state directory (Options.StateDir) for the next start,
//     or, without one, fails for good with ConditionShutdown.
//  2. It delivers pending dead letters and records until ctx ends. Then,
//     without a state directory, it makes one last attempt at each (for
//     at most a second) and writes the dead letters that still fail to the
//     runtime's undelivered file, and returns an *UndeliveredError.
//  3. It stops new invocations, waits for those in flight and releases
//     its sandboxes and compiled code. Invocations still running when ctx
//     ends are aborted.
//
// Close returns ctx's error if ctx ended first.
//
// A Close while another runs waits for that one to finish, and returns nil,
// or ctx's error if ctx ends first; it does none of the steps itself. Calls
// after the first return nil.
func (f *Function) Close(ctx context.Context) error {
	f.cmu.Lock()
	if done := f.closeDone; done != nil {
		f.cmu.Unlock()
		return awaitClose(ctx, done)
	}
	f.closeDone = make(chan struct{})
	f.cmu.Unlock()
	defer close(f.closeDone)

	errs := []error{f.stopTriggers(ctx)}
	if f.async != nil {
		// The name stays taken meanwhile, so that a new function of that
		// name cannot recover events this one still runs.
		errs = append(errs, f.async.close(ctx))
	}
	f.rt.unregister(f)
	errs = append(errs, f.vs.close(ctx), f.shutdown(ctx))
	return joinDistinct(errs)
}

// awaitClose waits for a Close under way to finish, signalled by done, and
// returns nil; or ctx's error if ctx ends first. A Close that has finished
// wins over an ended ctx.
func awaitClose(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	default:
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// joinDistinct joins errs, keeping one of each context error.
func joinDistinct(errs []error) error {
	var out []error
	seenCtx := false
	for _, err := range errs {
		if err == nil {
			continue
		}
		if err == context.Canceled || err == context.DeadlineExceeded {
			if seenCtx {
				continue
			}
			seenCtx = true
		}
		out = append(out, err)
	}
	if len(out) == 1 {
		return out[0]
	}
	return errors.Join(out...)
}

// InvokeOption sets a detail of one invocation.
type InvokeOption func(*invokeOptions)

type invokeOptions struct {
	requestID     string
	clientContext []byte
	identity      []byte
	stream        io.Writer

	// For Observer and the trace ID: the trigger that sent the event, the
	// attempt number and acceptance of an asynchronous event, the X-Ray
	// trace ID, and the invocation's observation, set while it is observed.
	trigger    string
	attempt    int
	acceptedAt time.Time
	traceID    string
	ob         *invokeObservation

	// qualifier is the version or alias invoked, "" for the unqualified
	// function; executed, when set, receives the version that ran.
	qualifier string
	executed  *string
}

// WithRequestID sets the invocation's request ID instead of a fresh one.
func WithRequestID(id string) InvokeOption {
	return func(o *invokeOptions) { o.requestID = id }
}

// WithClientContext passes a client context (JSON, as AWS's
// lambdacontext.ClientContext) to the guest. As on AWS, only a synchronous
// invocation takes one: InvokeAsync refuses it.
func WithClientContext(clientContext []byte) InvokeOption {
	return func(o *invokeOptions) { o.clientContext = clientContext }
}

// WithIdentity passes a Cognito identity (JSON, as AWS's
// lambdacontext.CognitoIdentity) to the guest.
func WithIdentity(identity []byte) InvokeOption {
	return func(o *invokeOptions) { o.identity = identity }
}

// WithResponseStream streams the invocation's response to w, as AWS's
// InvokeWithResponseStream does: each chunk the guest hands the host during
// the invocation, through the built-in host function
// wasmlambda_stream.write (docs/ABI.md; guest.StreamResponse in a Go
// guest), is written to w at once, in order, on a goroutine of the
// invocation's, before the guest goes on. An error w returns reaches the
// guest as the host function's error. What the guest returns is Invoke's
// response as always, after the chunks; a guest that streams nothing
// answers as it would without a stream. As on AWS, only a synchronous
// invocation streams: InvokeAsync refuses it.
func WithResponseStream(w io.Writer) InvokeOption {
	return func(o *invokeOptions) { o.stream = w }
}

// InvokeJSON invokes f with in encoded as JSON and decodes the response
// into an Out. An empty response leaves Out's zero value.
//
// # Errors
//
// An in that encoding/json cannot encode fails before any invocation, with
// an error that wraps json.Marshal's, such as a *json.UnsupportedTypeError
// for a channel or a func; a response that does not decode into an Out
// wraps json.Unmarshal's. Otherwise the errors are Invoke's.
func InvokeJSON[Out, In any](ctx context.Context, f *Function, in In, opts ...InvokeOption) (Out, error) {
	var out Out
	payload, err := json.Marshal(in)
	if err != nil {
		return out, fmt.Errorf("encode the event for function %s: %w", f.name, err)
	}
	resp, err := f.Invoke(ctx, payload, opts...)
	if err != nil {
		return out, err
	}
	if len(resp) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return out, fmt.Errorf("decode the response of %s as %T: %w", f.name, out, err)
	}
	return out, nil
}
