package projections

import (
	"cmp"
	"slices"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections/columnar"
	"github.com/complianceledger/ledger/projections/facts"
)

// Transparency is the Google/Meta/Apple-style report: per country and instrument group,
// decided requests, accounts specified, requests for which some data was produced (and the
// share), split into content and non-content only, rejected, and no data found.
//
// Counting rules:
//   - a request counts in the period holding its delivery time (business time);
//   - pending requests (no decision yet, or approved and not yet produced) and withdrawn ones
//     are left out; a request with a disclosure counts as produced, one whose decision
//     approves nothing counts as rejected if any target was rejected, else as no data;
//   - groups: "emergency" for emergency requests; in the US each legal process has its own
//     group (subpoena, search_warrant, court_order, pen_register, wiretap, 2703d, mlat),
//     elsewhere they form "legal_process"; US national-security letters and FISA orders
//     form "national_security" (an emergency one too), published only in bands of 500
//     (0-499, 500-999, ...) or, at the publisher's option, 250;
//   - preservation requests (preservation, epoc_pr) and the accounts they preserved (approved
//     targets) are reported apart and are not in the totals;
//   - DSA orders to act against illegal content (dsa_art9) ask for no user data and are left
//     out; the dsa view reports them;
//   - a request confirmed forged (FraudConfirmed) leaves every other figure and counts, in the
//     period of its delivery like any request, as forged before disclosure (nothing had been
//     produced) or forged after disclosure (data had gone to the impostor). The two columns
//     appear only in a report that has a forgery.
type Transparency struct {
	base
	state    []uint8 // by request: the transparency* bits below
	approved []int32 // by request: targets the decision approves
	nsBand   nsBand  // the width of national-security bands (see nsband.go)
}

// Bits of Transparency.state.
const (
	transparencyDecided = 1 << iota
	transparencyRejected
	transparencyWithdrawn
	transparencyProduced
	transparencyContent
	transparencyForged
)

func NewTransparency() *Transparency { return &Transparency{base: newBase()} }

func (*Transparency) Handles(name string) bool {
	switch name {
	case "RequestReceived", "DecisionRecorded", "DataDisclosed", "RequestWithdrawn", "EntryCorrected", "FraudConfirmed":
		return true
	}
	return false
}

func (v *Transparency) Apply(rec events.Recorded, e events.Event) {
	if id, ok := v.received(rec, e); ok {
		v.state, v.approved = grow(v.state, id, 0), grow(v.approved, id, 0)
		v.state[id], v.approved[id] = 0, 0
		return
	}
	id, ok := v.row(rec, len(v.state))
	if !ok {
		return
	}
	switch e := e.(type) {
	case *events.DecisionRecorded:
		v.state[id] |= transparencyDecided
		for _, t := range e.Targets {
			switch {
			case t.Outcome.Approves():
				v.approved[id]++
			case t.Outcome == events.OutcomeReject:
				v.state[id] |= transparencyRejected
			}
		}
	case *events.DataDisclosed:
		v.state[id] |= transparencyProduced
		for _, a := range e.Accounts {
			if slices.Contains(a.Categories, events.DataContent) {
				v.state[id] |= transparencyContent
			}
		}
	case *events.RequestWithdrawn:
		v.state[id] |= transparencyWithdrawn
	case *events.FraudConfirmed:
		v.state[id] |= transparencyForged
	}
}

func (v *Transparency) rows() int { return len(v.state) }

func (*Transparency) SnapshotVersion() string { return transparencyVersion }

func (v *Transparency) columns() []any { return []any{&v.state, &v.approved} }

func (v *Transparency) MarshalSnapshot() ([]byte, error) {
	return columnar.Marshal(nil, v.columns()...), nil
}

func (v *Transparency) UnmarshalSnapshot(data []byte) error {
	fresh := &Transparency{base: v.base, nsBand: v.nsBand}
	if err := unmarshalColumns(data, "transparency", fresh.columns(), func() []int { return []int{len(fresh.state), len(fresh.approved)} }); err != nil {
		return err
	}
	*v = *fresh
	return nil
}

// transparencyFacts are one request's intake and what the view keeps of it.
type transparencyFacts struct {
	facts.Request
	state    uint8
	approved int
}

func (f *transparencyFacts) is(bit uint8) bool { return f.state&bit != 0 }

// Instrument groups of the transparency report.
const (
	GroupLegalProcess     = "legal_process"
	GroupEmergency        = "emergency"
	GroupNationalSecurity = "national_security"
	GroupPreservation     = "preservation"
)

// usLegalProcess are the US instruments reported as groups of their own.
var usLegalProcess = []events.Instrument{
	events.InstrumentSubpoena, events.InstrumentSearchWarrant, events.InstrumentCourtOrder,
	events.InstrumentPenRegister, events.InstrumentWiretap, events.Instrument2703d, events.InstrumentMLAT,
}

func (f *transparencyFacts) group() string {
	switch in := f.Instrument; {
	case in == events.InstrumentPreservation || in == events.InstrumentEPOCPR:
		return GroupPreservation
	case nationalSecurity(in): // before emergency: an emergency NSL is still banded
		return GroupNationalSecurity
	case f.Emergency || in == events.InstrumentEmergency:
		return GroupEmergency
	case f.Country == "US" && slices.Contains(usLegalProcess, in):
		return string(in)
	}
	return GroupLegalProcess
}

// settled reports whether a request has an outcome to count: decided, not withdrawn, and, if
// the decision approves data, produced (preservation produces nothing).
func (f *transparencyFacts) settled() bool {
	if f.is(transparencyWithdrawn) || !f.is(transparencyDecided) || f.Instrument == events.InstrumentDSAArt9 {
		return false
	}
	return f.approved == 0 || f.is(transparencyProduced) || f.group() == GroupPreservation
}

// TransparencyRow is one country × group's figures. Preservation rows count requests and
// accounts preserved only; national-security rows are published as Band strings.
type TransparencyRow struct {
	Country        events.Country
	Group          string
	Requests       int
	Accounts       int
	Produced       int
	Content        int
	NonContentOnly int
	Rejected       int
	NoData         int
	AccountsKept   int // preservation: accounts preserved
	// Requests confirmed forged, counted in no other figure: before any data was produced,
	// and after (data went to an impostor).
	ForgedBeforeDisclosure int
	ForgedAfterDisclosure  int
}

// Share is the fraction of requests for which some data was produced, in [0,1].
func (r TransparencyRow) Share() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Produced) / float64(r.Requests)
}

// Report returns the figures for a period, ordered by country and group.
func (v *Transparency) Report(period Range) []TransparencyRow {
	type key struct {
		country events.Country
		group   string
	}
	in := nanosOf(period)
	rows := map[key]*TransparencyRow{}
	for i, state := range v.state {
		id := facts.ID(i)
		if !in.contains(v.ix.Delivered(id)) {
			continue
		}
		f := &transparencyFacts{Request: v.ix.Request(id), state: state, approved: int(v.approved[id])}
		forged := f.is(transparencyForged)
		if !forged && !f.settled() {
			continue
		}
		k := key{f.Country, f.group()}
		r := rows[k]
		if r == nil {
			r = &TransparencyRow{Country: k.country, Group: k.group}
			rows[k] = r
		}
		switch {
		case forged && f.is(transparencyProduced):
			r.ForgedAfterDisclosure++
			continue
		case forged:
			r.ForgedBeforeDisclosure++
			continue
		}
		r.Requests++
		if k.group == GroupPreservation {
			r.AccountsKept += f.approved
			continue
		}
		r.Accounts += f.Targets
		switch {
		case f.is(transparencyProduced) && f.is(transparencyContent):
			r.Produced++
			r.Content++
		case f.is(transparencyProduced):
			r.Produced++
			r.NonContentOnly++
		case f.is(transparencyRejected):
			r.Rejected++
		default:
			r.NoData++
		}
	}
	out := make([]TransparencyRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b TransparencyRow) int {
		return cmp.Or(cmp.Compare(a.Country, b.Country), cmp.Compare(a.Group, b.Group))
	})
	return out
}

func (v *Transparency) withNSBand(width int) ReportView {
	c := *v
	c.nsBand = nsBand(width)
	return &c
}

// Table renders the report; national-security figures appear only as bands, and
// preservation rows only with requests and accounts preserved. The forged columns appear
// only when the period has a forgery, so that reports without one keep their bytes.
func (v *Transparency) Table(period Range) Table {
	t := Table{
		Title: "Transparency report, " + period.String(),
		Columns: []string{"country", "group", "requests", "accounts_specified", "requests_with_data", "share_with_data",
			"content", "non_content_only", "rejected", "no_data", "accounts_preserved"},
	}
	rows := v.Report(period)
	forged := slices.ContainsFunc(rows, func(r TransparencyRow) bool { return r.ForgedBeforeDisclosure+r.ForgedAfterDisclosure > 0 })
	if forged {
		t.Columns = append(t.Columns, "forged_before_disclosure", "forged_after_disclosure")
	}
	for _, r := range rows {
		switch r.Group {
		case GroupNationalSecurity:
			t.Rows = append(t.Rows, []any{string(r.Country), r.Group, v.nsBand.of(r.Requests), v.nsBand.of(r.Accounts), "", "", "", "", "", "", ""})
		case GroupPreservation:
			t.Rows = append(t.Rows, []any{string(r.Country), r.Group, r.Requests, "", "", "", "", "", "", "", r.AccountsKept})
		default:
			t.Rows = append(t.Rows, []any{string(r.Country), r.Group, r.Requests, r.Accounts, r.Produced, r.Share(),
				r.Content, r.NonContentOnly, r.Rejected, r.NoData, ""})
		}
	}
	if forged {
		for i, r := range rows {
			before, after := any(r.ForgedBeforeDisclosure), any(r.ForgedAfterDisclosure)
			if r.Group == GroupNationalSecurity {
				before, after = v.nsBand.of(r.ForgedBeforeDisclosure), v.nsBand.of(r.ForgedAfterDisclosure)
			}
			t.Rows[i] = append(t.Rows[i], before, after)
		}
	}
	return t
}
