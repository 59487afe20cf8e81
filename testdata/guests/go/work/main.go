// work runs CPU-bound workloads, to measure what deadline enforcement costs
// compiled Go (bench_fuel_test.go); the C guest testdata/guests/c/work.c
// does the same. The event is a JSON string "OP N", and the response the
// JSON number the work computes:
//
//   - "loop N": a loop of N iterations with nothing else in it
//   - "fib N": the N-th Fibonacci number, by naive recursion
//   - "sha256 N": crypto/sha256 of a 64 KiB buffer, N times over (each round
//     hashes the previous digest and the buffer); the first byte of it
//   - "sort N": slices.Sort of N pseudo-random integers; their checksum
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o work.wasm ./testdata/guests/go/work
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/wasmlambda/lambda/guest"
)

type work struct{}

//go:noinline
func spin(n int) int {
	i := 0
	for i < n {
		i++
	}
	return i
}

//go:noinline
func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

var buf = make([]byte, 64<<10)

func hash(n int) int {
	for i := range buf {
		buf[i] = byte(i * 131)
	}
	var sum [sha256.Size]byte
	for range n {
		copy(buf, sum[:])
		sum = sha256.Sum256(buf)
	}
	return int(sum[0])
}

func sortInts(n int) int {
	s := make([]uint32, n)
	x := uint32(2463534242)
	for i := range s {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		s[i] = x
	}
	slices.Sort(s)
	sum := uint32(0)
	for _, v := range s {
		sum = sum*31 + v
	}
	return int(sum)
}

// Invoke runs the workload the event names.
func (work) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	op, arg, ok := strings.Cut(strings.Trim(string(payload), `"`), " ")
	n, err := strconv.Atoi(arg)
	if !ok || err != nil {
		return nil, errors.New("bad event")
	}
	var v int
	switch op {
	case "loop":
		v = spin(n)
	case "fib":
		v = fib(n)
	case "sha256":
		v = hash(n)
	case "sort":
		v = sortInts(n)
	default:
		return nil, errors.New("bad event")
	}
	return strconv.AppendInt(nil, int64(v), 10), nil
}

func init() { guest.Start(work{}) }

func main() {}
