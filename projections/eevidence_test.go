package projections_test

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

func epoc(country events.Country, in events.Instrument, category events.EEvidenceData, emergency bool, target int) *events.RequestReceived {
	r := received(country, in, acct(target))
	r.Authority.Kind = events.AuthorityProsecutor
	r.Emergency = emergency
	if category != "" {
		r.EEvidence = &events.EEvidenceOrder{DataCategory: category}
	}
	return r
}

// TestEEvidenceDeadlinesAtTheirBoundaries: 10 days (8 hours in an emergency) are met when
// the data go out at that very moment and missed a second later; refusals count by ground,
// notifications and preservation expiries apart. Every figure below is counted by hand.
func TestEEvidenceDeadlinesAtTheirBoundaries(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	t0 := time.Date(2025, 2, 3, 9, 0, 0, 0, time.UTC)
	effect := &events.OrderGivenEffect{}
	day := 24 * time.Hour
	order := func(name string, country events.Country, in events.Instrument, cat events.EEvidenceData, emergency bool, n int, after time.Duration) {
		h.add(name, t0, epoc(country, in, cat, emergency, n))
		if after >= 0 { // recorded as it happens: a deadline is judged by the later of both times
			h.addRecorded(name, t0.Add(after), t0.Add(after), effect)
		}
	}
	// DE, EPOC, traffic, not emergency.
	order("m1", "DE", events.InstrumentEPOC, events.EEvidenceTraffic, false, 1, 10*day)             // met: exactly 10 days
	order("m2", "DE", events.InstrumentEPOC, events.EEvidenceTraffic, false, 2, 10*day+time.Second) // missed by a second
	order("m3", "DE", events.InstrumentEPOC, events.EEvidenceTraffic, false, 3, 9*day+23*time.Hour) // met
	order("n1", "DE", events.InstrumentEPOC, events.EEvidenceTraffic, false, 4, 2*day)              // met, enforcing authority notified
	h.add("n1", t0.Add(time.Hour), &events.EnforcingAuthorityNotified{State: "IE"})
	order("p1", "DE", events.InstrumentEPOC, events.EEvidenceTraffic, false, 5, -1) // pending
	order("r1", "DE", events.InstrumentEPOC, events.EEvidenceTraffic, false, 6, -1) // refused
	h.add("r1", t0.Add(day), &events.OrderRefused{Ground: events.RefusalNoDualCriminality})
	// DE, EPOC, traffic, emergency.
	order("e1", "DE", events.InstrumentEPOC, events.EEvidenceTraffic, true, 7, 8*time.Hour)             // met: exactly 8 hours
	order("e2", "DE", events.InstrumentEPOC, events.EEvidenceTraffic, true, 8, 8*time.Hour+time.Minute) // missed
	// FR, EPOC, subscriber: refused as impossible; and one recorded without the v2 block.
	order("r2", "FR", events.InstrumentEPOC, events.EEvidenceSubscriber, false, 9, -1)
	h.add("r2", t0.Add(day), &events.OrderRefused{Ground: events.RefusalDeFactoImpossible})
	order("u1", "FR", events.InstrumentEPOC, "", false, 10, time.Hour) // met, unspecified
	// FR, EPOC-PR, content: preserved on 2025-01-15 → 60 days end 2025-03-16, in Q1.
	h.add("pr1", time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC), epoc("FR", events.InstrumentEPOCPR, events.EEvidenceContent, false, 11))
	h.add("pr1", time.Date(2025, 1, 15, 1, 0, 0, 0, time.UTC), effect)
	// Preserved on 2024-12-01 (before the period) → expires 2025-01-30: an expiry of Q1, not an order of Q1.
	h.add("pr2", time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC), epoc("FR", events.InstrumentEPOCPR, events.EEvidenceContent, false, 12))
	h.add("pr2", time.Date(2024, 12, 1, 2, 0, 0, 0, time.UTC), effect)
	// Preserved on 2025-02-20 → expires 2025-04-21, in Q2.
	h.add("pr3", time.Date(2025, 2, 20, 0, 0, 0, 0, time.UTC), epoc("FR", events.InstrumentEPOCPR, events.EEvidenceContent, false, 13))
	h.add("pr3", time.Date(2025, 2, 20, 3, 0, 0, 0, time.UTC), effect)
	// Refused: nothing preserved, nothing expires.
	h.add("pr4", time.Date(2025, 1, 20, 0, 0, 0, 0, time.UTC), epoc("FR", events.InstrumentEPOCPR, events.EEvidenceContent, false, 14))
	h.add("pr4", time.Date(2025, 1, 21, 0, 0, 0, 0, time.UTC), &events.OrderRefused{Ground: events.RefusalImmunity})
	// Preserved on 2025-01-10 → 60 days end 2025-03-11, but extended by 30: 2025-04-10, in Q2.
	h.add("pr5", time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC), epoc("FR", events.InstrumentEPOCPR, events.EEvidenceContent, false, 18))
	h.add("pr5", time.Date(2025, 1, 10, 1, 0, 0, 0, time.UTC), effect)
	h.add("pr5", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), &events.PreservationExtended{Extension: events.ExtendedBy30Days})
	// Preserved on 2025-01-05 (60 days: 2025-03-06), then held for a production request: no expiry.
	h.add("pr6", time.Date(2025, 1, 5, 0, 0, 0, 0, time.UTC), epoc("FR", events.InstrumentEPOCPR, events.EEvidenceContent, false, 19))
	h.add("pr6", time.Date(2025, 1, 5, 1, 0, 0, 0, time.UTC), effect)
	h.add("pr6", time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), &events.PreservationExtended{Extension: events.ProductionRequested})
	// Left out: forged orders (verification failed; fraud confirmed), an order of another
	// period, a court order.
	order("f1", "DE", events.InstrumentEPOC, events.EEvidenceTraffic, false, 15, time.Hour)
	h.add("f1", t0.Add(time.Minute), &events.RequesterVerificationFailed{Method: "signed_email", Verifier: "vera", Reason: "forged"})
	order("f2", "DE", events.InstrumentEPOC, events.EEvidenceTraffic, false, 18, time.Hour)
	h.add("f2", t0.Add(2*time.Hour), &events.FraudConfirmed{Reason: "the mailbox was compromised", Disclosed: true})
	h.add("o1", time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), epoc("DE", events.InstrumentEPOC, events.EEvidenceTraffic, false, 16))
	h.add("x1", t0, received("DE", events.InstrumentCourtOrder, acct(17)))

	v := projections.NewEEvidence()
	h.feed(v)
	grounds := func(g map[events.RefusalGround]int) map[events.RefusalGround]int { return g }
	want := []projections.EEvidenceRow{
		{Country: "DE", Order: events.InstrumentEPOC, DataCategory: "traffic", Orders: 6, GivenEffect: 4, DeadlineMet: 3, DeadlineMissed: 1,
			Pending: 1, Refused: 1, RefusedByGround: grounds(map[events.RefusalGround]int{events.RefusalNoDualCriminality: 1}), EnforcingNotified: 1},
		{Country: "DE", Order: events.InstrumentEPOC, DataCategory: "traffic", Emergency: true, Orders: 2, GivenEffect: 2, DeadlineMet: 1, DeadlineMissed: 1,
			RefusedByGround: grounds(map[events.RefusalGround]int{})},
		{Country: "FR", Order: events.InstrumentEPOC, DataCategory: "subscriber", Orders: 1, Refused: 1,
			RefusedByGround: grounds(map[events.RefusalGround]int{events.RefusalDeFactoImpossible: 1})},
		{Country: "FR", Order: events.InstrumentEPOC, DataCategory: "unspecified", Orders: 1, GivenEffect: 1, DeadlineMet: 1,
			RefusedByGround: grounds(map[events.RefusalGround]int{})},
		// pr1, pr3, pr5, pr6 given effect, pr4 refused; pr5 and pr6 extended; pr1 and pr2 expire in Q1.
		{Country: "FR", Order: events.InstrumentEPOCPR, DataCategory: "content", Orders: 5, GivenEffect: 4, Refused: 1,
			RefusedByGround: grounds(map[events.RefusalGround]int{events.RefusalImmunity: 1}), Extended: 2, PreservationExpiry: 2},
	}
	got := v.Report(period(t, "2025-Q1"))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("report\n got  %+v\n want %+v", got, want)
	}
	// Q2 holds the expiries of pr3 and pr5 (extended), and o1 (pending) only.
	q2 := v.Report(period(t, "2025-Q2"))
	if len(q2) != 2 || q2[0].Pending != 1 || q2[0].Orders != 1 || q2[1].PreservationExpiry != 2 || q2[1].Orders != 0 {
		t.Errorf("Q2 %+v", q2)
	}

	var out bytes.Buffer
	if err := v.Table(period(t, "2025-Q1")).Write(&out, "csv"); err != nil {
		t.Fatal(err)
	}
	golden(t, "eevidence.csv.golden", out.Bytes())
}
