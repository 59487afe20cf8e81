// Package wasm is wasmlambda's glue to wazero: it compiles and validates
// guest modules, instantiates sandboxes, and drives one invocation through
// ABI v1 or compatibility mode. Nothing here is exported from the module;
// the public face is the root package.
package wasm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmlambda/lambda/internal/abi"
)

// PageSize is the size of a wasm memory page.
const PageSize = 65536

// Cache is a compilation cache shared by every function of a runtime: in
// memory always, and on disk when it was given a directory. It holds the
// runtime's engine, where the modules compiled with it run, and the compiled
// code they share (see shared.go).
type Cache struct {
	cc       wazero.CompilationCache
	rewrites *rewriteStore // nil without a directory
	workers  int           // see NewCache

	mu     sync.Mutex
	eng    *engine // made at the first compile
	closed bool
}

// NewCache returns a compilation cache, kept on disk under dir when dir is
// not empty, together with the modules' instrumented rewrites (see
// rewritecache.go). A module the cache does not hold is compiled by
// workers goroutines, its functions shared out among them; 0 means
// runtime.GOMAXPROCS at each compile.
func NewCache(dir string, workers int) (*Cache, error) {
	if dir == "" {
		return &Cache{cc: wazero.NewCompilationCache(), workers: workers}, nil
	}
	cc, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("compilation cache directory %q: %w", dir, err)
	}
	return &Cache{cc: cc, rewrites: newRewriteStore(dir), workers: workers}, nil
}

// engine returns the cache's engine, made at its first use.
func (c *Cache) engine(ctx context.Context) (*engine, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("the compilation cache is closed")
	}
	if c.eng != nil && c.eng.failed() {
		// Its own modules could not be made: try again with another.
		_ = c.eng.close(ctx)
		c.eng = nil
	}
	if c.eng == nil {
		c.eng = newEngine(ctx, c.cc, c.workers, false)
	}
	return c.eng, nil
}

// Close releases the cache's engine, with every instance still open in it,
// and the compiled code held in memory.
func (c *Cache) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	eng := c.eng
	c.mu.Unlock()
	var errs []error
	if eng != nil {
		errs = append(errs, eng.close(ctx))
	}
	errs = append(errs, c.cc.Close(ctx))
	return errors.Join(errs...)
}

// Mode is how a module is driven.
type Mode int

const (
	// ModeABI is a reactor exporting the ABI v1 functions: warm reuse.
	ModeABI Mode = iota
	// ModeCommand is a WASI command run one-shot per invocation.
	ModeCommand
)

func (m Mode) String() string {
	if m == ModeCommand {
		return "command"
	}
	return "abi-v1"
}

// Config is what Compile needs.
type Config struct {
	// Code is the wasm binary.
	Code []byte
	// CodeFile, when Code is nil, holds the wasm binary instead, from its
	// start. Compile reads it no further than it must (see
	// rewriteMemo.instrumentFile), and does not close it.
	CodeFile *os.File
	// Rewrite, when Code and CodeFile are not set, is the module as a
	// Module compiled from a CodeFile kept it (see Module.Rewrite): Compile
	// shares the compiled code of the same original, found by its SHA-256,
	// or else compiles it again, with neither the file nor a rewrite.
	Rewrite *Rewrite
	// MemoryLimitPages caps the linear memory. A wasm32 memory cannot pass
	// 65536 pages (4 GiB), whatever the limit.
	MemoryLimitPages uint32
	// Cache is shared by all modules of a runtime.
	Cache *Cache
	// Host are the host modules the guest may import.
	Host []HostModule
	// Ungranted names the host modules that exist but that the guest may
	// not import: Compile refuses an import of one with an *UngrantedError.
	Ungranted []string
	// HostPanic, when set, is told of a host function's panic, which the
	// guest receives as an error.
	HostPanic func(ctx context.Context, module, name string, value any, stack []byte)
}

// Module is one function's view of a compiled, validated guest module: the
// compiled code, which it shares with every module of the same code compiled
// with the same Cache, and its own memory limit and host functions.
//
// A Module is safe for concurrent use.
type Module struct {
	sh         *shared
	closeOnce  sync.Once
	host       hostTable
	mode       Mode
	hasInit    bool
	hasStart   bool
	hasHost    bool // it imports host functions
	limitPages uint32
	// abiExports: it exports wasmlambda_v1_alloc and wasmlambda_v1_invoke,
	// whatever its mode (a Go command carries them too).
	abiExports bool
	// hasShutdown: it exports wasmlambda_v1_shutdown, () -> ().
	hasShutdown bool
	// rewrite is the module's, when it was compiled from a CodeFile or a
	// Rewrite.
	rewrite *Rewrite
}

// Rewrite is a module as instrumented for the deadline checks, with the
// SHA-256 of the original: what a Module compiled from a file keeps, so
// that the module can be compiled again once the file is gone or changed,
// without a copy of the original. It must not be modified.
type Rewrite struct {
	// SHA256 is the original module's.
	SHA256 [sha256.Size]byte
	code   []byte
}

// Rewrite returns the module's rewrite when it was compiled from
// Config.CodeFile or Config.Rewrite, and nil when from Config.Code.
func (m *Module) Rewrite() *Rewrite { return m.rewrite }

// errEmpty is Compile's error for a module of no bytes.
var errEmpty = errors.New("the module is empty")

// Compile compiles code and validates it against ABI v1, returning a clear
// error for malformed wasm, an unsupported import or a missing export. Code
// compiled with cfg.Cache before, and not yet freed, is not compiled again:
// the new module shares it.
func Compile(ctx context.Context, cfg Config) (*Module, error) {
	if len(cfg.Code) == 0 && cfg.CodeFile == nil && cfg.Rewrite == nil {
		return nil, errEmpty
	}
	var eng *engine
	if cfg.Cache != nil {
		var err error
		if eng, err = cfg.Cache.engine(ctx); err != nil {
			return nil, err
		}
	}
	rw, err := rewriteOf(&cfg)
	if err != nil {
		return nil, err
	}
	m, err := compileIn(ctx, eng, &cfg, rw)
	if err == errHostClash {
		// Another module of the engine has a host module of the same name
		// without a function this one imports.
		m, err = compileIn(ctx, nil, &cfg, rw)
	}
	return m, err
}

// rewriteOf returns the rewrite of the module in cfg.CodeFile, from the
// caches when they hold it (see rewriteMemo.instrumentFile), or
// cfg.Rewrite; nil for cfg.Code, which the engine finds or rewrites itself.
func rewriteOf(cfg *Config) (*Rewrite, error) {
	switch {
	case len(cfg.Code) > 0:
		return nil, nil
	case cfg.CodeFile == nil:
		return cfg.Rewrite, nil
	}
	var disk *rewriteStore
	if cfg.Cache != nil {
		disk = cfg.Cache.rewrites
	}
	code, key, err := rewrites.instrumentFile(cfg.CodeFile, disk)
	var re readError
	switch {
	case errors.Is(err, errEmpty), errors.As(err, &re):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("malformed wasm module: %w", err)
	}
	return &Rewrite{SHA256: key, code: code}, nil
}

// errHostClash: the engine cannot serve the module's host imports.
var errHostClash = errors.New("the engine's host modules clash with the module's")

// compileIn compiles cfg's code, or rw when it is not nil, in eng, or in an
// engine of its own when eng is nil.
func compileIn(ctx context.Context, eng *engine, cfg *Config, rw *Rewrite) (*Module, error) {
	if eng == nil {
		var cc wazero.CompilationCache
		workers := 0
		if cfg.Cache != nil {
			cc, workers = cfg.Cache.cc, cfg.Cache.workers
		}
		eng = newEngine(ctx, cc, workers, true)
	}
	var sh *shared
	var err error
	if rw != nil {
		sh, err = eng.acquireRewrite(ctx, rw)
	} else {
		sh, err = eng.acquire(ctx, cfg)
	}
	if err == nil {
		// The engine's own modules, made meanwhile on its first compile:
		// their error, if any, comes first.
		if ierr := eng.wait(); ierr != nil {
			eng.release(sh)
			err = ierr
		}
	} else if ierr := eng.wait(); ierr != nil {
		err = ierr
	}
	if err != nil {
		if eng.private {
			_ = eng.close(ctx)
		}
		return nil, err
	}
	m := &Module{
		sh:          sh,
		mode:        sh.mode,
		hasInit:     sh.hasInit,
		hasStart:    sh.hasStart,
		abiExports:  sh.abiExports,
		hasShutdown: sh.hasShutdown,
		limitPages:  cfg.MemoryLimitPages,
		rewrite:     rw,
	}
	if err := m.check(ctx, cfg); err != nil {
		_ = m.Close(ctx)
		return nil, err
	}
	return m, nil
}

// check checks the shared code against the function's own configuration:
// its memory limit and its host modules.
func (m *Module) check(ctx context.Context, cfg *Config) error {
	if err := m.checkMemory(m.sh.initPages); err != nil {
		return err
	}
	var err error
	if m.hasHost, err = m.sh.eng.checkImports(m.sh.compiled, cfg); err != nil {
		return err
	}
	if !m.hasHost {
		return nil
	}
	m.host = newHostTable(cfg)
	ok, err := m.sh.eng.provideHost(ctx, m.sh.compiled, cfg.Host)
	if err != nil {
		return err
	}
	if !ok {
		return errHostClash
	}
	return nil
}

// CarriesABI reports whether the module exports the ABI v1 functions,
// whatever its mode: a command that does was built as one by mistake,
// such as a Go guest built without -buildmode=c-shared.
func (m *Module) CarriesABI() bool { return m.abiExports }

// checkImports refuses an import the host does not provide or the guest
// may not use, and reports whether the guest imports host functions. The
// WASI functions are those of the engine's runtime, read once.
func (e *engine) checkImports(cm wazero.CompiledModule, cfg *Config) (bool, error) {
	if err := e.wait(); err != nil {
		return false, err
	}
	wasi := e.wasi
	for _, d := range cm.ImportedMemories() {
		mod, name, _ := d.Import()
		return false, fmt.Errorf("unsupported import %s.%s: a guest must define its own memory", mod, name)
	}
	hasHost := false
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		if mod == CheckModule && name == CheckName {
			continue // added by instrument
		}
		if mod != wasi_snapshot_preview1.ModuleName {
			if err := checkHostImport(cfg, mod, name, d); err != nil {
				return false, err
			}
			hasHost = true
			continue
		}
		host, ok := wasi[name]
		if !ok {
			return false, fmt.Errorf("unsupported import %s.%s: no such WASI preview 1 function", mod, name)
		}
		if !sameSignature(host, d) {
			return false, fmt.Errorf("unsupported import %s.%s: signature %s does not match WASI's %s",
				mod, name, signature(d), signature(host))
		}
	}
	return hasHost, nil
}

func checkExports(cm wazero.CompiledModule) (Mode, bool, error) {
	fns := cm.ExportedFunctions()
	_, hasInit := fns[abi.ExportInitialize]
	alloc, hasAlloc := fns[abi.ExportAlloc]
	invoke, hasInvoke := fns[abi.ExportInvoke]
	_, hasStart := fns[abi.ExportStart]
	i32 := api.ValueTypeI32
	switch {
	case hasStart && !hasInit:
		// A WASI command: its exports may be called only while _start
		// runs. A Go program built without -buildmode=c-shared is one,
		// even though it carries the SDK's v1 exports.
		return ModeCommand, false, nil
	case hasAlloc && hasInvoke:
		if !hasTypes(alloc, []api.ValueType{i32}, []api.ValueType{i32}) {
			return 0, false, fmt.Errorf("export %s has signature %s, want (i32) -> (i32)", abi.ExportAlloc, signature(alloc))
		}
		if !hasTypes(invoke, []api.ValueType{i32, i32}, []api.ValueType{i32}) {
			return 0, false, fmt.Errorf("export %s has signature %s, want (i32, i32) -> (i32)", abi.ExportInvoke, signature(invoke))
		}
		if _, ok := cm.ExportedMemories()[abi.ExportMemory]; !ok {
			return 0, false, fmt.Errorf("missing export %q: an ABI v1 guest must export its memory", abi.ExportMemory)
		}
		if init, ok := fns[abi.ExportInitialize]; ok && !hasTypes(init, nil, nil) {
			return 0, false, fmt.Errorf("export %s has signature %s, want () -> ()", abi.ExportInitialize, signature(init))
		}
		return ModeABI, hasInit, nil
	case hasAlloc != hasInvoke:
		missing := abi.ExportAlloc
		if hasAlloc {
			missing = abi.ExportInvoke
		}
		return 0, false, fmt.Errorf("missing handler export %q (ABI v1 needs both %s and %s)", missing, abi.ExportAlloc, abi.ExportInvoke)
	}
	names := make([]string, 0, len(fns))
	for n := range fns {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, false, fmt.Errorf("missing handler export: want %s and %s (ABI v1) or %s (WASI command); the module exports [%s]",
		abi.ExportAlloc, abi.ExportInvoke, abi.ExportStart, strings.Join(names, " "))
}

func hasTypes(d api.FunctionDefinition, params, results []api.ValueType) bool {
	return equalTypes(d.ParamTypes(), params) && equalTypes(d.ResultTypes(), results)
}

func sameSignature(a, b api.FunctionDefinition) bool {
	return hasTypes(b, a.ParamTypes(), a.ResultTypes())
}

func equalTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func signature(d api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return names(d.ParamTypes()) + " -> " + names(d.ResultTypes())
}

// Mode reports how the module is driven.
func (m *Module) Mode() Mode { return m.mode }

// Close releases the module: its share of the compiled code, freed with the
// last module that uses it. Its instances must be closed first. Calls after
// the first do nothing.
func (m *Module) Close(ctx context.Context) error {
	var err error
	m.closeOnce.Do(func() {
		eng := m.sh.eng
		eng.release(m.sh)
		if eng.private {
			err = eng.close(ctx)
		}
	})
	return err
}

// randSource is the guest's random source: the host's cryptographic one.
var randSource = rand.Reader
