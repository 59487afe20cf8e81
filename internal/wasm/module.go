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

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmlambda/lambda/internal/abi"
)

// PageSize is the size of a wasm memory page.
const PageSize = 65536

// Cache is a compilation cache shared by every function of a runtime: in
// memory always, and on disk when it was given a directory.
type Cache struct {
	cc       wazero.CompilationCache
	rewrites *rewriteStore // nil without a directory
}

// NewCache returns a compilation cache, kept on disk under dir when dir is
// not empty, together with the modules' instrumented rewrites (see
// rewritecache.go).
func NewCache(dir string) (*Cache, error) {
	if dir == "" {
		return &Cache{cc: wazero.NewCompilationCache()}, nil
	}
	cc, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("compilation cache directory %q: %w", dir, err)
	}
	return &Cache{cc: cc, rewrites: newRewriteStore(dir)}, nil
}

// Close releases the cache's compiled code held in memory.
func (c *Cache) Close(ctx context.Context) error { return c.cc.Close(ctx) }

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
	// compiles it again, with neither the file nor a rewrite.
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

// Module is a compiled, validated guest module with its own wazero runtime.
// The runtime is per module because wazero's memory limit is per runtime;
// the compiled code is shared through the Cache.
//
// A Module is safe for concurrent use.
type Module struct {
	rt         wazero.Runtime
	compiled   wazero.CompiledModule
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
// error for malformed wasm, an unsupported import or a missing export.
func Compile(ctx context.Context, cfg Config) (*Module, error) {
	if len(cfg.Code) == 0 && cfg.CodeFile == nil && cfg.Rewrite == nil {
		return nil, errEmpty
	}
	// wazero's maximum is the most a wasm32 memory can have, so that every
	// grow reaches the allocator, which enforces the limit: see limiter.
	rc := wazero.NewRuntimeConfigCompiler().
		WithMemoryLimitPages(maxPages)
	if cfg.Cache != nil {
		rc = rc.WithCompilationCache(cfg.Cache.cc)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	m := &Module{rt: rt, limitPages: cfg.MemoryLimitPages}
	if err := m.compile(ctx, &cfg); err != nil {
		_ = rt.Close(ctx)
		return nil, err
	}
	return m, nil
}

func (m *Module) compile(ctx context.Context, cfg *Config) error {
	// The modules the guest imports take no part in its compile, which is
	// most of a deploy even from the compilation cache (wazero decodes and
	// validates the whole module first): instantiate them meanwhile, on
	// another core if there is one. Their error, if any, comes first, as
	// when they were instantiated first.
	imports := make(chan error, 1)
	go func() { imports <- m.instantiateImports(ctx, cfg) }()
	cm, err := m.compileGuest(ctx, cfg)
	if ierr := <-imports; ierr != nil {
		return ierr
	}
	if err != nil {
		return err
	}
	m.compiled = cm
	if m.hasHost, err = m.checkImports(cm, cfg); err != nil {
		return err
	}
	mode, hasInit, err := checkExports(cm)
	if err != nil {
		return err
	}
	m.mode, m.hasInit = mode, hasInit
	fns := cm.ExportedFunctions()
	_, m.hasStart = fns[StartExport]
	_, hasAlloc := fns[abi.ExportAlloc]
	_, hasInvoke := fns[abi.ExportInvoke]
	m.abiExports = hasAlloc && hasInvoke
	if sd, ok := fns[abi.ExportShutdown]; ok && mode == ModeABI {
		if !hasTypes(sd, nil, nil) {
			return fmt.Errorf("export %s has signature %s, want () -> ()", abi.ExportShutdown, signature(sd))
		}
		m.hasShutdown = true
	}
	return nil
}

// compileGuest instruments the guest's code, from the caches when it can,
// checks it, and compiles it.
func (m *Module) compileGuest(ctx context.Context, cfg *Config) (wazero.CompiledModule, error) {
	var disk *rewriteStore
	if cfg.Cache != nil {
		disk = cfg.Cache.rewrites
	}
	var code []byte
	var err error
	switch {
	case len(cfg.Code) > 0:
		code, err = rewrites.instrument(cfg.Code, disk)
	case cfg.CodeFile != nil:
		var key [sha256.Size]byte
		if code, key, err = rewrites.instrumentFile(cfg.CodeFile, disk); err == nil {
			m.rewrite = &Rewrite{SHA256: key, code: code}
		}
	default:
		m.rewrite, code = cfg.Rewrite, cfg.Rewrite.code
	}
	var re readError
	switch {
	case errors.Is(err, errEmpty), errors.As(err, &re):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("malformed wasm module: %w", err)
	}
	if err := checkImportKinds(code); err != nil {
		return nil, err
	}
	if err := m.checkMemory(code); err != nil {
		return nil, err
	}
	cm, err := m.rt.CompileModule(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("malformed wasm module: %w", err)
	}
	return cm, nil
}

// instantiateImports instantiates, in the module's runtime, the modules a
// guest may import: WASI, the granted host modules, the ABI's own and the
// instrumented check.
func (m *Module) instantiateImports(ctx context.Context, cfg *Config) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, m.rt); err != nil {
		return fmt.Errorf("instantiate WASI: %w", err)
	}
	if err := m.instantiateHost(ctx, cfg); err != nil {
		return err
	}
	_, err := m.rt.NewHostModuleBuilder(CheckModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(checkFunc), nil, []api.ValueType{api.ValueTypeI32}).
		Export(CheckName).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("instantiate the check module: %w", err)
	}
	return nil
}

// CarriesABI reports whether the module exports the ABI v1 functions,
// whatever its mode: a command that does was built as one by mistake,
// such as a Go guest built without -buildmode=c-shared.
func (m *Module) CarriesABI() bool { return m.abiExports }

// checkImports refuses an import the host does not provide or the guest
// may not use, and reports whether the guest imports host functions. The
// WASI functions are those of the module's runtime, instantiated already.
func (m *Module) checkImports(cm wazero.CompiledModule, cfg *Config) (bool, error) {
	wasi := m.rt.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions()
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

// Close releases the module, its runtime and every instance still open.
func (m *Module) Close(ctx context.Context) error { return m.rt.Close(ctx) }

// randSource is the guest's random source: the host's cryptographic one.
var randSource = rand.Reader
