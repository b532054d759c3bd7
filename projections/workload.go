package projections

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections/columnar"
	"github.com/complianceledger/ledger/projections/facts"
)

// Workload is the compliance team's view of open requests: what is due, what is overdue, and
// who holds each one. A request is open from its receipt until it is closed or withdrawn; it
// is held by the officer who last recorded something on it. Due dates are the authority's
// (due_at); a request without one is never overdue.
type Workload struct {
	base
	open    []bool   // by request
	stage   []uint32 // by request: the name of the last step recorded (a facts.Sym)
	officer []uint32 // by request: who recorded something last (a facts.Sym)
}

func NewWorkload() *Workload { return &Workload{base: newBase()} }

func (*Workload) Handles(string) bool { return true }

func (v *Workload) Apply(rec events.Recorded, e events.Event) {
	if id, ok := v.received(rec, e); ok {
		v.open, v.stage, v.officer = grow(v.open, id, false), grow(v.stage, id, 0), grow(v.officer, id, 0)
		v.open[id] = true
	}
	id, ok := v.row(rec, len(v.open))
	if !ok || !v.open[id] {
		return
	}
	switch e.(type) {
	case *events.RequestClosed, *events.RequestWithdrawn:
		v.open[id] = false
		return
	case *events.EntryCorrected, *events.UserNotified, *events.UserNotificationDecided:
		// no change of stage
	default:
		stage, _ := v.ix.Sym(e.EventName()) // every catalogue name is interned
		v.stage[id] = uint32(stage)
	}
	officer, _ := v.ix.Sym(rec.Actor) // the index interns every actor
	v.officer[id] = uint32(officer)
}

func (v *Workload) rows() int { return len(v.open) }

func (*Workload) SnapshotVersion() string { return workloadVersion }

func (v *Workload) columns() []any { return []any{&v.open, &v.stage, &v.officer} }

func (v *Workload) MarshalSnapshot() ([]byte, error) {
	return columnar.Marshal(nil, v.columns()...), nil
}

func (v *Workload) UnmarshalSnapshot(data []byte) error {
	fresh := &Workload{base: v.base}
	if err := unmarshalColumns(data, "workload", fresh.columns(), func() []int { return []int{len(fresh.open), len(fresh.stage), len(fresh.officer)} }); err != nil {
		return err
	}
	*v = *fresh
	return nil
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
	rows := []WorkloadRow{}
	for i, open := range v.open {
		if !open {
			continue
		}
		id := facts.ID(i)
		o := v.ix.Request(id)
		rows = append(rows, WorkloadRow{
			RequestID: v.ix.Subject(id), Country: o.Country, Instrument: o.Instrument, Emergency: o.Emergency,
			Delivered: o.Delivered, Due: o.Due, Stage: v.ix.String(facts.Sym(v.stage[id])), Officer: v.ix.String(facts.Sym(v.officer[id])),
			Overdue: !o.Due.IsZero() && o.Due.Before(now),
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
