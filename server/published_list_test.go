package server_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// TestPublishedReportsAreListedWithTheirCheckpoints: every report published over the API is
// listed, oldest first, with the SHA-256 and id its publication answered, the actor who
// published it, and a checkpoint signed by the ledger's key that covers what it was computed
// from; requests and other aggregates are not listed.
func TestPublishedReportsAreListedWithTheirCheckpoints(t *testing.T) {
	f := newFixture(t)
	_, steps := newRequest("FR")
	f.record(steps, 0, len(steps))
	type published struct{ id, sha string }
	var want []published
	for _, q := range []string{"/v1/reports/requests/publish?period=2025&format=csv", "/v1/reports/dsa/publish?period=2025-H1&format=json&country=FR"} {
		r := f.do("POST", q, "legal", nil)
		if r.status != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", q, r.status, r.body)
		}
		want = append(want, published{r.header.Get("Ledger-Report-Id"), r.header.Get("Ledger-Report-SHA256")})
	}
	r := f.do("GET", "/v1/published", "auditor", nil)
	if r.status != http.StatusOK {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	var rows []struct {
		ID, View, Period, Country, Format, SHA256, Actor, Checkpoint string
		NSBand                                                       int    `json:"ns_band"`
		AsOf                                                         uint64 `json:"as_of"`
	}
	if err := json.Unmarshal(r.body, &rows); err != nil {
		t.Fatalf("list: %v\n%s", err, r.body)
	}
	if len(rows) != len(want) {
		t.Fatalf("listed %d reports, want %d:\n%s", len(rows), len(want), r.body)
	}
	for i, row := range rows {
		if row.ID != want[i].id || row.SHA256 != want[i].sha || row.Actor != "legal" || row.NSBand != 500 {
			t.Errorf("row %d: %+v, want id %s sha256 %s by legal, bands of 500", i, row, want[i].id, want[i].sha)
		}
		n, err := note.Open([]byte(row.Checkpoint), note.VerifierList(f.key.Verifier))
		if err != nil {
			t.Errorf("row %d: checkpoint does not verify with the ledger's key: %v\n%s", i, err, row.Checkpoint)
			continue
		}
		lines := strings.Split(n.Text, "\n")
		if size, err := strconv.ParseUint(lines[min(1, len(lines)-1)], 10, 64); err != nil || size < row.AsOf {
			t.Errorf("row %d: checkpoint %q does not cover as_of %d", i, n.Text, row.AsOf)
		}
	}
	if rows[1].View != "dsa" || rows[1].Country != "FR" || rows[1].Format != "json" || rows[1].Period != "2025-H1" {
		t.Errorf("the second report's parameters: %+v", rows[1])
	}
	if r := f.do("GET", "/v1/published?format=csv", "legal", nil); r.status != http.StatusOK || !strings.HasPrefix(string(r.body), "id,view,period") {
		t.Errorf("csv: %d %.80s", r.status, r.body)
	}
}
