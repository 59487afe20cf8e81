// badinit registers a handler with an invalid signature, so that its
// _initialize fails: the host must refuse it with the SDK's message.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o badinit.wasm ./testdata/guests/go/badinit
package main

import "github.com/wasmlambda/lambda/guest"

func init() { guest.Start(func(a, b, c int) {}) }

func main() {}
