//go:build unix

package lambda_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/journal"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// The crash test's parameters.
const (
	// crashChildEnv names the state directory of the child process; the
	// child test runs only when it is set.
	crashChildEnv = "WASMLAMBDA_CRASH_CHILD"
	// crashEvents are accepted by the child: the first crashFirst one by
	// one, then the rest by crashAcceptors goroutines.
	crashEvents    = 1000
	crashFirst     = 50
	crashAcceptors = 4
	// The child is killed once the parent has read between crashKillMin
	// and crashKillMax request IDs.
	crashKillMin = 400
	crashKillMax = 600
	// crashFunction is the function's name in both processes.
	crashFunction = "crash"
	// crashChildLimit bounds the child's run; crashRecoverLimit bounds the
	// wait, after the restart, for every event to be accounted for.
	crashChildLimit   = 45 * time.Second
	crashRecoverLimit = 60 * time.Second
)

// The event kinds: "sleep" succeeds, "flaky" fails its first attempt and
// then succeeds, "error" always fails and ends in the dead-letter sink.
const (
	crashSleep = "sleep"
	crashFlaky = "flaky"
	crashError = "error"
)

// crashEvent is the i-th event the child sends.
func crashEvent(i int) (kind string, payload []byte) {
	switch i % 10 {
	case 3:
		return crashError, fmt.Appendf(nil, `{"op":"error","message":"crash event %d fails"}`, i)
	case 7:
		return crashFlaky, []byte(`{"op":"flaky","times":1}`)
	default:
		return crashSleep, []byte(`{"op":"sleep","ms":2}`)
	}
}

// crashConfig is the function both processes deploy. "flaky" keeps its
// attempt counts in the sandbox, so there is one; and with one event
// running at a time the child is slow enough that many events are pending
// when it is killed.
func crashConfig(guest []byte, onSuccess lambda.Destination, dead lambda.DeadLetterSink) lambda.FunctionConfig {
	cfg := fastAsync()
	cfg.Concurrency = 1
	cfg.OnSuccess, cfg.DeadLetter = onSuccess, dead
	return lambda.FunctionConfig{Name: crashFunction, Code: guest, MaxConcurrency: 1, Async: cfg}
}

// The files of the state directory the test itself writes.
const (
	crashSucceededFile = "succeeded.txt" // the child's successes, one ID a line
	crashDeadFile      = "dead.jsonl"    // the FileSink of both processes
)

// TestCrashChild is the child process of TestCrash: it accepts
// crashEvents events, prints each one's request ID and kind as
// "accepted ID KIND" once InvokeAsync has returned, and waits to be killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("the child process of TestCrash; runs only under it")
	}
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		// os.Stdout is unbuffered: the line is in the pipe when this returns.
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	fail := func(format string, args ...any) {
		say("failed "+format, args...)
		t.Fatalf(format, args...)
	}

	guest := testguest.Go(t, "behave")
	rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), StateDir: dir})
	if err != nil {
		fail("new runtime: %v", err)
	}
	// Never closed: the process is killed.
	succeeded, err := os.OpenFile(filepath.Join(dir, crashSucceededFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fail("open the success file: %v", err)
	}
	var succMu sync.Mutex
	onSuccess := lambda.DestinationFunc(func(_ context.Context, rec *lambda.InvocationRecord) error {
		succMu.Lock()
		defer succMu.Unlock()
		if _, err := succeeded.WriteString(rec.RequestContext.RequestID + "\n"); err != nil {
			return err
		}
		return succeeded.Sync()
	})
	sink, err := lambda.OpenFileSink(filepath.Join(dir, crashDeadFile))
	if err != nil {
		fail("open the sink: %v", err)
	}
	f, err := rt.Deploy(context.Background(), crashConfig(guest, onSuccess, sink))
	if err != nil {
		fail("deploy: %v", err)
	}

	accept := func(i int) bool {
		kind, payload := crashEvent(i)
		id, err := f.InvokeAsync(context.Background(), payload)
		if err != nil {
			say("failed event %d: %v", i, err)
			return false
		}
		say("accepted %s %s", id, kind)
		return true
	}
	// The first events are accepted one by one, and the child waits until
	// some have succeeded and some are in the sink: so that, at the kill,
	// there are events of every state, finished, retried and waiting.
	for i := range crashFirst {
		if !accept(i) {
			return
		}
	}
	deadline := time.Now().Add(crashChildLimit / 2)
	for s := f.AsyncStats(); s.Succeeded < crashFirst/2 || s.DeadLettered == 0; s = f.AsyncStats() {
		if time.Now().After(deadline) {
			fail("the first %d events did not finish: %+v", crashFirst, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The rest as fast as crashAcceptors goroutines can.
	var next atomic.Int64
	next.Store(crashFirst)
	var wg sync.WaitGroup
	for range crashAcceptors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= crashEvents {
					return
				}
				if !accept(i) {
					return
				}
			}
		}()
	}
	wg.Wait()
	say("all accepted")
	// Wait for the parent's SIGKILL; give up if it never comes.
	time.Sleep(2 * crashChildLimit)
	t.Fatal("not killed")
}

// crashChild is what the parent learnt of the child's run.
type crashChild struct {
	kinds     map[string]string // request ID: kind, of every ID printed
	atKill    int               // IDs read when the kill was sent
	accepted  bool              // the child accepted every event before the kill
	duration  time.Duration
	succeeded map[string]int // the child's success file: request ID: lines
	dead      map[string]int // the dead-letter file: request ID: lines

	journalEvents, journalOutbox []string // request IDs in the journal after the kill
	journalTried                 int      // events in the journal tried already
}

// runCrashChild runs TestCrashChild on dir and kills it with SIGKILL
// partway through, after killAt request IDs.
func runCrashChild(t *testing.T, dir string, killAt int) *crashChild {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", fmt.Sprintf("-test.timeout=%v", 3*crashChildLimit))
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var watchdogFired atomic.Bool
	watchdog := time.AfterFunc(crashChildLimit, func() {
		watchdogFired.Store(true)
		_ = cmd.Process.Signal(syscall.SIGKILL)
	})
	// Whatever happens, the child does not outlive the test.
	waited := false
	t.Cleanup(func() {
		watchdog.Stop()
		if !waited {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		}
	})

	c := &crashChild{kinds: map[string]string{}}
	killed := false
	var other []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "accepted "); ok {
			id, kind, _ := strings.Cut(rest, " ")
			require.Len(t, id, 36, "request ID %q", id)
			require.Contains(t, []string{crashSleep, crashFlaky, crashError}, kind, line)
			require.NotContains(t, c.kinds, id, "request ID %s accepted twice", id)
			c.kinds[id] = kind
		} else {
			if line == "all accepted" && !killed {
				c.accepted = true
			}
			other = append(other, line)
		}
		if !killed && len(c.kinds) >= killAt {
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			killed = true
			c.atKill = len(c.kinds)
		}
	}
	// Read to the end of the pipe: IDs printed before the kill landed
	// count too. Only then is Wait allowed.
	require.NoError(t, sc.Err())
	watchdog.Stop()
	err = cmd.Wait()
	waited = true
	c.duration = time.Since(start)
	for _, l := range other {
		if strings.HasPrefix(l, "failed ") {
			t.Errorf("child: %s", l)
		}
	}
	require.False(t, watchdogFired.Load(), "the child ran past %v\nstdout (not IDs): %q\nstderr: %s", crashChildLimit, other, stderr.String())
	require.True(t, killed, "the child ended before %d IDs (printed %d): %v\nstdout (not IDs): %q\nstderr: %s", killAt, len(c.kinds), err, other, stderr.String())
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "stderr: %s", stderr.String())
	ws, ok := exit.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "the child ended with %v, not SIGKILL\nstderr: %s", err, stderr.String())

	// What the child left: its successes, its dead letters and its journal.
	c.succeeded = crashReadIDs(t, filepath.Join(dir, crashSucceededFile))
	letters, err := lambda.ReadDeadLetters(filepath.Join(dir, crashDeadFile))
	require.NoError(t, err)
	c.dead = map[string]int{}
	for _, dl := range letters {
		c.dead[dl.RequestID]++
	}
	c.journalEvents, c.journalOutbox, c.journalTried = crashJournal(t, dir)
	return c
}

// crashReadIDs reads a file of request IDs, one a line. A torn last line
// is not an ID.
func crashReadIDs(t *testing.T, path string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]int{}
	}
	require.NoError(t, err)
	ids := map[string]int{}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if i == len(lines)-1 {
			break // after the last newline: empty, or torn
		}
		require.Len(t, l, 36, "%s:%d: %q", path, i+1, l)
		ids[l]++
	}
	return ids
}

// crashJournal returns the request IDs of the events and the deliveries
// the journal in dir holds, and how many of the events were tried already.
func crashJournal(t *testing.T, dir string) (events, outbox []string, tried int) {
	t.Helper()
	s, err := journal.Open(dir)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	evs, err := s.Load(crashFunction, journal.Events)
	require.NoError(t, err)
	for _, r := range evs {
		var ev struct {
			RequestID string `json:"requestId"`
			Attempts  int    `json:"attempts"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &ev), "%s", r.Value)
		require.NotEmpty(t, ev.RequestID, "%s", r.Value)
		events = append(events, ev.RequestID)
		if ev.Attempts > 0 {
			tried++
		}
	}
	outs, err := s.Load(crashFunction, journal.Outbox)
	require.NoError(t, err)
	for _, r := range outs {
		var it struct {
			DeadLetter *struct {
				RequestID string `json:"requestId"`
			} `json:"deadLetter"`
			Record *struct {
				RequestContext struct {
					RequestID string `json:"requestId"`
				} `json:"requestContext"`
			} `json:"record"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &it), "%s", r.Value)
		switch {
		case it.DeadLetter != nil:
			outbox = append(outbox, it.DeadLetter.RequestID)
		case it.Record != nil:
			outbox = append(outbox, it.Record.RequestContext.RequestID)
		default:
			t.Fatalf("a delivery of neither a dead letter nor a record: %s", r.Value)
		}
	}
	return events, outbox, tried
}

// crashSuccesses is the restarted function's on-success destination.
type crashSuccesses struct {
	mu  sync.Mutex
	ids map[string]int
}

func (s *crashSuccesses) Deliver(_ context.Context, rec *lambda.InvocationRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.RequestContext.Condition != lambda.ConditionSuccess {
		return fmt.Errorf("condition %s on the success destination", rec.RequestContext.Condition)
	}
	s.ids[rec.RequestContext.RequestID]++
	return nil
}

func (s *crashSuccesses) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.ids))
	for id, n := range s.ids {
		out[id] = n
	}
	return out
}

// TestCrash runs a child process that accepts 1,000 asynchronous events
// on a state directory, and kills it with SIGKILL partway through. On
// restart, every event is accounted for: it succeeded, it was pending and
// then succeeds, or it is in the dead-letter sink. The test counts event
// IDs. An event may be delivered twice (at least once, as AWS), but none is
// lost.
func TestCrash(t *testing.T) {
	t.Parallel()
	guest := testguest.Go(t, "behave") // built, so the child finds it built
	dir := t.TempDir()
	killAt := crashKillMin + rand.IntN(crashKillMax-crashKillMin+1)

	child := runCrashChild(t, dir, killAt)
	printed := len(child.kinds)
	t.Logf("child: killed after %d IDs read (target %d), %d printed in all, all accepted before the kill: %v, ran %v",
		child.atKill, killAt, printed, child.accepted, child.duration.Round(time.Millisecond))
	t.Logf("child: %d succeeded (%d lines), %d dead-lettered (%d lines); journal: %d events (%d tried already), %d deliveries pending",
		len(child.succeeded), crashSum(child.succeeded), len(child.dead), crashSum(child.dead), len(child.journalEvents), child.journalTried, len(child.journalOutbox))
	require.Less(t, printed, crashEvents, "the child was killed after accepting every event")
	require.NotEmpty(t, child.journalEvents, "no event was pending at the kill")

	// Restart on the same state directory.
	start := time.Now()
	ok := &crashSuccesses{ids: map[string]int{}}
	deadPath := filepath.Join(dir, crashDeadFile)
	sink, err := lambda.OpenFileSink(deadPath)
	require.NoError(t, err)
	defer func() { require.NoError(t, sink.Close()) }()
	rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir(), StateDir: dir})
	require.NoError(t, err)
	closed := false
	defer func() {
		if !closed { // the test failed: do not wait long
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = rt.Close(ctx)
		}
	}()
	f, err := rt.Deploy(context.Background(), crashConfig(guest, ok, sink))
	require.NoError(t, err)
	recovered := f.AsyncStats().Recovered
	require.Positive(t, recovered, "no event was recovered")
	require.Equal(t, int64(len(child.journalEvents)), recovered)

	// The outcomes of an event: successes and dead letters, by request ID.
	outcomes := func() (succeeded, dead map[string]int, letters []lambda.DeadLetter) {
		succeeded = ok.snapshot()
		for id, n := range child.succeeded {
			succeeded[id] += n
		}
		letters, err := sink.DeadLetters(context.Background())
		require.NoError(t, err)
		dead = map[string]int{}
		for _, dl := range letters {
			dead[dl.RequestID]++
		}
		return succeeded, dead, letters
	}
	missing := func(succeeded, dead map[string]int) []string {
		var out []string
		for id := range child.kinds {
			if succeeded[id] == 0 && dead[id] == 0 {
				out = append(out, id)
			}
		}
		for _, id := range append(append([]string(nil), child.journalEvents...), child.journalOutbox...) {
			if succeeded[id] == 0 && dead[id] == 0 {
				out = append(out, id)
			}
		}
		sort.Strings(out)
		return out
	}
	deadline := time.Now().Add(crashRecoverLimit)
	for {
		succeeded, dead, _ := outcomes()
		m := missing(succeeded, dead)
		if len(m) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events unaccounted for %v after the restart, such as %s; stats %+v", len(m), crashRecoverLimit, m[0], f.AsyncStats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	settled := time.Since(start)

	// Close drains what is left: events accepted but not printed before the
	// kill, and deliveries of duplicates.
	require.NoError(t, rt.Close(context.Background()))
	closed = true
	s := f.AsyncStats()
	require.Zero(t, s.Accepted)
	require.Equal(t, s.Recovered, s.Succeeded+s.DeadLettered, "every recovered event finished once: %+v", s)
	require.Zero(t, s.Pending)
	require.Zero(t, s.Undelivered)
	events, outbox, _ := crashJournal(t, dir)
	require.Empty(t, events, "events left in the journal after a clean close")
	require.Empty(t, outbox, "deliveries left in the journal after a clean close")

	// Every printed ID has the outcome its kind calls for.
	succeeded, dead, letters := outcomes()
	require.Empty(t, missing(succeeded, dead))
	for id, kind := range child.kinds {
		switch kind {
		case crashError:
			require.Positive(t, dead[id], "error event %s not in the sink", id)
			require.Zero(t, succeeded[id], "error event %s succeeded", id)
		default:
			require.Positive(t, succeeded[id], "%s event %s did not succeed", kind, id)
			require.Zero(t, dead[id], "%s event %s in the sink", kind, id)
		}
	}
	for _, dl := range letters {
		require.Equal(t, crashFunction, dl.FunctionName)
		require.Equal(t, lambda.ConditionRetriesExhausted, dl.Condition, "%s", dl.RequestID)
		require.Equal(t, 1+lambda.DefaultMaxRetryAttempts, dl.Attempts, "%s", dl.RequestID)
		require.Equal(t, "errorString", dl.ErrorType)
		require.Regexp(t, `^crash event \d+ fails$`, dl.ErrorMessage)
		var p struct{ Op, Message string }
		require.NoError(t, json.Unmarshal(dl.Payload, &p))
		require.Equal(t, crashError, p.Op)
		require.Equal(t, p.Message, dl.ErrorMessage)
		if kind, ok := child.kinds[dl.RequestID]; ok {
			require.Equal(t, crashError, kind)
		}
	}

	// The counts.
	parentOK := ok.snapshot()
	var recoveredOK, dupOK, dupDead, extra int
	for id, n := range succeeded {
		if n > 1 {
			dupOK++
		}
		if _, ok := child.kinds[id]; !ok {
			extra++
		}
	}
	for id, n := range dead {
		if n > 1 {
			dupDead++
		}
		if _, ok := child.kinds[id]; !ok {
			extra++
		}
	}
	for id := range parentOK {
		if child.succeeded[id] == 0 {
			recoveredOK++
		}
	}
	newDead := len(dead) - len(child.dead)
	t.Logf("before the kill: %d succeeded, %d dead-lettered; recovered %d events and %d deliveries",
		len(child.succeeded), len(child.dead), recovered, len(child.journalOutbox))
	t.Logf("after the restart: %d succeeded (%d first delivered now), %d dead-lettered anew; all %d printed IDs accounted for in %v",
		len(parentOK), recoveredOK, newDead, printed, settled.Round(time.Millisecond))
	t.Logf("in all: %d succeeded, %d dead-lettered, %d accepted but not printed; delivered twice: %d successes, %d dead letters; stats after the restart %+v",
		len(succeeded), len(dead), extra, dupOK, dupDead, s)
}

func crashSum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
