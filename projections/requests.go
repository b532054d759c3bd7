package projections

import (
	"cmp"
	"slices"

	"github.com/complianceledger/ledger/events"
)

// Requests is the Google/Meta-style view: per country and instrument, requests received,
// accounts specified, and requests for which some data was produced.
//
// Counting rules: a request counts in the period holding its delivery time (business time);
// accounts specified are the targets it names; "some data produced" means at least one
// DataDisclosed event so far, whenever the data was sent. Pending and withdrawn requests
// count as received. NSL and FISA rows are published in bands (nsband.go).
type Requests struct {
	intakes  intakes
	requests map[string]*requestFacts
	nsBand   nsBand // the width of national-security bands (see nsband.go)
}

type requestFacts struct {
	*intake
	produced bool
}

func NewRequests() *Requests {
	return &Requests{intakes: intakes{}, requests: map[string]*requestFacts{}}
}

func (*Requests) Handles(name string) bool {
	return name == "RequestReceived" || name == "DataDisclosed" || name == "EntryCorrected"
}

func (v *Requests) Apply(rec events.Recorded, e events.Event) {
	if v.intakes.fold(rec, e) {
		if _, received := e.(*events.RequestReceived); received {
			v.requests[rec.Subject] = &requestFacts{intake: v.intakes[rec.Subject]}
		}
		return
	}
	if _, ok := e.(*events.DataDisclosed); ok {
		if f := v.requests[rec.Subject]; f != nil {
			f.produced = true
		}
	}
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
	rows := map[key]*RequestsRow{}
	for _, f := range v.requests {
		if !period.Contains(f.delivered) {
			continue
		}
		k := key{f.Authority.Country, f.Instrument}
		r := rows[k]
		if r == nil {
			r = &RequestsRow{Country: k.country, Instrument: k.instrument}
			rows[k] = r
		}
		r.Requests++
		r.Accounts += len(f.Targets)
		if f.produced {
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
