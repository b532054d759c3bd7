package projections

import (
	"time"

	"github.com/complianceledger/ledger/deadline"
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
