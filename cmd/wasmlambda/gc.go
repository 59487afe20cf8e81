package main

import (
	"os"
	"runtime/debug"
)

// oneShotMemoryLimit is how large the Go heap of a one-shot command may
// grow before the garbage collector runs: see pauseGC.
const oneShotMemoryLimit = 256 << 20

// pauseGC turns the garbage collector off for a command that runs once and
// exits, such as invoke, and returns the function that turns it back on.
//
// Such a process is short-lived: it deploys one module, invokes it once and
// exits, which gives all its memory back at once. The deploy, even from the
// compilation cache, allocates tens of megabytes that are garbage within
// tens of milliseconds (wazero decodes and validates the whole module
// before it finds its compiled code), and collections during it cost CPU
// time, a tenth of the whole process, and free nothing it still needs.
// The memory limit is the backstop: once the heap reaches
// oneShotMemoryLimit (a far larger module, or a long invocation whose host
// calls allocate), the collector runs as it must to stay under it.
//
// GOGC or GOMEMLIMIT in the environment is the user's choice, and pauseGC
// then leaves the collector as they set it.
func pauseGC() (resume func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := debug.SetMemoryLimit(oneShotMemoryLimit)
	percent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
