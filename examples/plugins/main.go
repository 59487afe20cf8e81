// Command plugins is a host application that runs third-party plugins: it
// loads every .wasm file in a directory as a plugin, grants each the
// capabilities its manifest declares (of those the host offers), gives them
// one host function of its own, kv.get, a per-tenant key-value lookup, and
// calls each under limits. One plugin runs an endless loop, and grows its
// memory without end; another imports a host function it did not declare.
// Both are contained, and the others keep working.
//
//	go run ./examples/plugins
//
// With -dir DIR it loads the plugins in DIR, each NAME.wasm with its
// manifest NAME.json beside it, instead of building the example's own from
// src/.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	lambda "github.com/wasmlambda/lambda"
)

func main() {
	dir := flag.String("dir", "", "load the plugins in this directory (default: build the example's own)")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, slog.New(slog.NewTextHandler(os.Stderr, nil)), *dir); err != nil {
		log.Fatal(err)
	}
}

// The limits every plugin runs under.
const (
	pluginTimeout     = 2 * time.Second
	pluginMemoryMB    = 128
	pluginConcurrency = 4
)

// offered are the capabilities this host grants a plugin that declares
// them: its own module kv, and the runtime's log.
var offered = []string{"kv", lambda.CapabilityLog}

// manifest is what a plugin declares, in NAME.json beside NAME.wasm.
type manifest struct {
	Capabilities []string `json:"capabilities"`
}

// tenantKey carries the tenant a plugin is called for, in the invocation's
// context, to kv.get.
type tenantKey struct{}

// store is kv's data, by tenant.
var store = map[string]map[string]string{
	"acme":   {"greeting": "Bonjour"},
	"globex": {"greeting": "Hello"},
}

// kvModule is the host's own module: kv.get returns the value of a key for
// the tenant of the call, which it finds in the invocation's context.
func kvModule(logger *slog.Logger) *lambda.HostModule {
	return lambda.NewHostModule("kv").Func("get", func(ctx context.Context, key []byte) ([]byte, error) {
		tenant, _ := ctx.Value(tenantKey{}).(string)
		inv, _ := lambda.InvocationFromContext(ctx)
		logger.Info("kv.get", "plugin", inv.FunctionName, "request_id", inv.RequestID, "tenant", tenant, "key", string(key))
		v, ok := store[tenant][string(key)]
		if !ok {
			return nil, fmt.Errorf("kv: tenant %q has no key %q", tenant, key)
		}
		return []byte(v), nil
	})
}

// run loads the plugins and calls them.
func run(ctx context.Context, out io.Writer, logger *slog.Logger, dir string) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "plugins")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := buildPlugins(ctx, tmp); err != nil {
			return err
		}
		dir = tmp
	}
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	rt, err := lambda.New(lambda.Options{
		Logger:      logger,
		CacheDir:    filepath.Join(cacheDir, "wasmlambda"),
		HostModules: []*lambda.HostModule{kvModule(logger)},
	})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)

	plugins, err := load(ctx, out, rt, dir)
	if err != nil {
		return err
	}
	call := func(name, tenant, event string) string {
		fn := plugins[name]
		if fn == nil {
			return "not loaded"
		}
		res, err := fn.Invoke(context.WithValue(ctx, tenantKey{}, tenant), []byte(event))
		var fe *lambda.FunctionError
		switch {
		case errors.As(err, &fe):
			return "failed: " + fe.Type
		case err != nil:
			return "failed: " + err.Error()
		}
		return string(res)
	}

	// The rogue spins, and grows, while the others serve.
	var wg sync.WaitGroup
	var loop, grow string
	wg.Add(2)
	go func() { defer wg.Done(); loop = call("rogue", "acme", `{"op":"loop"}`) }()
	go func() { defer wg.Done(); grow = call("rogue", "acme", `{"op":"grow"}`) }()
	fmt.Fprintf(out, "greet for acme: %s\n", call("greet", "acme", `{"name":"Ada"}`))
	fmt.Fprintf(out, "greet for globex: %s\n", call("greet", "globex", `{"name":"Ada"}`))
	fmt.Fprintf(out, "greet for initech: %s\n", call("greet", "initech", `{"name":"Ada"}`))
	fmt.Fprintf(out, "wordcount: %s\n", call("wordcount", "acme", `{"text":"the quick brown fox"}`))
	wg.Wait()
	fmt.Fprintf(out, "rogue loop: %s\n", loop)
	fmt.Fprintf(out, "rogue grow: %s\n", grow)

	// The rogue's sandboxes are gone; a new one serves it, and the others
	// are as they were.
	fmt.Fprintf(out, "rogue hello: %s\n", call("rogue", "globex", `{"op":"hello"}`))
	fmt.Fprintf(out, "greet for acme: %s\n", call("greet", "acme", `{"name":"Grace"}`))
	fmt.Fprintf(out, "wordcount: %s\n", call("wordcount", "acme", `{"text":"still counting"}`))
	for _, name := range slices.Sorted(maps.Keys(plugins)) {
		s := plugins[name].Stats()
		fmt.Fprintf(out, "%s: %d invocations, %d sandboxes discarded\n", name, s.Invocations, s.Discarded)
	}
	return nil
}

// load deploys every NAME.wasm in dir, with the capabilities its manifest
// NAME.json declares, and reports each on out. A plugin that does not
// deploy is reported, and left out.
func load(ctx context.Context, out io.Writer, rt *lambda.Runtime, dir string) (map[string]*lambda.Function, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	plugins := map[string]*lambda.Function{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".wasm")
		fn, err := deploy(ctx, rt, name, file)
		if err != nil {
			fmt.Fprintf(out, "plugin %s: refused: %v\n", name, err)
			continue
		}
		granted := "nothing"
		if caps := fn.Config().Capabilities; len(caps) > 0 {
			granted = strings.Join(caps, ", ")
		}
		fmt.Fprintf(out, "plugin %s: loaded, granted %s\n", name, granted)
		plugins[name] = fn
	}
	return plugins, nil
}

// deploy deploys one plugin under the host's limits, granted what its
// manifest declares and nothing else.
func deploy(ctx context.Context, rt *lambda.Runtime, name, file string) (*lambda.Function, error) {
	var m manifest
	b, err := os.ReadFile(strings.TrimSuffix(file, ".wasm") + ".json")
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	for _, c := range m.Capabilities {
		if !slices.Contains(offered, c) {
			return nil, fmt.Errorf("it declares the capability %q, which this host does not offer", c)
		}
	}
	return rt.Deploy(ctx, lambda.FunctionConfig{
		Name:           name,
		CodePath:       file,
		Timeout:        pluginTimeout,
		MemorySize:     pluginMemoryMB,
		MaxConcurrency: pluginConcurrency,
		Capabilities:   m.Capabilities,
	})
}

// buildPlugins compiles each plugin of src/ to DIR/NAME.wasm with the Go
// toolchain, and copies its manifest to DIR/NAME.json.
func buildPlugins(ctx context.Context, dir string) error {
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "src")
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", filepath.Join(dir, name+".wasm"), ".")
		cmd.Dir = filepath.Join(src, name)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build plugin %s: %v\n%s", name, err, out)
		}
		m, err := os.ReadFile(filepath.Join(src, name, "plugin.json"))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), m, 0o644); err != nil {
			return err
		}
	}
	return nil
}
