package projections_test

import (
	"context"
	"testing"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// A correction of the intake moves the request in every view that groups by it, from the
// moment it is recorded; replays before it still show the original.
func TestCorrectionsMoveRequestsInEveryView(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	r1 := h.add("r1", at(2024, 10, 1), received("FR", events.InstrumentCourtOrder, acct(1)))
	h.add("r1", at(2024, 10, 2), decided(events.OutcomeProduce, acct(1)))
	h.add("r1", at(2024, 10, 3), disclosed(produced(acct(1), events.DataIPAddress)))
	published := uint64(len(h.recs))
	h.add("r1", at(2024, 10, 9), &events.EntryCorrected{Entry: r1.ID, Field: "authority.country", Value: []byte(`"BE"`), Reason: "a Belgian order"})
	h.add("r1", at(2024, 10, 9), &events.EntryCorrected{Entry: r1.ID, Field: "instrument", Value: []byte(`"mlat"`), Reason: "sent through MLAT"})
	q4 := period(t, "2024-Q4")

	telegram, requests, transparency := projections.NewTelegram(), projections.NewRequests(), projections.NewTransparency()
	h.feed(telegram, requests, transparency)
	if got := telegram.Report(q4); len(got) != 1 || got[0] != (projections.TelegramRow{Country: "BE", Requests: 1, Users: 1}) {
		t.Errorf("telegram %+v, want BE 1/1 only", got)
	}
	if got := requests.Report(q4); len(got) != 1 || got[0].Country != "BE" || got[0].Instrument != events.InstrumentMLAT {
		t.Errorf("requests %+v, want BE mlat only", got)
	}
	if got := transparency.Report(q4); len(got) != 1 || got[0].Country != "BE" || got[0].Group != projections.GroupLegalProcess {
		t.Errorf("transparency %+v, want BE legal_process only", got)
	}

	// The restatement against the report published before the corrections names them.
	r, err := projections.Restatement(context.Background(), &sliceSource{recs: h.recs}, projections.NewTelegram(), q4, published, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantRows := map[string]string{
		"BE/Belgium fulfilled_requests": "4 EntryCorrected",
		"FR/France fulfilled_requests":  "4 EntryCorrected",
	}
	for _, row := range r.Rows {
		if cause, ok := wantRows[row[0].(string)+" "+row[1].(string)]; ok && row[4] != cause {
			t.Errorf("restatement row %v, want caused by %s", row, cause)
		}
	}
	if len(r.Rows) != 4 { // BE and FR, requests and users each
		t.Errorf("restatement %v, want 4 changed cells", r.Rows)
	}
}
