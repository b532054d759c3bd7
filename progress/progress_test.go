package progress_test

import (
	"bytes"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/complianceledger/ledger/progress"
)

// clock reads t0 the first time (the meter's start) and t0 + 1s ever after, whichever
// goroutine reads it.
type clock struct{ reads atomic.Int64 }

func (c *clock) now() time.Time {
	if c.reads.Add(1) == 1 {
		return time.Unix(0, 0)
	}
	return time.Unix(1, 0)
}

func TestLineShowsDoneRateAndTimeLeft(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		total uint64
		done  uint64
		want  string
	}{
		{"a third of a known total", 300_000, 100_000, "replay: 100,000 / 300,000 events (33%), 100,000 events/s, 2s left"},
		{"unknown total", 0, 2_500, "replay: 2,500 events, 2,500 events/s"},
		{"finished", 1_000, 1_000, "replay: 1,000 / 1,000 events (100%), 1,000 events/s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &clock{}
			var out bytes.Buffer
			m := progress.Start(&out, "replay", tc.total, c.now)
			m.Set(tc.done)
			got := m.Line()
			m.Done()
			if got != tc.want {
				t.Errorf("line %q, want %q", got, tc.want)
			}
			if !strings.HasSuffix(out.String(), "\x1b[K\n") {
				t.Errorf("Done wrote %q; want the line ended", out.String())
			}
		})
	}
}

func TestNothingIsShownOffATerminal(t *testing.T) {
	t.Parallel()
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	for _, w := range []interface{ Write([]byte) (int, error) }{f, &buf} {
		m := progress.OnTerminal(w, "replay", 10)
		if m != nil {
			t.Fatalf("a meter on %T, which is not a terminal", w)
		}
		m.Add(5) // a nil meter counts nothing and does not fail
		m.Done()
	}
	if st, _ := f.Stat(); st.Size() != 0 || buf.Len() != 0 {
		t.Errorf("wrote %d bytes to a file and %d to a buffer", st.Size(), buf.Len())
	}
}

func TestUnitNamesWhatIsCounted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		total uint64
		want  string
	}{
		{"known total", 400, "submit: 100 / 400 lines (25%), 100 lines/s, 3s left"},
		{"unknown total", 0, "submit: 100 lines, 100 lines/s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			m := progress.Start(&out, "submit", tc.total, (&clock{}).now, progress.Unit("lines"))
			m.Add(100)
			got := m.Line()
			m.Done()
			if got != tc.want {
				t.Errorf("line %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPrintfWritesAboveTheMeter(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	m := progress.Start(&out, "submit", 10, (&clock{}).now, progress.Unit("lines"))
	m.Printf(&out, "line %d: refused\n", 3)
	m.Done()
	if !strings.HasPrefix(out.String(), "\r\x1b[Kline 3: refused\n") && !strings.Contains(out.String(), "\x1b[K\r\x1b[Kline 3: refused\n") {
		t.Errorf("wrote %q; want the meter's line cleared before the message", out.String())
	}

	var plain bytes.Buffer
	var none *progress.Meter // not a terminal
	none.Printf(&plain, "line %d: refused\n", 3)
	if plain.String() != "line 3: refused\n" {
		t.Errorf("without a meter wrote %q", plain.String())
	}
}

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if progress.IsTerminal(f) || progress.IsTerminal(&bytes.Buffer{}) {
		t.Error("a file or a buffer taken for a terminal")
	}
}
