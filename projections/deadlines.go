package projections

import (
	"time"

	"github.com/complianceledger/ledger/deadline"
	"github.com/complianceledger/ledger/events"
)

// DeadlineTable lists deadline clocks as they stand at now, most urgent first: the
// workload's "what falls due" (open clocks) and a request's timeline (all its clocks). The
// clocks themselves are computed in package deadline, the one place that knows them.
func DeadlineTable(title string, clocks []deadline.Clock, now time.Time, p deadline.Policy) Table {
	t := Table{
		Title:   title,
		Columns: []string{"request_id", "kind", "start", "due", "state", "ended", "officer"},
		Key:     2,
	}
	for _, c := range clocks {
		t.Rows = append(t.Rows, []any{c.Request, string(c.Kind), c.Start, c.Due, string(c.StateAt(now, p)), c.Ended, c.Officer})
	}
	return t
}

// OpenDeadlines is the workload's "what falls due": every clock still open at now.
func OpenDeadlines(b *deadline.Book, now time.Time, p deadline.Policy) Table {
	return DeadlineTable("Open deadlines at "+now.UTC().Format(time.RFC3339), b.Open(now, p), now, p)
}

// RequestDeadlines is a timeline's clocks: those one request's events set, judged at now.
func RequestDeadlines(id string, recs []events.Recorded, now time.Time, p deadline.Policy) (Table, error) {
	b := deadline.NewBook()
	for _, rec := range recs {
		if err := Feed(rec, b); err != nil {
			return Table{}, err
		}
	}
	return DeadlineTable("Deadlines of request "+id, b.Clocks(id, p), now, p), nil
}
