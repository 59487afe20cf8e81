package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlugins(t *testing.T) {
	var out, logs bytes.Buffer
	require.NoError(t, run(context.Background(), &out, slog.New(slog.NewTextHandler(&logs, nil)), ""))
	require.Equal(t, `plugin greet: loaded, granted kv, wasmlambda_log
plugin rogue: loaded, granted kv
plugin sneaky: refused: InvalidParameterValueException: function sneaky: import kv.get needs the capability "kv", which FunctionConfig.Capabilities does not grant
plugin wordcount: loaded, granted nothing
greet for acme: "Bonjour, Ada!"
greet for globex: "Hello, Ada!"
greet for initech: "Hello, Ada!"
wordcount: {"words":4}
rogue loop: failed: Sandbox.Timedout
rogue grow: failed: Runtime.OutOfMemory
rogue hello: "Hello from rogue, after 0 MiB held"
greet for acme: "Bonjour, Grace!"
wordcount: {"words":2}
greet: 4 invocations, 0 sandboxes discarded
rogue: 3 invocations, 2 sandboxes discarded
wordcount: 2 invocations, 0 sandboxes discarded
`, out.String())
	require.Contains(t, logs.String(), "msg=kv.get plugin=greet")
	require.Contains(t, logs.String(), "tenant=initech key=greeting")
	require.Contains(t, logs.String(), `msg="no greeting" function=greet`)
	require.Contains(t, logs.String(), `error="kv: tenant \"initech\" has no key \"greeting\""`)
}
