package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/server/auth"
)

// The README walks through examples/*.jsonl; this keeps the walk-through true.
func TestReadmeExampleFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	submitExamples(t, dir)

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

	// The intake officer cannot record the review or the decision: the file is refused whole,
	// before anything is recorded, whichever door it comes through.
	dir2 := t.TempDir()
	intake := credential(t, dir2, "intake.amara", auth.Intake)
	mustRun(t, dir2, "", "submit", "../../examples/intake.jsonl", intake)
	_, _, err := ledgerRun(t, dir2, "", "submit", "../../examples/decision.jsonl", intake)
	if !errors.Is(err, command.ErrForbidden) || !strings.Contains(err.Error(), "2 bad line(s); nothing was recorded") {
		t.Errorf("decision by the intake officer: %v, want both lines refused for their role", err)
	}
	if n := lastSequence(t, dir2); n != 3 {
		t.Errorf("the ledger holds %d events after the refused file, want the 3 of the intake", n)
	}
	// No credential, no record; a name given as a flag is no credential.
	if _, _, err := ledgerRun(t, dir2, "", "submit", "../../examples/decision.jsonl"); !errors.Is(err, errNoCredential) {
		t.Errorf("submit without a credential: %v, want errNoCredential", err)
	}
	if _, _, err := ledgerRun(t, dir2, "", "submit", "../../examples/decision.jsonl", "--actor", "legal.elena"); err == nil || !strings.Contains(err.Error(), "unknown flag") {
		t.Errorf("submit --actor: %v, want an unknown flag", err)
	}
}

// The demo's synthetic history must never land in a real ledger.
func TestDemoRefusesALedgerWithRealEvents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, dir, "", "submit", "../../examples/intake.jsonl", credential(t, dir, "intake.amara", auth.Intake))
	_, _, err := ledgerRun(t, dir, "", "demo")
	if !errors.Is(err, errRealLedger) {
		t.Fatalf("demo on a real ledger: %v, want errRealLedger", err)
	}
	if n := lastSequence(t, dir); n != 3 {
		t.Errorf("the ledger holds %d events after the refused demo, want the 3 submitted", n)
	}
}
