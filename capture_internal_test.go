package lambda

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCaptureSeesOutOfMemory: the out-of-memory message is found on stderr
// wherever the writes cut it and however much follows it, and only there.
func TestCaptureSeesOutOfMemory(t *testing.T) {
	dump := strings.Repeat("goroutine 1 [running]:\n\tmain.f(...)\n", 100)
	for _, logging := range []bool{false, true} {
		for _, msg := range []string{"fatal error: out of memory", "runtime: out of memory: cannot allocate 8388608-byte block"} {
			text := "runtime: some noise\n" + msg + "\n" + dump
			for size := 1; size <= len(msg)+1; size++ {
				c := newCapture(64, logging)
				w := c.stream(streamStderr)
				for s := text; len(s) > 0; s = s[min(size, len(s)):] {
					_, _ = w.Write([]byte(s[:min(size, len(s))]))
				}
				require.True(t, c.oom, "%q in writes of %d bytes", msg, size)
				c.newInvocation()
				require.False(t, c.oom, "forgotten at the next invocation")
			}
		}
	}
	tests := map[string]func(c *capture){
		"on stdout": func(c *capture) { _, _ = c.stream(streamStdout).Write([]byte("fatal error: out of memory\n")) },
		"other text": func(c *capture) {
			_, _ = c.stream(streamStderr).Write([]byte("fatal error: out of range\nout of memory?\n"))
		},
		"cut by an invocation": func(c *capture) {
			_, _ = c.stream(streamStderr).Write([]byte("fatal error: out of"))
			c.newInvocation()
			_, _ = c.stream(streamStderr).Write([]byte(" memory\n"))
		},
	}
	for name, write := range tests {
		t.Run(name, func(t *testing.T) {
			c := newCapture(1<<10, true)
			write(c)
			require.False(t, c.oom)
		})
	}
}
