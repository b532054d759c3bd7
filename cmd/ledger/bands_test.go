package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/server/auth"
)

// report bands national-security figures in every view; --ns-band 250 is the publisher's
// option, recorded with a published report so that --as-of-published reproduces it; any
// other width is refused, naming the flag.
func TestReportBandsNationalSecurityFigures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lines := []string{
		receiveLine(uuid.NewString(), "", "2025-02-03T09:00:00Z", "US", "nsl", "u-1", "u-2"),
		receiveLine(uuid.NewString(), "", "2025-02-03T09:00:00Z", "US", "fisa", "u-3"),
		receiveLine(uuid.NewString(), "", "2025-02-03T09:00:00Z", "US", "subpoena", "u-4"),
	}
	submitAsOfficers(t, dir, lines...)

	out := mustRun(t, dir, "", "report", "requests", "--period", "2025", "--format", "csv")
	for _, want := range []string{"US,fisa,0-499,0-499,0-499,\r\n", "US,nsl,0-499,0-499,0-499,\r\n", "US,subpoena,1,1,0,0.0000\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("report requests lacks %q:\n%s", want, out)
		}
	}

	published, stderr, err := ledgerRun(t, dir, "", "report", "requests", "--period", "2025", "--format", "csv", "--ns-band", "250", "--publish", credential(t, dir, officers[auth.Legal], auth.Legal))
	if err != nil || !strings.Contains(published, "US,nsl,0-249,0-249,0-249,\r\n") {
		t.Fatalf("report --ns-band 250 --publish: %v\n%s%s", err, published, stderr)
	}
	id := regexp.MustCompile(`published report (\S+) `).FindStringSubmatch(stderr)
	if id == nil {
		t.Fatalf("no report id on stderr:\n%s", stderr)
	}
	if again := mustRun(t, dir, "", "report", "--as-of-published", id[1]); again != published {
		t.Errorf("--as-of-published:\n%s\nwant\n%s", again, published)
	}

	if _, _, err := ledgerRun(t, dir, "", "report", "requests", "--period", "2025", "--ns-band", "100"); err == nil ||
		!strings.HasPrefix(err.Error(), "--ns-band: 100: national-security figures are published in bands of 500 (the default) or 250") {
		t.Errorf("--ns-band 100: %v", err)
	}
}
