// Package storetest is the conformance suite of the store port: every adapter runs Run
// against itself in its own tests, so a backend proves itself by passing it (as each
// hallgren/eventsourcing backend runs that project's shared suite).
//
// The suite pins down what the rest of the ledger relies on, and nothing an adapter may
// choose freely: positions (Sequence) must be greater than 0 and strictly increase in the
// ledger's total order, but need not be dense; Read is only asked to start at 1 or one past
// a position the store returned, which is what a resuming reader does.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

// Open returns a store that holds no events but the ones the calling subtest appends (a
// fresh server, or a namespace of its own on a shared one) and that is closed when t ends
// (t.Cleanup). The suite also calls Close itself, so Close must be safe to call twice.
type Open func(t *testing.T) store.Store

// Run runs the whole suite against the stores open returns. Every subtest opens its own
// store and runs in parallel with the others.
func Run(t *testing.T, open Open) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(*testing.T, Open)
	}{
		{"append and load", testAppendAndLoad},
		{"concurrency conflicts", testConflicts},
		{"racing writers", testRacingWriters},
		{"idempotent retry", testIdempotentRetry},
		{"global read order", testReadOrder},
		{"resume from a position", testResume},
		{"bad input", testBadInput},
		{"batch", testBatch},
		{"close", testClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open)
		})
	}
}

// Ctx is a context for one test's store calls: a real server may be remote, so calls get a
// deadline rather than hang the run.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Received is a valid first event (aggregate version 1) of the request aggregateID, with a
// fresh command id.
func Received(t testing.TB, aggregateID string) events.Envelope {
	t.Helper()
	return envelope(t, &events.RequestReceived{
		Authority:  events.Authority{Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR"},
		Instrument: events.InstrumentCourtOrder,
		Reference:  "REF-1",
		Targets:    []events.Target{{Account: accountRef(t), IdentifierType: events.IdentifierEmail}},
		DataSought: []events.DataCategory{events.DataSubscriber, events.DataIPAddress},
	}, aggregateID, 1)
}

// Acknowledged is a valid later event of the request aggregateID at the given aggregate
// version, with a fresh command id.
func Acknowledged(t testing.TB, aggregateID string, version uint64) events.Envelope {
	t.Helper()
	return envelope(t, &events.ReceiptAcknowledged{Automated: true}, aggregateID, version)
}

func envelope(t testing.TB, e events.Event, aggregateID string, version uint64) events.Envelope {
	t.Helper()
	env, err := events.NewEnvelope(e, events.Meta{
		ID:               uuid.Must(uuid.NewV7()),
		Source:           "storetest",
		AggregateID:      aggregateID,
		AggregateVersion: version,
		Time:             time.Now(),
		Actor:            "storetest.alice",
		CommandID:        uuid.NewString(),
	})
	if err != nil {
		t.Fatalf("NewEnvelope: %v", err)
	}
	return env
}

func accountRef(t testing.TB) events.AccountRef {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return events.AccountRef("acct_" + hex.EncodeToString(b))
}

// MustAppend appends env and fails the test unless it was stored as a new event.
func MustAppend(t testing.TB, s store.Store, env events.Envelope, expectedLast uint64) uint64 {
	t.Helper()
	a, err := s.Append(Ctx(t), env, expectedLast)
	if err != nil {
		t.Fatalf("Append %s to %s expecting %d: %v", env.Type, env.Subject, expectedLast, err)
	}
	if a.Duplicate {
		t.Fatalf("Append %s to %s: reported as a duplicate of %d", env.Type, env.Subject, a.Sequence)
	}
	if a.Sequence <= expectedLast {
		t.Fatalf("Append %s to %s: position %d, not after the expected last %d", env.Type, env.Subject, a.Sequence, expectedLast)
	}
	if stored, err := events.Decode(a.Stored); err != nil || stored.ID != env.ID || a.Recorded.IsZero() {
		t.Fatalf("Append %s to %s: answered recorded %v and the bytes of event %q (%v), want event %s", env.Type, env.Subject, a.Recorded, stored.ID, err, env.ID)
	}
	return a.Sequence
}

// MustLoad loads one request aggregate and fails the test on an error.
func MustLoad(t testing.TB, s store.Store, id string) []events.Recorded {
	t.Helper()
	recs, err := s.Load(Ctx(t), events.AggregateRequest, id)
	if err != nil {
		t.Fatalf("Load %s: %v", id, err)
	}
	return recs
}

// ReadAll collects Read(from) and fails the test on an error.
func ReadAll(t testing.TB, s store.Store, from uint64) []events.Recorded {
	t.Helper()
	var out []events.Recorded
	for rec, err := range s.Read(Ctx(t), from) {
		if err != nil {
			t.Fatalf("Read from %d: %v", from, err)
		}
		out = append(out, rec)
	}
	return out
}

// SameEvent fails the test unless rec is env stored at seq: the same canonical bytes (what
// proof hashes), the same position, and a recorded time.
func SameEvent(t testing.TB, rec events.Recorded, env events.Envelope, seq uint64) {
	t.Helper()
	want, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("event at %d is not byte-identical to the one appended:\n got %s\nwant %s", rec.Sequence, got, want)
	}
	if rec.Sequence != seq {
		t.Errorf("event %s at position %d, the append said %d", env.ID, rec.Sequence, seq)
	}
	if rec.RecordedAt.IsZero() || rec.RecordedAt.Location() != time.UTC {
		t.Errorf("event at %d: recorded time %v, want a time in UTC", rec.Sequence, rec.RecordedAt)
	}
}
