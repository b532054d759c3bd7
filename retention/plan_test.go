package retention_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/internal/clocktest"
	"github.com/complianceledger/ledger/retention"
)

// history records events into a Book at the times of a clock moved by hand: the recorded
// times a plan reads. Every event's business time (at) is in 2001, which no plan may use.
type history struct {
	t     *testing.T
	clock *clocktest.Clock
	book  *retention.Book
	seq   uint64
	// closed and disclosed are the recorded times the test itself notes, to compute dues.
	closed map[string]time.Time
}

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func newHistory(t *testing.T) *history {
	return &history{t: t, clock: clocktest.New(t0), book: retention.NewBook(), closed: map[string]time.Time{}}
}

func (h *history) record(aggregate string, e events.Event) time.Time {
	h.t.Helper()
	h.seq++
	h.clock.Advance(24 * time.Hour)
	env, err := events.NewEnvelope(e, events.Meta{ID: uuid.New(), Source: "test", AggregateID: aggregate, AggregateVersion: h.seq,
		Time: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), Actor: "t", CommandID: uuid.NewString()})
	if err != nil {
		h.t.Fatal(err)
	}
	now := h.clock.Now()
	if err := h.book.Apply(events.Recorded{Envelope: env, Sequence: h.seq, RecordedAt: now}); err != nil {
		h.t.Fatal(err)
	}
	return now
}

func acct(n int) events.AccountRef { return events.AccountRef(fmt.Sprintf("acct_%032x", n)) }

func sealed(field string) string { return events.FormatSealed(field, "Y2lwaGVydGV4dA") }

// receive records a request of instrument naming accounts, its authority's name and
// reference sealed (or clear, for a request recorded before the vault).
func (h *history) receive(id, instrument string, clear bool, accounts ...events.AccountRef) {
	e := &events.RequestReceived{Authority: events.Authority{Name: sealed("authority.name"), Kind: "law_enforcement", Country: "FR"},
		Instrument: events.Instrument(instrument), Reference: sealed("reference")}
	if clear {
		e.Authority.Name, e.Reference = "Préfecture de police", "PP-2030-1"
	}
	for _, a := range accounts {
		e.Targets = append(e.Targets, events.Target{Account: a, IdentifierType: "username"})
	}
	h.record(id, e)
}

func (h *history) decide(id string, accounts ...events.AccountRef) {
	e := &events.DecisionRecorded{}
	for _, a := range accounts {
		e.Targets = append(e.Targets, events.TargetDecision{Account: a, Outcome: events.OutcomeProduce, Grounds: sealed("grounds"), Approved: []events.DataCategory{events.DataSubscriber}})
	}
	h.record(id, e)
}

func (h *history) disclose(id string, accounts ...events.AccountRef) time.Time {
	e := &events.DataDisclosed{Channel: "law_enforcement_portal", PackageSHA256: strings.Repeat("ab", 32)}
	for _, a := range accounts {
		e.Accounts = append(e.Accounts, events.DisclosedAccount{Account: a, Categories: []events.DataCategory{events.DataSubscriber}})
	}
	return h.record(id, e)
}

func (h *history) close(id string) time.Time {
	h.closed[id] = h.record(id, &events.RequestClosed{Reason: sealed("reason")})
	return h.closed[id]
}

func (h *history) withdraw(id string) time.Time {
	h.closed[id] = h.record(id, &events.RequestWithdrawn{Reason: sealed("reason")})
	return h.closed[id]
}

func (h *history) erase(id string, fields ...string) {
	h.record(uuid.NewString(), &events.PersonalDataErased{Scope: events.ErasedRequest, Request: id, Fields: fields})
}

func (h *history) correctInstrument(id, instrument string) {
	v, _ := json.Marshal(instrument)
	h.record(id, &events.EntryCorrected{Entry: uuid.NewString(), Field: "instrument", Value: v, Reason: sealed("reason")})
}

// item is what the test expects of a plan's item, written independently of its code.
type item struct {
	target  retention.Target
	id      string
	fields  string
	due     time.Time
	ruleAt  int
	account events.AccountRef
}

func items(got []retention.Item) []item {
	out := make([]item, len(got))
	for i, it := range got {
		out[i] = item{target: it.Target, id: it.Request, fields: strings.Join(it.Fields, ","), due: it.Due, ruleAt: it.Rule.Line, account: it.Account}
	}
	return out
}

const (
	reqA = "0193a000-0000-7000-8000-00000000000a"
	reqB = "0193a000-0000-7000-8000-00000000000b"
	reqC = "0193a000-0000-7000-8000-00000000000c"
)

// every field a request built by history holds sealed, in events.PersonalFields' order
const allText = "authority.name,reference,grounds,reason"

func TestPlanFollowsRecordedTimesAndThePolicy(t *testing.T) {
	t.Parallel()
	policy := `
text      *    *           1y
text      *    withdrawn   30d
text      nsl  *           10y
accounts  *    disclosed   2y
accounts  *    not_disclosed 6m
`
	for _, tc := range []struct {
		name string
		// build records a history and returns the plan's horizon and the expected items.
		build func(h *history) (time.Time, []item)
	}{
		{"text is due a year after closing, not a second before", func(h *history) (time.Time, []item) {
			h.receive(reqA, "court_order", false)
			closed := h.close(reqA)
			due := closed.AddDate(1, 0, 0)
			if got := retention.Plan(mustPolicy(t, policy), h.book, due.Add(-time.Second)); len(got) != 0 {
				t.Errorf("a second early: %v", got)
			}
			return due, []item{{target: retention.Text, id: reqA, fields: "authority.name,reference,reason", due: due, ruleAt: 2}}
		}},
		{"an open request keeps its text and its accounts", func(h *history) (time.Time, []item) {
			h.receive(reqA, "court_order", false, acct(1))
			h.decide(reqA, acct(1))
			h.disclose(reqA, acct(1))
			return t0.AddDate(50, 0, 0), nil
		}},
		{"withdrawn and instrument rules, the instrument as corrected", func(h *history) (time.Time, []item) {
			h.receive(reqA, "court_order", false)
			wd := h.withdraw(reqA)
			h.receive(reqB, "court_order", false)
			h.correctInstrument(reqB, "nsl")
			cl := h.close(reqB)
			return t0.AddDate(20, 0, 0), []item{
				{target: retention.Text, id: reqA, fields: "authority.name,reference,reason", due: wd.AddDate(0, 0, 30), ruleAt: 3},
				{target: retention.Text, id: reqB, fields: "authority.name,reference,reason", due: cl.AddDate(10, 0, 0), ruleAt: 4},
			}
		}},
		{"an account goes at the latest due of its requests, from its last disclosure", func(h *history) (time.Time, []item) {
			h.receive(reqA, "court_order", false, acct(1), acct(2))
			h.decide(reqA, acct(1), acct(2))
			h.disclose(reqA, acct(1))
			last := h.disclose(reqA, acct(1))
			clA := h.close(reqA)
			h.receive(reqB, "court_order", false, acct(2))
			clB := h.close(reqB)
			// acct 1: disclosed in A (2y after its last disclosure). acct 2: named by A
			// (disclosed: A's rule 2y, anchored at A's closing as acct 2 got nothing) and by B
			// (not disclosed: 6m after B's closing); the later wins.
			due2 := clA.AddDate(2, 0, 0)
			if b := clB.AddDate(0, 6, 0); b.After(due2) {
				due2 = b
			}
			return t0.AddDate(20, 0, 0), []item{
				{target: retention.Text, id: reqB, fields: "authority.name,reference,reason", due: clB.AddDate(1, 0, 0), ruleAt: 2},
				{target: retention.Text, id: reqA, fields: allText, due: clA.AddDate(1, 0, 0), ruleAt: 2},
				{target: retention.Accounts, account: acct(1), due: last.AddDate(2, 0, 0), ruleAt: 5},
				{target: retention.Accounts, account: acct(2), due: due2, ruleAt: 5},
			}
		}},
		{"an account named by an open request is kept", func(h *history) (time.Time, []item) {
			h.receive(reqA, "court_order", true, acct(1))
			clA := h.close(reqA)
			h.receive(reqB, "court_order", true, acct(1))
			return t0.AddDate(20, 0, 0), []item{{target: retention.Text, id: reqA, fields: "reason", due: clA.AddDate(1, 0, 0), ruleAt: 2}}
		}},
		{"erased fields are not planned again; clear text has nothing to erase", func(h *history) (time.Time, []item) {
			h.receive(reqA, "court_order", false)
			clA := h.close(reqA)
			h.erase(reqA, "authority.name", "reason")
			h.receive(reqB, "court_order", false)
			h.close(reqB)
			h.erase(reqB, "authority.name", "reference", "reason")
			h.receive(reqC, "court_order", true)
			h.close(reqC) // its reason is sealed: recorded after the vault came
			return t0.AddDate(20, 0, 0), []item{
				{target: retention.Text, id: reqA, fields: "reference", due: clA.AddDate(1, 0, 0), ruleAt: 2},
				{target: retention.Text, id: reqC, fields: "reason", due: h.closed[reqC].AddDate(1, 0, 0), ruleAt: 2},
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHistory(t)
			until, want := tc.build(h)
			slices.SortStableFunc(want, func(x, y item) int { return x.due.Compare(y.due) })
			got := items(retention.Plan(mustPolicy(t, policy), h.book, until))
			if !slices.Equal(got, want) {
				t.Errorf("plan:\n%v\nwant\n%v", got, want)
			}
		})
	}
}

func mustPolicy(t *testing.T, text string) retention.Policy {
	t.Helper()
	p, err := retention.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
