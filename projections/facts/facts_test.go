package facts_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections/columnar"
	"github.com/complianceledger/ledger/projections/facts"
)

func rec(seq uint64, subject, id string, at time.Time) events.Recorded {
	return events.Recorded{Envelope: events.Envelope{ID: id, Subject: subject, Time: at, Actor: "ines.intake"}, Sequence: seq}
}

// TestIdsAreKeptAsRecorded: subjects and event ids in any form uuid.Parse accepts come back
// byte for byte, and a correction naming its entry in that form applies; the snapshot keeps
// all of it.
func TestIdsAreKeptAsRecorded(t *testing.T) {
	t.Parallel()
	delivered := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ name, subject, entry string }{
		{"canonical", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0193a1b2-0000-7000-8000-000000000001"},
		{"upper case", "0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", "0193A1B2-0000-7000-8000-000000000001"},
		{"urn", "urn:uuid:0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "{0193a1b2-0000-7000-8000-000000000001}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ix := facts.New()
			ix.Apply(rec(1, tc.subject, tc.entry, delivered), &events.RequestReceived{
				Authority: events.Authority{Country: "FR"}, Instrument: events.InstrumentCourtOrder,
				Targets: []events.Target{{Account: "a"}, {Account: "b"}},
			})
			ix.Apply(rec(2, tc.subject, "0193a1b2-0000-7000-8000-000000000002", delivered), &events.EntryCorrected{
				Entry: tc.entry, Field: "authority.country", Value: json.RawMessage(`"DE"`), Reason: "typo",
			})
			data, err := ix.MarshalSnapshot()
			if err != nil {
				t.Fatal(err)
			}
			loaded := facts.New()
			if err := loaded.UnmarshalSnapshot(data); err != nil {
				t.Fatal(err)
			}
			for name, x := range map[string]*facts.Index{"built": ix, "loaded": loaded} {
				id, ok := x.Lookup(tc.subject)
				if !ok {
					t.Fatalf("%s: %s not found", name, tc.subject)
				}
				if got := x.Subject(id); got != tc.subject {
					t.Errorf("%s: subject %q, want %q", name, got, tc.subject)
				}
				r := x.Request(id)
				if r.Country != "DE" || r.Targets != 2 || !r.Delivered.Equal(delivered) || !r.Due.IsZero() {
					t.Errorf("%s: request %+v; want DE (corrected), 2 targets, delivered %s, no due date", name, r, delivered)
				}
			}
		})
	}
}

func TestAnEventAppliedTwiceCountsOnce(t *testing.T) {
	t.Parallel()
	ix := facts.New()
	r := rec(1, "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0193a1b2-0000-7000-8000-000000000001", time.Now())
	ix.Apply(r, &events.RequestReceived{Authority: events.Authority{Country: "FR"}})
	ix.Apply(r, &events.RequestReceived{Authority: events.Authority{Country: "FR"}})
	if ix.Len() != 1 {
		t.Errorf("%d requests after one event applied twice", ix.Len())
	}
}

func TestDamagedIndexSnapshotsAreRefused(t *testing.T) {
	t.Parallel()
	ix := facts.New()
	ix.Apply(rec(1, "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0193a1b2-0000-7000-8000-000000000001", time.Now()),
		&events.RequestReceived{Authority: events.Authority{Country: "FR"}})
	good, _ := ix.MarshalSnapshot()
	// Columns that decode but disagree: a second request's delivery time without the rest.
	var cols struct {
		subject, entry   []byte
		delivered, due   []int64
		flags            []uint8
		a, b, c, d, e, f []uint32
		items            []int32
		g                []uint32
		oddID            []uint32
		oddKind          []uint8
		oddValue, s, acc []string
	}
	all := []any{&cols.subject, &cols.entry, &cols.delivered, &cols.due, &cols.flags, &cols.a, &cols.b, &cols.c, &cols.d, &cols.e, &cols.f,
		&cols.items, &cols.g, &cols.oddID, &cols.oddKind, &cols.oddValue, &cols.s, &cols.acc}
	if err := columnar.Unmarshal(good, all...); err != nil {
		t.Fatalf("the test's column list no longer matches the index: %v", err)
	}
	cols.delivered = append(cols.delivered, 0)
	uneven := columnar.Marshal(nil, all...)
	for name, data := range map[string][]byte{"cut": good[:len(good)-3], "uneven columns": uneven} {
		loaded := facts.New()
		if err := loaded.UnmarshalSnapshot(data); !errors.Is(err, columnar.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
		if loaded.Len() != 0 {
			t.Errorf("%s: a refused snapshot left %d requests", name, loaded.Len())
		}
	}
}
