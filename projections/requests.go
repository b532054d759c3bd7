package projections

import (
	"cmp"
	"slices"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections/columnar"
	"github.com/complianceledger/ledger/projections/facts"
)

// Requests is the Google/Meta-style view: per country and instrument, requests received,
// accounts specified, and requests for which some data was produced.
//
// Counting rules: a request counts in the period holding its delivery time (business time);
// accounts specified are the targets it names; "some data produced" means at least one
// DataDisclosed event so far, whenever the data was sent. Pending and withdrawn requests
// count as received. NSL and FISA rows are published in bands (nsband.go). A request
// confirmed forged counts in no figure but forged_before_disclosure or
// forged_after_disclosure, in its delivery's period (columns shown only when a period has one).
type Requests struct {
	base
	produced []bool // by request: some data was disclosed
	forged   []bool // by request: confirmed forged
	nsBand   nsBand // the width of national-security bands (see nsband.go)
}

func NewRequests() *Requests { return &Requests{base: newBase()} }

func (*Requests) Handles(name string) bool {
	return name == "RequestReceived" || name == "DataDisclosed" || name == "EntryCorrected" || name == "FraudConfirmed"
}

func (v *Requests) Apply(rec events.Recorded, e events.Event) {
	if id, ok := v.received(rec, e); ok {
		v.produced, v.forged = grow(v.produced, id, false), grow(v.forged, id, false)
		v.produced[id], v.forged[id] = false, false
		return
	}
	switch e.(type) {
	case *events.DataDisclosed:
		if id, ok := v.row(rec, len(v.produced)); ok {
			v.produced[id] = true
		}
	case *events.FraudConfirmed:
		if id, ok := v.row(rec, len(v.forged)); ok {
			v.forged[id] = true
		}
	}
}

func (v *Requests) rows() int { return len(v.produced) }

func (*Requests) SnapshotVersion() string { return requestsVersion }

func (v *Requests) MarshalSnapshot() ([]byte, error) {
	return columnar.Marshal(nil, &v.produced, &v.forged), nil
}

func (v *Requests) UnmarshalSnapshot(data []byte) error {
	fresh := &Requests{base: v.base, nsBand: v.nsBand}
	if err := unmarshalColumns(data, "requests", []any{&fresh.produced, &fresh.forged}, func() []int {
		return []int{len(fresh.produced), len(fresh.forged)}
	}); err != nil {
		return err
	}
	*v = *fresh
	return nil
}

// RequestsRow is one country × instrument's figures.
type RequestsRow struct {
	Country    events.Country
	Instrument events.Instrument
	Requests   int
	Accounts   int
	WithData   int
	// Requests confirmed forged, in no figure above: before and after data was produced.
	ForgedBeforeDisclosure int
	ForgedAfterDisclosure  int
}

// Share is the fraction of requests for which some data was produced, in [0,1].
func (r RequestsRow) Share() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.WithData) / float64(r.Requests)
}

// Report returns the figures for a period ordered by country and instrument.
func (v *Requests) Report(period Range) []RequestsRow {
	type key struct {
		country    events.Country
		instrument events.Instrument
	}
	in := nanosOf(period)
	rows := map[key]*RequestsRow{}
	for id, produced := range v.produced {
		if !in.contains(v.ix.Delivered(facts.ID(id))) {
			continue
		}
		f := v.ix.Request(facts.ID(id))
		k := key{f.Country, f.Instrument}
		r := rows[k]
		if r == nil {
			r = &RequestsRow{Country: k.country, Instrument: k.instrument}
			rows[k] = r
		}
		switch {
		case v.forged[id] && produced:
			r.ForgedAfterDisclosure++
		case v.forged[id]:
			r.ForgedBeforeDisclosure++
		default:
			r.Requests++
			r.Accounts += f.Targets
			if produced {
				r.WithData++
			}
		}
	}
	out := make([]RequestsRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b RequestsRow) int {
		return cmp.Or(cmp.Compare(string(a.Country), string(b.Country)), cmp.Compare(string(a.Instrument), string(b.Instrument)))
	})
	return out
}

func (v *Requests) withNSBand(width int) ReportView {
	c := *v
	c.nsBand = nsBand(width)
	return &c
}

// Table renders rows for output. National-security rows (NSL, FISA) give bands, and no
// share, which would tell the exact ratio of two counts.
func (v *Requests) Table(period Range) Table {
	t := Table{
		Title:   "Requests by country and instrument, " + period.String(),
		Columns: []string{"country", "instrument", "requests", "accounts_specified", "requests_with_data", "share_with_data"},
	}
	rows := v.Report(period)
	forged := slices.ContainsFunc(rows, func(r RequestsRow) bool { return r.ForgedBeforeDisclosure+r.ForgedAfterDisclosure > 0 })
	if forged {
		t.Columns = append(t.Columns, "forged_before_disclosure", "forged_after_disclosure")
	}
	for _, r := range rows {
		ns := nationalSecurity(r.Instrument)
		row := []any{string(r.Country), string(r.Instrument), r.Requests, r.Accounts, r.WithData, r.Share()}
		if ns {
			row = []any{string(r.Country), string(r.Instrument), v.nsBand.of(r.Requests), v.nsBand.of(r.Accounts), v.nsBand.of(r.WithData), ""}
		}
		switch {
		case forged && ns:
			row = append(row, v.nsBand.of(r.ForgedBeforeDisclosure), v.nsBand.of(r.ForgedAfterDisclosure))
		case forged:
			row = append(row, r.ForgedBeforeDisclosure, r.ForgedAfterDisclosure)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
