// Package progress shows how a long run goes (events done, rate, time left) on one line of
// a terminal, redrawn a few times a second. On anything that is not a terminal (a log file,
// a pipe, a test's buffer) it writes nothing, so logs stay quiet.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// every is how often the line is redrawn.
const every = 250 * time.Millisecond

// Meter counts the events of one run. A nil *Meter, and a Meter on something other than a
// terminal, counts and shows nothing, so callers need no checks.
type Meter struct {
	label string
	unit  string     // what is counted: "events" unless Unit says otherwise
	total uint64     // 0: unknown
	mu    sync.Mutex // one writer on w at a time: the redraw, Printf, Done
	w     io.Writer
	now   func() time.Time
	start time.Time
	done  atomic.Uint64
	stop  chan struct{}
	wg    sync.WaitGroup
}

// An Option sets how a meter shows its count.
type Option func(*Meter)

// Unit names what a meter counts ("lines", "commands"); "events" without it.
func Unit(name string) Option { return func(m *Meter) { m.unit = name } }

// IsTerminal says whether w is a terminal: an *os.File whose descriptor is one.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// OnTerminal starts a meter on w if w is a terminal (IsTerminal), and returns nil
// otherwise. total may be 0 when the end is unknown: the line then shows no share and no
// time left.
func OnTerminal(w io.Writer, label string, total uint64, opts ...Option) *Meter {
	if !IsTerminal(w) {
		return nil
	}
	return Start(w, label, total, time.Now, opts...)
}

// Start starts a meter on w whatever w is; now is the clock (tests give their own).
func Start(w io.Writer, label string, total uint64, now func() time.Time, opts ...Option) *Meter {
	m := &Meter{label: label, unit: "events", total: total, w: w, now: now, start: now(), stop: make(chan struct{})}
	for _, o := range opts {
		o(m)
	}
	m.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.draw("")
			}
		}
	})
	return m
}

// draw rewrites the meter's line, ended with end.
func (m *Meter) draw(end string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprint(m.w, "\r"+m.Line()+"\x1b[K"+end)
}

// Printf writes a message above the meter: the meter's line is cleared first and redrawn
// at the next tick. Without a meter (nil: not a terminal) it writes to w as fmt.Fprintf.
func (m *Meter) Printf(w io.Writer, format string, a ...any) {
	if m == nil {
		fmt.Fprintf(w, format, a...)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprint(m.w, "\r\x1b[K")
	fmt.Fprintf(m.w, format, a...)
}

// Add counts n more events done.
func (m *Meter) Add(n uint64) {
	if m != nil {
		m.done.Add(n)
	}
}

// Set says how many events are done in all.
func (m *Meter) Set(done uint64) {
	if m != nil {
		m.done.Store(done)
	}
}

// Line is the progress as shown: "label: 350,000 / 1,000,000 events (35%), 120,000 events/s, 5s left",
// with the meter's unit for "events".
func (m *Meter) Line() string {
	done := m.done.Load()
	elapsed := m.now().Sub(m.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	s := fmt.Sprintf("%s: %s", m.label, group(done))
	if m.total > 0 {
		s += fmt.Sprintf(" / %s %s (%d%%)", group(m.total), m.unit, min(done*100/m.total, 100))
	} else {
		s += " " + m.unit
	}
	s += fmt.Sprintf(", %s %s/s", group(uint64(rate)), m.unit)
	if m.total > done && rate > 0 {
		left := time.Duration(float64(m.total-done) / rate * float64(time.Second))
		s += fmt.Sprintf(", %s left", left.Round(time.Second))
	}
	return s
}

// Done stops redrawing and ends the line with the final figures.
func (m *Meter) Done() {
	if m == nil {
		return
	}
	close(m.stop)
	m.wg.Wait()
	m.draw("\n")
}

// group writes n with thousands separators.
func group(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
