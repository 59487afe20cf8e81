package wasm

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRewriteMemo checks that the memo gives exactly what a rewrite gives,
// shares one output for the same code, and keeps to its bounds.
func TestRewriteMemo(t *testing.T) {
	mods := make([][]byte, 4)
	for i := range mods {
		// Valid modules that differ: an exported function returning i.
		mods[i] = []byte("\x00asm\x01\x00\x00\x00" +
			"\x01\x05\x01\x60\x00\x01\x7f" + // type: () -> i32
			"\x03\x02\x01\x00" + // func 0 of type 0
			"\x07\x05\x01\x01f\x00\x00" + // export "f"
			"\x0a\x06\x01\x04\x00\x41" + string(rune('0'+i)) + "\x0b") // i32.const, end
	}
	want, err := instrument(mods[0])
	require.NoError(t, err)

	c := &rewriteMemo{maxEntries: 2, maxBytes: 1 << 20}
	got, err := c.instrument(mods[0], nil)
	require.NoError(t, err)
	require.Equal(t, want, got)
	again, err := c.instrument(bytes.Clone(mods[0]), nil)
	require.NoError(t, err)
	require.Same(t, &got[0], &again[0], "the same code shares the remembered output")
	require.Equal(t, len(again), cap(again), "an append by a caller cannot write into it")

	for _, m := range mods[1:] {
		_, err := c.instrument(m, nil)
		require.NoError(t, err)
	}
	require.Len(t, c.entries, 2, "at most maxEntries are kept")
	fresh, err := c.instrument(mods[0], nil)
	require.NoError(t, err)
	require.Equal(t, want, fresh)
	require.NotSame(t, &got[0], &fresh[0], "the oldest entry was dropped and rewritten again")

	small := &rewriteMemo{maxEntries: 8, maxBytes: len(want) - 1}
	_, err = small.instrument(mods[0], nil)
	require.NoError(t, err)
	require.Empty(t, small.entries, "an output over maxBytes is not kept")

	_, err = c.instrument([]byte("not wasm"), nil)
	require.Error(t, err)
	require.Len(t, c.entries, 2, "a failed rewrite is not remembered")
}
