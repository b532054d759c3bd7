package main

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/store/jetstream"
)

// A published report is reproduced byte for byte after the ledger moved on, and carries the
// checkpoint it was computed at.
func TestPublishedReportIsReproducedAfterLaterEvents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	submitExamples(t, dir)

	published, stderr, err := ledgerRun(t, dir, "", "report", "telegram", "--period", "2024-Q4", "--format", "table", "--publish", credential(t, dir, "comms.lena", auth.Legal))
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, stderr)
	}
	m := regexp.MustCompile(`published report ([0-9a-f-]{36}) \(sha256 ([0-9a-f]{64}), as of sequence (\d+)\)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("stderr does not name the published report:\n%s", stderr)
	}
	id := m[1]
	if !strings.Contains(published, "FR") || !strings.Contains(published, "as of sequence 8") {
		t.Fatalf("published report:\n%s", published)
	}

	// The ledger moves on: a second French request is fulfilled in Q4.
	later := strings.NewReplacer("0192f3a0-5c00-7000-8000-00000000c0de", "0192f3a0-5c00-7000-8000-00000000beef", "3f0c2a8e", "4f0c2a8e")
	for _, f := range []struct {
		file string
		role auth.Role
	}{{"intake", auth.Intake}, {"decision", auth.Legal}, {"disclosure", auth.Disclosure}, {"closing", auth.Legal}} {
		mustRun(t, dir, later.Replace(readFile(t, "../../examples/"+f.file+".jsonl")), "submit", "-", credential(t, dir, officers[f.role], f.role))
	}
	now := mustRun(t, dir, "", "report", "telegram", "--period", "2024-Q4", "--format", "table")
	if now == published {
		t.Fatal("today's report equals the published one; the test needs a difference")
	}

	reproduced := mustRun(t, dir, "", "report", "--as-of-published", id)
	if reproduced != published {
		t.Errorf("reproduced:\n%s\npublished:\n%s", reproduced, published)
	}

	// The restatement names each changed cell and the events that changed it. Sequences 1-8
	// are the first request, 9 the publication, 10-15 the second request, whose disclosure
	// (15) fulfils one more request; it names the same account, so affected users stay 1.
	restated := mustRun(t, dir, "", "restatement", id, "--format", "csv")
	if want := "row,column,published,now,caused_by\r\nFR/France,fulfilled_requests,1,2,15 DataDisclosed\r\n"; restated != want {
		t.Errorf("restatement:\n%q\nwant\n%q", restated, want)
	}

	// The event records the checkpoint, signed over the events the report was computed from.
	s, err := jetstream.Open(t.Context(), jetstream.Config{DataDir: dir + "/jetstream"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs, err := s.Load(t.Context(), events.AggregateReport, id)
	if err != nil || len(recs) != 1 {
		t.Fatalf("report events %v, %v", recs, err)
	}
	e, err := recs[0].Payload()
	if err != nil {
		t.Fatal(err)
	}
	p := e.(*events.ReportPublished)
	if p.AsOf != 8 || p.SHA256 != m[2] || p.Parameters.View != "telegram" || recs[0].Actor != "comms.lena" {
		t.Errorf("ReportPublished %+v by %s", p, recs[0].Actor)
	}
	if !strings.HasPrefix(p.Checkpoint, "ledger.example/LEDGER\n8\n") {
		t.Errorf("checkpoint %q, want one of tree size 8", p.Checkpoint)
	}
}

func TestReproducingAnUnknownReportFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, id := range []string{"0192f3a0-5c00-7000-8000-000000000000", "not-a-uuid"} {
		if _, _, err := ledgerRun(t, dir, "", "report", "--as-of-published", id); err == nil {
			t.Errorf("--as-of-published %s: no error", id)
		}
	}
	if _, _, err := ledgerRun(t, dir, "", "report", "telegram", "--period", "2024", "--publish"); err == nil || errors.Is(err, projections.ErrNotReproduced) {
		t.Errorf("publishing an empty ledger: %v, want a refusal", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
