package wasm

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// applyData decodes an all-active data section and writes it, in order,
// into a fresh memory.
func applyData(t *testing.T, body []byte, size int) ([]byte, int) {
	t.Helper()
	mem := make([]byte, size)
	r := reader{b: body}
	n := r.count()
	for i := uint32(0); i < n; i++ {
		require.Equal(t, uint32(0), r.u32())
		require.Equal(t, byte(0x41), r.byte())
		off := uint32(r.s32())
		require.Equal(t, byte(0x0b), r.byte())
		data := r.bytes(int(r.u32()))
		copy(mem[off:], data)
	}
	require.NoError(t, r.err)
	require.Equal(t, len(body), r.off)
	return mem, int(n)
}

func TestCoalesceDataKeepsTheMemoryImage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		var segs []dataSegment
		off := uint32(rng.IntN(100))
		for i := rng.IntN(60); i >= 0; i-- {
			data := make([]byte, rng.IntN(300))
			for j := range data {
				data[j] = byte(1 + rng.IntN(255))
			}
			segs = append(segs, dataSegment{off, data})
			switch rng.IntN(4) {
			case 0: // overlap or go back
				off = uint32(max(0, int(off)-rng.IntN(400)))
			case 1: // a long gap
				off += uint32(len(data) + dataGap + 1 + rng.IntN(5000))
			default: // a short gap, or none
				off += uint32(len(data) + rng.IntN(200))
			}
		}
		body := encodeData(segs)
		merged := coalesceData(body)
		if merged == nil {
			continue
		}
		want, n := applyData(t, body, 1<<20)
		got, m := applyData(t, merged, 1<<20)
		require.Less(t, m, n)
		require.Equal(t, want, got, "trial %d", trial)
	}
}

func TestCoalesceDataMerges(t *testing.T) {
	segs := []dataSegment{{0, []byte("ab")}, {2, []byte("cd")}, {10, []byte("ef")}, {10 + 2 + dataGap + 1, []byte("far")}}
	merged := coalesceData(encodeData(segs))
	require.NotNil(t, merged)
	_, n := applyData(t, merged, 1<<16)
	require.Equal(t, 2, n)

	// A gap an earlier segment wrote into is not zero-filled.
	segs = []dataSegment{{5, []byte("XY")}, {0, []byte("ab")}, {8, []byte("cd")}}
	require.Nil(t, coalesceData(encodeData(segs)))

	// Nothing to merge: the section is kept.
	require.Nil(t, coalesceData(encodeData([]dataSegment{{0, []byte("a")}})))
}

func TestCoalesceDataLeavesOtherSegmentsAlone(t *testing.T) {
	for name, body := range map[string][]byte{
		"passive":          {2, 1, 2, 'a', 'b', 0, 0x41, 0, 0x0b, 1, 'c'},
		"explicit memory":  {2, 2, 0, 0x41, 0, 0x0b, 1, 'a', 0, 0x41, 1, 0x0b, 1, 'b'},
		"global offset":    {2, 0, 0x23, 0, 0x0b, 1, 'a', 0, 0x41, 1, 0x0b, 1, 'b'},
		"truncated":        {2, 0, 0x41, 0, 0x0b, 5, 'a'},
		"trailing garbage": {1, 0, 0x41, 0, 0x0b, 1, 'a', 0xff},
	} {
		require.Nil(t, coalesceData(body), name)
	}
}
