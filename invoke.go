package lambda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/wasmlambda/lambda/internal/abi"
	"github.com/wasmlambda/lambda/internal/uuid"
	"github.com/wasmlambda/lambda/internal/wasm"
)

// Invoke runs the function synchronously on payload, the event, and returns
// the response, as AWS's RequestResponse invocation does. The invocation
// waits for a free sandbox within ctx (or fails with ErrThrottled when the
// function throttles), then runs for at most the function's timeout.
//
// # Errors
//
//   - *FunctionError: the function failed, timed out (errors.Is ErrTimeout),
//     crashed, or answered too much (errors.Is ErrPayloadTooLarge). Its
//     Payload is AWS's error JSON.
//   - *ServiceError: ErrThrottled, ErrClosed, or a request over the limit
//     (errors.Is ErrPayloadTooLarge).
//   - ctx's error, when ctx ended first.
func (f *Function) Invoke(ctx context.Context, payload []byte, opts ...InvokeOption) ([]byte, error) {
	var o invokeOptions
	for _, opt := range opts {
		opt(&o)
	}
	return f.dispatch(ctx, ctx, payload, &o, nil)
}

// invoke runs one invocation. It waits for a sandbox within waitCtx and
// runs within ctx; granted, when set, is called once a sandbox is acquired.
func (f *Function) invoke(ctx, waitCtx context.Context, payload []byte, o *invokeOptions, granted func()) ([]byte, error) {
	if obs := f.rt.obs; obs != nil && o.ob == nil {
		return f.observeInvoke(ctx, waitCtx, payload, o, granted, obs)
	}
	if len(payload) > f.cfg.MaxRequestBytes {
		return nil, serviceError(&ServiceError{Code: codeRequestTooLarge, StatusCode: 413}, "request of %d bytes exceeds the %d-byte limit of function %s", len(payload), f.cfg.MaxRequestBytes, f.name)
	}
	if o.requestID == "" {
		o.requestID = uuid.New()
	}
	if _, _, err := f.role.get(ctx, f.name); err != nil {
		return nil, err
	}
	sb, err := f.pool.acquire(waitCtx)
	if err != nil {
		return nil, err
	}
	if granted != nil {
		granted()
	}
	if o.ob != nil {
		o.ob.gotSandbox(sb)
	}
	return f.run(ctx, sb, payload, o)
}

func (f *Function) run(ctx context.Context, sb *sandbox, payload []byte, o *invokeOptions) (resp []byte, err error) {
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	if !sb.running(cancel) {
		cancel()
	}
	deadline, _ := tctx.Deadline()
	tctx = f.withInvocation(tctx, o.requestID, o.traceID, deadline, false)
	if o.stream != nil {
		tctx = context.WithValue(tctx, streamKey{}, o.stream)
	}
	req := abi.Request{
		DeadlineMs:         deadline.UnixMilli(),
		MemoryMB:           uint32(f.cfg.MemorySize),
		RequestID:          o.requestID,
		FunctionName:       f.name,
		FunctionVersion:    f.cfg.Version,
		InvokedFunctionARN: o.invokedARN(f.arn),
		ClientContext:      o.clientContext,
		Identity:           o.identity,
		Payload:            payload,
		TraceID:            o.traceID,
	}
	if f.logger != nil && f.logs.system(slog.LevelInfo) {
		f.logger.LogAttrs(ctx, slog.LevelInfo, "START", slog.String("request_id", o.requestID), slog.String("function_arn", f.arn))
	}

	if creds, gen := f.role.cached(); sb.inst != nil && gen != sb.credsGen {
		// The role's credentials changed since the guest last got them.
		req.Env = creds.env()
		sb.credsGen = gen
	}

	var broken bool
	var maxMem uint64
	sb.capture.newInvocation()
	if sb.inst != nil {
		resp, broken, err = f.runABI(tctx, sb, &req)
		maxMem = sb.inst.MemoryBytes()
	} else {
		resp, maxMem, broken, err = f.runCommand(tctx, sb, &req)
	}
	sb.running(nil)
	if err != nil {
		err = f.classify(ctx, sb, o.requestID, err)
	}
	if o.ob != nil {
		o.ob.ran(time.Since(start), f.cfg.Timeout, maxMem, err)
	}
	if f.logger != nil {
		sb.capture.flush(ctx, f.logger, o.requestID)
	}
	sb.capture.tail = sb.capture.tail[:0]
	if f.logger != nil {
		f.report(ctx, sb, o.requestID, time.Since(start), maxMem, err)
	}
	sb.initDur = 0
	sb.broken = broken
	f.pool.release(sb, broken)
	return resp, err
}

// runABI drives one ABI v1 call. broken reports that the sandbox must go.
func (f *Function) runABI(ctx context.Context, sb *sandbox, req *abi.Request) ([]byte, bool, error) {
	status, out, size, err := sb.inst.Invoke(ctx, req, f.cfg.MaxResponseBytes)
	if err != nil {
		return nil, true, err
	}
	if out == nil && size > f.cfg.MaxResponseBytes {
		return nil, status == abi.StatusFatal, f.responseTooLarge(req.RequestID, size)
	}
	switch status {
	case abi.StatusOK:
		return out, false, nil
	default:
		return nil, status == abi.StatusFatal, parseFunctionError(req.RequestID, out)
	}
}

// runCommand runs a WASI command one-shot, in compatibility mode. It
// returns the memory the command used, and reports as broken a run that
// ended with a fault (a trap, the deadline, running out of memory): its
// instance is gone, and release counts it as discarded.
func (f *Function) runCommand(ctx context.Context, sb *sandbox, req *abi.Request) ([]byte, uint64, bool, error) {
	env := append(f.env[:len(f.env):len(f.env)],
		[2]string{"AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"},
		[2]string{"AWS_LAMBDA_LOG_STREAM_NAME", sb.logStream},
		[2]string{abi.EnvRequestID, req.RequestID},
		[2]string{abi.EnvDeadlineMs, strconv.FormatInt(req.DeadlineMs, 10)},
		[2]string{abi.EnvInvokedFunctionARN, req.InvokedFunctionARN})
	if creds, gen := f.role.cached(); gen > 0 {
		env = append(env, creds.env()...)
	}
	if len(req.ClientContext) > 0 {
		env = append(env, [2]string{abi.EnvClientContext, string(req.ClientContext)})
	}
	if len(req.Identity) > 0 {
		env = append(env, [2]string{abi.EnvIdentity, string(req.Identity)})
	}
	if req.TraceID != "" {
		env = append(env, [2]string{abi.EnvTraceID, req.TraceID})
	}
	stdout := &limitedBuffer{limit: f.cfg.MaxResponseBytes}
	ic := wasm.InstanceConfig{Env: env, Stdin: bytes.NewReader(req.Payload), Stdout: stdout, Mounts: sb.mounts}
	ic.Stderr = sb.capture.stream(streamStderr)
	f.pool.countColdStart()
	code, mem, err := f.module.RunCommand(sb.withWriteAbort(ctx), ic)
	if err != nil {
		return nil, mem, true, err
	}
	if code != 0 && sb.capture.oom {
		// It said so before it exited: the Go runtime does, with status 2.
		return nil, mem, true, &wasm.Fault{Kind: wasm.FaultOutOfMemory, ExitCode: code, Detail: fmt.Sprintf("exit status %d", code)}
	}
	if stdout.over > 0 {
		return nil, mem, false, f.responseTooLarge(req.RequestID, stdout.over+stdout.buf.Len())
	}
	if code != 0 {
		if fe := parseFunctionError(req.RequestID, stdout.buf.Bytes()); fe.Type != ErrorTypeInvalidError {
			return nil, mem, false, fe
		}
		return nil, mem, false, &FunctionError{Type: ErrorTypeExit, Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: exit status %d", req.RequestID, code), RequestID: req.RequestID}
	}
	return stdout.buf.Bytes(), mem, false, nil
}

func (f *Function) responseTooLarge(requestID string, size int) error {
	return &FunctionError{
		Type:      ErrorTypeResponseTooLarge,
		Message:   fmt.Sprintf("Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).", size, f.cfg.MaxResponseBytes),
		RequestID: requestID,
	}
}

// classify turns a sandbox fault into the error the caller sees.
func (f *Function) classify(ctx context.Context, sb *sandbox, requestID string, err error) error {
	var fault *wasm.Fault
	if !errors.As(err, &fault) {
		return err
	}
	kind := fault.Kind
	if (kind == wasm.FaultTrap || kind == wasm.FaultExit) && sb.capture.oom {
		// The Go runtime said so on stderr before it aborted, though the
		// limit refused no grow: one past wazero's 4 GiB maximum, say.
		kind = wasm.FaultOutOfMemory
	}
	switch kind {
	case wasm.FaultDeadline, wasm.FaultCanceled:
		if sb.wasAborted() {
			return serviceError(ErrClosed, "function %s was closed during invocation %s", f.name, requestID)
		}
		if wasm.Ended(ctx) {
			cause := ctx.Err()
			if cause == nil {
				cause = context.DeadlineExceeded // its timer has not fired yet
			}
			return fmt.Errorf("invoke %s: %w", f.name, cause)
		}
		return &FunctionError{Type: ErrorTypeTimeout, Message: "RequestId: " + requestID + " Error: Task timed out after " + f.timeout + " seconds", RequestID: requestID}
	case wasm.FaultOutOfMemory:
		return &FunctionError{Type: ErrorTypeOutOfMemory, Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with memory at its %d MB limit: %s", requestID, f.cfg.MemorySize, fault.Detail), RequestID: requestID}
	case wasm.FaultBadResult:
		return &FunctionError{Type: ErrorTypeInvalidResult, Message: "RequestId: " + requestID + " Error: " + fault.Detail, RequestID: requestID}
	default:
		return &FunctionError{Type: ErrorTypeExit, Message: "RequestId: " + requestID + " Error: Runtime exited with error: " + fault.Detail, RequestID: requestID}
	}
}

// report logs the records the platform ends an invocation with: the error
// a guest reported, as AWS's runtimes log it (aws-lambda-go logs the error
// JSON before it reports it), or the timeout, as AWS's platform logs it;
// then END and REPORT.
//
// Their messages are constant and their figures attributes. With the JSON
// format, each has the level AWS gives its platform record, and the
// function's SystemLogLevel (ApplicationLogLevel for the guest's error)
// filters them; with Text, START, END and REPORT are INFO and nothing is
// filtered, as on AWS.
func (f *Function) report(ctx context.Context, sb *sandbox, requestID string, d time.Duration, maxMem uint64, err error) {
	var fe *FunctionError
	switch {
	case !errors.As(err, &fe):
	case fe.Type == ErrorTypeTimeout:
		// As on AWS, a timed-out invocation lasted its timeout, however
		// long the sandbox took to stop.
		d = min(d, f.cfg.Timeout)
	case fe.reported:
		if f.logs.application(slog.LevelError) {
			f.logger.LogAttrs(ctx, slog.LevelError, string(fe.Payload()), slog.String("request_id", requestID), slog.String("error_type", fe.Type))
		}
	}
	// The invocation's status, as AWS's Telemetry API names it: failure
	// when the function returned an error, timeout, or error when the
	// runtime failed (a crash, running out of memory, a response too
	// large); none for success.
	var status []slog.Attr
	switch {
	case fe != nil && fe.Type == ErrorTypeTimeout:
		status = []slog.Attr{slog.String("status", "timeout"), slog.String("error_type", fe.Type)}
	case fe != nil && fe.reported:
		status = []slog.Attr{slog.String("status", "failure"), slog.String("error_type", fe.Type)}
	case fe != nil:
		status = []slog.Attr{slog.String("status", "error"), slog.String("error_type", fe.Type)}
	case err != nil:
		status = []slog.Attr{slog.String("status", "error")}
	}
	endLevel, reportLevel := slog.LevelInfo, slog.LevelInfo
	if f.logs.json {
		// AWS's system log level event mapping: runtimeDone is DEBUG on
		// success and WARN otherwise; report INFO and WARN.
		endLevel = slog.LevelDebug
		if status != nil {
			endLevel, reportLevel = slog.LevelWarn, slog.LevelWarn
		}
	}
	if f.logs.system(endLevel) {
		f.logger.LogAttrs(ctx, endLevel, "END", append([]slog.Attr{slog.String("request_id", requestID)}, status...)...)
	}
	// AWS bills an on-demand sandbox's init with its first invocation, as
	// it has always done for OS-only runtimes such as Go's, and since
	// August 2025 for every runtime. A provisioned sandbox's init it bills
	// with the provisioned concurrency, not per invocation.
	billed := d.Microseconds()
	if !sb.provisioned {
		billed += sb.initDur.Microseconds()
	}
	if f.logs.system(reportLevel) {
		attrs := []slog.Attr{
			slog.String("request_id", requestID),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.Int64("billed_duration_ms", (billed+999)/1000),
			slog.Int("memory_size_mb", f.cfg.MemorySize),
			// The guest's linear memory high-water mark: wasm memory
			// never shrinks, so its size now is the most the sandbox has
			// used, across its invocations, as AWS reports it.
			slog.Uint64("max_memory_used_mb", (maxMem+(1<<20)-1)>>20),
		}
		// Only the invocation that waited for the init shows it, as on
		// AWS: a provisioned sandbox was initialised ahead of time.
		if sb.initDur > 0 && !sb.provisioned {
			attrs = append(attrs, slog.Float64("init_duration_ms", float64(sb.initDur.Microseconds())/1000))
		}
		f.logger.LogAttrs(ctx, reportLevel, "REPORT", append(attrs, status...)...)
	}
	if fe != nil && fe.Type == ErrorTypeTimeout {
		// The platform's own line closes a timed-out invocation's log.
		f.logger.LogAttrs(ctx, slog.LevelError, "Task timed out after "+f.timeout+" seconds", slog.String("request_id", requestID))
	}
}

// limitedBuffer keeps at most limit bytes and counts the rest.
type limitedBuffer struct {
	buf   bytes.Buffer
	limit int
	over  int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	room := b.limit - b.buf.Len()
	if room >= len(p) {
		return b.buf.Write(p)
	}
	if room > 0 {
		b.buf.Write(p[:room])
	}
	b.over += len(p) - max(room, 0)
	return len(p), nil
}
