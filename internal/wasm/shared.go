package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmlambda/lambda/internal/abi"
)

// Shared compiled code.
//
// Every module compiled with one Cache runs in one wazero runtime, the
// cache's engine, and each distinct code is compiled there once: the
// functions (and versions) that deploy it share its wazero.CompiledModule,
// which is counted and freed when the last of them closes. Nothing a
// function configures is part of the shared code:
//
//   - its memory limit is enforced per instance by the allocator (see
//     limiter), wazero's own maximum being the most a wasm32 memory can have
//     in every runtime;
//   - its host functions are reached through the call's context: the
//     engine's host modules are dispatchers that look the function up in the
//     instance's hostState, which carries its function's table (see
//     dispatch);
//   - instances are anonymous, so any number of them, of any function, live
//     in the one runtime.
//
// A deploy of known code finds its entry by a key that samples it (see key),
// compares it with the code kept for the entry, and takes a reference: no
// rewrite, no compile, no decoding, and no copy of its bytes. The copy the
// entry keeps is made once, by the deploy that compiles it.
//
// A deploy from a file (Config.CodeFile), or of a version's kept rewrite
// (Config.Rewrite), has no copy of the code to compare: it has the SHA-256
// of the original, computed as the file was read, and finds its entry by
// that (see acquireRewrite). An entry compiled from Config.Code is found by
// its SHA-256 too, which its rewrite computed. Two codes of one SHA-256 are
// taken to be the same, as the on-disk rewrite cache takes them already.
// A deploy of Config.Code does not look for an entry by SHA-256, which
// would cost a hash of every byte: the code of an entry made from a file is
// compiled again when deployed from memory, a second entry, never a wrong
// one.

// engine is a wazero runtime shared by the modules of one Cache, or owned by
// one module compiled without a Cache or whose host modules clash with the
// engine's.
type engine struct {
	rt   wazero.Runtime
	seed maphash.Seed
	// private: owned by one module, closed with it.
	private bool
	// workers compile a module the compilation cache does not hold; 0
	// means runtime.GOMAXPROCS.
	workers int

	mu sync.Mutex
	// hostFuncs are the host modules instantiated in rt, with their
	// functions' names.
	hostFuncs map[string][]string
	// modules are the compiled codes, by the hash of their original code.
	modules map[uint64][]*shared
	// bySHA are the compiled codes, by the SHA-256 of their original code,
	// when it is known.
	bySHA  map[[sha256.Size]byte]*shared
	closed bool

	// initDone is closed once WASI and the engine's own modules are
	// instantiated, with initErr; meanwhile the first module compiles.
	initDone chan struct{}
	initErr  error
	// wasi are the WASI functions the runtime provides, set by init.
	wasi map[string]api.FunctionDefinition
}

// shared is one compiled code in an engine, with what its functions read of
// it.
type shared struct {
	eng  *engine
	hash uint64
	// code is a copy of the original code, the entry's identity, or nil
	// for an entry compiled from a rewrite.
	code []byte
	// sha is the SHA-256 of the original code, when hasSHA; the entry is
	// then in eng.bySHA.
	sha    [sha256.Size]byte
	hasSHA bool
	// ready is closed once compiled is set or err is.
	ready chan struct{}
	err   error
	refs  int // under eng.mu

	compiled    wazero.CompiledModule
	mode        Mode
	hasInit     bool
	hasStart    bool
	abiExports  bool
	hasShutdown bool
	// initPages is the memory's initial size in pages (0 without memory).
	initPages uint64
}

// newEngine makes a runtime with WASI and the modules every guest may
// import from the runtime itself. It instantiates them in the background,
// while the first module compiles (most of a cold deploy, even from the
// compilation cache: wazero decodes and validates the whole module first);
// wait waits for them.
func newEngine(ctx context.Context, cc wazero.CompilationCache, workers int, private bool) *engine {
	// wazero's maximum is the most a wasm32 memory can have, so that every
	// grow reaches the allocator, which enforces the limit: see limiter.
	rc := wazero.NewRuntimeConfigCompiler().WithMemoryLimitPages(maxPages)
	if cc != nil {
		rc = rc.WithCompilationCache(cc)
	}
	e := &engine{
		rt:        wazero.NewRuntimeWithConfig(ctx, rc),
		seed:      maphash.MakeSeed(),
		private:   private,
		workers:   workers,
		hostFuncs: map[string][]string{},
		modules:   map[uint64][]*shared{},
		bySHA:     map[[sha256.Size]byte]*shared{},
		initDone:  make(chan struct{}),
	}
	// The engine outlives the call that makes it.
	ctx = context.WithoutCancel(ctx)
	go func() {
		e.initErr = e.init(ctx)
		close(e.initDone)
	}()
	return e
}

// wait waits for the engine's own modules, and returns their error.
func (e *engine) wait() error {
	<-e.initDone
	return e.initErr
}

// failed reports whether the engine's own modules failed, without waiting.
func (e *engine) failed() bool {
	select {
	case <-e.initDone:
		return e.initErr != nil
	default:
		return false
	}
}

func (e *engine) init(ctx context.Context) error {
	wasi, err := wasi_snapshot_preview1.Instantiate(ctx, e.rt)
	if err != nil {
		return fmt.Errorf("instantiate WASI: %w", err)
	}
	e.wasi = map[string]api.FunctionDefinition{}
	for name, d := range wasi.(api.Module).ExportedFunctionDefinitions() {
		e.wasi[name] = d
	}
	_, err = e.rt.NewHostModuleBuilder(abi.ImportModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostResult), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, hostResults).
		Export(abi.ImportHostResult).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("instantiate %s: %w", abi.ImportModule, err)
	}
	_, err = e.rt.NewHostModuleBuilder(CheckModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(checkFunc), nil, []api.ValueType{api.ValueTypeI32}).
		Export(CheckName).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("instantiate the check module: %w", err)
	}
	return nil
}

// close closes the runtime, and with it every instance still open in it.
func (e *engine) close(ctx context.Context) error {
	<-e.initDone
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	return e.rt.Close(ctx)
}

// acquire returns the engine's compiled code for cfg.Code, compiling it
// first if it has none, with a reference the caller releases.
func (e *engine) acquire(ctx context.Context, cfg *Config) (*shared, error) {
	h := e.key(cfg.Code)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, fmt.Errorf("the compilation cache is closed")
	}
	for _, s := range e.modules[h] {
		if bytes.Equal(s.code, cfg.Code) {
			s.refs++
			e.mu.Unlock()
			<-s.ready
			if s.err != nil {
				e.release(s)
				return nil, s.err
			}
			return s, nil
		}
	}
	s := &shared{eng: e, hash: h, code: bytes.Clone(cfg.Code), ready: make(chan struct{}), refs: 1}
	e.modules[h] = append(e.modules[h], s)
	e.mu.Unlock()
	s.err = s.compile(ctx, cfg)
	close(s.ready)
	if s.err != nil {
		e.release(s)
		return nil, s.err
	}
	return s, nil
}

// acquireRewrite is acquire for a rewrite: it finds the engine's compiled
// code by the SHA-256 of the original, and compiles rw first if it has
// none.
func (e *engine) acquireRewrite(ctx context.Context, rw *Rewrite) (*shared, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, fmt.Errorf("the compilation cache is closed")
	}
	if s, ok := e.bySHA[rw.SHA256]; ok {
		s.refs++
		e.mu.Unlock()
		<-s.ready
		if s.err != nil {
			e.release(s)
			return nil, s.err
		}
		return s, nil
	}
	s := &shared{eng: e, sha: rw.SHA256, hasSHA: true, ready: make(chan struct{}), refs: 1}
	e.bySHA[rw.SHA256] = s
	e.mu.Unlock()
	s.err = s.compileRewrite(ctx, rw.code)
	close(s.ready)
	if s.err != nil {
		e.release(s)
		return nil, s.err
	}
	return s, nil
}

// Sampling of the key.
const (
	keySamples    = 64
	keySampleSize = 256
)

// key is the map key of code: a hash of its length and of samples of it,
// its start, its end and evenly spaced pieces between. Entries are told
// apart by their whole code, which acquire compares, so the key need not
// read every byte: it costs microseconds for a module of megabytes, whose
// whole hash would cost a deploy of known code most of its time.
func (e *engine) key(code []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(e.seed)
	maphash.WriteComparable(&h, len(code))
	if len(code) <= keySamples*keySampleSize {
		h.Write(code)
		return h.Sum64()
	}
	step := (len(code) - keySampleSize) / (keySamples - 1)
	for i := range keySamples {
		off := i * step
		if i == keySamples-1 {
			off = len(code) - keySampleSize
		}
		h.Write(code[off : off+keySampleSize])
	}
	return h.Sum64()
}

// release drops a reference to s, and frees its code with the last one.
func (e *engine) release(s *shared) {
	e.mu.Lock()
	s.refs--
	if s.refs > 0 {
		e.mu.Unlock()
		return
	}
	if s.code != nil {
		list := e.modules[s.hash]
		if i := slices.Index(list, s); i >= 0 {
			list = slices.Delete(list, i, i+1)
		}
		if len(list) == 0 {
			delete(e.modules, s.hash)
		} else {
			e.modules[s.hash] = list
		}
	}
	if s.hasSHA && e.bySHA[s.sha] == s {
		delete(e.bySHA, s.sha)
	}
	e.mu.Unlock()
	if s.compiled != nil {
		_ = s.compiled.Close(context.Background())
	}
}

// compile rewrites, compiles and checks what every function of the code
// has in common.
func (s *shared) compile(ctx context.Context, cfg *Config) error {
	var disk *rewriteStore
	if cfg.Cache != nil {
		disk = cfg.Cache.rewrites
	}
	code, sha, err := rewrites.instrumentKeyed(cfg.Code, disk)
	if err != nil {
		return fmt.Errorf("malformed wasm module: %w", err)
	}
	if err := s.compileRewrite(ctx, code); err != nil {
		return err
	}
	// Deploys from a file of the same code find it too.
	e := s.eng
	e.mu.Lock()
	if _, ok := e.bySHA[sha]; !ok && !e.closed {
		s.sha, s.hasSHA = sha, true
		e.bySHA[sha] = s
	}
	e.mu.Unlock()
	return nil
}

// compileRewrite compiles and checks code, a rewrite, for what every
// function of the code has in common.
func (s *shared) compileRewrite(ctx context.Context, code []byte) error {
	if err := checkImportKinds(code); err != nil {
		return err
	}
	s.initPages = memoryPages(code)
	// A compile that misses the cache shares the module's functions out
	// among the workers: about 1.7 times as fast on two cores (wazero's
	// output does not depend on their number or order).
	workers := s.eng.workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	cm, err := s.eng.rt.CompileModule(experimental.WithCompilationWorkers(ctx, workers), code)
	if err != nil {
		return fmt.Errorf("malformed wasm module: %w", err)
	}
	s.compiled = cm
	mode, hasInit, err := checkExports(cm)
	if err != nil {
		return err
	}
	s.mode, s.hasInit = mode, hasInit
	fns := cm.ExportedFunctions()
	_, s.hasStart = fns[StartExport]
	_, hasAlloc := fns[abi.ExportAlloc]
	_, hasInvoke := fns[abi.ExportInvoke]
	s.abiExports = hasAlloc && hasInvoke
	if sd, ok := fns[abi.ExportShutdown]; ok && mode == ModeABI {
		if !hasTypes(sd, nil, nil) {
			return fmt.Errorf("export %s has signature %s, want () -> ()", abi.ExportShutdown, signature(sd))
		}
		s.hasShutdown = true
	}
	return nil
}

// provideHost makes sure the engine has the host modules that cm imports
// from hosts, each with the functions it imports. It reports false when a
// module of that name is there already without one of them: the engine
// cannot serve the module, which then needs an engine of its own.
func (e *engine) provideHost(ctx context.Context, cm wazero.CompiledModule, hosts []HostModule) (bool, error) {
	need := map[string]bool{}
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		need[mod+"\x00"+name] = true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, hm := range hosts {
		var imported []string
		for name := range hm.Funcs {
			if need[hm.Name+"\x00"+name] {
				imported = append(imported, name)
			}
		}
		if len(imported) == 0 {
			continue
		}
		if have, ok := e.hostFuncs[hm.Name]; ok {
			for _, name := range imported {
				if !slices.Contains(have, name) {
					return false, nil
				}
			}
			continue
		}
		// Every function of the module, so that another guest importing
		// another of them finds it.
		names := make([]string, 0, len(hm.Funcs))
		b := e.rt.NewHostModuleBuilder(hm.Name)
		for name := range hm.Funcs {
			d := &dispatch{module: hm.Name, name: name}
			b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(d.call), hostParams, hostResults).Export(name)
			names = append(names, name)
		}
		if _, err := b.Instantiate(ctx); err != nil {
			return false, fmt.Errorf("instantiate host module %s: %w", hm.Name, err)
		}
		slices.Sort(names)
		e.hostFuncs[hm.Name] = names
	}
	return true, nil
}

// Modules reports how many distinct compiled codes the cache's engine holds:
// those that some module still uses.
func (c *Cache) Modules() int {
	c.mu.Lock()
	eng := c.eng
	c.mu.Unlock()
	if eng == nil {
		return 0
	}
	eng.mu.Lock()
	defer eng.mu.Unlock()
	n := 0
	for _, list := range eng.modules {
		n += len(list)
	}
	for _, s := range eng.bySHA {
		if s.code == nil { // not in modules
			n++
		}
	}
	return n
}
