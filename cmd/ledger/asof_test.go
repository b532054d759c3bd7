package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/server/auth"
)

// report --as-of past the end of the stream is refused, naming the flag and where the
// stream ends; before, it printed today's figures and said nothing.
func TestReportAsOfPastTheEndIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, dir, "", "submit", "../../examples/intake.jsonl", credential(t, dir, officers[auth.Intake], auth.Intake))
	last := lastSequence(t, dir)
	out, _, err := ledgerRun(t, dir, "", "report", "requests", "--period", "2024", "--as-of", "99999")
	want := fmt.Sprintf("--as-of 99999: projections: as-of point past the end of the stream: sequence 99999: the stream ends at sequence %d, recorded ", last)
	if !errors.Is(err, projections.ErrPastEnd) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("report --as-of 99999: %v\nwant %q...", err, want)
	}
	if out != "" {
		t.Errorf("a refused report printed:\n%s", out)
	}
	if _, _, err := ledgerRun(t, dir, "", "report", "requests", "--period", "2024", "--as-of", "2999-01-01T00:00:00Z"); !errors.Is(err, projections.ErrPastEnd) {
		t.Errorf("report --as-of a time still to come: %v, want ErrPastEnd", err)
	}
	out = mustRun(t, dir, "", "report", "requests", "--period", "2024", "--as-of", fmt.Sprint(last))
	if !strings.Contains(out, fmt.Sprintf("as of sequence %d", last)) {
		t.Errorf("report --as-of the last sequence:\n%s", out)
	}
}
