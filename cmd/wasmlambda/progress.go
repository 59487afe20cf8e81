package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// progress shows the slow steps (builds and compiles, about a second per
// module) on standard error while they run, and is the writer every other
// line of standard error goes through, so that the two do not mix.
//
// On a terminal, the steps running share one status line, redrawn every
// tenth of a second with their elapsed times, and each finished step
// leaves a line above it. Elsewhere (a pipe, a file, a test), a step
// prints a line when it starts, "still" lines every few seconds, and a
// line when it ends.
//
// A step started with a delay shows nothing unless it lasts longer, so that
// a compile that the cache makes instant says nothing.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	steps  []*step
	status bool // a status line is on the screen (tty)
	ticker *time.Ticker
	done   chan struct{}
	wg     sync.WaitGroup
	frame  int
}

// step is one slow step.
type step struct {
	p       *progress
	label   string
	start   time.Time
	delay   time.Duration
	shown   bool
	lastMsg time.Time
}

// stillEvery is how often a step that runs on says so, away from a
// terminal.
const stillEvery = 5 * time.Second

// newProgress returns a progress writing to w; it draws a status line when
// w is a terminal.
func newProgress(w io.Writer) *progress {
	p := &progress{w: w, tty: isTerminal(w), done: make(chan struct{})}
	tick := time.Second
	if p.tty {
		tick = 100 * time.Millisecond
	}
	p.ticker = time.NewTicker(tick)
	p.wg.Add(1)
	go p.loop()
	return p
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// Close stops the redraws and clears the status line.
func (p *progress) Close() {
	p.mu.Lock()
	select {
	case <-p.done:
		p.mu.Unlock()
		return
	default:
	}
	close(p.done)
	p.clear()
	p.mu.Unlock()
	p.ticker.Stop()
	p.wg.Wait()
}

// Write writes whole lines of other output above the status line.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	n, err := p.w.Write(b)
	p.draw()
	return n, err
}

// Printf writes a line of the command's own, "wasmlambda: ..." above the
// status line.
func (p *progress) Printf(format string, args ...any) {
	_, _ = p.Write([]byte("wasmlambda: " + strings.TrimSuffix(fmt.Sprintf(format, args...), "\n") + "\n"))
}

// Start starts a step, shown at once, or once it has lasted delay.
func (p *progress) Start(label string, delay time.Duration) *step {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &step{p: p, label: label, start: time.Now(), delay: delay}
	p.steps = append(p.steps, s)
	if delay <= 0 {
		p.clear()
		p.show(s)
		p.draw()
	}
	return s
}

// Done ends the step with a line, such as "orders ready in 1.2s", when it
// was shown or always is set; msg "" ends it with none.
func (s *step) Done(msg string, always bool) {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	p.steps = slices.DeleteFunc(p.steps, func(x *step) bool { return x == s })
	p.clear()
	if msg != "" && (s.shown || always) {
		fmt.Fprintf(p.w, "wasmlambda: %s\n", msg)
	}
	p.draw()
}

// Elapsed is how long the step has run.
func (s *step) Elapsed() time.Duration { return time.Since(s.start) }

// show marks s shown, and away from a terminal prints its start line.
func (p *progress) show(s *step) {
	s.shown = true
	s.lastMsg = time.Now()
	if !p.tty {
		fmt.Fprintf(p.w, "wasmlambda: %s...\n", s.label)
	}
}

func (p *progress) loop() {
	defer p.wg.Done()
	for {
		select {
		case <-p.done:
			return
		case <-p.ticker.C:
		}
		p.mu.Lock()
		p.frame++
		now := time.Now()
		for _, s := range p.steps {
			switch {
			case !s.shown && now.Sub(s.start) >= s.delay:
				p.clear()
				p.show(s)
			case s.shown && !p.tty && now.Sub(s.lastMsg) >= stillEvery:
				s.lastMsg = now
				fmt.Fprintf(p.w, "wasmlambda: still %s (%s)\n", s.label, formatDuration(now.Sub(s.start)))
			}
		}
		p.clear()
		p.draw()
		p.mu.Unlock()
	}
}

// maxStatus bounds the status line, so that it fits a terminal's line
// and \r can redraw it.
const maxStatus = 76

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// draw draws the status line, on a terminal, of the shown steps.
func (p *progress) draw() {
	if !p.tty {
		return
	}
	var parts []string
	for _, s := range p.steps {
		if s.shown {
			parts = append(parts, fmt.Sprintf("%s %s", s.label, formatDuration(time.Since(s.start))))
		}
	}
	if len(parts) == 0 {
		return
	}
	line := []rune(strings.Join(parts, " · "))
	if len(line) > maxStatus {
		line = append(line[:maxStatus-1], '…')
	}
	fmt.Fprintf(p.w, "%s %s", spinner[p.frame%len(spinner)], string(line))
	p.status = true
}

// clear erases the status line, on a terminal.
func (p *progress) clear() {
	if p.status {
		fmt.Fprint(p.w, "\r\033[K")
		p.status = false
	}
}
