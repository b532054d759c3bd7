package projections

import (
	"time"

	"github.com/complianceledger/ledger/events"
)

// intakes remembers each request's intake facts as recorded and as corrected since, for the
// views that group requests by them (country, instrument, emergency). A view reads them when
// it reports, so that a correction moves the request everywhere it counts.
type intakes map[string]*intake

type intake struct {
	entry     string    // the RequestReceived event's id, which a correction names
	delivered time.Time // its business time
	events.RequestReceived
}

// fold takes a RequestReceived, or a correction of one, and reports whether e was either.
func (in intakes) fold(rec events.Recorded, e events.Event) bool {
	switch e := e.(type) {
	case *events.RequestReceived:
		in[rec.Subject] = &intake{entry: rec.ID, delivered: rec.Time, RequestReceived: *e}
		return true
	case *events.EntryCorrected:
		i := in[rec.Subject]
		if i == nil || i.entry != e.Entry {
			return false
		}
		// The aggregate refused corrections it cannot apply; an old one that fails is ignored.
		if corrected, err := i.Corrected(e); err == nil {
			i.RequestReceived = corrected
		}
		return true
	}
	return false
}
