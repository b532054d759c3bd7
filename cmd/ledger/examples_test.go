package main

import (
	"errors"
	"strings"
	"testing"
)

// The README walks through examples/*.jsonl; this keeps the walk-through true.
func TestReadmeExampleFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, dir, "", "submit", "../../examples/intake.jsonl", "--actor", "intake.amara")
	mustRun(t, dir, "", "submit", "../../examples/decision.jsonl", "--actor", "legal.elena")

	// One fulfilled request (IP address and phone number sent on 4 Oct) for one account; the
	// second account was refused, so it is specified but not affected.
	telegram := mustRun(t, dir, "", "report", "telegram", "--period", "2024-Q4", "--format", "csv")
	if want := "country,country_name,fulfilled_requests,affected_users\r\nFR,France,1,1\r\n"; telegram != want {
		t.Errorf("telegram report:\n%q\nwant\n%q", telegram, want)
	}
	requests := mustRun(t, dir, "", "report", "requests", "--period", "2024", "--format", "csv")
	if want := "FR,court_order,1,2,1,1.0000\r\n"; !strings.HasSuffix(requests, want) {
		t.Errorf("requests report:\n%s\nwant a last row %q", requests, want)
	}

	// The intake officer cannot record the decision (four eyes), and the rest of the file is
	// refused as already recorded or as following a refused decision.
	dir2 := t.TempDir()
	mustRun(t, dir2, "", "submit", "../../examples/intake.jsonl", "--actor", "intake.amara")
	_, _, err := ledgerRun(t, dir2, "", "submit", "../../examples/decision.jsonl", "--actor", "intake.amara")
	if err == nil || !strings.Contains(err.Error(), "commands refused") {
		t.Errorf("decision by the intake officer: %v, want refusals", err)
	}
}

// The demo's synthetic history must never land in a real ledger.
func TestDemoRefusesALedgerWithRealEvents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, dir, "", "submit", "../../examples/intake.jsonl", "--actor", "intake.amara")
	_, _, err := ledgerRun(t, dir, "", "demo")
	if !errors.Is(err, errRealLedger) {
		t.Fatalf("demo on a real ledger: %v, want errRealLedger", err)
	}
	if n := lastSequence(t, dir); n != 3 {
		t.Errorf("the ledger holds %d events after the refused demo, want the 3 submitted", n)
	}
}
