// bytes echoes its event unchanged, without decoding it: a guest.Handler
// rather than a typed function, so the benchmarks can tell the runtime's
// cost from encoding/json's.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bytes.wasm ./testdata/guests/go/bytes
package main

import (
	"context"

	"github.com/wasmlambda/lambda/guest"
)

type echo struct{}

// Invoke returns the payload as it came.
func (echo) Invoke(_ context.Context, payload []byte) ([]byte, error) { return payload, nil }

func init() { guest.Start(echo{}) }

func main() {}
