package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/bundle"
)

// TestReportBundleIsServedToEntitledCallers: the bundle of a published report verifies
// offline and carries the bytes GET /v1/published/{id} gives; a regulator limited to France
// gets France's report and is refused Germany's and the one of every country, whose figures
// are not all its own.
func TestReportBundleIsServedToEntitledCallers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, fr := newRequest("FR")
	f.record(fr, 0, 1)
	_, de := newRequest("DE")
	f.record(de, 0, 1)
	publish := func(query string) string {
		r := f.do("POST", "/v1/reports/requests/publish?period=2025"+query, "legal", nil)
		if r.status != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", query, r.status, r.body)
		}
		return strings.TrimPrefix(r.header.Get("Location"), "/v1/published/")
	}
	ids := map[string]string{"FR": publish("&country=FR"), "DE": publish("&country=DE"), "all": publish("")}

	tests := []struct {
		report, caller string
		status         int
	}{
		{"FR", "regulator-fr", http.StatusOK},
		{"DE", "regulator-fr", http.StatusForbidden},
		{"all", "regulator-fr", http.StatusForbidden},
		{"all", "regulator", http.StatusOK},
		{"DE", "auditor", http.StatusOK},
		{"FR", "legal", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.report+" as "+tt.caller, func(t *testing.T) {
			r := f.do("GET", "/v1/published/"+ids[tt.report]+"/bundle", tt.caller, nil)
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tt.status)
			}
			if r.status != http.StatusOK {
				r.err(t)
				return
			}
			res, err := bundle.Verify(r.body, bundle.Keys{Log: f.key.Verifier})
			if err != nil {
				t.Fatalf("the served bundle does not verify: %v", err)
			}
			published := f.do("GET", "/v1/published/"+ids[tt.report], "auditor", nil)
			if published.status != http.StatusOK || string(published.body) != string(res.Bundle.Report) {
				t.Fatalf("bundle's report bytes differ from GET /v1/published/{id} (%d):\n%s\nwant\n%s", published.status, res.Bundle.Report, published.body)
			}
		})
	}
	if r := f.do("GET", "/v1/published/"+strings.Repeat("0", 8)+"-0000-7000-8000-000000000000/bundle", "regulator", nil); r.status != http.StatusNotFound {
		t.Fatalf("no such report: %d %s, want 404", r.status, r.body)
	}
}
