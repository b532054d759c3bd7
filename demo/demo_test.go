package demo

import (
	"iter"
	"testing"
	"time"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// foldPlan runs the plan through the aggregate's rules alone (no store) and feeds the views.
func foldPlan(t testing.TB, plan iter.Seq[Lifecycle], views ...projections.Projection) (requests, recorded int) {
	t.Helper()
	for lc := range plan {
		for _, s := range lc.Steps {
			if want := command.RoleOf(aggregates.CommandName(s.Command)); s.Caller.Role != want {
				t.Fatalf("request %s: %s recorded by %s of role %s, want role %s", lc.RequestID, aggregates.CommandName(s.Command), s.Caller.Name, s.Caller.Role, want)
			}
		}
	}
	ids := map[string]bool{}
	for rec, err := range History(plan) {
		if err != nil {
			t.Fatal(err)
		}
		ids[rec.Subject] = true
		recorded++
		if err := projections.Feed(rec, views...); err != nil {
			t.Fatal(err)
		}
	}
	return len(ids), recorded
}

// raceSample covers the counting rules at a size the race detector can afford: GB has
// accounts that recur across quarters (its 2024 users are fewer than its quarters' sum), NL
// and BR have quarterly and cumulative rows, AT only a zero row.
var raceSample = []events.Country{"GB", "NL", "BR", "AT"}

func TestPlanFollowsTheRulesAndReproducesEveryPublishedRow(t *testing.T) {
	t.Parallel()
	var countries []events.Country
	if raceDetector {
		countries = raceSample
		t.Logf("race detector on: folding %v only", countries)
	}
	plan, err := Plan(countries...)
	if err != nil {
		t.Fatal(err)
	}
	view := projections.NewTelegram()
	requests, n := foldPlan(t, plan, view)
	mismatches, rows, err := Compare(view, countries...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests, %d events, %d published rows", requests, n, rows)
	for _, m := range mismatches {
		t.Error(m)
	}
}

// TestOrdersOfMemberStatesFillTheDSAAndEEvidenceViews: the demo's orders follow the rules
// and give both views figures of every kind: orders to act and to inform, medians, deadlines
// kept and missed, refusals, notifications and preservation expiries. The demo is a history
// recorded long after it happened, so an order given effect in time by its stated time counts
// as recorded late, never as met.
func TestOrdersOfMemberStatesFillTheDSAAndEEvidenceViews(t *testing.T) {
	t.Parallel()
	plan, err := Plan("AT", "FR", "GR")
	if err != nil {
		t.Fatal(err)
	}
	dsa, eev, telegram := projections.NewDSA(""), projections.NewEEvidence(), projections.NewTelegram()
	foldPlan(t, plan, dsa, eev, telegram)
	year := projections.Range{From: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	rows := dsa.Report(year)
	total := rows[0].Figures
	if rows[0].Code != "TOTAL" || total.ActOrders == 0 || total.InfoOrders == 0 || total.ActItems <= total.ActOrders ||
		len(total.ActAck) == 0 || len(total.InfoEffect) == 0 {
		t.Errorf("DSA total %+v", total)
	}
	scopes := map[string]bool{}
	for _, r := range rows {
		scopes[r.Scope] = true
	}
	if !scopes["AT"] || !scopes["FR"] || !scopes["EL"] || scopes["GR"] {
		t.Errorf("DSA blocks %v", scopes)
	}
	var met, late, missed, refused, notified, expiring, extended int
	for _, r := range eev.Report(year) {
		met += r.DeadlineMet
		late += r.DeadlineRecordedLate
		missed += r.DeadlineMissed
		refused += r.Refused
		notified += r.EnforcingNotified
		expiring += r.PreservationExpiry
		extended += r.Extended
	}
	if met != 0 || late == 0 || missed == 0 || refused == 0 || notified == 0 || expiring == 0 || extended == 0 {
		t.Errorf("e-Evidence figures: met %d (want 0), recorded late %d, missed %d, refused %d, notified %d, expiring %d, extended %d", met, late, missed, refused, notified, expiring, extended)
	}
	mismatches, _, err := Compare(telegram, "AT", "FR", "GR")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mismatches {
		t.Error(m)
	}
}
