package projections

import (
	"errors"
	"strings"

	"github.com/complianceledger/ledger/events"
)

// Opener reads the stored value of one personal field of a request (events.PersonalText):
// the clear text, or an error wrapping events.ErrErased once the vault's key is gone. The timeline
// calls it as it prints, so that no view or snapshot ever holds the clear text.
type Opener func(requestID, stored string) (string, error)

// Erased is how the timeline prints an erased field.
const Erased = "[erased]"

// sealedShown is how the timeline prints a sealed field without an Opener.
const sealedShown = "[sealed]"

// Timeline lists every event of one request in order: what happened, who recorded it, when
// it happened (business time), when the ledger learnt it (recorded time), where it sits in
// the stream, and its personal free text ("grounds: ..."), opened through open (nil: shown
// as stored, sealed values as [sealed]).
func Timeline(id string, recs []events.Recorded, open Opener) (Table, error) {
	t := Table{
		Title:   "Timeline of request " + id,
		Columns: []string{"sequence", "version", "event", "business_time", "recorded_time", "actor", "event_id", "command_id", "personal"},
	}
	for _, r := range recs {
		k, err := r.Kind()
		if err != nil {
			return Table{}, err
		}
		e, err := r.Payload()
		if err != nil {
			return Table{}, err
		}
		personal, err := personalText(id, e, open)
		if err != nil {
			return Table{}, err
		}
		t.Rows = append(t.Rows, []any{r.Sequence, r.AggregateVersion, k.Name, r.Time, r.RecordedAt, r.Actor, r.ID, r.CommandID, personal})
	}
	return t, nil
}

func personalText(id string, e events.Event, open Opener) (string, error) {
	var parts []string
	for _, f := range events.PersonalText(e) {
		v := f.Get()
		if v == "" {
			continue
		}
		_, _, sealed := events.ParseSealed(v)
		switch {
		case sealed && open == nil:
			v = sealedShown
		case sealed:
			clear, err := open(id, v)
			if errors.Is(err, events.ErrErased) {
				clear, err = Erased, nil
			}
			if err != nil {
				return "", err
			}
			v = clear
		}
		parts = append(parts, f.Path+": "+v)
	}
	return strings.Join(parts, "; "), nil
}
