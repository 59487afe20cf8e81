//go:build wasip1

// Command greet is a well-behaved plugin: it greets by name, in the
// caller's tenant's words, which it looks up with the host's kv.get, and
// logs through the host. It declares, in plugin.json, the capabilities kv
// and wasmlambda_log.
package main

import (
	"context"
	"log/slog"

	"github.com/wasmlambda/lambda/guest"
)

//go:wasmimport kv get
func kvGet(in *byte, inLen uint32, out *byte, outCap uint32, outLen *uint32) uint32

var logger = slog.New(guest.NewLogHandler(nil))

type request struct {
	Name string `json:"name"`
}

func handler(_ context.Context, req request) (string, error) {
	greeting, err := guest.CallHost(kvGet, []byte("greeting"))
	if err != nil {
		logger.Warn("no greeting", "error", err)
		greeting = []byte("Hello")
	}
	logger.Info("greeted", "name", req.Name)
	return string(greeting) + ", " + req.Name + "!", nil
}

func init() { guest.Start(handler) }

func main() {}
