package lambda

import (
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/wasmlambda/lambda/internal/lazyregexp"
)

// Alias is a name for a version of a function, as AWS Lambda's alias: it
// points to one version, or to two, sending a share of the invocations to
// the second (AWS's routing configuration, used for canary deployments).
// Invoke it with WithQualifier(name); attach triggers and point
// destinations to it to follow it as it moves.
type Alias struct {
	// Name is 1 to 128 letters, digits, hyphens and underscores, not all
	// digits, and not "$LATEST".
	Name string
	// FunctionVersion is the version the alias points to: a published
	// version's number, or "$LATEST". Not another alias.
	FunctionVersion string
	// AdditionalVersionWeights sends a share of the invocations, from 0.0
	// to 1.0, to a second published version: at most one entry, as on
	// AWS, and none when FunctionVersion is "$LATEST". Default none.
	AdditionalVersionWeights map[string]float64
	// Description is free text.
	Description string
}

// alias is an alias resolved: the incarnations it routes to. It never
// changes; moving the alias publishes a new one.
type alias struct {
	cfg       Alias
	latest    bool      // it points to $LATEST, whichever incarnation serves
	primary   *Function // when not latest
	secondary *Function // nil: no routing
	weight    float64
}

// route picks the incarnation of one invocation.
func (a *alias) route(vs *versions) *Function {
	if a.secondary != nil && rand.Float64() < a.weight {
		return a.secondary
	}
	if a.latest {
		return vs.latest.Load()
	}
	return a.primary
}

var (
	aliasNameRE = lazyregexp.New(`^[a-zA-Z0-9_-]{1,128}$`)
	allDigitsRE = lazyregexp.New(`^[0-9]+$`)
)

// newAlias validates a and resolves it, with AWS's errors.
func (vs *versions) newAlias(a Alias) (*alias, error) {
	f := vs.f
	if !aliasNameRE.MatchString(a.Name) || allDigitsRE.MatchString(a.Name) {
		return nil, validationError("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)", a.Name)
	}
	resolve := func(field, version string) (*Function, error) {
		if version != LatestVersion && !allDigitsRE.MatchString(version) {
			msg := "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)"
			if _, ok := (*vs.aliases.Load())[version]; ok {
				msg += ": %[1]s is an alias, and an alias points to a version, not to another alias"
			}
			return nil, validationError(msg, version, field)
		}
		if version == LatestVersion {
			return nil, nil
		}
		return vs.lookup(version)
	}
	out := &alias{cfg: a}
	out.cfg.AdditionalVersionWeights = maps.Clone(a.AdditionalVersionWeights)
	primary, err := resolve("functionVersion", a.FunctionVersion)
	if err != nil {
		return nil, err
	}
	out.latest, out.primary = primary == nil, primary
	switch n := len(a.AdditionalVersionWeights); {
	case n == 0:
		return out, nil
	case n > 1:
		return nil, invalidConfig("Number of items in AdditionalVersionWeights exceeds the maximum of 1: alias %s of function %s routes to at most two versions", a.Name, f.name)
	}
	if a.FunctionVersion == LatestVersion {
		return nil, invalidConfig("$LATEST is not supported for an alias pointing to more than 1 version")
	}
	version := slices.Collect(maps.Keys(a.AdditionalVersionWeights))[0]
	w := a.AdditionalVersionWeights[version]
	if !(w >= 0 && w <= 1) {
		return nil, validationError("1 validation error detected: Value '%v' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]", w)
	}
	if version == LatestVersion {
		return nil, invalidConfig("$LATEST is not supported for an alias pointing to more than 1 version")
	}
	if version == a.FunctionVersion {
		return nil, invalidConfig("Invalid function version %s. Function version %s is already included in routing configuration.", version, version)
	}
	if out.secondary, err = resolve("routingConfig.additionalVersionWeights", version); err != nil {
		return nil, err
	}
	out.weight = w
	return out, nil
}

// CreateAlias creates an alias of the function, as AWS's CreateAlias.
//
// # Errors
//
//   - ErrValidation (ValidationException): a name outside AWS's pattern,
//     or a FunctionVersion that is neither "$LATEST" nor a number, such as
//     another alias's name; a weight outside 0.0 to 1.0.
//   - ErrInvalidConfig (InvalidParameterValueException): weights with
//     "$LATEST", more than one additional version, or the same version
//     twice.
//   - ErrNotFound (ResourceNotFoundException): a version that does not
//     exist.
//   - ErrConflict (ResourceConflictException): the alias exists already.
//   - ErrClosed: the function is closing.
func (f *Function) CreateAlias(a Alias) error {
	return f.vs.putAlias(a, true)
}

// UpdateAlias moves an alias, atomically: each invocation routes by the
// alias as it was before the call or as it is after, never by a mix, and
// invocations in flight finish where they are. a replaces the alias
// whole: its FunctionVersion is required, and nil weights remove the
// routing. Its errors are CreateAlias's, and ErrNotFound for an alias that
// does not exist.
func (f *Function) UpdateAlias(a Alias) error {
	return f.vs.putAlias(a, false)
}

func (vs *versions) putAlias(a Alias, create bool) error {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.closed.Load() {
		return serviceError(ErrClosed, "Function not found: %s (closed)", vs.f.arn)
	}
	al, err := vs.newAlias(a)
	if err != nil {
		return err
	}
	old := *vs.aliases.Load()
	_, exists := old[a.Name]
	switch {
	case create && exists:
		return serviceError(ErrConflict, "Alias already exists: %s:%s", vs.f.arn, a.Name)
	case !create && !exists:
		return serviceError(ErrNotFound, "Alias not found: %s:%s", vs.f.arn, a.Name)
	}
	if al.latest && vs.pcAlias[a.Name] > 0 {
		return invalidConfig("Provisioned Concurrency Configs cannot be applied to unpublished function versions: alias %s of function %s has provisioned concurrency; remove it before pointing the alias to $LATEST", a.Name, vs.f.name)
	}
	next := maps.Clone(old)
	next[a.Name] = al
	vs.multi.Store(true)
	vs.aliases.Store(&next)
	if vs.pcAlias[a.Name] > 0 {
		vs.provisionLocked(true) // it follows the alias
	}
	return nil
}

// DeleteAlias deletes an alias, and the asynchronous configuration and
// provisioned concurrency put for it. Triggers and destinations that target it fail from then on with
// ErrNotFound.
func (f *Function) DeleteAlias(name string) error {
	vs := f.vs
	vs.mu.Lock()
	defer vs.mu.Unlock()
	old := *vs.aliases.Load()
	if _, ok := old[name]; !ok {
		return serviceError(ErrNotFound, "Alias not found: %s:%s", f.arn, name)
	}
	next := maps.Clone(old)
	delete(next, name)
	vs.aliases.Store(&next)
	f.async.setEventConfig(name, nil) // its asynchronous configuration goes with it
	if vs.pcAlias[name] > 0 {
		delete(vs.pcAlias, name) // and its provisioned concurrency
		vs.provisionLocked(true)
	}
	return nil
}

// GetAlias returns an alias, or ErrNotFound.
func (f *Function) GetAlias(name string) (Alias, error) {
	a := (*f.vs.aliases.Load())[name]
	if a == nil {
		return Alias{}, serviceError(ErrNotFound, "Alias not found: %s:%s", f.arn, name)
	}
	out := a.cfg
	out.AdditionalVersionWeights = maps.Clone(out.AdditionalVersionWeights)
	return out, nil
}

// Aliases returns the function's aliases, sorted by name.
func (f *Function) Aliases() []Alias {
	m := *f.vs.aliases.Load()
	out := make([]Alias, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		a, _ := f.GetAlias(name)
		out = append(out, a)
	}
	return out
}
