package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/deadline"
	"github.com/complianceledger/ledger/internal/clocktest"
	"github.com/complianceledger/ledger/server"
)

// TestServeShowsWhatFallsDueAndAlertsBeforeIt: an emergency production order (8 hours) is
// received; as the server's clock moves, the workload's deadlines, the timeline's and the
// gauges show it approaching, and the alert reaches the alert stream before the due time.
func TestServeShowsWhatFallsDueAndAlertsBeforeIt(t *testing.T) {
	received := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := clocktest.New(received)
	f := newFixtureWith(t, func(c *server.Config) { c.Now, c.AlertTick = clock.Now, 20*time.Millisecond })
	id := "0193f3b4-5d6e-7c1a-9b2f-6c6564676501"
	body := fmt.Sprintf(`{"command":"receive_request","request_id":"%s","authority":{"name":"Staatsanwaltschaft","kind":"prosecutor","country":"DE"},`+
		`"instrument":"epoc","emergency":true,"eevidence":{"data_category":"subscriber"},"targets":[{"account":"u1","identifier_type":"username"}],"data_sought":["subscriber"]}`, id)
	if r := f.do("POST", "/v1/commands", "intake", []byte(body)); r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Fatalf("receive: %d %s", r.status, r.body)
	}
	due := received.Add(8 * time.Hour)
	states := func(path string) []string {
		r := f.do("GET", path, "legal", nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		var rows []map[string]any
		if err := json.Unmarshal(r.body, &rows); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, row := range rows {
			out = append(out, fmt.Sprint(row["kind"], " ", row["state"], " ", row["due"]))
		}
		return out
	}
	want := func(state string) string { return "epoc_emergency " + state + " " + due.Format(time.RFC3339) }
	if got := states("/v1/workload?deadlines=true&format=json"); len(got) != 1 || got[0] != want("running") {
		t.Fatalf("workload deadlines at receipt: %v", got)
	}
	clock.Advance(6 * time.Hour) // two hours before: the warning time begins
	if got := states("/v1/workload?deadlines=true&format=json"); len(got) != 1 || got[0] != want("approaching") {
		t.Fatalf("workload deadlines two hours before: %v", got)
	}
	if got := states("/v1/requests/" + id + "/timeline?deadlines=true&format=json"); len(got) != 1 || got[0] != want("approaching") {
		t.Fatalf("timeline deadlines: %v", got)
	}
	metrics := string(f.do("GET", "/metrics", "auditor", nil).body)
	if !strings.Contains(metrics, `ledger_deadline_clocks{kind="epoc_emergency",state="approaching"} 1`) ||
		!strings.Contains(metrics, `ledger_deadline_next_due_seconds{kind="epoc_emergency"} 7200`) {
		t.Errorf("gauges missing:\n%s", grep(metrics, "ledger_deadline"))
	}
	// The alert reaches the stream while the clock still stands before the due time.
	deadlineAt := time.Now().Add(10 * time.Second)
	for {
		var got []string
		for a, err := range f.store.ReadAlerts(t.Context(), 1, false) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, a.Subject)
		}
		if len(got) == 1 && strings.HasPrefix(got[0], deadline.SubjectRoot+".deadline.approaching."+id+".epoc_emergency.") {
			break
		}
		if time.Now().After(deadlineAt) || len(got) > 1 {
			t.Fatalf("alerts %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
