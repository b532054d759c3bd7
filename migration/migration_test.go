package migration_test

import (
	"context"
	"iter"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/migration"
)

// history is a ledger's events in a slice: a stand-in for the store's Read, which the
// survey only iterates.
type history []events.Recorded

func (h history) Read(_ context.Context, from uint64) iter.Seq2[events.Recorded, error] {
	return func(yield func(events.Recorded, error) bool) {
		for _, r := range h {
			if r.Sequence >= from && !yield(r, nil) {
				return
			}
		}
	}
}

func (h *history) add(t *testing.T, request string, e events.Event) {
	t.Helper()
	env, err := events.NewEnvelope(e, events.Meta{ID: uuid.New(), Source: "test", AggregateID: request, AggregateVersion: 1,
		Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Actor: "t", CommandID: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	*h = append(*h, events.Recorded{Envelope: env, Sequence: uint64(len(*h) + 1), RecordedAt: time.Now()})
}

func received(name string, accounts ...int) *events.RequestReceived {
	e := &events.RequestReceived{Authority: events.Authority{Name: name, Kind: "police", Country: "FR"}, Instrument: "court_order"}
	for _, a := range accounts {
		e.Targets = append(e.Targets, events.Target{Account: events.AccountRef("acct_" + string(rune('a'+a)) + "0000000000000000000000000000000"), IdentifierType: "username"})
	}
	return e
}

func TestSurveySplitsTheLedgerAtTheFirstSealedEvent(t *testing.T) {
	t.Parallel()
	r1, r2, r3, r4, r5 := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	var h history
	h.add(t, r1, received("Préfecture", 1, 2))
	h.add(t, r2, received("Parquet", 2, 3))
	h.add(t, r1, &events.RequestClosed{Reason: "answered"})
	h.add(t, r5, received("Gendarmerie", 1))                                     // still open
	h.add(t, r3, received(events.FormatSealed("authority.name", "Y2lwaGVy"), 1)) // the switch: 5
	h.add(t, r2, &events.RequestClosed{Reason: "done"})                          // an old binary, after the switch
	h.add(t, r4, received(events.FormatSealed("authority.name", "Y2lwaGVy"), 4))
	s, err := migration.Take(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	want := migration.Survey{Events: 7, Switch: 5, Before: 4, Requests: 3, Accounts: 3, ClearText: 4, Open: 1, ClearAfter: 1}
	if s != want {
		t.Errorf("survey %+v, want %+v", s, want)
	}
}
