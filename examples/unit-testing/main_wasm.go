//go:build wasip1

package main

import "github.com/wasmlambda/lambda/guest"

// On wasmlambda the program is a reactor (-buildmode=c-shared), which never
// runs main: the guest SDK registers Handle from init.
func init() { guest.Start(Handle) }

func main() {}
