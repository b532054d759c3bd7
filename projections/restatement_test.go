package projections_test

import (
	"context"
	"testing"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

func TestRestatementNamesTheEventsBehindEachChangedCell(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	h.add("r1", at(2024, 10, 1), received("FR", events.InstrumentCourtOrder, acct(1)))
	h.add("r1", at(2024, 10, 2), disclosed(produced(acct(1), events.DataIPAddress)))
	published := uint64(len(h.recs)) // 2
	// Later facts about Q4: a late disclosure for FR (two users), a DE request, and one
	// event no telegram cell depends on.
	h.add("r2", at(2024, 10, 3), received("FR", events.InstrumentCourtOrder, acct(2), acct(3)))                                 // 3
	h.add("r2", at(2024, 10, 4), &events.RequestClosed{})                                                                       // 4
	h.add("r2", at(2024, 10, 5), disclosed(produced(acct(2), events.DataIPAddress), produced(acct(3), events.DataPhoneNumber))) // 5
	h.add("r3", at(2024, 11, 1), received("DE", events.InstrumentCourtOrder, acct(4)))                                          // 6

	got, err := projections.Restatement(context.Background(), &sliceSource{recs: h.recs}, projections.NewTelegram(), period(t, "2024-Q4"), published, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{"DE/Germany", "fulfilled_requests", "", "0", "6 RequestReceived"},
		{"DE/Germany", "affected_users", "", "0", "6 RequestReceived"},
		{"FR/France", "fulfilled_requests", "1", "2", "5 DataDisclosed"},
		{"FR/France", "affected_users", "1", "3", "5 DataDisclosed"},
	}
	if len(got.Rows) != len(want) {
		t.Fatalf("restatement rows %v, want %v", got.Rows, want)
	}
	for i := range want {
		for j := range want[i] {
			if got.Rows[i][j] != want[i][j] {
				t.Errorf("row %d: %v, want %v", i, got.Rows[i], want[i])
				break
			}
		}
	}
}
