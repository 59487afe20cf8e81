package guest

import "github.com/wasmlambda/lambda/internal/abi"

// ServeForTest serves one request with h as the reactor serves a
// registered handler.
func ServeForTest(h Handler, req *abi.Request) (abi.Status, []byte) { return serve(h, req) }

// RunShutdownHooksForTest runs the callbacks of WithEnableSIGTERM as the
// shutdown export does.
func RunShutdownHooksForTest() { runShutdownHooks() }
