package jetstream

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

func TestAppendBatch(t *testing.T) {
	t.Parallel()

	t.Run("distinct aggregates land in order", func(t *testing.T) {
		t.Parallel()
		s := openStore(t)
		// One aggregate with history, so the batch mixes creations and extensions.
		old := uuid.NewString()
		oldLast := mustAppend(t, s, received(t, old), 0)
		var entries []store.Entry
		ids := make([]string, 20)
		for i := range ids {
			ids[i] = uuid.NewString()
			entries = append(entries, store.Entry{Envelope: received(t, ids[i])})
		}
		entries = append(entries, store.Entry{Envelope: acknowledged(t, old, 2), ExpectedLast: oldLast})
		ids = append(ids, old)

		out := s.AppendBatch(testCtx(t), entries)
		if len(out) != len(entries) {
			t.Fatalf("%d outcomes for %d entries", len(out), len(entries))
		}
		// One connection publishes in entry order, so the server acks (and numbers) them
		// in that order, right after what the stream held.
		for i, o := range out {
			if o.Err != nil || o.Duplicate {
				t.Fatalf("entry %d: %+v", i, o)
			}
			if want := oldLast + 1 + uint64(i); o.Sequence != want {
				t.Errorf("entry %d at sequence %d, want %d", i, o.Sequence, want)
			}
			recs := mustLoad(t, s, ids[i])
			last := recs[len(recs)-1]
			if last.Sequence != o.Sequence || last.ID != entries[i].Envelope.ID || last.Subject != ids[i] {
				t.Errorf("entry %d: aggregate's last event is %d (%s), outcome says %d", i, last.Sequence, last.ID, o.Sequence)
			}
		}
		if n := lastSeq(t, s); n != oldLast+uint64(len(entries)) {
			t.Errorf("LastSequence %d, want %d", n, oldLast+uint64(len(entries)))
		}
		// Read sees the batch in the same order.
		recs := readAll(t, s, oldLast+1)
		for i, r := range recs {
			if r.ID != entries[i].Envelope.ID {
				t.Fatalf("Read: event %d is %s, want entry %d's %s", i, r.ID, i, entries[i].Envelope.ID)
			}
		}
	})

	t.Run("a stale expectation conflicts alone", func(t *testing.T) {
		t.Parallel()
		s := openStore(t)
		a, b, c := uuid.NewString(), uuid.NewString(), uuid.NewString()
		a1 := mustAppend(t, s, received(t, a), 0)
		b1 := mustAppend(t, s, received(t, b), 0)
		b2 := mustAppend(t, s, acknowledged(t, b, 2), b1) // a writer that read b at b1 is stale
		c1 := mustAppend(t, s, received(t, c), 0)
		out := s.AppendBatch(testCtx(t), []store.Entry{
			{Envelope: acknowledged(t, a, 2), ExpectedLast: a1},
			{Envelope: acknowledged(t, b, 2), ExpectedLast: b1},
			{Envelope: acknowledged(t, c, 2), ExpectedLast: c1},
			{Envelope: received(t, b)}, // "new" aggregate that exists
		})
		for _, i := range []int{1, 3} {
			if !errors.Is(out[i].Err, store.ErrConcurrency) || out[i].Sequence != 0 || out[i].Duplicate {
				t.Errorf("entry %d: %+v, want ErrConcurrency", i, out[i])
			}
		}
		for _, i := range []int{0, 2} {
			if out[i].Err != nil || out[i].Sequence <= c1 {
				t.Errorf("entry %d: %+v, want appended after %d", i, out[i], c1)
			}
		}
		if recs := mustLoad(t, s, b); len(recs) != 2 || recs[1].Sequence != b2 {
			t.Errorf("b holds %d events, want its 2 originals", len(recs))
		}
		if n := lastSeq(t, s); n != c1+2 {
			t.Errorf("LastSequence %d, want %d", n, c1+2)
		}
	})

	t.Run("a retried command is a duplicate", func(t *testing.T) {
		t.Parallel()
		s := openStore(t)
		earlier := received(t, uuid.NewString())
		seq := mustAppend(t, s, earlier, 0)
		fresh := received(t, uuid.NewString())
		out := s.AppendBatch(testCtx(t), []store.Entry{
			{Envelope: fresh},
			{Envelope: earlier}, // appended before this batch, sent again as it was
			{Envelope: fresh},   // the same command twice in one batch
		})
		if out[0].Err != nil || out[0].Duplicate || out[0].Sequence != seq+1 {
			t.Fatalf("entry 0: %+v, want appended at %d", out[0], seq+1)
		}
		for i, want := range map[int]uint64{1: seq, 2: out[0].Sequence} {
			if out[i].Err != nil || !out[i].Duplicate || out[i].Sequence != want {
				t.Errorf("entry %d: %+v, want a duplicate of sequence %d", i, out[i], want)
			}
		}
		if n := lastSeq(t, s); n != seq+1 {
			t.Errorf("LastSequence %d, want %d: a duplicate was stored", n, seq+1)
		}
	})

	t.Run("an invalid envelope is refused, naming the field", func(t *testing.T) {
		t.Parallel()
		s := openStore(t)
		cases := []struct {
			field  string
			mutate func(*events.Envelope)
		}{
			{"actor", func(e *events.Envelope) { e.Actor = "" }},
			{"commandid", func(e *events.Envelope) { e.CommandID = "" }},
			{"subject", func(e *events.Envelope) { e.Subject = "ledger.>" }},
			{"aggregateversion", func(e *events.Envelope) { e.AggregateVersion = 0 }},
		}
		var entries []store.Entry
		for _, tc := range cases {
			good, bad := received(t, uuid.NewString()), received(t, uuid.NewString())
			tc.mutate(&bad)
			entries = append(entries, store.Entry{Envelope: good}, store.Entry{Envelope: bad})
		}
		out := s.AppendBatch(testCtx(t), entries)
		appended := 0
		for i, o := range out {
			if i%2 == 0 {
				if o.Err != nil {
					t.Errorf("entry %d (valid): %v", i, o.Err)
				}
				appended++
				continue
			}
			want := cases[i/2].field
			var fe *events.FieldError
			if !errors.Is(o.Err, events.ErrInvalid) || !errors.As(o.Err, &fe) || fe.Field != want {
				t.Errorf("entry %d: %v, want a FieldError on %s", i, o.Err, want)
			}
			if o.Sequence != 0 {
				t.Errorf("entry %d refused but at sequence %d", i, o.Sequence)
			}
		}
		if n := lastSeq(t, s); n != uint64(appended) {
			t.Errorf("LastSequence %d, want %d", n, appended)
		}
	})

	t.Run("an empty batch", func(t *testing.T) {
		t.Parallel()
		s := openStore(t)
		if out := s.AppendBatch(testCtx(t), nil); len(out) != 0 {
			t.Fatalf("%d outcomes for no entries", len(out))
		}
	})

	t.Run("after Close every outcome is ErrClosed", func(t *testing.T) {
		t.Parallel()
		s := openAt(t, t.TempDir(), 0)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		entries := []store.Entry{{Envelope: received(t, uuid.NewString())}, {Envelope: received(t, uuid.NewString())}, {}}
		out := s.AppendBatch(testCtx(t), entries)
		if len(out) != len(entries) {
			t.Fatalf("%d outcomes for %d entries", len(out), len(entries))
		}
		for i, o := range out {
			if !errors.Is(o.Err, store.ErrClosed) {
				t.Errorf("entry %d: %v, want ErrClosed", i, o.Err)
			}
		}
	})
}
