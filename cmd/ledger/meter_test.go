package main

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/server/auth"
)

// onTerminal takes every writer, the tests' stderr buffers included, for a terminal.
func onTerminal() *globals { return &globals{terminal: func(io.Writer) bool { return true }} }

// TestSubmitAndVerifyShowProgressOnATerminalOnly: a big submit counts its lines on a
// terminal (a refused line is written above the meter), and verify counts the events it
// reads; off a terminal (the tests' buffers, a log file, a pipe) stderr holds only the
// refusals, and no meter.
func TestSubmitAndVerifyShowProgressOnATerminalOnly(t *testing.T) {
	t.Parallel()
	const n = submitMeterFrom + 20
	var lines []string
	for i := range n {
		lines = append(lines, receiveLine(uuid.NewString(), "", fmt.Sprintf("2025-02-03T09:%02d:00Z", i%60), "FR", "court_order", fmt.Sprintf("user-%d", i)))
	}
	lines = append(lines, verifyLine(uuid.NewString(), "2025-02-03T10:00:00Z")) // no such request: refused
	file := writeFile(t, lines...)
	refusal := fmt.Sprintf("line %d: ", n+1)

	dir := t.TempDir()
	ingrid := credential(t, dir, "ingrid", auth.Intake)
	_, stderr, err := ledgerRunOf(t, onTerminal(), dir, "", "submit", file, ingrid)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("1 of %d commands refused", n+1)) {
		t.Fatalf("submit: %v\n%s", err, stderr)
	}
	if want := fmt.Sprintf("submit: %d / %d lines (100%%)", n+1, n+1); !strings.Contains(stderr, want) || !strings.HasSuffix(stderr, "\x1b[K\n") {
		t.Errorf("on a terminal, stderr %q; want the meter ended with %q", stderr, want)
	}
	if !strings.Contains(stderr, "\r\x1b["+"K"+refusal) {
		t.Errorf("on a terminal, stderr %q; want the refusal written above the meter", stderr)
	}
	_, stderr, _ = ledgerRunOf(t, onTerminal(), dir, "", "verify")
	if want := fmt.Sprintf("verify: %d / %d events (100%%)", n, n); !strings.Contains(stderr, want) {
		t.Errorf("verify on a terminal, stderr %q; want %q", stderr, want)
	}

	plain := t.TempDir()
	ingrid = credential(t, plain, "ingrid", auth.Intake)
	_, stderr, err = ledgerRun(t, plain, "", "submit", file, ingrid)
	if err == nil || !strings.HasPrefix(stderr, refusal) || strings.ContainsAny(stderr, "\r\x1b") || strings.Contains(stderr, "lines/s") {
		t.Errorf("off a terminal: %v, stderr %q; want the refusal alone", err, stderr)
	}
	if _, stderr, _ = ledgerRun(t, plain, "", "verify"); strings.ContainsAny(stderr, "\r\x1b") || strings.Contains(stderr, "events/s") {
		t.Errorf("verify off a terminal wrote a meter: %q", stderr)
	}
}

// TestShortSubmitShowsNoMeter: a file of a few lines records in a moment, and even on a
// terminal shows no meter.
func TestShortSubmitShowsNoMeter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, receiveLine(uuid.NewString(), "", "2025-02-03T09:00:00Z", "FR", "court_order", "user-1"))
	_, stderr, err := ledgerRunOf(t, onTerminal(), dir, "", "submit", file, credential(t, dir, "ingrid", auth.Intake))
	if err != nil || strings.Contains(stderr, "submit:") {
		t.Errorf("submit of one line: %v, stderr %q", err, stderr)
	}
}

// TestSubmitThroughAServerShowsProgress: a big submit beside a running server goes through
// its API and counts the lines answered on a terminal, as it does locally.
func TestSubmitThroughAServerShowsProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	dir := t.TempDir()
	tok := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "intake.one", "--role", string(auth.Intake)))
	startServeProcess(t, dir)
	var lines []string
	for i := range submitMeterFrom {
		lines = append(lines, receiveLine(uuid.NewString(), "", "2025-02-03T09:00:00Z", "FR", "court_order", fmt.Sprintf("u-%d", i)))
	}
	out, stderr, err := ledgerRunOf(t, onTerminal(), dir, strings.Join(lines, "\n"), "submit", "-", "--token", tok)
	if err != nil {
		t.Fatalf("submit through the server: %v\n%s", err, stderr)
	}
	if n := len(parseSubmit(t, out)); n != submitMeterFrom {
		t.Errorf("submit answered %d lines, want %d", n, submitMeterFrom)
	}
	if want := fmt.Sprintf("submit: %d / %d lines (100%%)", submitMeterFrom, submitMeterFrom); !strings.Contains(stderr, want) {
		t.Errorf("stderr %q; want the meter ended with %q", stderr, want)
	}
}

// TestSequenceMeterCountsARunFromItsStart: a replay from the first event reports first at
// projections.ProgressEvery, and its meter counts every event from the first; a run that
// ends before it reports shows nothing.
func TestSequenceMeterCountsARunFromItsStart(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	g := onTerminal()
	g.errOut = &out
	l := &ledger{meter: g.meter} // no store: the total is unknown
	run := l.sequenceMeter("replay")
	run(projections.ProgressEvery, false)
	run(10_000, true)
	if !strings.Contains(out.String(), "\rreplay: 10,000 events, ") {
		t.Errorf("meter %q; want 10,000 events counted", out.String())
	}

	var short lockedBuffer
	g.errOut = &short
	run = l.sequenceMeter("replay")
	run(50, true)
	if short.String() != "" {
		t.Errorf("a run of 50 events drew %q", short.String())
	}
}
