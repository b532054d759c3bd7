package projections_test

import (
	"testing"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

func TestBandsOf500(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0-499", 1: "0-499", 499: "0-499", 500: "500-999", 1234: "1000-1499"} {
		if got := projections.Band(n); got != want {
			t.Errorf("Band(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTransparencyCountsDecidedRequestsByGroup(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	q := at(2025, 2, 1)
	emergency := func(r *events.RequestReceived) *events.RequestReceived { r.Emergency = true; return r }
	// US subpoena, 2 accounts, IP address produced: produced, non-content only.
	h.add("s1", q, received("US", events.InstrumentSubpoena, acct(1), acct(2)))
	h.add("s1", q, decided(events.OutcomeProduce, acct(1)))
	h.add("s1", q, disclosed(produced(acct(1), events.DataIPAddress)))
	// US subpoena, rejected.
	h.add("s2", q, received("US", events.InstrumentSubpoena, acct(3)))
	h.add("s2", q, decided(events.OutcomeReject, acct(3)))
	// US search warrant, content produced.
	h.add("w1", q, received("US", events.InstrumentSearchWarrant, acct(4)))
	h.add("w1", q, decided(events.OutcomeProduce, acct(4)))
	h.add("w1", q, disclosed(produced(acct(4), events.DataContent, events.DataSubscriber)))
	// US emergency, no data.
	h.add("e1", q, emergency(received("US", events.InstrumentEmergency, acct(5))))
	h.add("e1", q, decided(events.OutcomeNoData, acct(5)))
	// US pending ones, left out: undecided; approved but not produced; withdrawn.
	h.add("p1", q, received("US", events.InstrumentSubpoena, acct(6)))
	h.add("p2", q, received("US", events.InstrumentSubpoena, acct(7)))
	h.add("p2", q, decided(events.OutcomeProduce, acct(7)))
	h.add("p3", q, received("US", events.InstrumentSubpoena, acct(8)))
	h.add("p3", q, &events.RequestWithdrawn{})
	// US NSLs: 3 requests naming 4 accounts, published as bands.
	for i, name := range []string{"n1", "n2", "n3"} {
		targets := []events.AccountRef{acct(20 + i)}
		if i == 0 {
			targets = append(targets, acct(30))
		}
		h.add(name, q, received("US", events.InstrumentNSL, targets...))
		h.add(name, q, decided(events.OutcomeProduce, targets...))
		h.add(name, q, disclosed(produced(targets[0], events.DataSubscriber)))
	}
	// US preservation: 1 request, 2 accounts preserved; not in the totals.
	h.add("k1", q, received("US", events.InstrumentPreservation, acct(40), acct(41)))
	h.add("k1", q, decided(events.OutcomeProduce, acct(40), acct(41)))
	// FR: court order and MLAT are both "legal_process"; one produced, one no data.
	h.add("f1", q, received("FR", events.InstrumentCourtOrder, acct(50)))
	h.add("f1", q, decided(events.OutcomeProduce, acct(50)))
	h.add("f1", q, disclosed(produced(acct(50), events.DataPhoneNumber)))
	h.add("f2", q, received("FR", events.InstrumentMLAT, acct(51)))
	h.add("f2", q, decided(events.OutcomeNoData, acct(51)))
	// Delivered in the next quarter: not in Q1.
	h.add("late", at(2025, 4, 2), received("FR", events.InstrumentCourtOrder, acct(52)))
	h.add("late", at(2025, 4, 2), decided(events.OutcomeReject, acct(52)))

	view := projections.NewTransparency()
	h.feed(view)
	got := map[string]projections.TransparencyRow{}
	for _, r := range view.Report(period(t, "2025-Q1")) {
		got[string(r.Country)+"/"+r.Group] = r
	}
	want := map[string]projections.TransparencyRow{
		"US/subpoena":          {Country: "US", Group: "subpoena", Requests: 2, Accounts: 3, Produced: 1, NonContentOnly: 1, Rejected: 1},
		"US/search_warrant":    {Country: "US", Group: "search_warrant", Requests: 1, Accounts: 1, Produced: 1, Content: 1},
		"US/emergency":         {Country: "US", Group: "emergency", Requests: 1, Accounts: 1, NoData: 1},
		"US/national_security": {Country: "US", Group: "national_security", Requests: 3, Accounts: 4, Produced: 3, NonContentOnly: 3},
		"US/preservation":      {Country: "US", Group: "preservation", Requests: 1, AccountsKept: 2},
		"FR/legal_process":     {Country: "FR", Group: "legal_process", Requests: 2, Accounts: 2, Produced: 1, NonContentOnly: 1, NoData: 1},
	}
	if len(got) != len(want) {
		t.Errorf("rows %v, want %d rows", got, len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %+v, want %+v", k, got[k], w)
		}
	}
	if s := got["US/subpoena"].Share(); s != 0.5 {
		t.Errorf("US subpoena share %v, want 0.5", s)
	}

	// The table publishes national-security figures only as bands.
	for _, row := range view.Table(period(t, "2025-Q1")).Rows {
		if row[1] == projections.GroupNationalSecurity && (row[2] != "0-499" || row[3] != "0-499" || row[4] != "") {
			t.Errorf("national security row %v, want bands only", row)
		}
	}
}

// TestTransparencyLeavesOutOrdersToActAgainstContent: a DSA Art. 9 order asks for no user
// data; an Art. 10 order does and counts.
func TestTransparencyLeavesOutOrdersToActAgainstContent(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	q := at(2025, 2, 1)
	h.add("a", q, received("DE", events.InstrumentDSAArt9, acct(1)))
	h.add("a", q, decided(events.OutcomeProduce, acct(1)))
	h.add("i", q, received("DE", events.InstrumentDSAArt10, acct(2)))
	h.add("i", q, decided(events.OutcomeProduce, acct(2)))
	h.add("i", q, disclosed(produced(acct(2), events.DataSubscriber)))
	v := projections.NewTransparency()
	h.feed(v)
	rows := v.Report(period(t, "2025-Q1"))
	if len(rows) != 1 || rows[0].Requests != 1 || rows[0].Produced != 1 {
		t.Errorf("rows %+v, want the Art. 10 order only", rows)
	}
}
