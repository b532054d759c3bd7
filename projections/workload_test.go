package projections_test

import (
	"testing"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

func TestWorkloadListsOpenRequestsMostUrgentFirst(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	due := func(r *events.RequestReceived, d time.Time) *events.RequestReceived { r.DueAt = &d; return r }
	// r1: due 10 Jan, still open at 15 Jan: overdue, held by whoever disclosed.
	h.add("r1", at(2025, 1, 1), due(received("FR", events.InstrumentCourtOrder, acct(1)), at(2025, 1, 10)))
	h.add("r1", at(2025, 1, 5), disclosed(produced(acct(1), events.DataIPAddress)))
	// r2: due 20 Jan: open, not overdue.
	h.add("r2", at(2025, 1, 2), due(received("DE", events.InstrumentSubpoena, acct(2)), at(2025, 1, 20)))
	// r3: no due date: last.
	h.add("r3", at(2025, 1, 3), received("US", events.InstrumentEmergency, acct(3)))
	// r4 closed and r5 withdrawn: not listed; a correction after closing does not reopen.
	intake := h.add("r4", at(2025, 1, 1), due(received("FR", events.InstrumentMLAT, acct(4)), at(2025, 1, 5)))
	h.add("r4", at(2025, 1, 4), &events.RequestClosed{})
	h.add("r4", at(2025, 1, 6), &events.EntryCorrected{Entry: intake.ID, Field: "authority.name", Value: []byte(`"Parquet de Paris"`), Reason: "typo"})
	h.add("r5", at(2025, 1, 1), received("IT", events.InstrumentMLAT, acct(5)))
	h.add("r5", at(2025, 1, 2), &events.RequestWithdrawn{})

	view := projections.NewWorkload()
	h.feed(view)
	rows := view.Report(at(2025, 1, 15))
	var got []string
	for _, r := range rows {
		got = append(got, string(r.Country))
	}
	if want := []string{"FR", "DE", "US"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("open requests %v, want %v", got, want)
	}
	if !rows[0].Overdue || rows[1].Overdue || rows[2].Overdue {
		t.Errorf("overdue flags %v %v %v, want true false false", rows[0].Overdue, rows[1].Overdue, rows[2].Overdue)
	}
	if rows[0].Stage != "DataDisclosed" || rows[1].Stage != "RequestReceived" {
		t.Errorf("stages %q %q", rows[0].Stage, rows[1].Stage)
	}
	// Before r1's due date nothing is overdue.
	for _, r := range view.Report(at(2025, 1, 9)) {
		if r.Overdue {
			t.Errorf("%s overdue on 9 January", r.Country)
		}
	}
}

func TestWorkloadByOfficer(t *testing.T) {
	t.Parallel()
	h := newHistory(t) // every event's actor is ines.intake
	d := at(2025, 1, 10)
	r := received("FR", events.InstrumentCourtOrder, acct(1))
	r.DueAt = &d
	h.add("r1", at(2025, 1, 1), r)
	h.add("r2", at(2025, 1, 2), received("DE", events.InstrumentEmergency, acct(2)))
	view := projections.NewWorkload()
	h.feed(view)
	table := view.OfficerTable(at(2025, 1, 15))
	if len(table.Rows) != 1 {
		t.Fatalf("rows %v, want one officer", table.Rows)
	}
	row := table.Rows[0]
	if row[0] != "ines.intake" || row[1] != 2 || row[2] != 1 {
		t.Errorf("officer row %v, want ines.intake with 2 open, 1 overdue", row)
	}
}
