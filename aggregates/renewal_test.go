package aggregates_test

import (
	"testing"
	"time"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

func receivePreservation() *aggregates.ReceiveRequest {
	c := receive()
	c.Instrument = events.InstrumentPreservation
	return c
}

func renew(e events.PreservationExtension) *aggregates.ExtendPreservation {
	return &aggregates.ExtendPreservation{Meta: aggregates.Meta{Command: "extend_preservation"}, Extension: e}
}

// TestUSPreservationIsRenewedOnceWithinItsNinetyDays: 18 U.S.C. § 2703(f)(2).
func TestUSPreservationIsRenewedOnceWithinItsNinetyDays(t *testing.T) {
	t.Parallel()
	end := delivered.Add(events.USPreservationPeriod)
	newHistory(t, receivePreservation()).refuse(renew(events.ExtendedBy30Days), events.ErrInvalid)
	newHistory(t, receivePreservation(), renew(events.Renewed90Days)).refuse(renew(events.Renewed90Days), aggregates.ErrAlreadyExtended)
	newHistory(t, receivePreservation()).refuse(onClock(end.Add(time.Nanosecond), renew(events.Renewed90Days)), aggregates.ErrPreservationEnded)
	h := newHistory(t, receivePreservation())
	h.accept(onClock(end, renew(events.Renewed90Days)))
	if !h.state.Renewed {
		t.Error("renewal not folded")
	}
	newHistory(t, receive()).refuse(renew(events.Renewed90Days), aggregates.ErrNotPreservation)
}
