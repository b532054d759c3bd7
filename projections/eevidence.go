package projections

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/complianceledger/ledger/events"
)

// EEvidence is the view of European Production and Preservation Orders (EPOC, EPOC-PR): per
// issuing Member State, order, category of data and emergency flag.
//
// Counting rules:
//   - an order counts in the period holding its delivery; forged ones (requester
//     verification failed) are left out;
//   - deadline met: an EPOC given effect at most 10 days (8 hours in an emergency) after
//     delivery, both ends included, and recorded by then; missed: given effect later, or
//     recorded later whatever time it states. Orders neither given effect nor
//     refused are pending. An EPOC-PR has no fixed deadline ("without undue delay"), so its
//     deadline cells are blank;
//   - refused: OrderRefused, in total and by ground;
//   - enforcing authority notified: orders with EnforcingAuthorityNotified;
//   - preservation expiring: EPOC-PRs given effect whose preservation ends in the period,
//     counted in the period of the expiry (not of the delivery): 60 days after delivery, 90
//     if extended by 30 days, never while a subsequent production request holds the data
//     (Art. 11(1)); preservations extended: EPOC-PRs of the period extended either way;
//   - an order recorded before request.received.v2 has data category "unspecified".
type EEvidence struct {
	intakes intakes
	// Facts by request id: plain values, for snapshots.
	Facts map[string]*EEvidenceFacts
}

// EEvidenceFacts are what the view keeps of one request beyond its intake.
type EEvidenceFacts struct {
	GivenEffect *time.Time                   `json:"given_effect,omitempty"`
	Refused     events.RefusalGround         `json:"refused,omitempty"`
	Notified    bool                         `json:"notified,omitempty"`
	Forged      bool                         `json:"forged,omitempty"`
	Extension   events.PreservationExtension `json:"extension,omitempty"` // the latest
	Extended30  bool                         `json:"extended_30,omitempty"`
}

func NewEEvidence() *EEvidence {
	return &EEvidence{intakes: intakes{}, Facts: map[string]*EEvidenceFacts{}}
}

func (*EEvidence) Handles(name string) bool {
	switch name {
	case "RequestReceived", "EntryCorrected", "OrderGivenEffect", "OrderRefused", "EnforcingAuthorityNotified", "RequesterVerificationFailed",
		"PreservationExtended":
		return true
	}
	return false
}

func (v *EEvidence) Apply(rec events.Recorded, e events.Event) {
	if v.intakes.fold(rec, e) {
		if _, ok := e.(*events.RequestReceived); ok {
			v.Facts[rec.Subject] = &EEvidenceFacts{}
		}
		return
	}
	f := v.Facts[rec.Subject]
	if f == nil {
		return
	}
	switch e := e.(type) {
	case *events.OrderGivenEffect:
		// A deadline is met by what the ledger can vouch for: the stated time, or the recorded
		// time when that is later, so that a fact recorded after its deadline counts missed
		// whatever time it states.
		t := rec.Time
		if rec.RecordedAt.After(t) {
			t = rec.RecordedAt
		}
		f.GivenEffect = &t
	case *events.OrderRefused:
		f.Refused = e.Ground
	case *events.EnforcingAuthorityNotified:
		f.Notified = true
	case *events.RequesterVerificationFailed:
		f.Forged = true
	case *events.PreservationExtended:
		f.Extension = e.Extension
		f.Extended30 = f.Extended30 || e.Extension == events.ExtendedBy30Days
	}
}

// EEvidenceRow is one issuing state × order × data category × emergency flag.
type EEvidenceRow struct {
	Country            events.Country
	Order              events.Instrument // epoc or epoc_pr
	DataCategory       string
	Emergency          bool
	Orders             int
	GivenEffect        int
	DeadlineMet        int
	DeadlineMissed     int
	Pending            int
	Refused            int
	RefusedByGround    map[events.RefusalGround]int
	EnforcingNotified  int
	PreservationExpiry int
	Extended           int
}

// Report returns the figures for a period, ordered by country, order, category and flag.
func (v *EEvidence) Report(period Range) []EEvidenceRow {
	type key struct {
		country   events.Country
		order     events.Instrument
		category  string
		emergency bool
	}
	rows := map[key]*EEvidenceRow{}
	row := func(k key) *EEvidenceRow {
		if rows[k] == nil {
			rows[k] = &EEvidenceRow{Country: k.country, Order: k.order, DataCategory: k.category, Emergency: k.emergency,
				RefusedByGround: map[events.RefusalGround]int{}}
		}
		return rows[k]
	}
	for id, in := range v.intakes {
		f := v.Facts[id]
		if (in.Instrument != events.InstrumentEPOC && in.Instrument != events.InstrumentEPOCPR) || f == nil || f.Forged {
			continue
		}
		category := "unspecified"
		if in.EEvidence != nil {
			category = string(in.EEvidence.DataCategory)
		}
		k := key{in.Authority.Country, in.Instrument, category, in.Emergency}
		if expiry, ok := f.preservedUntil(in); ok && period.Contains(expiry) {
			row(k).PreservationExpiry++
		}
		if !period.Contains(in.delivered) {
			continue
		}
		r := row(k)
		r.Orders++
		if f.Notified {
			r.EnforcingNotified++
		}
		if f.Extension != "" {
			r.Extended++
		}
		switch {
		case f.Refused != "":
			r.Refused++
			r.RefusedByGround[f.Refused]++
		case f.GivenEffect != nil:
			r.GivenEffect++
			if in.Instrument != events.InstrumentEPOC {
				break
			}
			deadline := events.EPOCDeadline
			if in.Emergency {
				deadline = events.EPOCEmergencyDeadline
			}
			if f.GivenEffect.Sub(in.delivered) <= deadline {
				r.DeadlineMet++
			} else {
				r.DeadlineMissed++
			}
		default:
			r.Pending++
		}
	}
	out := make([]EEvidenceRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b EEvidenceRow) int {
		return cmp.Or(cmp.Compare(a.Country, b.Country), cmp.Compare(a.Order, b.Order),
			cmp.Compare(a.DataCategory, b.DataCategory), cmp.Compare(boolInt(a.Emergency), boolInt(b.Emergency)))
	})
	return out
}

// preservedUntil is when an EPOC-PR's preservation ends; ok is false when it has no end in
// view: nothing preserved, or a production request holds the data.
func (f *EEvidenceFacts) preservedUntil(in *intake) (time.Time, bool) {
	if in.Instrument != events.InstrumentEPOCPR || f.GivenEffect == nil || f.Extension == events.ProductionRequested {
		return time.Time{}, false
	}
	until := in.delivered.Add(events.PreservationPeriod)
	if f.Extended30 {
		until = until.Add(events.PreservationExtension30)
	}
	return until, true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Table renders the report: one column per refusal ground, deadline cells blank for EPOC-PR.
func (v *EEvidence) Table(period Range) Table {
	t := Table{
		Key:   4,
		Title: "e-Evidence orders (Regulation (EU) 2023/1543), " + period.String(),
		Columns: []string{"country", "order", "data_category", "emergency", "orders", "given_effect",
			"deadline_met", "deadline_missed", "pending", "refused"},
	}
	for _, g := range events.RefusalGrounds {
		t.Columns = append(t.Columns, "refused_"+string(g))
	}
	t.Columns = append(t.Columns, "enforcing_authority_notified", "preservations_extended", "preservations_expiring")
	for _, r := range v.Report(period) {
		var met, missed any = r.DeadlineMet, r.DeadlineMissed
		if r.Order != events.InstrumentEPOC {
			met, missed = "", ""
		}
		cells := []any{string(r.Country), string(r.Order), r.DataCategory, r.Emergency, r.Orders, r.GivenEffect,
			met, missed, r.Pending, r.Refused}
		for _, g := range events.RefusalGrounds {
			cells = append(cells, r.RefusedByGround[g])
		}
		t.Rows = append(t.Rows, append(cells, r.EnforcingNotified, r.Extended, r.PreservationExpiry))
	}
	return t
}

// TextTable is the same figures for people: the refusals by ground in one column.
func (v *EEvidence) TextTable(period Range) Table {
	t := Table{
		Key:   4,
		Title: "e-Evidence orders (Regulation (EU) 2023/1543), " + period.String(),
		Columns: []string{"country", "order", "data_category", "emergency", "orders", "given_effect",
			"deadline_met", "deadline_missed", "pending", "refused", "refusal_grounds", "enforcing_notified", "preservations_extended",
			"preservations_expiring"},
	}
	for _, r := range v.Report(period) {
		var met, missed any = r.DeadlineMet, r.DeadlineMissed
		if r.Order != events.InstrumentEPOC {
			met, missed = "", ""
		}
		var grounds []string
		for _, g := range events.RefusalGrounds {
			if n := r.RefusedByGround[g]; n > 0 {
				grounds = append(grounds, fmt.Sprintf("%s:%d", g, n))
			}
		}
		t.Rows = append(t.Rows, []any{string(r.Country), string(r.Order), r.DataCategory, r.Emergency, r.Orders, r.GivenEffect,
			met, missed, r.Pending, r.Refused, strings.Join(grounds, " "), r.EnforcingNotified, r.Extended, r.PreservationExpiry})
	}
	return t
}
