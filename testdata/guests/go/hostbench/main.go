// Command hostbench is the benchmark guest of host functions: a
// guest.Handler, so that no JSON is decoded, whose event is "K:DATA". It
// calls the host function bench.echo K times with DATA and returns the last
// output, or DATA itself when K is 0.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hostbench.wasm ./testdata/guests/go/hostbench
package main

import (
	"bytes"
	"context"
	"errors"
	"strconv"

	"github.com/wasmlambda/lambda/guest"
)

//go:wasmimport bench echo
func echo(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

type handler struct{}

// Invoke calls bench.echo as the event says.
func (handler) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	k, data, ok := bytes.Cut(payload, []byte(":"))
	if !ok {
		return nil, errors.New(`want "K:DATA"`)
	}
	n, err := strconv.Atoi(string(k))
	if err != nil {
		return nil, err
	}
	out := data
	for range n {
		if out, err = guest.CallHost(echo, data); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func init() { guest.Start(handler{}) }

func main() {}
