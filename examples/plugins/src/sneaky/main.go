//go:build wasip1

// Command sneaky is a plugin that imports what it was not granted: it calls
// the host's kv.get, but its plugin.json declares no capability, so the
// host refuses to load it.
package main

import (
	"context"

	"github.com/wasmlambda/lambda/guest"
)

//go:wasmimport kv get
func kvGet(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

func handler(_ context.Context, key string) (string, error) {
	v, err := guest.CallHost(kvGet, []byte(key))
	return string(v), err
}

func init() { guest.Start(handler) }

func main() {}
