package projections

import "github.com/complianceledger/ledger/events"

// Timeline lists every event of one request in order: what happened, who recorded it, when
// it happened (business time), when the ledger learnt it (recorded time), and where it sits
// in the stream.
func Timeline(id string, recs []events.Recorded) (Table, error) {
	t := Table{
		Title:   "Timeline of request " + id,
		Columns: []string{"sequence", "version", "event", "business_time", "recorded_time", "actor", "event_id", "command_id"},
	}
	for _, r := range recs {
		k, err := r.Kind()
		if err != nil {
			return Table{}, err
		}
		t.Rows = append(t.Rows, []any{r.Sequence, r.AggregateVersion, k.Name, r.Time, r.RecordedAt, r.Actor, r.ID, r.CommandID})
	}
	return t, nil
}
