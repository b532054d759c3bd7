package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/complianceledger/ledger/progress"
	"github.com/complianceledger/ledger/projections"
)

// Progress meters: every long run of the CLI (a replay, demo's recording, verify, a big
// submit, serve's first replay) shows events done, rate and time left on stderr when stderr
// is a terminal, and nothing otherwise (package progress). The commands get their meters
// here, so that tests can stand in for the terminal (globals.terminal).

// stderr is where the command's meters draw: its stderr (os.Stderr outside tests).
func (g *globals) stderr() io.Writer {
	if g.errOut == nil {
		return os.Stderr
	}
	return g.errOut
}

// showsProgress says whether a meter would draw: stderr is a terminal.
func (g *globals) showsProgress() bool {
	isTerminal := g.terminal
	if isTerminal == nil {
		isTerminal = progress.IsTerminal
	}
	return isTerminal(g.stderr())
}

// meter starts a meter on stderr if that is a terminal, and returns nil otherwise (a nil
// meter counts and shows nothing). total 0: unknown.
func (g *globals) meter(label string, total uint64, opts ...progress.Option) *progress.Meter {
	if !g.showsProgress() {
		return nil
	}
	return progress.Start(g.stderr(), label, total, time.Now, opts...)
}

// sequenceMeter shows a run through the stream that tells where it stands now and then
// (projections.Runner.Progress, server.Config.StartProgress): a meter starts at the run's
// first report and ends with the run, counting up to the stream's last sequence as the store
// says at that moment. The run reports every projections.ProgressEvery sequences, so it
// started less than that before its first report: the meter counts from one step before
// (exact for a run from the first event, and at most that many too many for a run resumed
// from a snapshot). A run too short to report before its end shows nothing.
func (l *ledger) sequenceMeter(label string) func(applied uint64, finished bool) {
	var (
		m       *progress.Meter
		started bool
		first   uint64
	)
	return func(applied uint64, finished bool) {
		if !started && !finished {
			started, first = true, applied-min(applied, projections.ProgressEvery)
			total := l.lastSequence()
			m = l.meter(label, total-min(first, total))
		}
		m.Set(applied - min(first, applied))
		if finished {
			m.Done()
			m, started = nil, false
		}
	}
}

// lastSequence is the stream's last sequence, 0 when the store cannot say (a meter's total
// is then unknown).
func (l *ledger) lastSequence() uint64 {
	ls, ok := l.store.(interface {
		LastSequence(context.Context) (uint64, error)
	})
	if !ok {
		return 0
	}
	n, _ := ls.LastSequence(context.Background())
	return n
}
