package lambda

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/wasmlambda/lambda/internal/vfs"
	"github.com/wasmlambda/lambda/internal/wasm"
)

// sandbox is one execution environment: a warm instance for ABI v1, or a
// slot for one-shot commands, which holds their /tmp.
type sandbox struct {
	inst     *wasm.Instance
	mounts   []wasm.Mount
	writeFS  []*vfs.WriteFS // its views of the function's WriteFS mounts
	tmpDir   string         // the host directory of its /tmp
	capture  *capture
	initDur  time.Duration
	uses     int
	lastUsed time.Time // when it last went idle, on the pool's clock

	provisioned bool   // initialised ahead, as AWS's provisioned concurrency
	logStream   string // its AWS_LAMBDA_LOG_STREAM_NAME

	fn       *Function // its function, for the shutdown call
	credsGen uint64    // the generation of the role's credentials its guest has
	broken   bool      // its instance faulted or panicked: no shutdown call

	// mu guards the running invocation's cancel, so that a forced close can
	// abort it.
	mu      sync.Mutex
	cancel  context.CancelFunc
	aborted bool
}

// running records the cancel of the invocation now running, or clears it
// with nil. It reports false when the sandbox was aborted already.
func (s *sandbox) running(cancel context.CancelFunc) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancel = cancel
	return !s.aborted
}

// abort cancels the running invocation, if any, and any later one.
func (s *sandbox) abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborted = true
	if s.cancel != nil {
		s.cancel()
	}
}

func (s *sandbox) wasAborted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.aborted
}

func (s *sandbox) close() {
	if s.inst != nil {
		s.shutdown()
		_ = s.inst.Close(context.Background())
	}
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir)
	}
}

// ShutdownTimeout bounds the guest's shutdown hooks (wasmlambda_v1_shutdown,
// the guest SDK's WithEnableSIGTERM callbacks): AWS sends SIGKILL about
// 500 ms after SIGTERM.
const ShutdownTimeout = 500 * time.Millisecond

// shutdown lets a healthy warm instance run its shutdown hooks, as AWS
// sends SIGTERM to a runtime with an extension registered, within
// ShutdownTimeout, and logs what they write.
func (s *sandbox) shutdown() {
	if s.broken || s.fn == nil || s.wasAborted() {
		return
	}
	f := s.fn
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	s.capture.newInvocation()
	_ = s.inst.Shutdown(f.withInvocation(ctx, "", "", time.Time{}, true))
	if f.logger != nil {
		s.capture.flush(ctx, f.logger, "")
	}
}

// newSandbox initialises a sandbox: a warm instance for ABI v1, or a slot
// for a command.
func (f *Function) newSandbox(ctx context.Context, provisioned bool) (*sandbox, error) {
	sb := &sandbox{capture: newCapture(f.cfg.MaxLogBytes, f.logger != nil), provisioned: provisioned, logStream: f.newLogStream(), fn: f}
	sb.capture.policy = f.logs
	mounts, tmpDir, err := f.sandboxMounts()
	if err != nil {
		return nil, &FunctionError{Type: ErrorTypeInit, Message: "Init failed: " + err.Error()}
	}
	sb.mounts, sb.tmpDir = mounts, tmpDir
	for _, m := range mounts {
		if w, ok := m.FS.(*vfs.WriteFS); ok {
			sb.writeFS = append(sb.writeFS, w)
		}
	}
	if f.module.Mode() == wasm.ModeCommand {
		return sb, nil
	}
	initType := "on-demand"
	if provisioned {
		initType = "provisioned-concurrency"
	}
	creds, gen, err := f.role.get(ctx, f.name)
	if err != nil {
		sb.close()
		return nil, err
	}
	sb.credsGen = gen
	ic := wasm.InstanceConfig{Env: append(f.env[:len(f.env):len(f.env)],
		[2]string{"AWS_LAMBDA_INITIALIZATION_TYPE", initType},
		[2]string{"AWS_LAMBDA_LOG_STREAM_NAME", sb.logStream}), Mounts: sb.mounts}
	if gen > 0 {
		ic.Env = append(ic.Env, creds.env()...)
	}
	ic.Stdout, ic.Stderr = sb.capture.stream(streamStdout), sb.capture.stream(streamStderr)
	ictx, cancel := context.WithTimeout(sb.withWriteAbort(ctx), InitTimeout)
	defer cancel()
	ictx = f.withInvocation(ictx, "", "", time.Time{}, true)
	inst, err := f.module.Instantiate(ictx, ic)
	if f.logger != nil {
		sb.capture.flush(ctx, f.logger, "")
	}
	if err != nil {
		sb.close()
		msg := err.Error()
		var fault *wasm.Fault
		if errors.As(err, &fault) && fault.Kind == wasm.FaultDeadline && ctx.Err() == nil {
			msg = fmt.Sprintf("Init timed out after %.2f seconds", InitTimeout.Seconds())
		} else if ctx.Err() != nil {
			return nil, fmt.Errorf("initialise a sandbox of %s: %w", f.name, ctx.Err())
		}
		if tail := sb.capture.stderrTail(); tail != "" {
			msg += ": " + tail
		}
		return nil, &FunctionError{Type: ErrorTypeInit, Message: "Init failed: " + msg}
	}
	sb.inst = inst
	sb.initDur = inst.InitDuration
	return sb, nil
}

// newLogStream names a sandbox's log stream as AWS names an execution
// environment's: the date it started, the version, and 32 hex digits.
func (f *Function) newLogStream() string {
	return fmt.Sprintf("%s/[%s]%016x%016x", time.Now().UTC().Format("2006/01/02"), f.cfg.Version, rand.Uint64(), rand.Uint64())
}

// withWriteAbort returns ctx for instantiating the sandbox's module: when
// the module is closed, the files the guest left open on its WriteFS mounts
// are discarded, not committed (see vfs.AbortOnClose).
func (s *sandbox) withWriteAbort(ctx context.Context) context.Context {
	if len(s.writeFS) == 0 {
		return ctx
	}
	return vfs.AbortOnClose(ctx, s.writeFS...)
}

// sandboxMounts makes the mounts of one sandbox: the shared ones, the host
// directories, its views of the WriteFS mounts, and a fresh /tmp, whose
// directory it returns for removal when the sandbox goes.
func (f *Function) sandboxMounts() ([]wasm.Mount, string, error) {
	fl := f.files
	mounts := make([]wasm.Mount, 0, len(fl.static)+len(fl.hostMounts)+len(fl.writeMounts)+1)
	mounts = append(mounts, fl.static...)
	for _, m := range fl.hostMounts {
		hd, err := vfs.NewHostDir(m.HostDir, !m.ReadWrite, 0)
		if err != nil {
			return nil, "", fmt.Errorf("mount %s: %w", m.Path, err)
		}
		mounts = append(mounts, wasm.Mount{GuestPath: m.Path, FS: hd})
	}
	for _, m := range fl.writeMounts {
		mounts = append(mounts, wasm.Mount{GuestPath: m.Path, FS: vfs.NewWriteFS(m.FS.(WriteFS))})
	}
	dir, err := os.MkdirTemp(f.rt.scratchDir, "wasmlambda-"+f.name+"-")
	if err != nil {
		return nil, "", fmt.Errorf("make /tmp: %w", err)
	}
	tmp, err := vfs.NewHostDir(dir, false, fl.scratchMax)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("make /tmp: %w", err)
	}
	mounts = append(mounts, wasm.Mount{GuestPath: ScratchPath, FS: tmp})
	return mounts, dir, nil
}
