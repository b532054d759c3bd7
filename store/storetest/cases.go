package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

// testAppendAndLoad: appended events come back from Load in order, byte for byte, at the
// positions the appends reported, and only with their own aggregate.
func testAppendAndLoad(t *testing.T, open Open) {
	s := open(t)
	a, b := uuid.NewString(), uuid.NewString()
	plan := []events.Envelope{
		Received(t, a), Received(t, b), Acknowledged(t, a, 2), Acknowledged(t, b, 2), Acknowledged(t, a, 3),
	}
	last := map[string]uint64{}
	var all []uint64
	for _, env := range plan {
		seq := MustAppend(t, s, env, last[env.Subject])
		if len(all) > 0 && seq <= all[len(all)-1] {
			t.Fatalf("append %d at position %d, after %d: positions must increase", len(all), seq, all[len(all)-1])
		}
		last[env.Subject] = seq
		all = append(all, seq)
	}
	for _, id := range []string{a, b} {
		recs := MustLoad(t, s, id)
		var want []int
		for i, env := range plan {
			if env.Subject == id {
				want = append(want, i)
			}
		}
		if len(recs) != len(want) {
			t.Fatalf("Load %s: %d events, want %d", id, len(recs), len(want))
		}
		for k, i := range want {
			SameEvent(t, recs[k], plan[i], all[i])
		}
	}
}

// testConflicts: an append whose expectation is not the aggregate's last position is
// refused with store.ErrConcurrency and stores nothing.
func testConflicts(t *testing.T, open Open) {
	s := open(t)
	cases := []struct {
		name string
		// setup stores what the case needs and returns the append to refuse.
		setup func(t *testing.T, id string) (env events.Envelope, expectedLast uint64)
	}{
		{"stale expectation", func(t *testing.T, id string) (events.Envelope, uint64) {
			first := MustAppend(t, s, Received(t, id), 0)
			MustAppend(t, s, Acknowledged(t, id, 2), first)
			return Acknowledged(t, id, 2), first
		}},
		{"creating an aggregate that exists", func(t *testing.T, id string) (events.Envelope, uint64) {
			MustAppend(t, s, Received(t, id), 0)
			return Received(t, id), 0
		}},
		{"extending an aggregate that does not exist", func(t *testing.T, id string) (events.Envelope, uint64) {
			other := MustAppend(t, s, Received(t, uuid.NewString()), 0)
			return Acknowledged(t, id, 2), other
		}},
		{"another aggregate's position", func(t *testing.T, id string) (events.Envelope, uint64) {
			MustAppend(t, s, Received(t, id), 0)
			other := MustAppend(t, s, Received(t, uuid.NewString()), 0)
			return Acknowledged(t, id, 2), other
		}},
		{"a position past the aggregate's last", func(t *testing.T, id string) (events.Envelope, uint64) {
			first := MustAppend(t, s, Received(t, id), 0)
			return Acknowledged(t, id, 2), first + 1
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := uuid.NewString()
			env, expected := tc.setup(t, id)
			before := MustLoad(t, s, id)
			a, err := s.Append(Ctx(t), env, expected)
			if !errors.Is(err, store.ErrConcurrency) {
				t.Fatalf("Append expecting %d: %+v, %v; want store.ErrConcurrency", expected, a, err)
			}
			if !empty(a) {
				t.Errorf("a refused append reported %+v", a)
			}
			if after := MustLoad(t, s, id); len(after) != len(before) {
				t.Errorf("a refused append changed the aggregate from %d to %d events", len(before), len(after))
			}
		})
	}
}

// testRacingWriters: writers that read the same state and append at once: exactly one wins,
// every other one gets store.ErrConcurrency, and the aggregate holds the winner's event.
func testRacingWriters(t *testing.T, open Open) {
	s := open(t)
	const rounds = 10
	for _, tc := range []struct {
		name     string
		writers  int
		existing bool // extend an aggregate with one event, or create a new one
	}{
		{"two creating one aggregate", 2, false},
		{"two extending one aggregate", 2, true},
		{"eight extending one aggregate", 8, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for range rounds {
				id := uuid.NewString()
				var expected uint64
				version := uint64(1)
				if tc.existing {
					expected = MustAppend(t, s, Received(t, id), 0)
					version = 2
				}
				envs := make([]events.Envelope, tc.writers)
				for i := range envs {
					if tc.existing {
						envs[i] = Acknowledged(t, id, version)
					} else {
						envs[i] = Received(t, id)
					}
				}
				results := make([]error, tc.writers)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range envs {
					wg.Go(func() {
						<-start
						a, err := s.Append(Ctx(t), envs[i], expected)
						if err == nil && a.Duplicate {
							err = errors.New("reported as a duplicate")
						}
						results[i] = err
					})
				}
				close(start)
				wg.Wait()

				winner := -1
				for i, err := range results {
					switch {
					case err == nil && winner >= 0:
						t.Fatalf("writers %d and %d both appended expecting %d", winner, i, expected)
					case err == nil:
						winner = i
					case !errors.Is(err, store.ErrConcurrency):
						t.Fatalf("writer %d: %v; want store.ErrConcurrency", i, err)
					}
				}
				if winner < 0 {
					t.Fatalf("no writer won: %v", results)
				}
				recs := MustLoad(t, s, id)
				if n := int(version); len(recs) != n || recs[n-1].ID != envs[winner].ID {
					t.Fatalf("aggregate holds %d events, want %d ending with the winner's", len(recs), n)
				}
			}
		})
	}
}

// testIdempotentRetry: a command appended again (same aggregate, same command id) is stored
// once; the retry is reported as a duplicate at the first copy's position, whatever
// expectation it carries and however the aggregate moved on since.
func testIdempotentRetry(t *testing.T, open Open) {
	s := open(t)
	cases := []struct {
		name string
		// run stores a history and returns the retry, its expectation, the position of
		// the copy it repeats and how many events the aggregate then holds.
		run func(t *testing.T, id string) (retry events.Envelope, expected, want uint64, n int)
	}{
		{"the same append twice", func(t *testing.T, id string) (events.Envelope, uint64, uint64, int) {
			e := Received(t, id)
			return e, 0, MustAppend(t, s, e, 0), 1
		}},
		{"retried with the expectation it made stale", func(t *testing.T, id string) (events.Envelope, uint64, uint64, int) {
			e := Received(t, id)
			first := MustAppend(t, s, e, 0)
			MustAppend(t, s, Acknowledged(t, id, 2), first)
			return e, 0, first, 2
		}},
		{"retried with the current expectation after another event", func(t *testing.T, id string) (events.Envelope, uint64, uint64, int) {
			e := Received(t, id)
			first := MustAppend(t, s, e, 0)
			second := MustAppend(t, s, Acknowledged(t, id, 2), first)
			return e, second, first, 2
		}},
		{"a middle command retried", func(t *testing.T, id string) (events.Envelope, uint64, uint64, int) {
			first := MustAppend(t, s, Received(t, id), 0)
			e := Acknowledged(t, id, 2)
			second := MustAppend(t, s, e, first)
			MustAppend(t, s, Acknowledged(t, id, 3), second)
			return e, first, second, 3
		}},
		{"a new envelope for the same command", func(t *testing.T, id string) (events.Envelope, uint64, uint64, int) {
			e := Received(t, id)
			first := MustAppend(t, s, e, 0)
			again := Received(t, id) // another event id and payload, as a re-decided command
			again.CommandID = e.CommandID
			return again, 0, first, 1
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := uuid.NewString()
			retry, expected, want, n := tc.run(t, id)
			before := MustLoad(t, s, id)
			a, err := s.Append(Ctx(t), retry, expected)
			if err != nil || !a.Duplicate || a.Sequence != want {
				t.Fatalf("retry expecting %d: %+v, %v; want a duplicate of position %d", expected, a, err, want)
			}
			after := MustLoad(t, s, id)
			if len(after) != n {
				t.Fatalf("aggregate holds %d events after the retry, want %d", len(after), n)
			}
			for _, rec := range after {
				if rec.Sequence == want {
					checkStored(t, a, rec)
				}
			}
			for i := range after {
				if after[i].ID != before[i].ID {
					t.Errorf("event %d changed from %s to %s", i, before[i].ID, after[i].ID)
				}
			}
		})
	}

	t.Run("a command id is only a duplicate in its own aggregate", func(t *testing.T) {
		t.Parallel()
		a := Received(t, uuid.NewString())
		MustAppend(t, s, a, 0)
		b := Received(t, uuid.NewString())
		b.CommandID = a.CommandID
		MustAppend(t, s, b, 0)
	})
}

// testReadOrder: Read yields every event in the order the store gave positions, which is
// append order; positions strictly increase, also when writers append concurrently.
func testReadOrder(t *testing.T, open Open) {
	t.Run("sequential appends", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b, c := uuid.NewString(), uuid.NewString(), uuid.NewString()
		plan := []events.Envelope{
			Received(t, a), Received(t, b), Acknowledged(t, a, 2), Received(t, c),
			Acknowledged(t, b, 2), Acknowledged(t, a, 3), Acknowledged(t, c, 2),
		}
		last := map[string]uint64{}
		seqs := make([]uint64, len(plan))
		for i, env := range plan {
			seqs[i] = MustAppend(t, s, env, last[env.Subject])
			last[env.Subject] = seqs[i]
		}
		got := ReadAll(t, s, 1)
		if len(got) != len(plan) {
			t.Fatalf("Read(1) yielded %d events, want %d", len(got), len(plan))
		}
		for i := range got {
			SameEvent(t, got[i], plan[i], seqs[i])
		}
		if again := ReadAll(t, s, 0); len(again) != len(plan) {
			t.Errorf("Read(0) yielded %d events, want %d like Read(1)", len(again), len(plan))
		}

		// Stopping early ends the iteration cleanly; the store reads on as before.
		n := 0
		for _, err := range s.Read(Ctx(t), 1) {
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if n++; n == 2 {
				break
			}
		}
		if again := ReadAll(t, s, 1); len(again) != len(plan) {
			t.Errorf("Read after an early break yielded %d events, want %d", len(again), len(plan))
		}
	})

	t.Run("concurrent appends", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		const writers, perWriter = 4, 5
		ids := make([]string, writers)
		appended := make([][]uint64, writers)
		var wg sync.WaitGroup
		for w := range ids {
			ids[w] = uuid.NewString()
			wg.Go(func() {
				var last uint64
				for v := range uint64(perWriter) {
					env := Acknowledged(t, ids[w], v+1)
					if v == 0 {
						env = Received(t, ids[w])
					}
					a, err := s.Append(Ctx(t), env, last)
					if err != nil {
						t.Errorf("writer %d: %v", w, err)
						return
					}
					last = a.Sequence
					appended[w] = append(appended[w], last)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		got := ReadAll(t, s, 1)
		if len(got) != writers*perWriter {
			t.Fatalf("Read yielded %d events, want %d", len(got), writers*perWriter)
		}
		next := map[string]int{} // per aggregate: index of the next expected position
		for i, rec := range got {
			if i > 0 && rec.Sequence <= got[i-1].Sequence {
				t.Fatalf("event %d at position %d after %d", i, rec.Sequence, got[i-1].Sequence)
			}
			w := indexOf(ids, rec.Subject)
			if w < 0 || appended[w][next[rec.Subject]] != rec.Sequence {
				t.Fatalf("event %d (%s at %d) is not the next one its writer appended", i, rec.Subject, rec.Sequence)
			}
			next[rec.Subject]++
		}
	})
}

func indexOf(ids []string, id string) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return -1
}

// testResume: Read(p+1), for a position p the store returned, yields exactly the events
// after p, and Read one past the last yields nothing: how a projection resumes.
func testResume(t *testing.T, open Open) {
	s := open(t)
	if got := ReadAll(t, s, 1); len(got) != 0 {
		t.Fatalf("an empty store yielded %d events", len(got))
	}
	a, b := uuid.NewString(), uuid.NewString()
	plan := []events.Envelope{
		Received(t, a), Received(t, b), Acknowledged(t, a, 2), Acknowledged(t, b, 2), Acknowledged(t, a, 3), Acknowledged(t, b, 3),
	}
	last := map[string]uint64{}
	seqs := make([]uint64, len(plan))
	for i, env := range plan {
		seqs[i] = MustAppend(t, s, env, last[env.Subject])
		last[env.Subject] = seqs[i]
	}
	for k := range plan {
		from := seqs[k] + 1
		got := ReadAll(t, s, from)
		if len(got) != len(plan)-k-1 {
			t.Fatalf("Read(%d) yielded %d events, want the %d after position %d", from, len(got), len(plan)-k-1, seqs[k])
		}
		for i, rec := range got {
			SameEvent(t, rec, plan[k+1+i], seqs[k+1+i])
		}
	}

	// Read stops at the last event stored when the iteration began: a projection that
	// appends while it replays does not chase its own tail.
	var later uint64
	got := 0
	for rec, err := range s.Read(Ctx(t), seqs[len(seqs)-2]+1) {
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		got++
		if later == 0 {
			later = MustAppend(t, s, Acknowledged(t, a, 4), last[a])
		}
		if rec.Sequence == later {
			t.Fatalf("Read yielded position %d, appended after it began", later)
		}
	}
	if got != 1 {
		t.Fatalf("Read yielded %d events, want 1", got)
	}
	if rest := ReadAll(t, s, seqs[len(seqs)-1]+1); len(rest) != 1 || rest[0].Sequence != later {
		t.Fatalf("resuming after %d yielded %d events, want the one at %d", seqs[len(seqs)-1], len(rest), later)
	}
	if rest := ReadAll(t, s, later+1); len(rest) != 0 {
		t.Fatalf("Read past the last event yielded %d events", len(rest))
	}
}

// testBadInput: an invalid envelope or aggregate reference is refused as invalid input,
// naming the field, and stores nothing; an unknown aggregate is empty, not an error.
func testBadInput(t *testing.T, open Open) {
	s := open(t)
	cases := []struct {
		name, field string // field: the FieldError's, or "" for other errors
		want        error
		mutate      func(*events.Envelope)
	}{
		{"specversion", "specversion", events.ErrInvalid, func(e *events.Envelope) { e.SpecVersion = "0.3" }},
		{"id", "id", events.ErrInvalid, func(e *events.Envelope) { e.ID = "42" }},
		{"source", "source", events.ErrInvalid, func(e *events.Envelope) { e.Source = "" }},
		{"unknown type", "", events.ErrUnknownType, func(e *events.Envelope) { e.Type = "request.unheard_of.v1" }},
		{"aggregate type", "aggregatetype", events.ErrInvalid, func(e *events.Envelope) { e.AggregateType = "order" }},
		{"subject", "subject", events.ErrInvalid, func(e *events.Envelope) { e.Subject = "ledger.>" }},
		// One aggregate has one spelling: stores key aggregates by the id's text.
		{"upper-case subject", "subject", events.ErrInvalid, func(e *events.Envelope) { e.Subject = strings.ToUpper(e.Subject) }},
		{"time", "time", events.ErrInvalid, func(e *events.Envelope) { e.Time = time.Time{} }},
		{"content type", "datacontenttype", events.ErrInvalid, func(e *events.Envelope) { e.DataContentType = "text/plain" }},
		{"aggregate version", "aggregateversion", events.ErrInvalid, func(e *events.Envelope) { e.AggregateVersion = 0 }},
		{"actor", "actor", events.ErrInvalid, func(e *events.Envelope) { e.Actor = "" }},
		{"command id", "commandid", events.ErrInvalid, func(e *events.Envelope) { e.CommandID = "" }},
		{"data", "data", events.ErrInvalid, func(e *events.Envelope) { e.Data = nil }},
	}
	for _, tc := range cases {
		t.Run("append with a bad "+tc.name, func(t *testing.T) {
			t.Parallel()
			id := uuid.NewString()
			env := Received(t, id)
			tc.mutate(&env)
			a, err := s.Append(Ctx(t), env, 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Append: %+v, %v; want %v", a, err, tc.want)
			}
			var fe *events.FieldError
			if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
				t.Errorf("Append: %v; want a FieldError on %s", err, tc.field)
			}
			if !empty(a) {
				t.Errorf("a refused append reported %+v", a)
			}
			if recs := MustLoad(t, s, id); len(recs) != 0 {
				t.Errorf("a refused append stored %d events", len(recs))
			}
		})
	}

	id := uuid.NewString()
	for _, tc := range []struct{ name, aggregateType, id string }{
		{"load with an id that is not a UUID", events.AggregateRequest, "not-a-uuid"},
		{"load with an empty id", events.AggregateRequest, ""},
		{"load with an upper-case UUID", events.AggregateRequest, strings.ToUpper(id)},
		{"load with a bad aggregate type", "Request>", id},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs, err := s.Load(Ctx(t), tc.aggregateType, tc.id)
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("Load(%q, %q): %d events, %v; want events.ErrInvalid", tc.aggregateType, tc.id, len(recs), err)
			}
		})
	}
	t.Run("load an unknown aggregate", func(t *testing.T) {
		t.Parallel()
		recs, err := s.Load(Ctx(t), events.AggregateRequest, uuid.NewString())
		if err != nil || len(recs) != 0 {
			t.Fatalf("Load: %d events, %v; want none and no error", len(recs), err)
		}
	})
}

// batchAppender is the optional batch capability (command.BatchAppender), declared here so
// the suite does not depend on the command package.
type batchAppender interface {
	AppendBatch(ctx context.Context, entries []store.Entry) []store.Outcome
}

// testBatch: a store that appends in batches answers each entry as Append would. Entries
// of different aggregates may be stored in any order; entries of one aggregate in order.
func testBatch(t *testing.T, open Open) {
	s := open(t)
	batcher, ok := s.(batchAppender)
	if !ok {
		t.Skip("the store has no AppendBatch")
	}
	x, y, z, w := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	y1 := MustAppend(t, s, Received(t, y), 0)
	z1 := MustAppend(t, s, Received(t, z), 0)
	MustAppend(t, s, Acknowledged(t, z, 2), z1)
	bad := Received(t, w)
	bad.Actor = ""
	fresh := Received(t, x)
	entries := []store.Entry{
		{Envelope: fresh},
		{Envelope: fresh}, // the same command twice in one batch
		{Envelope: Acknowledged(t, y, 2), ExpectedLast: y1},
		{Envelope: Acknowledged(t, z, 2), ExpectedLast: z1}, // stale
		{Envelope: bad},
		{Envelope: Received(t, w)},
	}
	out := batcher.AppendBatch(Ctx(t), entries)
	if len(out) != len(entries) {
		t.Fatalf("%d outcomes for %d entries", len(out), len(entries))
	}
	for _, i := range []int{0, 2, 5} {
		if out[i].Err != nil || out[i].Duplicate || out[i].Sequence == 0 {
			t.Errorf("entry %d: %+v, want appended", i, out[i])
		}
	}
	if out[1].Err != nil || !out[1].Duplicate || out[1].Sequence != out[0].Sequence {
		t.Errorf("entry 1: %+v, want a duplicate of entry 0 at %d", out[1], out[0].Sequence)
	}
	if !errors.Is(out[3].Err, store.ErrConcurrency) || !empty(out[3].Appended) {
		t.Errorf("entry 3: %+v, want store.ErrConcurrency", out[3])
	}
	if !errors.Is(out[4].Err, events.ErrInvalid) || !empty(out[4].Appended) {
		t.Errorf("entry 4: %+v, want events.ErrInvalid", out[4])
	}
	for id, want := range map[string]int{x: 1, y: 2, z: 2, w: 1} {
		if recs := MustLoad(t, s, id); len(recs) != want {
			t.Errorf("aggregate %s holds %d events, want %d", id, len(recs), want)
		}
	}
	if out := batcher.AppendBatch(Ctx(t), nil); len(out) != 0 {
		t.Errorf("%d outcomes for an empty batch", len(out))
	}
}

// testClose: after Close every call fails with store.ErrClosed.
func testClose(t *testing.T, open Open) {
	s := open(t)
	id := uuid.NewString()
	first := MustAppend(t, s, Received(t, id), 0)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if a, err := s.Append(Ctx(t), Acknowledged(t, id, 2), first); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Append after Close: %+v, %v", a, err)
	}
	if recs, err := s.Load(Ctx(t), events.AggregateRequest, id); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Load after Close: %d events, %v", len(recs), err)
	}
	n := 0
	for _, err := range s.Read(Ctx(t), 1) {
		if n++; !errors.Is(err, store.ErrClosed) {
			t.Errorf("Read after Close yielded %v", err)
		}
	}
	if n != 1 {
		t.Errorf("Read after Close yielded %d items, want one error", n)
	}
	if batcher, ok := s.(batchAppender); ok {
		for i, o := range batcher.AppendBatch(Ctx(t), []store.Entry{{Envelope: Received(t, uuid.NewString())}}) {
			if !errors.Is(o.Err, store.ErrClosed) {
				t.Errorf("AppendBatch after Close: entry %d: %+v", i, o)
			}
		}
	}
}

func empty(a store.Appended) bool {
	return a.Sequence == 0 && !a.Duplicate && a.Recorded.IsZero() && a.Stored == nil
}

// checkStored checks that an append's answer names rec's recorded time and stored bytes:
// what a receipt signs, the earlier copy's for a duplicate.
func checkStored(t testing.TB, a store.Appended, rec events.Recorded) {
	t.Helper()
	if !a.Recorded.Equal(rec.RecordedAt) || a.Recorded.Location() != time.UTC {
		t.Errorf("append answered recorded %v, the store holds %v (want it in UTC)", a.Recorded, rec.RecordedAt)
	}
	env, err := events.Decode(a.Stored)
	if err != nil || env.ID != rec.ID {
		t.Errorf("append answered stored bytes of event %q (%v), the store holds %s at %d", env.ID, err, rec.ID, rec.Sequence)
	}
}
