// Command precompile compiles guest modules into a compilation cache
// directory exactly as the runtime compiles them (the same rewrite, the same
// wazero configuration), so that a later Deploy of the same code loads it from
// the cache.
//
// The tests use it through package testguest: a test binary built with -race
// compiles a Go guest in about 12 s, where this command, built without it,
// takes about a second.
//
//	go run ./internal/testguest/precompile -cache DIR GUEST.wasm...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/wasmlambda/lambda/internal/wasm"
)

func main() {
	dir := flag.String("cache", "", "the compilation cache directory (required)")
	flag.Parse()
	if *dir == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: precompile -cache DIR GUEST.wasm...")
		os.Exit(2)
	}
	if err := run(context.Background(), *dir, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "precompile:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string, paths []string) error {
	cache, err := wasm.NewCache(dir, 0)
	if err != nil {
		return err
	}
	defer cache.Close(ctx)
	for _, p := range paths {
		code, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		// The memory limit is runtime configuration, not part of the
		// compiled code: any valid one fills the same cache entry.
		m, err := wasm.Compile(ctx, wasm.Config{Code: code, MemoryLimitPages: 128 << 20 / wasm.PageSize, Cache: cache})
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := m.Close(ctx); err != nil {
			return err
		}
	}
	return nil
}
