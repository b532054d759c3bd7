package projections_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/projections/facts"
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

// TestACorrectionOfAnotherEntryStopsEveryReplay: the views read corrections of a request's
// intake only, and the rules refuse any other; one in the stream (written around the rules)
// stops Feed, Replay and the Runner with facts.ErrUnappliable, never a silent skip.
func TestACorrectionOfAnotherEntryStopsEveryReplay(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 2, 3, 9, 0, 0, 0, time.UTC)
	for name, corrected := range map[string]func(h *history) string{
		"a later event": func(h *history) string { return h.add("r", t0.Add(time.Minute), &events.ReceiptAcknowledged{}).ID },
		"another request's": func(h *history) string {
			return h.add("other", t0, received("BE", events.InstrumentCourtOrder, acct(2))).ID
		},
		"an event never there": func(h *history) string { return "0193f3b4-5d6e-7c1a-9b2f-000000000001" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHistory(t)
			h.add("r", t0, received("FR", events.InstrumentCourtOrder, acct(1)))
			entry := corrected(h)
			h.add("r", t0.Add(time.Hour), &events.EntryCorrected{Entry: entry, Field: "authority.country", Value: json.RawMessage(`"DE"`), Reason: "wrong entry"})

			var err error
			for _, rec := range h.recs {
				if err = projections.Feed(rec, projections.NewTelegram(), projections.NewRequests()); err != nil {
					break
				}
			}
			if !errors.Is(err, facts.ErrUnappliable) {
				t.Errorf("Feed: %v, want ErrUnappliable", err)
			}
			if _, err := projections.Replay(t.Context(), &sliceSource{recs: h.recs}, 1, projections.NewRequests()); !errors.Is(err, facts.ErrUnappliable) {
				t.Errorf("Replay: %v, want ErrUnappliable", err)
			}
			runner := projections.Runner{Source: &sliceSource{recs: h.recs}}
			if _, err := runner.Run(t.Context(), projections.AsOf{}, projections.Named{Name: "requests", View: projections.NewRequests()}); !errors.Is(err, facts.ErrUnappliable) {
				t.Errorf("Runner.Run: %v, want ErrUnappliable", err)
			}
		})
	}
}
