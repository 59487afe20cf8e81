package lazyregexp

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRegexp(t *testing.T) {
	r := New(`^[a-z]{1,3}$`)
	require.Nil(t, r.rx, "not compiled before its first use")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.True(t, r.MatchString("abc"))
			require.False(t, r.MatchString("abcd"))
		}()
	}
	wg.Wait()
	require.Equal(t, "x-y", New(`[^a-z]+`).ReplaceAllString("x, y", "-"))
	require.Equal(t, `^[a-z]{1,3}$`, r.String())
	require.Panics(t, func() { New(`(`).MatchString("") })
}
