package lambda

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"math"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/wasmlambda/lambda/internal/cond"
	"github.com/wasmlambda/lambda/internal/lazyregexp"
)

// A function's versions, as AWS Lambda's: $LATEST, whose code and
// configuration Update changes while it serves, and the numbered versions
// PublishVersion makes, which never change. Each is an incarnation: a
// *Function of its own, with its own compiled module, environment and
// pool, that the Function Deploy returned routes invocations to. That
// Function is itself the first incarnation of $LATEST.
//
// An invocation enters the incarnation it resolved to, and leaves it when
// it ends. Update publishes the new $LATEST before it retires the old one,
// and an incarnation retired while an invocation entered it is not left
// until that invocation ends: so invocations in flight finish on the old
// code, and new ones find the new code. A retired incarnation is shut down
// (its pool drained and closed, its module freed) once the last
// invocation has left it.

// incarnation is one code and configuration's life: what it was made
// from, and who is inside it.
type incarnation struct {
	src         source // the code, kept for PublishVersion and Update
	codeSHA     string // its SHA-256, base64, as AWS's CodeSha256
	description string // PublishVersion's description

	refs      atomic.Int64 // invocations inside
	retired   atomic.Bool
	drainOnce sync.Once
	drained   chan struct{} // closed once retired and empty

	shutOnce sync.Once
	shutDone chan struct{}
	shutErr  error
}

// enter counts an invocation into v, unless v is retired.
func (v *Function) enter() bool {
	v.inc.refs.Add(1)
	if v.inc.retired.Load() {
		v.leave()
		return false
	}
	return true
}

// leave counts an invocation out of v.
func (v *Function) leave() {
	if v.inc.refs.Add(-1) == 0 && v.inc.retired.Load() {
		v.inc.drainOnce.Do(func() { close(v.inc.drained) })
	}
}

// retire refuses new invocations of v; drained is closed once the last
// one has left.
func (v *Function) retire() {
	v.inc.retired.Store(true)
	if v.inc.refs.Load() == 0 {
		v.inc.drainOnce.Do(func() { close(v.inc.drained) })
	}
}

// shutdown closes v's pool, waiting for the invocations in it (or aborting
// them when ctx ends), and frees its module. Only the first call does it;
// later ones wait for it, within ctx.
func (v *Function) shutdown(ctx context.Context) error {
	run := false
	v.inc.shutOnce.Do(func() {
		run = true
		v.inc.shutDone = make(chan struct{})
	})
	if !run {
		return awaitClose(ctx, v.inc.shutDone)
	}
	defer close(v.inc.shutDone)
	var errs []error
	if v.pool != nil {
		errs = append(errs, v.pool.close(ctx))
	}
	if v.module != nil {
		errs = append(errs, v.module.Close(context.Background()))
	}
	v.http.close()
	v.inc.shutErr = joinDistinct(errs)
	return v.inc.shutErr
}

// versions is the state of a function's versions and aliases. Reads, on
// the path of every invocation, are atomic loads; changes are serialised
// by mu and published whole.
type versions struct {
	f *Function // the Function Deploy returned

	latest    atomic.Pointer[Function]
	published atomic.Pointer[[]*Function] // version n at n-1
	aliases   atomic.Pointer[map[string]*alias]

	// multi is set once the function has had more than one incarnation:
	// from then on limit caps their invocations together, at the
	// function's MaxConcurrency. Until then its one pool does.
	multi atomic.Bool
	limit limiter

	mu       sync.Mutex
	closed   atomic.Bool
	retiring []*Function // retired incarnations, until shut down
	drains   sync.WaitGroup
	quit     chan struct{} // closed by close: drains shut down at once

	// pcVersion and pcAlias are the provisioned concurrency put on
	// versions and on aliases (PutProvisionedConcurrency), under mu.
	pcVersion map[string]int
	pcAlias   map[string]int
}

func newVersions(f *Function) *versions {
	vs := &versions{f: f, quit: make(chan struct{})}
	vs.latest.Store(f)
	vs.published.Store(&[]*Function{})
	vs.aliases.Store(&map[string]*alias{})
	f.inc.drained = make(chan struct{})
	vs.limit.max.Store(int64(f.cfg.MaxConcurrency))
	return vs
}

// current returns the incarnation of $LATEST now serving, or f itself on
// a version.
func (vs *versions) current() *Function {
	return vs.latest.Load()
}

// qualifierRE is AWS's pattern of a qualifier.
var qualifierRE = lazyregexp.New(`^[a-zA-Z0-9$_-]{1,128}$`)

// WithQualifier invokes a version ("3"), an alias ("live") or "$LATEST"
// rather than the unqualified function, as AWS's Qualifier parameter does.
// The guest's invoked function ARN carries it, as on AWS. An unknown
// version or alias fails with ErrNotFound (ResourceNotFoundException).
func WithQualifier(qualifier string) InvokeOption {
	return func(o *invokeOptions) { o.qualifier = qualifier }
}

// WithExecutedVersion sets *v to the version that ran the invocation, as
// AWS's InvokeOutput.ExecutedVersion says: "$LATEST", or a version number,
// which for an alias with weights is the version the invocation was routed
// to. *v is set once the version is chosen, whether or not the invocation
// then succeeds.
func WithExecutedVersion(v *string) InvokeOption {
	return func(o *invokeOptions) { o.executed = v }
}

// invokedARN is the ARN the invocation was made with: the function's,
// qualified when a qualifier was given.
func (o *invokeOptions) invokedARN(arn string) string {
	if o.qualifier == "" {
		return arn
	}
	return arn + ":" + o.qualifier
}

// lookup returns the incarnation q names now.
func (vs *versions) lookup(q string) (*Function, error) {
	switch {
	case vs.closed.Load():
		return nil, serviceError(ErrClosed, "Function not found: %s (closed)", vs.f.arn)
	case q == "" || q == LatestVersion:
		return vs.latest.Load(), nil
	case q[0] >= '0' && q[0] <= '9':
		if n, err := strconv.Atoi(q); err == nil && n >= 1 {
			if pub := *vs.published.Load(); n <= len(pub) {
				return pub[n-1], nil
			}
		}
	default:
		if a := (*vs.aliases.Load())[q]; a != nil {
			return a.route(vs), nil
		}
	}
	if !qualifierRE.MatchString(q) {
		return nil, validationError("1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)", q)
	}
	return nil, serviceError(ErrNotFound, "Function not found: %s:%s", vs.f.arn, q)
}

// resolve returns the incarnation q names, entered.
func (vs *versions) resolve(q string) (*Function, error) {
	for {
		v, err := vs.lookup(q)
		if err != nil {
			return nil, err
		}
		if v.enter() {
			return v, nil
		}
		// Retired since the lookup: its successor is published already.
	}
}

// checkQualifier fails when opts name a qualifier that does not exist.
func (vs *versions) checkQualifier(opts []InvokeOption) error {
	var o invokeOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.qualifier == "" {
		return nil
	}
	_, err := vs.lookup(o.qualifier)
	return err
}

// dispatch runs one invocation of the function on the incarnation its
// qualifier names: Invoke's, and each attempt of an asynchronous event.
func (f *Function) dispatch(ctx, waitCtx context.Context, payload []byte, o *invokeOptions, granted func()) ([]byte, error) {
	vs := f.vs
	v, err := vs.resolve(o.qualifier)
	if err != nil {
		return nil, err
	}
	defer v.leave()
	if o.executed != nil {
		*o.executed = v.cfg.Version
	}
	if vs.multi.Load() {
		if err := vs.limit.acquire(waitCtx, v); err != nil {
			return nil, err
		}
		defer vs.limit.release()
	}
	return v.invoke(ctx, waitCtx, payload, o, granted)
}

// limiter caps the invocations of all of a function's incarnations
// together: its reserved concurrency.
type limiter struct {
	max     atomic.Int64
	mu      sync.Mutex
	n       int64
	waiting int
	freed   cond.Cond
}

func (l *limiter) acquire(ctx context.Context, v *Function) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n < l.max.Load() {
		l.n++
		return nil
	}
	if v.cfg.ThrottleWhenBusy {
		v.pool.mu.Lock()
		v.pool.stats.Throttles++
		v.pool.mu.Unlock()
		return serviceError(ErrThrottled, "Rate Exceeded. Function %s is running at its MaxConcurrency of %d.", v.name, l.max.Load())
	}
	l.waiting++
	err := l.freed.WaitUntil(ctx, &l.mu, func() bool { return l.n < l.max.Load() })
	l.waiting--
	if err != nil {
		return err
	}
	l.n++
	return nil
}

func (l *limiter) release() {
	l.mu.Lock()
	l.n--
	if l.waiting > 0 {
		l.freed.Broadcast()
	}
	l.mu.Unlock()
}

// setMax changes the cap and wakes the waiters.
func (l *limiter) setMax(n int) {
	l.mu.Lock()
	l.max.Store(int64(n))
	if l.waiting > 0 {
		l.freed.Broadcast()
	}
	l.mu.Unlock()
}

// newIncarnation loads code with cfg, resolved already, as a version of
// f: compiled, validated, and with MinWarm sandboxes initialised.
func (f *Function) newIncarnation(ctx context.Context, cfg FunctionConfig, src source) (*Function, error) {
	v := &Function{
		rt:      f.rt,
		cfg:     cfg.clone(),
		name:    f.name,
		arn:     f.arn,
		timeout: strconv.FormatFloat(cfg.Timeout.Seconds(), 'f', 2, 64),
		logs:    newLogPolicy(cfg.Logging),
	}
	v.inc.drained = make(chan struct{})
	v.logger = v.newLogger(cfg.Version)
	if err := v.load(ctx, &cfg, src); err != nil {
		if v.module != nil {
			_ = v.module.Close(context.Background())
		}
		return nil, err
	}
	v.inc.codeSHA = v.inc.src.sha256()
	if err := v.pool.prewarm(ctx); err != nil {
		_ = v.shutdown(context.Background())
		return nil, err
	}
	return v, nil
}

// sha256 is the SHA-256 of the code, base64, as AWS's CodeSha256.
func (s source) sha256() string {
	if s.pkg == nil && s.rewrite != nil {
		return base64.StdEncoding.EncodeToString(s.rewrite.SHA256[:])
	}
	sum := sha256.Sum256(s.pkg)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Update replaces the code or the configuration of $LATEST, or both, while
// it serves: AWS's UpdateFunctionCode and UpdateFunctionConfiguration in
// one call. cfg is a whole FunctionConfig, as for Deploy, with these
// differences: an empty Name means the function's, leaving Code and
// CodePath empty keeps the current code, and Async must be left zero, since
// the asynchronous settings are the function's (see
// PutFunctionEventInvokeConfig), not the code's.
//
// Update compiles and validates the new code, and initialises its MinWarm
// sandboxes, before it swaps it in: a failure leaves the old code serving
// and returns the error. Once it returns, new invocations of $LATEST, and
// the attempts of asynchronous events and the events of triggers from then
// on, run the new code; invocations in flight finish on the old, whose
// sandboxes are then closed and its module freed, in the background.
// Published versions do not change.
//
// # Errors
//
//   - ErrInvalidConfig, ErrInvalidCode, or an initialisation's
//     *FunctionError: as Deploy's, with the old code still serving.
//   - ErrClosed: the function is closing.
func (f *Function) Update(ctx context.Context, cfg FunctionConfig) error {
	vs := f.vs
	if cfg.Name == "" {
		cfg.Name = f.name
	}
	if cfg.Name != f.name {
		return invalidConfig("function %s: Update: Name %q is another function's", f.name, cfg.Name)
	}
	if !reflect.ValueOf(cfg.Async).IsZero() {
		return invalidConfig("function %s: Update: Async is the function's, not its code's: leave it zero, and use PutFunctionEventInvokeConfig", f.name)
	}
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.closed.Load() {
		return serviceError(ErrClosed, "Function not found: %s (closed)", f.arn)
	}
	cur := vs.latest.Load()
	src := source{pkg: cfg.Code}
	kept := false
	switch {
	case cfg.CodePath != "" && len(cfg.Code) > 0:
		// resolve refuses it.
	case cfg.CodePath != "":
		var err error
		if src, err = openCode(cfg.CodePath); err != nil {
			return invalidConfig("function %s: CodePath: %v", f.name, err)
		}
		defer src.close()
	case len(cfg.Code) == 0:
		src, kept = cur.inc.src, true
	}
	cfg.Version = f.cfg.Version
	cfg.Async = f.cfg.Async
	cfg, err := cfg.resolve(kept)
	if err != nil {
		return err
	}
	cfg.CodePath = "" // the code is the incarnation's, whatever that file holds later
	v, err := f.newIncarnation(ctx, cfg, src)
	if err != nil {
		return fmt.Errorf("update function %s: the code in service is unchanged: %w", f.name, err)
	}
	vs.limit.setMax(cfg.MaxConcurrency)
	vs.multi.Store(true)
	vs.latest.Store(v)
	vs.retireLocked(cur)
	return nil
}

// retireLocked retires v and shuts it down once it is empty, in the
// background.
func (vs *versions) retireLocked(v *Function) {
	v.retire()
	vs.retiring = append(vs.retiring, v)
	vs.drains.Add(1)
	go func() {
		defer vs.drains.Done()
		select {
		case <-v.inc.drained:
		case <-vs.quit:
			return // close shuts it down
		}
		_ = v.shutdown(context.Background())
		vs.mu.Lock()
		for i, o := range vs.retiring {
			if o == v {
				vs.retiring = append(vs.retiring[:i:i], vs.retiring[i+1:]...)
				break
			}
		}
		vs.mu.Unlock()
	}()
}

// close retires every incarnation and shuts down all but f, the one the
// caller shuts down.
func (vs *versions) close(ctx context.Context) error {
	if vs == nil {
		return nil
	}
	vs.mu.Lock()
	if vs.closed.Swap(true) {
		vs.mu.Unlock()
		return nil
	}
	close(vs.quit)
	all := append([]*Function{vs.latest.Load()}, *vs.published.Load()...)
	all = append(all, vs.retiring...)
	vs.mu.Unlock()
	vs.drains.Wait()
	var others []*Function
	for _, v := range all {
		v.retire()
		if v != vs.f {
			others = append(others, v)
		}
	}
	return parallel(others, func(v *Function) error { return v.shutdown(ctx) })
}

// VersionInfo describes a version of a function, as AWS's
// FunctionConfiguration does in ListVersionsByFunction.
type VersionInfo struct {
	// Version is "$LATEST" or the version number.
	Version string
	// FunctionARN is the version's qualified ARN.
	FunctionARN string
	// CodeSHA256 is the SHA-256 of its package, base64, as AWS's
	// CodeSha256.
	CodeSHA256 string
	// Description is PublishVersion's.
	Description string
	// Config is its configuration, with Code nil.
	Config FunctionConfig
}

func (v *Function) info(version string) VersionInfo {
	return VersionInfo{Version: version, FunctionARN: v.arn + ":" + version, CodeSHA256: v.inc.codeSHA, Description: v.inc.description, Config: v.cfg.clone()}
}

// Versions lists the function's versions, $LATEST first and then the
// published ones in order, as AWS's ListVersionsByFunction does.
func (f *Function) Versions() []VersionInfo {
	out := []VersionInfo{f.vs.current().info(LatestVersion)}
	for _, v := range *f.vs.published.Load() {
		out = append(out, v.info(v.cfg.Version))
	}
	return out
}

// PublishVersion makes an immutable version of $LATEST's code and
// configuration as they are now, numbered 1, 2, 3, …, and returns its
// number, as AWS's PublishVersion. When neither has changed since the last
// version, it returns that version instead, as AWS does.
//
// The version has a pool of its own, which initialises no sandbox ahead
// until PutProvisionedConcurrency says so; the function's MaxConcurrency
// caps all its versions together. It runs with AWS_LAMBDA_FUNCTION_VERSION
// set to its number.
//
// # Errors
//
//   - ErrInvalidConfig: FunctionConfig.Version labels $LATEST with a
//     number, which would name a published version too.
//   - ErrClosed: the function is closing.
//   - an error compiling the module again (rare: it is cached).
func (f *Function) PublishVersion(ctx context.Context, description string) (string, error) {
	vs := f.vs
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.closed.Load() {
		return "", serviceError(ErrClosed, "Function not found: %s (closed)", f.arn)
	}
	cur := vs.latest.Load()
	if allDigitsRE.MatchString(f.cfg.Version) {
		return "", invalidConfig("function %s: FunctionConfig.Version %q labels $LATEST with a number that a published version would take too: leave it unset (\"$LATEST\") to publish versions", f.name, f.cfg.Version)
	}
	pub := *vs.published.Load()
	if cur.inc.codeSHA == "" {
		cur.inc.codeSHA = cur.inc.src.sha256()
	}
	if n := len(pub); n > 0 && sameVersion(pub[n-1], cur) {
		return pub[n-1].cfg.Version, nil
	}
	cfg := cur.cfg.clone()
	cfg.Version = strconv.Itoa(len(pub) + 1)
	cfg.MinWarm = 0
	v, err := f.newIncarnation(ctx, cfg, cur.inc.src)
	if err != nil {
		return "", fmt.Errorf("publish a version of %s: %w", f.name, err)
	}
	v.inc.description = description
	next := append(pub[:len(pub):len(pub)], v)
	vs.multi.Store(true)
	vs.published.Store(&next)
	return cfg.Version, nil
}

// sameVersion reports whether $LATEST's incarnation cur has the code and
// configuration of the published version v.
func sameVersion(v, cur *Function) bool {
	if v.inc.codeSHA != cur.inc.codeSHA {
		return false
	}
	a, b := v.cfg.clone(), cur.cfg.clone()
	a.Version, b.Version = "", ""
	a.MinWarm, b.MinWarm = 0, 0
	a.Environment, b.Environment = nonNil(a.Environment), nonNil(b.Environment)
	return reflect.DeepEqual(a, b)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}

// PutProvisionedConcurrency keeps n sandboxes of a published version, or
// of the versions an alias points to, initialised, as AWS's
// PutProvisionedConcurrencyConfig, and returns once they are; 0 removes the
// setting. As on AWS, $LATEST takes none this way (its MinWarm is
// FunctionConfig.MinWarm, set by Deploy or Update), nor does an alias that
// points to $LATEST.
//
// An alias's provisioned concurrency warms the version it points to, and
// follows it when UpdateAlias moves it: the new version warms in the
// background, and the old one's surplus sandboxes close once idle past the
// idle timeout. An alias with weights splits it between its two versions
// by the weight, as AWS does: the second version gets n × weight, rounded,
// and the first the rest. A version's sandboxes kept warm are the sum of
// its own setting and its shares of its aliases' settings.
//
// # Errors
//
//   - ErrNotFound: no such version or alias.
//   - ErrInvalidConfig: $LATEST or an alias pointing to it, or n out of 0
//     to the function's MaxConcurrency.
//   - a *FunctionError of type Runtime.InitError: a sandbox failed to
//     initialise.
func (f *Function) PutProvisionedConcurrency(ctx context.Context, qualifier string, n int) error {
	if qualifier == "" || qualifier == LatestVersion {
		return invalidConfig("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
	}
	vs := f.vs
	vs.mu.Lock()
	if _, err := vs.lookup(qualifier); err != nil {
		vs.mu.Unlock()
		return err
	}
	isAlias := qualifier[0] < '0' || qualifier[0] > '9'
	if isAlias && (*vs.aliases.Load())[qualifier].latest {
		vs.mu.Unlock()
		return invalidConfig("Provisioned Concurrency Configs cannot be applied to unpublished function versions: alias %s of function %s points to $LATEST", qualifier, f.name)
	}
	if maxC := vs.latest.Load().cfg.MaxConcurrency; n < 0 || n > maxC {
		vs.mu.Unlock()
		return invalidConfig("function %s: provisioned concurrency %d: want 0 to MaxConcurrency (%d)", f.name, n, maxC)
	}
	m := &vs.pcVersion
	if isAlias {
		m = &vs.pcAlias
	}
	if *m == nil {
		*m = map[string]int{}
	}
	if n == 0 {
		delete(*m, qualifier)
	} else {
		(*m)[qualifier] = n
	}
	changed := vs.provisionLocked(false)
	vs.mu.Unlock()
	for _, v := range changed {
		if err := v.warm(ctx); err != nil {
			return err
		}
	}
	return nil
}

// provisionLocked sets each published version's MinWarm to its
// provisioned concurrency, its own and its aliases' shares, and returns
// the versions whose MinWarm grew. With background, their pools warm up in
// the background; otherwise the caller warms them.
func (vs *versions) provisionLocked(background bool) []*Function {
	want := map[*Function]int{}
	pub := *vs.published.Load()
	for q, n := range vs.pcVersion {
		if i, err := strconv.Atoi(q); err == nil && i >= 1 && i <= len(pub) {
			want[pub[i-1]] += n
		}
	}
	for name, n := range vs.pcAlias {
		a := (*vs.aliases.Load())[name]
		if a == nil || a.latest {
			continue
		}
		second := 0
		if a.secondary != nil {
			second = int(math.Round(float64(n) * a.weight))
			want[a.secondary] += second
		}
		want[a.primary] += n - second
	}
	var grew []*Function
	for _, v := range pub {
		p := v.pool
		p.mu.Lock()
		if want[v] > p.minWarm {
			grew = append(grew, v)
		}
		p.minWarm = want[v]
		if background {
			p.replenishLocked()
		}
		p.armJanitorLocked()
		p.mu.Unlock()
	}
	return grew
}

// warm initialises v's sandboxes up to its MinWarm, and returns once they
// are.
func (v *Function) warm(ctx context.Context) error {
	p := v.pool
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return serviceError(ErrClosed, "Function not found: %s (closed)", v.arn)
		}
		if p.numOpen >= p.minWarm {
			p.mu.Unlock()
			return nil
		}
		p.numOpen++
		p.creating++
		p.mu.Unlock()
		sb, err := p.create(ctx, true)
		p.mu.Lock()
		p.creating--
		if err != nil {
			p.numOpen--
			p.checkDrainedLocked()
			p.mu.Unlock()
			return err
		}
		if p.closed {
			p.numOpen--
			delete(p.all, sb)
			p.checkDrainedLocked()
			p.mu.Unlock()
			sb.close()
			return serviceError(ErrClosed, "Function not found: %s (closed)", v.arn)
		}
		p.putIdleLocked(sb)
		p.mu.Unlock()
	}
}
