// Package projectiontest holds what tests of the runner share across packages: random
// histories of requests, every view rendered to bytes, and the property that snapshots plus
// a bounded replay equal a full replay. Store adapters run it against their real stream.
package projectiontest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

var (
	countries   = []events.Country{"FR", "DE", "US", "GB", "IT"}
	instruments = []events.Instrument{
		events.InstrumentCourtOrder, events.InstrumentSubpoena, events.InstrumentEmergency,
		events.InstrumentPreservation, events.InstrumentNSL, events.InstrumentMLAT, events.InstrumentEPOCPR,
		events.InstrumentEPOC, events.InstrumentDSAArt9, events.InstrumentDSAArt10,
	}
	categories = []events.DataCategory{events.DataSubscriber, events.DataIPAddress, events.DataPhoneNumber, events.DataContent, events.DataTraffic}
	outcomes   = []events.Outcome{events.OutcomeProduce, events.OutcomeProducePartial, events.OutcomeReject, events.OutcomeNoData}
	officers   = []string{"ines.intake", "lea.legal", "dan.disclosure"}
)

// Event is one generated event: its envelope and the recorded time a fake stream gives it.
type Event struct {
	Envelope   events.Envelope
	RecordedAt time.Time
}

// RandomHistory returns n events of random requests in a plausible order: receipts,
// decisions, disclosures (some entered a quarter late), corrections of the intake,
// notifications, withdrawals and closures, with business times over 2024. Recorded times
// never go backwards and sometimes repeat, as a stream's do within a clock tick.
func RandomHistory(rng *rand.Rand, n int) []Event {
	g := NewGenerator(rng, 1+rng.IntN(8))
	out := make([]Event, 0, n)
	for len(out) < n {
		round := g.Round()
		out = append(out, round[:min(len(round), n-len(out))]...)
	}
	return out
}

// Generator makes random histories of any length in rounds: a fixed number of requests are
// in progress at once, and each round records the next event of every one of them, in a
// random order; a request that ends is replaced by a new one. One round therefore never
// holds two events of one request, so it can be appended as one batch.
type Generator struct {
	// Source is the events' CloudEvents source; "urn:ledger:test" unless set.
	Source   string
	rng      *rand.Rand
	slots    []*request
	seq      int
	recorded time.Time
}

type request struct {
	id       string
	version  uint64
	received string // the RequestReceived's event id
	targets  []events.AccountRef
	delivery time.Time
	closed   bool
}

// NewGenerator makes a generator with parallel requests in progress at once.
func NewGenerator(rng *rand.Rand, parallel int) *Generator {
	return &Generator{rng: rng, slots: make([]*request, max(parallel, 1)), recorded: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// Round returns the next event of every request in progress.
func (g *Generator) Round() []Event {
	out := make([]Event, 0, len(g.slots))
	for _, i := range g.rng.Perm(len(g.slots)) {
		if g.slots[i] == nil || g.slots[i].closed {
			g.slots[i] = nil
		}
		out = append(out, g.next(&g.slots[i]))
	}
	return out
}

// next records one event of the request in slot, starting a new one if it is empty.
func (g *Generator) next(slot **request) Event {
	rng := g.rng
	g.seq++
	seq := g.seq
	account := func() events.AccountRef { return events.AccountRef(fmt.Sprintf("acct_%032x", rng.IntN(40))) }
	r := *slot
	var e events.Event
	if r == nil {
		r = &request{
			id:       uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "urn:ledger:random:%d:%d", rng.Uint64(), seq)).String(),
			delivery: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(365*24)) * time.Hour),
		}
		*slot = r
		rr := &events.RequestReceived{
			Authority:  events.Authority{Name: "Authority", Kind: events.AuthorityPolice, Country: countries[rng.IntN(len(countries))]},
			Instrument: instruments[rng.IntN(len(instruments))],
			Emergency:  rng.IntN(8) == 0,
			DataSought: []events.DataCategory{events.DataSubscriber},
		}
		for range 1 + rng.IntN(3) {
			a := account()
			r.targets = append(r.targets, a)
			rr.Targets = append(rr.Targets, events.Target{Account: a, IdentifierType: events.IdentifierUsername})
		}
		if rng.IntN(2) == 0 {
			due := r.delivery.Add(time.Duration(rng.IntN(30*24)) * time.Hour)
			rr.DueAt = &due
		}
		g.orderBlock(rr) // some orders without one, as v1 events read
		e = rr
	} else {
		switch rng.IntN(15) {
		case 0, 1, 2:
			d := &events.DecisionRecorded{}
			for _, a := range r.targets {
				d.Targets = append(d.Targets, events.TargetDecision{Account: a, Outcome: outcomes[rng.IntN(len(outcomes))], Grounds: "random"})
			}
			e = d
		case 3, 4, 5:
			d := &events.DataDisclosed{Channel: "law_enforcement_portal", PackageSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
			for _, a := range r.targets[:1+rng.IntN(len(r.targets))] {
				d.Accounts = append(d.Accounts, events.DisclosedAccount{Account: a, Categories: []events.DataCategory{categories[rng.IntN(len(categories))]}})
			}
			e = d
		case 6:
			field, value := "authority.country", fmt.Sprintf("%q", countries[rng.IntN(len(countries))])
			if rng.IntN(2) == 0 {
				field, value = "emergency", fmt.Sprint(rng.IntN(2) == 0)
			}
			e = &events.EntryCorrected{Entry: r.received, Field: field, Value: json.RawMessage(value), Reason: "random"}
		case 7:
			e = &events.UserNotified{Accounts: r.targets[:1]}
		case 8:
			e, r.closed = &events.RequestWithdrawn{Reason: "random"}, true
		case 10:
			e = &events.ReceiptAcknowledged{Automated: rng.IntN(2) == 0}
		case 11:
			e = &events.OrderGivenEffect{}
		case 12:
			e = &events.OrderRefused{Ground: events.RefusalGrounds[rng.IntN(len(events.RefusalGrounds))]}
		case 13:
			e = &events.EnforcingAuthorityNotified{State: "IE"}
		case 14:
			e = &events.PreservationExtended{Extension: events.PreservationExtensions[rng.IntN(len(events.PreservationExtensions))]}
		default:
			e, r.closed = &events.RequestClosed{Reason: "random"}, true
		}
	}
	r.version++
	when := r.delivery.Add(time.Duration(r.version-1) * 24 * time.Hour)
	if rng.IntN(10) == 0 {
		when = when.Add(-time.Duration(rng.IntN(90*24)) * time.Hour) // happened long before it was entered
	}
	id := uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "urn:ledger:random:event:%d:%d", rng.Uint64(), seq))
	env, err := events.NewEnvelope(e, events.Meta{
		ID: id, Source: cmp.Or(g.Source, "urn:ledger:test"), AggregateID: r.id, AggregateVersion: r.version,
		Time: when, Actor: officers[rng.IntN(len(officers))], CommandID: "cmd-" + id.String(),
	})
	if err != nil {
		panic(fmt.Sprintf("projectiontest: %s: %v", e.EventName(), err))
	}
	if r.version == 1 {
		r.received = env.ID
	}
	if rng.IntN(3) > 0 {
		g.recorded = g.recorded.Add(time.Duration(1+rng.IntN(48)) * time.Minute)
	}
	return Event{Envelope: env, RecordedAt: g.recorded}
}

// Recorded numbers a history from sequence 1, as a stream would hold it.
func Recorded(h []Event) []events.Recorded {
	out := make([]events.Recorded, len(h))
	for i, e := range h {
		out[i] = events.Recorded{Envelope: e.Envelope, Sequence: uint64(i + 1), RecordedAt: e.RecordedAt}
	}
	return out
}

// Views returns a fresh instance of every view that keeps snapshots, under its report name.
func Views() []projections.Named {
	var views []projections.Named
	for _, name := range projections.SnapshotViewNames() {
		v, err := projections.NewSnapshotView(name)
		if err != nil {
			panic(err)
		}
		views = append(views, projections.Named{Name: name, View: v})
	}
	return views
}

// Render writes every table of every view in CSV: each quarter, half and the year 2024 for
// the period views, the open requests and the officers' load for the workload.
func Render(views []projections.Named) []byte {
	var b bytes.Buffer
	now := time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)
	var periods []projections.Range
	for _, p := range []string{"2024", "2024-H1", "2024-H2", "2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"} {
		r, _ := projections.ParsePeriod(p)
		periods = append(periods, r)
	}
	write := func(t projections.Table) {
		if err := t.Write(&b, "csv"); err != nil {
			panic(err)
		}
	}
	for _, v := range views {
		fmt.Fprintf(&b, "# %s\n", v.Name)
		switch view := v.View.(type) {
		case *projections.Workload:
			write(view.Table(now))
			write(view.OfficerTable(now))
		case interface {
			Table(projections.Range) projections.Table
		}:
			for _, p := range periods {
				write(view.Table(p))
			}
		}
	}
	return b.Bytes()
}

// orderBlock gives most orders of Member States the block their instrument calls for.
func (g *Generator) orderBlock(rr *events.RequestReceived) {
	if g.rng.IntN(4) == 0 {
		return
	}
	switch rr.Instrument {
	case events.InstrumentDSAArt9, events.InstrumentDSAArt10:
		tax := events.DSATaxonomy()
		t := tax[g.rng.IntN(len(tax))]
		o := &events.DSAOrder{Category: t.Category, Items: 1 + g.rng.IntN(5)}
		if len(t.Keywords) > 0 {
			o.Keyword = t.Keywords[g.rng.IntN(len(t.Keywords))]
			if o.Keyword == "KEYWORD_OTHER" {
				o.OtherDescription = fmt.Sprintf("other %d", g.rng.IntN(3))
			}
		}
		rr.DSA = o
	case events.InstrumentEPOC, events.InstrumentEPOCPR:
		rr.EEvidence = &events.EEvidenceOrder{DataCategory: events.EEvidenceDataCategories[g.rng.IntN(len(events.EEvidenceDataCategories))]}
	}
}
