// Command behave is the Go test guest whose behaviour each event chooses:
// the event is {"op": OP, ...} with these ops and fields.
//
//	echo     returns field "data" as it is (null if absent)
//	counter  increments a package variable and returns it: 1, 2, 3, ... on a
//	         warm instance
//	error    returns errors.New(field "message"): errorType "errorString"
//	unnamed  returns an error of an unnamed type (a pointer to a struct
//	         literal) with the text of field "message": errorType ""
//	panic    panics with field "message": errorType "string", status 2
//	loop     spins forever
//	sleep    sleeps field "ms" milliseconds, returns {"slept_ms": ms}
//	alloc    allocates field "mb" MiB in chunks of field "chunk_mb" MiB
//	         (default 1; the last chunk may be smaller), each one make,
//	         writing to every 4 KiB page, keeps them referenced until the
//	         next alloc, and returns the number of chunks
//	big      returns a JSON string of exactly field "bytes" bytes, quotes
//	         included ("xxx...")
//	log      prints "line N" to stdout and "err N" to stderr for N from 1 to
//	         field "lines", returns {"lines": lines}
//	exit     calls os.Exit(field "code")
//	stderr   writes field "message" and a newline to stderr, then field
//	         "lines" lines of a made-up goroutine dump, in writes of at most
//	         7 bytes; returns {"written": n}
//	fatal    does what stderr does, then traps (an out-of-bounds load): the
//	         Go runtime's death, without its cause
//	context  returns what the guest sees of its invocation and sandbox: see
//	         contextReport
//	s3       decodes field "event" as an events.S3Event and returns the first
//	         record's {"bucket": name, "key": key}
//	flaky    fails the first field "times" attempts of each request ID with
//	         the error "attempt N failed", then returns {"attempt": N}; the
//	         count lives in the sandbox, so run it with MaxConcurrency 1
//	read     returns the file at field "path" as {"data": text}
//	write    writes field "text", or else field "bytes" zero bytes, to the
//	         file at field "path" (created or truncated), returns
//	         {"written": n}; with field "then" it does not return but
//	         then traps ("trap", an out-of-bounds load) or spins forever
//	         ("loop")
//	append   appends field "text" to the file at field "path"
//	list     returns the names in the directory at field "path" as
//	         {"entries": [...]}
//	symlink  makes a symlink at field "path" pointing to field "target"
//	remove   removes the file at field "path"
//	         (file ops fail with the OS error's text, errorType "PathError"
//	         or "LinkError")
//	chaos    fails field "rate" percent of attempts at random, each way
//	         equally often: an error, a panic, a trap (an out-of-bounds
//	         load), or a timeout (sleeping field "ms" milliseconds); else
//	         returns field "data"
//
// An unknown op is an error of type "errorString".
//
// Build from the repository root:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o behave.wasm ./testdata/guests/go/behave
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"time"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wasmlambda/lambda/guest"
)

// event is the union of every op's fields.
type event struct {
	Op      string          `json:"op"`
	Data    json.RawMessage `json:"data"`
	Message string          `json:"message"`
	MS      int             `json:"ms"`
	MB      int             `json:"mb"`
	ChunkMB int             `json:"chunk_mb"`
	Bytes   int             `json:"bytes"`
	Lines   int             `json:"lines"`
	Code    int             `json:"code"`
	Event   events.S3Event  `json:"event"`
	Times   int             `json:"times"`
	Path    string          `json:"path"`
	Target  string          `json:"target"`
	Text    *string         `json:"text"`
	Rate    int             `json:"rate"`
	Then    string          `json:"then"`
}

var (
	// calls is the warm state "counter" counts in.
	calls int
	// spin is what "loop" writes, so that the loop has an effect.
	spin uint64
	// held keeps the chunks "alloc" allocated.
	held [][]byte
	// attempts counts "flaky" attempts by request ID.
	attempts = map[string]int{}
	// far is an address past any linear memory, for "chaos" traps.
	far uintptr = 0xfffffff0
)

func handler(ctx context.Context, ev event) (any, error) {
	switch ev.Op {
	case "echo":
		return ev.Data, nil
	case "counter":
		calls++
		return calls, nil
	case "error":
		return nil, errors.New(ev.Message)
	case "unnamed":
		return nil, &struct{ error }{errors.New(ev.Message)}
	case "panic":
		panic(ev.Message)
	case "loop":
		for {
			spin++
		}
	case "sleep":
		time.Sleep(time.Duration(ev.MS) * time.Millisecond)
		return map[string]int{"slept_ms": ev.MS}, nil
	case "alloc":
		return alloc(ev.MB, ev.ChunkMB), nil
	case "big":
		return big(ev.Bytes), nil
	case "log":
		for i := 1; i <= ev.Lines; i++ {
			fmt.Fprintf(os.Stdout, "line %d\n", i)
			fmt.Fprintf(os.Stderr, "err %d\n", i)
		}
		return map[string]int{"lines": ev.Lines}, nil
	case "exit":
		os.Exit(ev.Code)
		return nil, nil
	case "stderr", "fatal":
		out := []byte(ev.Message + "\n")
		for i := 1; i <= ev.Lines; i++ {
			out = fmt.Appendf(out, "\tmain.frame%d(...)\n", i)
		}
		n := len(out)
		for len(out) > 0 {
			k := min(len(out), 7)
			os.Stderr.Write(out[:k])
			out = out[k:]
		}
		if ev.Op == "fatal" {
			return trap(), nil
		}
		return map[string]int{"written": n}, nil
	case "context":
		return report(ctx), nil
	case "s3":
		if len(ev.Event.Records) == 0 {
			return nil, errors.New("s3: the event has no records")
		}
		r := ev.Event.Records[0]
		return map[string]string{"bucket": r.S3.Bucket.Name, "key": r.S3.Object.Key}, nil
	case "flaky":
		lc, _ := lambdacontext.FromContext(ctx)
		attempts[lc.AwsRequestID]++
		n := attempts[lc.AwsRequestID]
		if n <= ev.Times {
			return nil, fmt.Errorf("attempt %d failed", n)
		}
		return map[string]int{"attempt": n}, nil
	case "read":
		b, err := os.ReadFile(ev.Path)
		if err != nil {
			return nil, err
		}
		return map[string]string{"data": string(b)}, nil
	case "write":
		data := make([]byte, ev.Bytes)
		if ev.Text != nil {
			data = []byte(*ev.Text)
		}
		if err := os.WriteFile(ev.Path, data, 0o644); err != nil {
			return nil, err
		}
		switch ev.Then {
		case "trap":
			return trap(), nil
		case "loop":
			for {
				spin++
			}
		}
		return map[string]int{"written": len(data)}, nil
	case "append":
		f, err := os.OpenFile(ev.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if ev.Text != nil {
			if _, err := f.WriteString(*ev.Text); err != nil {
				return nil, err
			}
		}
		return map[string]bool{"ok": true}, nil
	case "list":
		des, err := os.ReadDir(ev.Path)
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, de := range des {
			names = append(names, de.Name())
		}
		return map[string][]string{"entries": names}, nil
	case "symlink":
		if err := os.Symlink(ev.Target, ev.Path); err != nil {
			return nil, err
		}
		return map[string]bool{"ok": true}, nil
	case "remove":
		if err := os.Remove(ev.Path); err != nil {
			return nil, err
		}
		return map[string]bool{"ok": true}, nil
	case "chaos":
		if rand.IntN(100) >= ev.Rate {
			return ev.Data, nil
		}
		switch rand.IntN(4) {
		case 0:
			return nil, errors.New("chaos: error")
		case 1:
			panic("chaos: panic")
		case 2:
			return trap(), nil
		default:
			time.Sleep(time.Duration(ev.MS) * time.Millisecond)
			return nil, errors.New("chaos: slept past the timeout")
		}
	default:
		return nil, fmt.Errorf("unknown op %q", ev.Op)
	}
}

func alloc(mb, chunkMB int) int {
	held = nil // let the previous chunks go first
	if chunkMB <= 0 {
		chunkMB = 1
	}
	var chunks [][]byte
	for left := mb; left > 0; left -= chunkMB {
		c := make([]byte, min(left, chunkMB)<<20)
		for j := 0; j < len(c); j += 4096 {
			c[j] = byte(len(chunks) + 1)
		}
		chunks = append(chunks, c)
	}
	held = chunks
	return len(held)
}

// trap loads from far, past the end of memory: an out-of-bounds trap.
func trap() byte { return *(*byte)(unsafe.Pointer(far)) }

// big returns the response as a *bytes.Buffer, which the SDK passes through
// raw (as aws-lambda-go does) instead of validating megabytes of JSON.
func big(n int) *bytes.Buffer {
	if n < 2 {
		n = 2
	}
	b := bytes.Repeat([]byte{'x'}, n)
	b[0], b[n-1] = '"', '"'
	return bytes.NewBuffer(b)
}

// contextReport is what "context" returns.
type contextReport struct {
	RequestID          string `json:"request_id"`
	InvokedFunctionARN string `json:"invoked_function_arn"`
	HasDeadline        bool   `json:"has_deadline"`
	// DeadlineMs is the deadline in milliseconds since the Unix epoch.
	DeadlineMs int64 `json:"deadline_ms"`
	// RemainingMs is the time left until the deadline when the handler ran.
	RemainingMs         int64                          `json:"remaining_ms"`
	FunctionName        string                         `json:"function_name"`
	FunctionVersion     string                         `json:"function_version"`
	MemoryLimitInMB     int                            `json:"memory_limit_mb"`
	ClientContextCustom map[string]string              `json:"client_context_custom,omitempty"`
	Identity            *lambdacontext.CognitoIdentity `json:"identity,omitempty"`
	Env                 []string                       `json:"env"`
	ReadDirRoot         dirListing                     `json:"readdir_root"`
	ReadDirCwd          dirListing                     `json:"readdir_cwd"`
	// NetDial is the error text of dialling 127.0.0.1:80, or "ok".
	NetDial string   `json:"net_dial"`
	ArgsLen int      `json:"args_len"`
	Args    []string `json:"args"`
	// LogGroupName and LogStreamName are lambdacontext's.
	LogGroupName  string `json:"log_group_name"`
	LogStreamName string `json:"log_stream_name"`
}

// dirListing is what os.ReadDir returned: the entries' names, or the error.
type dirListing struct {
	Entries []string `json:"entries"`
	Error   string   `json:"error,omitempty"`
}

func report(ctx context.Context) contextReport {
	r := contextReport{
		FunctionName:    lambdacontext.FunctionName,
		FunctionVersion: lambdacontext.FunctionVersion,
		MemoryLimitInMB: lambdacontext.MemoryLimitInMB,
		LogGroupName:    lambdacontext.LogGroupName,
		LogStreamName:   lambdacontext.LogStreamName,
		Env:             os.Environ(),
		ReadDirRoot:     listDir("/"),
		ReadDirCwd:      listDir("."),
		ArgsLen:         len(os.Args),
		Args:            os.Args,
	}
	if d, ok := ctx.Deadline(); ok {
		r.HasDeadline = true
		r.DeadlineMs = d.UnixMilli()
		r.RemainingMs = time.Until(d).Milliseconds()
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.RequestID = lc.AwsRequestID
		r.InvokedFunctionARN = lc.InvokedFunctionArn
		r.ClientContextCustom = lc.ClientContext.Custom
		if lc.Identity != (lambdacontext.CognitoIdentity{}) {
			id := lc.Identity
			r.Identity = &id
		}
	}
	r.NetDial = "ok"
	if c, err := net.Dial("tcp", "127.0.0.1:80"); err != nil {
		r.NetDial = err.Error()
	} else {
		c.Close()
	}
	return r
}

func listDir(name string) dirListing {
	l := dirListing{Entries: []string{}}
	entries, err := os.ReadDir(name)
	if err != nil {
		l.Error = err.Error()
	}
	for _, e := range entries {
		l.Entries = append(l.Entries, e.Name())
	}
	return l
}

// A reactor never runs main: register the handler in init.
func init() { guest.Start(handler) }

func main() {}
