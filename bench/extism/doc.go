// Package extism compares the cost of a host-function round trip through
// wasmlambda with the same through Extism's go-sdk, in its own module so
// that the core module does not depend on Extism. Its benchmark is
// BenchmarkRoundTrip; docs/PERFORMANCE.md quotes it.
package extism
