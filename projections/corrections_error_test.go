package projections_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// TestACorrectionNoViewCanApplyIsAnError: the rules refuse such corrections, so one in the
// stream was written around them; feeding it to the views is an error naming its position,
// never a silent skip.
func TestACorrectionNoViewCanApplyIsAnError(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	t0 := time.Date(2025, 2, 3, 9, 0, 0, 0, time.UTC)
	first := h.add("r", t0, received("FR", events.InstrumentCourtOrder, acct(1)))
	for _, c := range []events.EntryCorrected{
		{Entry: first.ID, Field: "targets", Value: json.RawMessage(`[]`), Reason: "not correctable"},
		{Entry: first.ID, Field: "authority.country", Value: json.RawMessage(`"XX"`), Reason: "no such country"},
	} {
		rec := h.add("r", t0.Add(time.Hour), &c)
		err := projections.Feed(rec, projections.NewTelegram(), projections.NewTransparency())
		if !errors.Is(err, events.ErrInvalid) {
			t.Errorf("correction of %s: Feed returned %v, want an invalid-field error", c.Field, err)
		}
	}
}
