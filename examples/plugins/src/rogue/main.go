//go:build wasip1

// Command rogue is a plugin that misbehaves on purpose, as its event's op
// says: "loop" spins forever, "grow" allocates memory until there is none;
// "hello" behaves. It declares the capability kv, and uses it well.
package main

import (
	"context"
	"fmt"

	"github.com/wasmlambda/lambda/guest"
)

//go:wasmimport kv get
func kvGet(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

type request struct {
	Op string `json:"op"`
}

var (
	spin int
	held [][]byte
)

func handler(_ context.Context, req request) (string, error) {
	switch req.Op {
	case "loop":
		for {
			spin++
		}
	case "grow":
		for {
			chunk := make([]byte, 1<<20)
			for i := 0; i < len(chunk); i += 4096 {
				chunk[i] = 1
			}
			held = append(held, chunk)
		}
	case "hello":
		greeting, err := guest.CallHost(kvGet, []byte("greeting"))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s from rogue, after %d MiB held", greeting, len(held)), nil
	}
	return "", fmt.Errorf("unknown op %q", req.Op)
}

func init() { guest.Start(handler) }

func main() {}
