package projections_test

import (
	"slices"
	"testing"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

func TestRequestsHandlesOnlyDeliveriesDisclosuresCorrectionsAndForgeries(t *testing.T) {
	t.Parallel()
	v := projections.NewRequests()
	for _, k := range events.Catalogue() {
		want := k.Name == "RequestReceived" || k.Name == "DataDisclosed" || k.Name == "EntryCorrected" || k.Name == "FraudConfirmed"
		if got := v.Handles(k.Name); got != want {
			t.Errorf("Handles(%q) = %v, want %v", k.Name, got, want)
		}
	}
}

// requestsHistory spans Q1 and Q2 of 2024, recorded out of country and instrument order.
func requestsHistory(t *testing.T) *history {
	h := newHistory(t)
	// FR court order, 2 targets, delivered in Q1; subscriber data only, sent in Q2.
	h.add("r1", at(2024, 2, 1), received("FR", events.InstrumentCourtOrder, acct(1), acct(2)))
	h.add("r1", at(2024, 4, 15), disclosed(produced(acct(1), events.DataSubscriber)))
	// FR subpoena, 3 targets, delivered in Q1; content sent in Q1.
	h.add("r2", at(2024, 3, 1), received("FR", events.InstrumentSubpoena, acct(3), acct(4), acct(5)))
	h.add("r2", at(2024, 3, 5), disclosed(produced(acct(3), events.DataContent)))
	// FR court order, 1 target, delivered in Q1; rejected, nothing sent.
	h.add("r3", at(2024, 1, 15), received("FR", events.InstrumentCourtOrder, acct(6)))
	h.add("r3", at(2024, 1, 20), decided(events.OutcomeReject, acct(6)))
	// DE emergency, 1 target, delivered in Q1; withdrawn: still received.
	h.add("r4", at(2024, 1, 5), received("DE", events.InstrumentEmergency, acct(7)))
	h.add("r4", at(2024, 1, 6), &events.RequestWithdrawn{Reason: "resolved"})
	// DE court order, 2 targets, delivered in Q1; IP address sent in Q1, twice.
	h.add("r5", at(2024, 3, 20), received("DE", events.InstrumentCourtOrder, acct(8), acct(9)))
	h.add("r5", at(2024, 3, 21), disclosed(produced(acct(8), events.DataIPAddress)))
	h.add("r5", at(2024, 3, 22), disclosed(produced(acct(9), events.DataIPAddress)))
	// DE court order, 1 target, delivered on the first instant of Q2; still pending.
	h.addRecorded("r6", day(2024, 4, 1), day(2024, 4, 1), received("DE", events.InstrumentCourtOrder, acct(10)))
	// AT court order with no targets named (an odd request, but it is received).
	h.add("r7", at(2024, 6, 30), received("AT", events.InstrumentCourtOrder))
	return h
}

func TestRequestsCountsByDeliveryTimePerCountryAndInstrument(t *testing.T) {
	t.Parallel()
	v := projections.NewRequests()
	requestsHistory(t).feed(v)

	tests := []struct {
		period string
		want   []projections.RequestsRow
	}{
		// Q1: DE court order r5 (2 accounts, data); DE emergency r4 (1 account, none);
		// FR court order r1 + r3 (2 + 1 accounts; r1 produced subscriber data, in Q2, which
		// still counts: "some data so far, whenever sent"); FR subpoena r2 (3 accounts, content).
		{"2024-Q1", []projections.RequestsRow{
			{Country: "DE", Instrument: events.InstrumentCourtOrder, Requests: 1, Accounts: 2, WithData: 1},
			{Country: "DE", Instrument: events.InstrumentEmergency, Requests: 1, Accounts: 1, WithData: 0},
			{Country: "FR", Instrument: events.InstrumentCourtOrder, Requests: 2, Accounts: 3, WithData: 1},
			{Country: "FR", Instrument: events.InstrumentSubpoena, Requests: 1, Accounts: 3, WithData: 1},
		}},
		// Q2: r1's disclosure falls here but r1 was delivered in Q1, so it does not count.
		// DE court order r6 (delivered at 00:00 on 1 April, 1 account); AT r7 (no targets).
		{"2024-Q2", []projections.RequestsRow{
			{Country: "AT", Instrument: events.InstrumentCourtOrder, Requests: 1, Accounts: 0, WithData: 0},
			{Country: "DE", Instrument: events.InstrumentCourtOrder, Requests: 1, Accounts: 1, WithData: 0},
		}},
		// H1 is Q1 + Q2, row by row: requests are counted once each, in their delivery period.
		{"2024-H1", []projections.RequestsRow{
			{Country: "AT", Instrument: events.InstrumentCourtOrder, Requests: 1, Accounts: 0, WithData: 0},
			{Country: "DE", Instrument: events.InstrumentCourtOrder, Requests: 2, Accounts: 3, WithData: 1},
			{Country: "DE", Instrument: events.InstrumentEmergency, Requests: 1, Accounts: 1, WithData: 0},
			{Country: "FR", Instrument: events.InstrumentCourtOrder, Requests: 2, Accounts: 3, WithData: 1},
			{Country: "FR", Instrument: events.InstrumentSubpoena, Requests: 1, Accounts: 3, WithData: 1},
		}},
		{"2024-H2", []projections.RequestsRow{}},
	}
	for _, tt := range tests {
		if got := v.Report(period(t, tt.period)); !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.period, got, tt.want)
		}
	}
}

func TestRequestsShareIsAFractionAndZeroWithoutRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		row  projections.RequestsRow
		want float64
	}{
		{"no requests", projections.RequestsRow{}, 0},
		{"none with data", projections.RequestsRow{Requests: 4}, 0},
		{"half", projections.RequestsRow{Requests: 2, WithData: 1}, 0.5},
		{"all", projections.RequestsRow{Requests: 3, WithData: 3}, 1},
		{"a quarter", projections.RequestsRow{Requests: 4, WithData: 1}, 0.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.row.Share(); got != tt.want {
				t.Errorf("Share() of %+v = %v, want %v", tt.row, got, tt.want)
			}
		})
	}

	v := projections.NewRequests()
	requestsHistory(t).feed(v)
	for _, r := range v.Report(period(t, "2024")) {
		if s := r.Share(); s < 0 || s > 1 {
			t.Errorf("%s %s: Share() = %v, outside [0,1]", r.Country, r.Instrument, s)
		}
	}
}

func TestRequestsTableColumnsAndCells(t *testing.T) {
	t.Parallel()
	v := projections.NewRequests()
	requestsHistory(t).feed(v)
	tbl := v.Table(period(t, "2024-Q1"))

	wantCols := []string{"country", "instrument", "requests", "accounts_specified", "requests_with_data", "share_with_data"}
	if !slices.Equal(tbl.Columns, wantCols) {
		t.Errorf("columns = %q, want %q", tbl.Columns, wantCols)
	}
	want := [][]any{
		{"DE", "court_order", 1, 2, 1, 1.0},
		{"DE", "emergency", 1, 1, 0, 0.0},
		{"FR", "court_order", 2, 3, 1, 0.5},
		{"FR", "subpoena", 1, 3, 1, 1.0},
	}
	if !slices.EqualFunc(tbl.Rows, want, slices.Equal) {
		t.Errorf("rows = %v, want %v", tbl.Rows, want)
	}
	if want := "Requests by country and instrument, 2024-01-01..2024-03-31"; tbl.Title != want {
		t.Errorf("title = %q, want %q", tbl.Title, want)
	}
}
