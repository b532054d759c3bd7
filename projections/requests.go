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
// count as received. NSL and FISA rows are published in bands (nsband.go).
type Requests struct {
	base
	produced []bool // by request: some data was disclosed
	nsBand   nsBand // the width of national-security bands (see nsband.go)
}

func NewRequests() *Requests { return &Requests{base: newBase()} }

func (*Requests) Handles(name string) bool {
	return name == "RequestReceived" || name == "DataDisclosed" || name == "EntryCorrected"
}

func (v *Requests) Apply(rec events.Recorded, e events.Event) {
	if id, ok := v.received(rec, e); ok {
		v.produced = grow(v.produced, id, false)
		v.produced[id] = false
		return
	}
	if _, ok := e.(*events.DataDisclosed); ok {
		if id, ok := v.row(rec, len(v.produced)); ok {
			v.produced[id] = true
		}
	}
}

func (v *Requests) rows() int { return len(v.produced) }

func (*Requests) SnapshotVersion() string { return requestsVersion }

func (v *Requests) MarshalSnapshot() ([]byte, error) { return columnar.Marshal(nil, &v.produced), nil }

func (v *Requests) UnmarshalSnapshot(data []byte) error {
	fresh := &Requests{base: v.base, nsBand: v.nsBand}
	if err := unmarshalColumns(data, "requests", []any{&fresh.produced}, func() []int { return nil }); err != nil {
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
		r.Requests++
		r.Accounts += f.Targets
		if produced {
			r.WithData++
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
	for _, r := range v.Report(period) {
		if nationalSecurity(r.Instrument) {
			t.Rows = append(t.Rows, []any{string(r.Country), string(r.Instrument), v.nsBand.of(r.Requests), v.nsBand.of(r.Accounts), v.nsBand.of(r.WithData), ""})
			continue
		}
		t.Rows = append(t.Rows, []any{string(r.Country), string(r.Instrument), r.Requests, r.Accounts, r.WithData, r.Share()})
	}
	return t
}
