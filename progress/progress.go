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
	total uint64 // 0: unknown
	w     io.Writer
	now   func() time.Time
	start time.Time
	done  atomic.Uint64
	stop  chan struct{}
	wg    sync.WaitGroup
}

// OnTerminal starts a meter on w if w is a terminal (an *os.File whose descriptor is one),
// and returns nil otherwise. total may be 0 when the end is unknown.
func OnTerminal(w io.Writer, label string, total uint64) *Meter {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return Start(w, label, total, time.Now)
}

// Start starts a meter on w whatever w is; now is the clock (tests give their own).
func Start(w io.Writer, label string, total uint64, now func() time.Time) *Meter {
	m := &Meter{label: label, total: total, w: w, now: now, start: now(), stop: make(chan struct{})}
	m.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				fmt.Fprint(m.w, "\r"+m.Line()+"\x1b[K")
			}
		}
	})
	return m
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

// Line is the progress as shown: "label: 350,000 / 1,000,000 events (35%), 120,000 events/s, 5s left".
func (m *Meter) Line() string {
	done := m.done.Load()
	elapsed := m.now().Sub(m.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	s := fmt.Sprintf("%s: %s", m.label, group(done))
	if m.total > 0 {
		s += fmt.Sprintf(" / %s events (%d%%)", group(m.total), min(done*100/m.total, 100))
	} else {
		s += " events"
	}
	s += fmt.Sprintf(", %s events/s", group(uint64(rate)))
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
	fmt.Fprint(m.w, "\r"+m.Line()+"\x1b[K\n")
}

// group writes n with thousands separators.
func group(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
