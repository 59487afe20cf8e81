package lambda

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wasmlambda/lambda/internal/cond"
)

// Conditions under which an asynchronous event leaves the queue, as AWS
// names them in destination records, and the runtime's own for shutdown.
const (
	// ConditionSuccess: the function succeeded.
	ConditionSuccess = "Success"
	// ConditionRetriesExhausted: every attempt failed.
	ConditionRetriesExhausted = "RetriesExhausted"
	// ConditionEventAgeExceeded: the event outlived MaxEventAge before an
	// attempt succeeded.
	ConditionEventAgeExceeded = "EventAgeExceeded"
	// ConditionShutdown: the function was closed, without a state
	// directory, before the event could finish. AWS has no such condition.
	ConditionShutdown = "Shutdown"
)

// MaxErrorMessageBytes is how much of an error message a dead letter keeps:
// the first 1 KB, as AWS's ErrorMessage attribute does.
const MaxErrorMessageBytes = 1024

// DeadLetter is an asynchronous event that failed for good, with why. Its
// Payload is the original event, byte for byte.
//
// Its JSON, one line of a FileSink, has the fields below; "payload" holds
// the event as it was sent, or, for an event that spans lines or is not
// JSON, "payloadBase64" holds it encoded.
type DeadLetter struct {
	// RequestID is the event's request ID, the one InvokeAsync returned.
	RequestID string `json:"requestId"`
	// FunctionName, FunctionVersion and FunctionARN name the function.
	FunctionName    string `json:"functionName"`
	FunctionVersion string `json:"functionVersion"`
	FunctionARN     string `json:"functionArn"`
	// Condition is ConditionRetriesExhausted, ConditionEventAgeExceeded or
	// ConditionShutdown.
	Condition string `json:"condition"`
	// ErrorCode is AWS's 3-digit status of the last attempt: 200 for a
	// function error (the invocation itself was answered), 429 for a
	// throttle or an event that aged out before any attempt, 503 for an
	// event a closing function never ran.
	ErrorCode int `json:"errorCode"`
	// ErrorType is the last error's type, such as "Sandbox.Timedout".
	ErrorType string `json:"errorType"`
	// ErrorMessage is the last error's message, cut to its first 1 KB.
	ErrorMessage string `json:"errorMessage"`
	// Attempts counts the invocations made.
	Attempts int `json:"attempts"`
	// AcceptedAt is when InvokeAsync accepted the event.
	AcceptedAt time.Time `json:"acceptedAt"`
	// FirstAttemptAt and LastAttemptAt are when the first and the last
	// attempts started; zero when none was made.
	FirstAttemptAt time.Time `json:"firstAttemptAt,omitzero"`
	LastAttemptAt  time.Time `json:"lastAttemptAt,omitzero"`
	// DeadLetteredAt is when the event failed for good.
	DeadLetteredAt time.Time `json:"deadLetteredAt"`
	// Payload is the original event.
	Payload []byte `json:"-"`
}

// deadLetterJSON is DeadLetter's JSON less the payload.
type deadLetterJSON DeadLetter

// MarshalJSON encodes the dead letter with its payload as it was sent.
func (d DeadLetter) MarshalJSON() ([]byte, error) {
	head, err := json.Marshal(deadLetterJSON(d))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(head) + len(d.Payload) + 32)
	b.Write(head[:len(head)-1])
	switch {
	case d.Payload == nil:
		b.WriteString(`,"payload":null}`)
	case json.Valid(d.Payload) && !bytes.ContainsAny(d.Payload, "\r\n"):
		b.WriteString(`,"payload":`)
		b.Write(d.Payload)
		b.WriteByte('}')
	default:
		b.WriteString(`,"payloadBase64":"`)
		b.WriteString(base64.StdEncoding.EncodeToString(d.Payload))
		b.WriteString(`"}`)
	}
	return b.Bytes(), nil
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (d *DeadLetter) UnmarshalJSON(data []byte) error {
	var aux struct {
		*deadLetterJSON
		Payload       json.RawMessage `json:"payload"`
		PayloadBase64 []byte          `json:"payloadBase64"`
	}
	aux.deadLetterJSON = (*deadLetterJSON)(d)
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	switch {
	case aux.PayloadBase64 != nil:
		d.Payload = aux.PayloadBase64
	case len(aux.Payload) > 0 && string(aux.Payload) != "null":
		d.Payload = []byte(aux.Payload)
	default:
		d.Payload = nil
	}
	return nil
}

// truncateMessage cuts msg to its first 1 KB, on a character boundary.
func truncateMessage(msg string) string {
	if len(msg) <= MaxErrorMessageBytes {
		return msg
	}
	cut := MaxErrorMessageBytes
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut]
}

// DeadLetterSink receives asynchronous events that failed for good. The
// runtime calls Send from one goroutine per function at a time, and calls
// it again, with backoff, for as long as it fails: an error means "not
// stored", and the dead letter is kept until a Send succeeds. Send may be
// called more than once for one dead letter.
type DeadLetterSink interface {
	Send(ctx context.Context, dl *DeadLetter) error
}

// SinkFunc adapts a function to a DeadLetterSink.
type SinkFunc func(ctx context.Context, dl *DeadLetter) error

// Send calls s.
func (s SinkFunc) Send(ctx context.Context, dl *DeadLetter) error { return s(ctx, dl) }

var (
	_ DeadLetterSink   = (*MemorySink)(nil)
	_ DeadLetterSource = (*MemorySink)(nil)
	_ DeadLetterSink   = (*FileSink)(nil)
	_ DeadLetterSource = (*FileSink)(nil)
	_ DeadLetterSink   = (*QueueSink)(nil)
	_ DeadLetterSink   = (*FunctionSink)(nil)
	_ DeadLetterSink   = SinkFunc(nil)
)

// MemorySink keeps dead letters in memory, for tests and inspection. The
// zero value is ready to use, and it is safe for concurrent use.
type MemorySink struct {
	mu      sync.Mutex
	letters []DeadLetter
	index   map[string]int // request ID to position in letters
	changed cond.Cond
}

// Send keeps a copy of dl. A dead letter already held, by request ID, is
// replaced, as a resent one is the same event.
func (s *MemorySink) Send(_ context.Context, dl *DeadLetter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *dl
	c.Payload = bytes.Clone(dl.Payload)
	if s.index == nil {
		s.index = map[string]int{}
	}
	if i, ok := s.index[c.RequestID]; ok {
		s.letters[i] = c
	} else {
		s.index[c.RequestID] = len(s.letters)
		s.letters = append(s.letters, c)
	}
	s.changed.Broadcast()
	return nil
}

// Letters returns a copy of the dead letters held, oldest first.
func (s *MemorySink) Letters() []DeadLetter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]DeadLetter(nil), s.letters...)
}

// Len returns the number of dead letters held.
func (s *MemorySink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.letters)
}

// WaitLen waits until the sink holds at least n dead letters, or ctx ends.
func (s *MemorySink) WaitLen(ctx context.Context, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changed.WaitUntil(ctx, &s.mu, func() bool { return len(s.letters) >= n }); err != nil {
		return fmt.Errorf("wait for %d dead letters, have %d: %w", n, len(s.letters), err)
	}
	return nil
}

// DeadLetters returns the dead letters held, oldest first.
func (s *MemorySink) DeadLetters(context.Context) ([]DeadLetter, error) { return s.Letters(), nil }

// Remove drops the dead letters with the given request IDs.
func (s *MemorySink) Remove(_ context.Context, requestIDs ...string) error {
	drop := make(map[string]bool, len(requestIDs))
	for _, id := range requestIDs {
		drop[id] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.letters[:0]
	clear(s.index)
	for _, dl := range s.letters {
		if !drop[dl.RequestID] {
			s.index[dl.RequestID] = len(kept)
			kept = append(kept, dl)
		}
	}
	clear(s.letters[len(kept):])
	s.letters = kept
	return nil
}

// FileSink appends dead letters to a JSON Lines file, one DeadLetter JSON
// per line, and syncs the file to disk before Send returns. It is safe for
// concurrent use, but one file should have one FileSink.
type FileSink struct {
	path string

	mu   sync.Mutex
	file *os.File
}

// OpenFileSink opens, or creates, the JSON Lines file at path for
// appending.
func OpenFileSink(path string) (*FileSink, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("dead-letter file: %w", err)
		}
	}
	f, err := openAppend(path)
	if err != nil {
		return nil, fmt.Errorf("dead-letter file: %w", err)
	}
	return &FileSink{path: path, file: f}, nil
}

// openAppend opens a JSON Lines file for appending. A torn last line, left
// by a crash in the middle of a write whose Send therefore never returned
// nil, is cut off, so that the next line starts on a line of its own.
func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if err := cutTornLine(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// cutTornLine truncates f after its last newline.
func cutTornLine(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		return nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	// Scan back for the last newline, a block at a time.
	buf := make([]byte, 64*1024)
	end := size
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && n < int(end-start) {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return f.Truncate(start + int64(i) + 1)
		}
		end = start
	}
	return f.Truncate(0)
}

// Path is the file's path.
func (s *FileSink) Path() string { return s.path }

// Send appends dl as one line and syncs the file.
func (s *FileSink) Send(_ context.Context, dl *DeadLetter) error {
	line, err := dl.MarshalJSON()
	if err != nil {
		return err
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		return fmt.Errorf("dead-letter file %s: closed", s.path)
	}
	if err := s.reopenIfReplaced(); err != nil {
		return fmt.Errorf("dead-letter file: %w", err)
	}
	if _, err := s.file.Write(line); err != nil {
		// Cut what part of the line went out, so that the file stays
		// whole lines.
		_ = cutTornLine(s.file)
		return fmt.Errorf("dead-letter file: %w", err)
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("dead-letter file: %w", err)
	}
	return nil
}

// reopenIfReplaced reopens the path when another FileSink's Remove has
// replaced the file this one holds open.
func (s *FileSink) reopenIfReplaced() error {
	held, err := s.file.Stat()
	if err != nil {
		return err
	}
	now, err := os.Stat(s.path)
	if err == nil && os.SameFile(held, now) {
		return nil
	}
	f, err := openAppend(s.path)
	if err != nil {
		return err
	}
	s.file.Close()
	s.file = f
	return nil
}

// DeadLetters reads the file back, oldest first.
func (s *FileSink) DeadLetters(context.Context) ([]DeadLetter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ReadDeadLetters(s.path)
}

// Remove rewrites the file without the dead letters with the given request
// IDs. The new file replaces the old one atomically.
func (s *FileSink) Remove(_ context.Context, requestIDs ...string) error {
	drop := make(map[string]bool, len(requestIDs))
	for _, id := range requestIDs {
		drop[id] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		return fmt.Errorf("dead-letter file %s: closed", s.path)
	}
	letters, err := ReadDeadLetters(s.path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), filepath.Base(s.path)+".*")
	if err != nil {
		return fmt.Errorf("dead-letter file: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	for i := range letters {
		if drop[letters[i].RequestID] {
			continue
		}
		line, err := letters[i].MarshalJSON()
		if err != nil {
			tmp.Close()
			return err
		}
		w.Write(line)
		w.WriteByte('\n')
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dead-letter file: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("dead-letter file: %w", err)
	}
	f, err := openAppend(s.path)
	if err != nil {
		return fmt.Errorf("dead-letter file: %w", err)
	}
	s.file.Close()
	s.file = f
	return nil
}

// Close closes the file. Later Sends fail.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}

// ReadDeadLetters reads a JSON Lines file of dead letters, such as a
// FileSink's or the runtime's undelivered file. A missing file holds none.
// A torn last line, left by a crash in the middle of a write, is skipped.
func ReadDeadLetters(path string) ([]DeadLetter, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte{'\n'})
		data = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var dl DeadLetter
		if err := dl.UnmarshalJSON(line); err != nil {
			if !complete {
				break
			}
			return out, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, dl)
	}
	return out, nil
}

// QueueSender is the sending half of a queue, all a QueueSink or a
// QueueDestination needs. An SQS client fits it in a few lines.
type QueueSender interface {
	// SendMessage enqueues msg and returns its message ID.
	SendMessage(ctx context.Context, msg QueueMessage) (messageID string, err error)
}

// QueueMessage is a message to send, in SQS's terms.
type QueueMessage struct {
	// Body is the message body.
	Body string
	// Attributes are the message attributes, by name.
	Attributes map[string]MessageAttribute
}

// MessageAttribute is an SQS message attribute.
type MessageAttribute struct {
	// DataType is "String", "Number" or "Binary", optionally with a
	// custom suffix such as "Number.int".
	DataType string
	// StringValue is the value of a String or Number attribute.
	StringValue string
	// BinaryValue is the value of a Binary attribute.
	BinaryValue []byte
}

// QueueSink sends dead letters to a queue exactly as AWS sends them to an
// SQS dead-letter queue: the body is the original event, and the
// attributes are RequestID (String), ErrorCode (Number, the 3-digit
// status) and ErrorMessage (String, the first 1 KB).
type QueueSink struct {
	// Queue receives the messages.
	Queue QueueSender
}

// Send sends dl to the queue.
func (s *QueueSink) Send(ctx context.Context, dl *DeadLetter) error {
	_, err := s.Queue.SendMessage(ctx, deadLetterMessage(dl))
	return err
}

func deadLetterMessage(dl *DeadLetter) QueueMessage {
	return QueueMessage{
		Body: string(dl.Payload),
		Attributes: map[string]MessageAttribute{
			"RequestID":    {DataType: "String", StringValue: dl.RequestID},
			"ErrorCode":    {DataType: "Number", StringValue: strconv.Itoa(dl.ErrorCode)},
			"ErrorMessage": {DataType: "String", StringValue: truncateMessage(dl.ErrorMessage)},
		},
	}
}

// FunctionSink hands dead letters to another function: each one is invoked
// asynchronously with the DeadLetter JSON as its event, so that function's
// own retries and sink then apply.
type FunctionSink struct {
	// Function receives the dead letters.
	Function *Function
	// Qualifier is the version or alias of Function to invoke, "" for the
	// unqualified function.
	Qualifier string
}

// Send invokes the function asynchronously with dl's JSON.
func (s *FunctionSink) Send(ctx context.Context, dl *DeadLetter) error {
	b, err := dl.MarshalJSON()
	if err != nil {
		return err
	}
	var opts []InvokeOption
	if s.Qualifier != "" {
		opts = []InvokeOption{WithQualifier(s.Qualifier)}
		if err := s.Function.vs.checkQualifier(opts); err != nil {
			return err
		}
	}
	_, err = s.Function.async.accept(ctx, b, opts, true)
	return err
}
