package projections

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections/columnar"
	"github.com/complianceledger/ledger/projections/facts"
)

// EEvidence is the view of European Production and Preservation Orders (EPOC, EPOC-PR): per
// issuing Member State, order, category of data and emergency flag.
//
// Counting rules:
//   - an order counts in the period holding its delivery; forged ones (requester
//     verification failed, or fraud confirmed) are left out;
//   - deadline met: an EPOC given effect at most 10 days (8 hours in an emergency) after
//     delivery, both ends included, and recorded in the ledger by then; missed: given effect
//     later; recorded late: given effect in time by its stated time, but recorded after the
//     deadline, so the ledger cannot vouch for it: never counted met, and kept apart from
//     missed so that a history imported later (or a fact backdated) shows as what it is.
//     Orders neither given effect nor refused are pending. An EPOC-PR has no fixed deadline ("without undue delay"), so its
//     deadline cells are blank;
//   - refused: OrderRefused, in total and by ground;
//   - enforcing authority notified: orders with EnforcingAuthorityNotified;
//   - preservation expiring: EPOC-PRs given effect whose preservation ends in the period,
//     counted in the period of the expiry (not of the delivery): 60 days after delivery, 90
//     if extended by 30 days, never while a subsequent production request holds the data
//     (Art. 11(1)); preservations extended: EPOC-PRs of the period extended either way;
//   - an order recorded before request.received.v2 has data category "unspecified".
type EEvidence struct {
	base
	givenEffect []int64 // by request: OrderGivenEffect's business time, or facts.NoTime
	// givenEffectRecorded is when the ledger recorded OrderGivenEffect (Unix ns).
	givenEffectRecorded []int64
	refused             []uint8 // by request: 1 + the ground's place in events.RefusalGrounds, or 0
	notified            []bool
	forged              []bool
	extension           []uint8 // by request: 1 + the latest extension's place in events.PreservationExtensions, or 0
	extended30          []bool
}

func NewEEvidence() *EEvidence { return &EEvidence{base: newBase()} }

func (*EEvidence) Handles(name string) bool {
	switch name {
	case "RequestReceived", "EntryCorrected", "OrderGivenEffect", "OrderRefused", "EnforcingAuthorityNotified", "RequesterVerificationFailed",
		"FraudConfirmed", "PreservationExtended":
		return true
	}
	return false
}

func (v *EEvidence) Apply(rec events.Recorded, e events.Event) {
	if id, ok := v.received(rec, e); ok {
		v.givenEffect, v.refused, v.notified = grow(v.givenEffect, id, facts.NoTime), grow(v.refused, id, 0), grow(v.notified, id, false)
		v.givenEffectRecorded = grow(v.givenEffectRecorded, id, facts.NoTime)
		v.forged, v.extension, v.extended30 = grow(v.forged, id, false), grow(v.extension, id, 0), grow(v.extended30, id, false)
		v.givenEffect[id], v.refused[id], v.notified[id], v.forged[id], v.extension[id], v.extended30[id] = facts.NoTime, 0, false, false, 0, false
		v.givenEffectRecorded[id] = facts.NoTime
		return
	}
	id, ok := v.row(rec, len(v.forged))
	if !ok {
		return
	}
	switch e := e.(type) {
	case *events.OrderGivenEffect:
		v.givenEffect[id], v.givenEffectRecorded[id] = rec.Time.UnixNano(), rec.RecordedAt.UnixNano()
	case *events.OrderRefused:
		v.refused[id] = enumOf(events.RefusalGrounds, e.Ground)
	case *events.EnforcingAuthorityNotified:
		v.notified[id] = true
	case *events.RequesterVerificationFailed, *events.FraudConfirmed:
		v.forged[id] = true
	case *events.PreservationExtended:
		v.extension[id] = enumOf(events.PreservationExtensions, e.Extension)
		v.extended30[id] = v.extended30[id] || e.Extension == events.ExtendedBy30Days
	}
}

// enumOf numbers a value of a closed list from 1 (0: empty); the events were validated
// against the list.
func enumOf[T comparable](list []T, v T) uint8 {
	return uint8(slices.Index(list, v) + 1)
}

// enumValue is the value enumOf numbered n.
func enumValue[T any](list []T, n uint8) (T, bool) {
	var zero T
	if n == 0 || int(n) > len(list) {
		return zero, false
	}
	return list[n-1], true
}

func (v *EEvidence) rows() int { return len(v.forged) }

func (*EEvidence) SnapshotVersion() string { return eevidenceVersion }

func (v *EEvidence) columns() []any {
	return []any{&v.givenEffect, &v.givenEffectRecorded, &v.refused, &v.notified, &v.forged, &v.extension, &v.extended30}
}

func (v *EEvidence) MarshalSnapshot() ([]byte, error) {
	return columnar.Marshal(nil, v.columns()...), nil
}

func (v *EEvidence) UnmarshalSnapshot(data []byte) error {
	fresh := &EEvidence{base: v.base}
	if err := unmarshalColumns(data, "eevidence", fresh.columns(), func() []int {
		return []int{len(fresh.givenEffect), len(fresh.givenEffectRecorded), len(fresh.refused), len(fresh.notified), len(fresh.forged), len(fresh.extension), len(fresh.extended30)}
	}); err != nil {
		return err
	}
	*v = *fresh
	return nil
}

// EEvidenceRow is one issuing state × order × data category × emergency flag.
type EEvidenceRow struct {
	Country        events.Country
	Order          events.Instrument // epoc or epoc_pr
	DataCategory   string
	Emergency      bool
	Orders         int
	GivenEffect    int
	DeadlineMet    int
	DeadlineMissed int
	// DeadlineRecordedLate: given effect in time by the stated time, recorded after the
	// deadline (neither met nor missed: the ledger cannot vouch for it).
	DeadlineRecordedLate int
	Pending              int
	Refused              int
	RefusedByGround      map[events.RefusalGround]int
	EnforcingNotified    int
	PreservationExpiry   int
	Extended             int
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
	within := nanosOf(period)
	for i, forged := range v.forged {
		id := facts.ID(i)
		in := v.ix.Request(id)
		if (in.Instrument != events.InstrumentEPOC && in.Instrument != events.InstrumentEPOCPR) || forged {
			continue
		}
		category := "unspecified"
		if in.HasEEvidence {
			category = string(in.EEvidence)
		}
		k := key{in.Country, in.Instrument, category, in.Emergency}
		delivered := v.ix.Delivered(id)
		if expiry, ok := v.preservedUntil(id, in, delivered); ok && within.contains(expiry) {
			row(k).PreservationExpiry++
		}
		if !within.contains(delivered) {
			continue
		}
		r := row(k)
		r.Orders++
		if v.notified[id] {
			r.EnforcingNotified++
		}
		if v.extension[id] != 0 {
			r.Extended++
		}
		switch ground, refused := enumValue(events.RefusalGrounds, v.refused[id]); {
		case refused:
			r.Refused++
			r.RefusedByGround[ground]++
		case v.givenEffect[id] != facts.NoTime:
			r.GivenEffect++
			if in.Instrument != events.InstrumentEPOC {
				break
			}
			deadline := events.EPOCDeadline
			if in.Emergency {
				deadline = events.EPOCEmergencyDeadline
			}
			switch {
			case time.Duration(v.givenEffect[id]-delivered) > deadline:
				r.DeadlineMissed++
			case time.Duration(v.givenEffectRecorded[id]-delivered) > deadline:
				r.DeadlineRecordedLate++
			default:
				r.DeadlineMet++
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

// preservedUntil is when an EPOC-PR's preservation ends (Unix ns); ok is false when it has
// no end in view: nothing preserved, or a production request holds the data.
func (v *EEvidence) preservedUntil(id facts.ID, in facts.Request, delivered int64) (int64, bool) {
	extension, _ := enumValue(events.PreservationExtensions, v.extension[id])
	if in.Instrument != events.InstrumentEPOCPR || v.givenEffect[id] == facts.NoTime || extension == events.ProductionRequested {
		return 0, false
	}
	until := delivered + int64(events.PreservationPeriod)
	if v.extended30[id] {
		until += int64(events.PreservationExtension30)
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
			"deadline_met", "deadline_missed", "deadline_recorded_late", "pending", "refused"},
	}
	for _, g := range events.RefusalGrounds {
		t.Columns = append(t.Columns, "refused_"+string(g))
	}
	t.Columns = append(t.Columns, "enforcing_authority_notified", "preservations_extended", "preservations_expiring")
	for _, r := range v.Report(period) {
		cells := append([]any{string(r.Country), string(r.Order), r.DataCategory, r.Emergency, r.Orders, r.GivenEffect},
			r.deadlineCells()...)
		cells = append(cells, r.Pending, r.Refused)
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
			"deadline_met", "deadline_missed", "deadline_recorded_late", "pending", "refused", "refusal_grounds", "enforcing_notified", "preservations_extended",
			"preservations_expiring"},
	}
	for _, r := range v.Report(period) {
		var grounds []string
		for _, g := range events.RefusalGrounds {
			if n := r.RefusedByGround[g]; n > 0 {
				grounds = append(grounds, fmt.Sprintf("%s:%d", g, n))
			}
		}
		cells := append([]any{string(r.Country), string(r.Order), r.DataCategory, r.Emergency, r.Orders, r.GivenEffect},
			r.deadlineCells()...)
		t.Rows = append(t.Rows, append(cells, r.Pending, r.Refused, strings.Join(grounds, " "), r.EnforcingNotified, r.Extended, r.PreservationExpiry))
	}
	return t
}

// deadlineCells are met, missed and recorded late; blank for an EPOC-PR, which has no fixed
// deadline.
func (r EEvidenceRow) deadlineCells() []any {
	if r.Order != events.InstrumentEPOC {
		return []any{"", "", ""}
	}
	return []any{r.DeadlineMet, r.DeadlineMissed, r.DeadlineRecordedLate}
}
