package projections_test

import (
	"context"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// history builds a stream by hand: sequences count up from 1, each request (named "r1",
// "r2", ... in the test) gets a fixed UUID and its own versions, and every id is fixed so
// that golden files do not change from run to run.
type history struct {
	t        testing.TB
	recs     []events.Recorded
	versions map[string]uint64
}

func newHistory(t testing.TB) *history {
	return &history{t: t, versions: map[string]uint64{}}
}

// requestID turns a test's short request name into the aggregate's UUID.
func requestID(name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:ledger:test:"+name)).String()
}

// acct returns a well-formed account reference numbered n.
func acct(n int) events.AccountRef { return events.AccountRef(fmt.Sprintf("acct_%032x", n)) }

// at is a UTC time on a day, at noon.
func at(year int, month time.Month, day int) time.Time {
	return time.Date(year, month, day, 12, 0, 0, 0, time.UTC)
}

// add records e for request name at business time when; the ledger learns it an hour later.
func (h *history) add(name string, when time.Time, e events.Event) events.Recorded {
	return h.addRecorded(name, when, when.Add(time.Hour), e)
}

// addRecorded records e with an explicit recorded time (a fact entered late, for example).
func (h *history) addRecorded(name string, when, recorded time.Time, e events.Event) events.Recorded {
	h.t.Helper()
	h.versions[name]++
	seq := uint64(len(h.recs) + 1)
	env, err := events.NewEnvelope(e, events.Meta{
		ID:               uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "urn:ledger:test:event:%d", seq)),
		Source:           "urn:ledger:test",
		AggregateID:      requestID(name),
		AggregateVersion: h.versions[name],
		Time:             when,
		Actor:            "ines.intake",
		CommandID:        fmt.Sprintf("cmd-%d", seq),
	})
	if err != nil {
		h.t.Fatalf("build %s for %s: %v", e.EventName(), name, err)
	}
	rec := events.Recorded{Envelope: env, Sequence: seq, RecordedAt: recorded.UTC()}
	h.recs = append(h.recs, rec)
	return rec
}

// of returns the recorded events of one request, in stream order.
func (h *history) of(name string) []events.Recorded {
	var out []events.Recorded
	for _, r := range h.recs {
		if r.Subject == requestID(name) {
			out = append(out, r)
		}
	}
	return out
}

// feed hands the whole history to the views, as a replay would.
func (h *history) feed(views ...projections.Projection) {
	h.t.Helper()
	for _, r := range h.recs {
		if err := projections.Feed(r, views...); err != nil {
			h.t.Fatalf("feed sequence %d: %v", r.Sequence, err)
		}
	}
}

// received is a request from an authority of country under instrument naming targets.
func received(country events.Country, instrument events.Instrument, targets ...events.AccountRef) *events.RequestReceived {
	r := &events.RequestReceived{
		Authority:  events.Authority{Name: "Authority of " + string(country), Kind: events.AuthorityPolice, Country: country},
		Instrument: instrument,
		DataSought: []events.DataCategory{events.DataSubscriber, events.DataIPAddress},
	}
	for _, a := range targets {
		r.Targets = append(r.Targets, events.Target{Account: a, IdentifierType: events.IdentifierUsername})
	}
	return r
}

// disclosed is one sending of data: the categories produced for each account.
func disclosed(accounts ...events.DisclosedAccount) *events.DataDisclosed {
	return &events.DataDisclosed{
		Accounts:      accounts,
		Channel:       "law_enforcement_portal",
		PackageSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	}
}

func produced(a events.AccountRef, categories ...events.DataCategory) events.DisclosedAccount {
	return events.DisclosedAccount{Account: a, Categories: categories}
}

func decided(outcome events.Outcome, accounts ...events.AccountRef) *events.DecisionRecorded {
	d := &events.DecisionRecorded{}
	for _, a := range accounts {
		d.Targets = append(d.Targets, events.TargetDecision{Account: a, Outcome: outcome, Grounds: "test"})
	}
	return d
}

// period parses a period the test spells correctly.
func period(t testing.TB, s string) projections.Range {
	t.Helper()
	r, err := projections.ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sliceSource is a fake store: it yields a slice of recorded events from a sequence on,
// then fails with err if set.
type sliceSource struct {
	recs []events.Recorded
	err  error
	// reads records the from argument of every Read.
	reads []uint64
}

func (s *sliceSource) Read(_ context.Context, from uint64) iter.Seq2[events.Recorded, error] {
	s.reads = append(s.reads, from)
	return func(yield func(events.Recorded, error) bool) {
		for _, r := range s.recs {
			if r.Sequence < from {
				continue
			}
			if !yield(r, nil) {
				return
			}
		}
		if s.err != nil {
			yield(events.Recorded{}, s.err)
		}
	}
}
