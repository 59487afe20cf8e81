package main

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/testguest"
	"github.com/wasmlambda/lambda/lambdatest"
)

// writeZip writes a zip of files (name to content) and returns its path.
func writeZip(t *testing.T, dir, name string, files map[string][]byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	for n, b := range files {
		w, err := zw.Create(n)
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	return path
}

var reportLineRE = regexp.MustCompile(`(?m)^REPORT RequestId: [0-9a-f-]{36}\tDuration: [0-9]+\.[0-9]{2} ms\tBilled Duration: [0-9]+ ms\tMemory Size: 128 MB\tMax Memory Used: [0-9]+ MB`)

func TestInvoke(t *testing.T) {
	behave := guestFile(t, "behave")
	echo := guestFile(t, "echo")
	dir := t.TempDir()
	layer := filepath.Join(dir, "layer")
	writeFile(t, layer, "greeting.txt", "hello from a layer")
	layerZip := writeZip(t, dir, "layer.zip", map[string][]byte{"etc/conf.txt": []byte("from a zip")})
	data := filepath.Join(dir, "data")
	writeFile(t, data, "in.txt", "mounted")
	wasm, err := os.ReadFile(behave)
	require.NoError(t, err)
	pkg := writeZip(t, dir, "function.zip", map[string][]byte{"bootstrap": wasm, "config.json": []byte(`{"k":1}`)})
	eventFile := writeFile(t, dir, "event.json", `{"op": "log", "lines": 2}`)

	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout string // exactly, when set
		wantJSON   func(t *testing.T, v map[string]any)
		wantStderr []string // each contained
		wantReport bool
	}{{
		name:       "an event file: the result, the function's logs and the REPORT line",
		args:       []string{"invoke", behave, "-e", eventFile},
		wantStdout: `{"lines":2}` + "\n",
		wantStderr: []string{"START RequestId: ", "Version: $LATEST\n", "\nline 1\n", "\nerr 2\n", "\nEND RequestId: "},
		wantReport: true,
	}, {
		name:       "the event on standard input",
		args:       []string{"invoke", behave, "--event", "-"},
		stdin:      `{"op": "echo", "data": {"a": [1, 2]}}`,
		wantStdout: `{"a":[1,2]}` + "\n",
		wantReport: true,
	}, {
		name:       "no event is {}",
		args:       []string{"invoke", echo},
		wantStdout: "{}\n",
		wantReport: true,
	}, {
		name:  "memory, timeout and environment",
		args:  []string{"invoke", behave, "--memory", "256", "--timeout", "10", "--env", "GREETING=hi", "--env", "MODE=test", "--name", "ctx-fn", "-e", "-"},
		stdin: `{"op": "context"}`,
		wantJSON: func(t *testing.T, v map[string]any) {
			require.EqualValues(t, 256, v["memory_limit_mb"])
			require.Equal(t, "ctx-fn", v["function_name"])
			require.Contains(t, v["env"], "GREETING=hi")
			require.Contains(t, v["env"], "MODE=test")
			require.Greater(t, v["remaining_ms"], 3000.0, "the timeout is 10 s, not the default 3 s")
		},
		wantStderr: []string{"Memory Size: 256 MB"},
	}, {
		name:       "a layer directory, under /opt",
		args:       []string{"invoke", behave, "--layer", layer, "-e", "-"},
		stdin:      `{"op": "read", "path": "/opt/greeting.txt"}`,
		wantStdout: `{"data":"hello from a layer"}` + "\n",
	}, {
		name:       "layers in order: a directory and a zip",
		args:       []string{"invoke", behave, "-l", layer, "-l", layerZip, "-e", "-"},
		stdin:      `{"op": "read", "path": "/opt/etc/conf.txt"}`,
		wantStdout: `{"data":"from a zip"}` + "\n",
	}, {
		name:       "a mount, read-only",
		args:       []string{"invoke", behave, "--mount", data + ":/mnt/data", "-e", "-"},
		stdin:      `{"op": "write", "path": "/mnt/data/out.txt", "text": "x"}`,
		wantCode:   exitFunctionError,
		wantStderr: []string{"open /mnt/data/out.txt: Read-only file system"},
	}, {
		name:       "a zip package, its files under /var/task",
		args:       []string{"invoke", pkg, "-e", "-"},
		stdin:      `{"op": "read", "path": "/var/task/config.json"}`,
		wantStdout: `{"data":"{\"k\":1}"}` + "\n",
	}, {
		name:       "a function error: AWS's error JSON, exit status 1",
		args:       []string{"invoke", behave, "-e", "-"},
		stdin:      `{"op": "error", "message": "boom"}`,
		wantCode:   exitFunctionError,
		wantStdout: `{"errorMessage":"boom","errorType":"errorString"}` + "\n",
		// The error the function returned is logged; REPORT, as AWS's,
		// says nothing of it and ends with a tab.
		wantStderr: []string{`{"errorMessage":"boom","errorType":"errorString"}` + "\nEND RequestId: ", " ms\t\n"},
		wantReport: true,
	}, {
		name:       "a timeout",
		args:       []string{"invoke", behave, "--timeout", "200ms", "-e", "-"},
		stdin:      `{"op": "sleep", "ms": 5000}`,
		wantCode:   exitFunctionError,
		wantStderr: []string{"Status: timeout", "Task timed out after 0.20 seconds"},
		wantJSON: func(t *testing.T, v map[string]any) {
			require.Equal(t, "Sandbox.Timedout", v["errorType"])
		},
	}, {
		name:       "quiet: the result only",
		args:       []string{"invoke", behave, "-q", "-e", eventFile},
		wantStdout: `{"lines":2}` + "\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, "", tt.stdin, append(tt.args, "--cache-dir", cacheDir())...)
			require.Equal(t, tt.wantCode, r.code, "%s", r)
			if tt.wantStdout != "" {
				require.Equal(t, tt.wantStdout, r.stdout, "%s", r)
			}
			if tt.wantJSON != nil {
				var v map[string]any
				require.NoError(t, json.Unmarshal([]byte(r.stdout), &v), "%s", r)
				tt.wantJSON(t, v)
			}
			for _, w := range tt.wantStderr {
				require.Contains(t, r.stderr, w, "%s", r)
			}
			if tt.wantReport {
				require.Regexp(t, reportLineRE, r.stderr)
			}
			if tt.wantStdout != "" && tt.wantStderr == nil && !tt.wantReport && !contains(tt.args, "-q") {
				require.Contains(t, r.stderr, "REPORT RequestId:")
			}
			if contains(tt.args, "-q") {
				require.Empty(t, r.stderr)
			}
		})
	}
}

// TestInvokeQuietUsesTheCache checks that invoke -q, which has no logger,
// deploys from the compilation cache that an invoke with logs filled, and
// the reverse: neither writes an entry the other wrote, in wazero's cache
// or in the cache of rewritten modules.
func TestInvokeQuietUsesTheCache(t *testing.T) {
	echo := guestFile(t, "echo")
	for _, order := range [][2]string{{"", "-q"}, {"-q", ""}} {
		t.Run(fmt.Sprintf("%q then %q", order[0], order[1]), func(t *testing.T) {
			dir := t.TempDir()
			invoke := func(flag string) {
				t.Helper()
				args := []string{"invoke", echo, "--cache-dir", dir}
				if flag != "" {
					args = append(args, flag)
				}
				r := cli(t, "", "", args...)
				require.Equal(t, 0, r.code, "%s", r)
				require.Equal(t, "{}\n", r.stdout)
			}
			invoke(order[0])
			first := cacheFiles(t, dir)
			require.NotEmpty(t, first)
			invoke(order[1])
			require.Equal(t, first, cacheFiles(t, dir), "the second invoke wrote to the cache")
		})
	}
}

// cacheFiles lists the files under dir, each with its size, modification
// time and inode: a file written again, even alike, shows as changed.
func cacheFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var ino uint64
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
		files[path] = fmt.Sprintf("%d bytes, %s, inode %d", info.Size(), info.ModTime().Format(time.RFC3339Nano), ino)
		return nil
	})
	require.NoError(t, err)
	return files
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// TestInvokeGoPackage invokes a Go handler package directory, built on the
// fly, with an event from generate-event: examples/unit-testing, the
// handler that also builds for AWS Lambda.
func TestInvokeGoPackage(t *testing.T) {
	dir := filepath.Join(testguest.Root(), "examples", "unit-testing")
	warmGoDir(t, dir)
	event := lambdatest.SQSEvent(lambdatest.SQSEventOptions{Messages: []lambdatest.SQSMessage{
		{Body: `{"id":"o-1","cents":250}`},
		{Body: `{"id":"o-2","cents":0}`, MessageID: "m-2"},
	}})
	r := cli(t, "", string(event), "invoke", dir, "-e", "-", "--cache-dir", cacheDir())
	require.Equal(t, 0, r.code, "%s", r)
	require.JSONEq(t, `{"batchItemFailures":[{"itemIdentifier":"m-2"}]}`, r.stdout)
	require.Contains(t, r.stderr, "order o-1 accepted: 250 cents\n")
	require.Contains(t, r.stderr, "order \"o-2\" rejected: 0 cents\n")
	require.Contains(t, r.stderr, "START RequestId: ")

	r = cli(t, "", `{"Records":[{"messageId":"m-1","body":"not json"}]}`, "invoke", dir, "-e", "-", "--cache-dir", cacheDir())
	require.Equal(t, exitFunctionError, r.code, "%s", r)
	require.Contains(t, r.stdout, `"errorType":"ValidationError"`)
}

func TestInvokeBadInput(t *testing.T) {
	behave := guestFile(t, "behave")
	dir := t.TempDir()
	text := writeFile(t, dir, "handler.txt", "hello, I am not wasm")
	empty := writeFile(t, dir, "empty.wasm", "")
	badWasm := writeFile(t, dir, "bad.wasm", "\x00asm\x01\x00\x00\x00\x01\xff")
	badEvent := writeFile(t, dir, "bad.json", "{\"op\": \"echo\",\n \"data\": }")
	twoEvents := writeFile(t, dir, "two.json", "{} {}")
	emptyEvent := writeFile(t, dir, "empty.json", "  \n")
	broken := filepath.Join(dir, "broken")
	writeFile(t, broken, "go.mod", "module broken\n\ngo 1.25\n")
	writeFile(t, broken, "main.go", "package main\n\nfunc main() { undefinedThing() }\n")

	tests := []struct {
		name  string
		args  []string
		want  []string
		stdin string
	}{
		{"a missing code file", []string{"invoke", filepath.Join(dir, "missing.wasm")}, []string{"code " + filepath.Join(dir, "missing.wasm") + ": no such file or directory"}, ""},
		{"a missing event file", []string{"invoke", behave, "-e", filepath.Join(dir, "missing.json")}, []string{"event " + filepath.Join(dir, "missing.json") + ": no such file or directory"}, ""},
		{"invalid event JSON", []string{"invoke", behave, "-e", badEvent}, []string{"event " + badEvent + ": not valid JSON: line 2, column 10: invalid character '}' looking for beginning of value"}, ""},
		{"two JSON values", []string{"invoke", behave, "-e", twoEvents}, []string{"not valid JSON: line 1, column 4: more than one JSON value"}, ""},
		{"an empty event", []string{"invoke", behave, "-e", emptyEvent}, []string{"event " + emptyEvent + ": empty: want a JSON event, such as {}"}, ""},
		{"invalid JSON on standard input", []string{"invoke", behave, "-e", "-"}, []string{"event standard input: not valid JSON: line 1, column 6: unexpected end of JSON input"}, `{"a":`},
		{"a file that is not wasm", []string{"invoke", text}, []string{"code " + text + `: not a wasm module or a zip (it begins "hello, I"); want a .wasm file, a zip or a Go package directory`}, ""},
		{"an empty code file", []string{"invoke", empty}, []string{"code " + empty + ": the file is empty"}, ""},
		{"malformed wasm", []string{"invoke", badWasm}, []string{"deploy " + badWasm + ": InvalidCodeException"}, ""},
		{"a Go package that does not compile", []string{"invoke", broken}, []string{"code " + broken + ": build ", "undefined: undefinedThing"}, ""},
		{"memory out of bounds", []string{"invoke", behave, "--memory", "64"}, []string{"InvalidParameterValueException", "MemorySize"}, ""},
		{"a memory that is no number", []string{"invoke", behave, "--memory", "lots"}, []string{`invalid argument "lots" for "-m, --memory"`}, ""},
		{"a bad timeout", []string{"invoke", behave, "--timeout", "soon"}, []string{`"soon" is not a duration`}, ""},
		{"a bad environment variable", []string{"invoke", behave, "--env", "NOVALUE"}, []string{`--env "NOVALUE": want KEY=VALUE`}, ""},
		{"a missing layer", []string{"invoke", behave, "--layer", filepath.Join(dir, "nolayer")}, []string{"layer " + filepath.Join(dir, "nolayer") + ": no such file or directory"}, ""},
		{"no code", []string{"invoke"}, []string{"invoke takes one CODE, a .wasm file, a zip or a Go package directory; got 0 arguments"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, "", tt.stdin, append(tt.args, "--cache-dir", cacheDir())...)
			require.Equal(t, exitError, r.code, "%s", r)
			require.Empty(t, r.stdout)
			require.Regexp(t, "^wasmlambda: ", r.stderr)
			for _, w := range tt.want {
				require.Contains(t, r.stderr, w, "%s", r)
			}
		})
	}
}
