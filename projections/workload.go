package projections

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/complianceledger/ledger/events"
)

// Workload is the compliance team's view of open requests: what is due, what is overdue, and
// who holds each one. A request is open from its receipt until it is closed or withdrawn; it
// is held by the officer who last recorded something on it. Due dates are the authority's
// (due_at); a request without one is never overdue.
type Workload struct {
	intakes intakes
	open    map[string]*openRequest
}

type openRequest struct {
	*intake
	id      string
	stage   string
	officer string
}

func NewWorkload() *Workload { return &Workload{intakes: intakes{}, open: map[string]*openRequest{}} }

func (*Workload) Handles(string) bool { return true }

func (v *Workload) Apply(rec events.Recorded, e events.Event) {
	v.intakes.fold(rec, e)
	if _, ok := e.(*events.RequestReceived); ok {
		v.open[rec.Subject] = &openRequest{intake: v.intakes[rec.Subject], id: rec.Subject}
	}
	o := v.open[rec.Subject]
	if o == nil {
		return
	}
	switch e.(type) {
	case *events.RequestClosed, *events.RequestWithdrawn:
		delete(v.open, rec.Subject)
		return
	case *events.EntryCorrected, *events.UserNotified, *events.UserNotificationDecided:
		// no change of stage
	default:
		o.stage = e.EventName()
	}
	o.officer = rec.Actor
}

// WorkloadRow is one open request.
type WorkloadRow struct {
	RequestID  string
	Country    events.Country
	Instrument events.Instrument
	Emergency  bool
	Delivered  time.Time
	Due        time.Time
	Stage      string // the last step recorded
	Officer    string
	Overdue    bool
}

// Report lists the open requests at time now, most urgent first: overdue ones, then by due
// date, then those without one by delivery.
func (v *Workload) Report(now time.Time) []WorkloadRow {
	rows := make([]WorkloadRow, 0, len(v.open))
	for _, o := range v.open {
		var due time.Time
		if o.DueAt != nil {
			due = *o.DueAt
		}
		rows = append(rows, WorkloadRow{
			RequestID: o.id, Country: o.Authority.Country, Instrument: o.Instrument, Emergency: o.Emergency,
			Delivered: o.delivered, Due: due, Stage: o.stage, Officer: o.officer,
			Overdue: !due.IsZero() && due.Before(now),
		})
	}
	slices.SortFunc(rows, func(a, b WorkloadRow) int {
		return cmp.Or(
			compareDue(a.Due, b.Due),
			a.Delivered.Compare(b.Delivered),
			cmp.Compare(a.RequestID, b.RequestID),
		)
	})
	return rows
}

// compareDue orders due dates earliest first and requests without one last.
func compareDue(a, b time.Time) int {
	switch {
	case a.IsZero() && b.IsZero():
		return 0
	case a.IsZero():
		return 1
	case b.IsZero():
		return -1
	}
	return a.Compare(b)
}

// Table renders the open requests at time now.
func (v *Workload) Table(now time.Time) Table {
	t := Table{
		Title:   "Open requests at " + now.UTC().Format(time.RFC3339),
		Columns: []string{"request_id", "country", "instrument", "emergency", "delivered", "due", "overdue", "stage", "officer"},
	}
	for _, r := range v.Report(now) {
		t.Rows = append(t.Rows, []any{r.RequestID, string(r.Country), string(r.Instrument), r.Emergency, r.Delivered, r.Due, r.Overdue, r.Stage, r.Officer})
	}
	return t
}

// OfficerTable sums the open requests per officer at time now.
func (v *Workload) OfficerTable(now time.Time) Table {
	type load struct {
		open, overdue, emergency int
		nextDue                  time.Time
	}
	byOfficer := map[string]*load{}
	for _, r := range v.Report(now) {
		l := byOfficer[r.Officer]
		if l == nil {
			l = &load{}
			byOfficer[r.Officer] = l
		}
		l.open++
		if r.Overdue {
			l.overdue++
		}
		if r.Emergency {
			l.emergency++
		}
		if !r.Overdue && compareDue(r.Due, l.nextDue) < 0 {
			l.nextDue = r.Due
		}
	}
	t := Table{
		Title:   "Open requests by officer at " + now.UTC().Format(time.RFC3339),
		Columns: []string{"officer", "open", "overdue", "emergency", "next_due"},
	}
	for _, officer := range slices.Sorted(maps.Keys(byOfficer)) {
		l := byOfficer[officer]
		t.Rows = append(t.Rows, []any{officer, l.open, l.overdue, l.emergency, l.nextDue})
	}
	return t
}
