package esdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
	st "github.com/complianceledger/ledger/store/storetest"
)

// These tests check the adapter's own logic against the FAKE server (fake_server_test.go):
// how positions become revisions, how the client's errors become the port's, where reads
// start and what they keep. The conformance suite checks the port's contract.

// putLedgerEvent stores env in its stream as another ledger process would, bypassing the
// fake's checks: a competing writer inside an append, or history written elsewhere.
func putLedgerEvent(t testing.TB, f *fakeStreamsServer, env events.Envelope) {
	t.Helper()
	body, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	f.putDirect(newNames("").stream(env.AggregateType, env.Subject), EventID(env), env.Type, body)
}

// putForeign appends an event of another application through the client.
func putForeign(t testing.TB, s *Store, stream, eventType string) {
	t.Helper()
	_, err := s.Client().AppendToStream(st.Ctx(t), stream, esdb.AppendToStreamOptions{}, esdb.EventData{
		EventType: eventType, ContentType: esdb.ContentTypeJson, Data: []byte(`{"not":"ledger"}`),
	})
	if err != nil {
		t.Fatalf("foreign append to %s: %v", stream, err)
	}
}

func TestAppendExpectsNoStreamThenTheLastRevision(t *testing.T) {
	t.Parallel()
	s, f := openFake(t)
	id := uuid.NewString()
	envs := []events.Envelope{st.Received(t, id), st.Acknowledged(t, id, 2), st.Acknowledged(t, id, 3)}
	var last uint64
	var seqs []uint64
	for _, env := range envs {
		last = st.MustAppend(t, s, env, last)
		seqs = append(seqs, last)
	}
	stream := "request-" + id
	want := []string{stream + " no_stream", stream + " 0", stream + " 1"}
	if got := f.appendLog(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the server was asked %q, want %q", got, want)
	}
	// Sequences are $all commit positions: byte offsets, never 0, with gaps.
	if seqs[0] < fakeLogStart || seqs[1]-seqs[0] <= 1 {
		t.Errorf("positions %v: want the server's log offsets", seqs)
	}
	// What the server holds: the canonical bytes as JSON, the versioned type, the id
	// derived from the command, at revisions 0, 1, 2.
	rs, err := s.Client().ReadStream(st.Ctx(t), stream, esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for i, env := range envs {
		ev, err := rs.Recv()
		if err != nil {
			t.Fatal(err)
		}
		e := ev.Event
		body, _ := env.Marshal()
		if e.EventNumber != uint64(i) || e.EventID != EventID(env) || e.EventType != env.Type ||
			e.ContentType != "application/json" || string(e.Data) != string(body) || e.Position.Commit != seqs[i] {
			t.Errorf("stored event %d: revision %d, id %s, type %s, content %s, position %d",
				i, e.EventNumber, e.EventID, e.EventType, e.ContentType, e.Position.Commit)
		}
	}
}

func TestEventIDIsPerAggregateAndCommand(t *testing.T) {
	t.Parallel()
	a := st.Received(t, uuid.NewString())
	again := st.Acknowledged(t, a.Subject, 2)
	again.CommandID = a.CommandID
	other := st.Received(t, uuid.NewString())
	other.CommandID = a.CommandID
	if EventID(a) != EventID(again) {
		t.Error("two envelopes of one command in one aggregate got different event ids")
	}
	if EventID(a) == EventID(other) {
		t.Error("one command id in two aggregates got the same event id")
	}
	if v := EventID(a).Version(); v != 5 {
		t.Errorf("event id version %d, want a UUIDv5", v)
	}
}

// A writer that appends between Append's read and its write moves the revision: the
// server refuses ours with WrongExpectedVersion, which is the port's ErrConcurrency.
func TestAWriterBetweenReadAndAppendIsAConflict(t *testing.T) {
	t.Parallel()
	s, f := openFake(t)
	id := uuid.NewString()
	first := st.MustAppend(t, s, st.Received(t, id), 0)
	competitor := st.Acknowledged(t, id, 2)
	f.setBeforeAppend(func(context.Context, string) error {
		f.setBeforeAppend(nil)
		putLedgerEvent(t, f, competitor)
		return nil
	})
	a, err := s.Append(st.Ctx(t), st.Acknowledged(t, id, 2), first)
	if !errors.Is(err, store.ErrConcurrency) || a != (store.Appended{}) {
		t.Fatalf("Append: %+v, %v; want store.ErrConcurrency", a, err)
	}
	if !strings.Contains(err.Error(), "WrongExpectedVersion") {
		t.Errorf("the conflict does not carry the server's answer: %v", err)
	}
	recs := st.MustLoad(t, s, id)
	if len(recs) != 2 || recs[1].ID != competitor.ID {
		t.Fatalf("the aggregate holds %d events, want the first and the competitor's", len(recs))
	}
}

// A retry that races its own original between Append's read and its write.
func TestARetryRacingItsOriginal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// history is stored before the Append; inside holds what the racing writer
		// stores between Append's read and its write, given the retried envelope.
		history, inside func(t *testing.T, f *fakeStreamsServer, env events.Envelope)
		noPosition      bool // the server answers an idempotent write without a position
		wantDuplicate   bool
	}{
		{
			// The server sees its own idempotent write and answers with the original's
			// position; the adapter cannot tell it from a write of its own, and reports
			// the right position as new (README: a known difference from JetStream).
			name:   "the server answers with the original's position",
			inside: func(t *testing.T, f *fakeStreamsServer, env events.Envelope) { putLedgerEvent(t, f, env) },
		},
		{
			name:          "the server answers without a position",
			inside:        func(t *testing.T, f *fakeStreamsServer, env events.Envelope) { putLedgerEvent(t, f, env) },
			noPosition:    true,
			wantDuplicate: true,
		},
		{
			// Not idempotent for the server (another event sits where ours would go),
			// so WrongExpectedVersion; the adapter then finds the command stored.
			name: "another event came first",
			inside: func(t *testing.T, f *fakeStreamsServer, env events.Envelope) {
				putLedgerEvent(t, f, st.Acknowledged(t, env.Subject, 1))
				putLedgerEvent(t, f, env)
			},
			wantDuplicate: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, f := openFake(t)
			f.setIdempotentNoPosition(tc.noPosition)
			id := uuid.NewString()
			env := st.Received(t, id)
			f.setBeforeAppend(func(context.Context, string) error {
				f.setBeforeAppend(nil)
				tc.inside(t, f, env)
				return nil
			})
			a, err := s.Append(st.Ctx(t), env, 0)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			recs := st.MustLoad(t, s, id)
			var stored events.Recorded
			for _, r := range recs {
				if r.CommandID == env.CommandID {
					stored = r
				}
			}
			if a.Sequence != stored.Sequence || a.Duplicate != tc.wantDuplicate {
				t.Fatalf("Append: %+v; want position %d, duplicate %v", a, stored.Sequence, tc.wantDuplicate)
			}
			if n := len(recs); n > 2 {
				t.Fatalf("the aggregate holds %d events: the command was stored twice", n)
			}
		})
	}
}

func TestErrorsFromTheServer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fail  func(ctx context.Context) error
		check func(error) bool
	}{
		{"stream deleted", func(ctx context.Context) error {
			return fakeFailure(ctx, codes.FailedPrecondition, "exception", "stream-deleted", "stream-name", "request-x")
		}, func(err error) bool { return errors.Is(err, ErrStreamDeleted) }},
		{"access denied", func(ctx context.Context) error {
			return fakeFailure(ctx, codes.PermissionDenied)
		}, func(err error) bool {
			c, ok := code(err)
			return ok && c == esdb.ErrorCodeAccessDenied
		}},
		{"unauthenticated", func(ctx context.Context) error {
			return fakeFailure(ctx, codes.Unauthenticated)
		}, func(err error) bool {
			c, ok := code(err)
			return ok && c == esdb.ErrorCodeUnauthenticated
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, f := openFake(t)
			f.setBeforeAppend(func(ctx context.Context, _ string) error { return tc.fail(ctx) })
			a, err := s.Append(st.Ctx(t), st.Received(t, uuid.NewString()), 0)
			if err == nil || !tc.check(err) || errors.Is(err, store.ErrConcurrency) || a != (store.Appended{}) {
				t.Fatalf("Append: %+v, %v", a, err)
			}
		})
	}

	t.Run("a cancelled call is the context's error", func(t *testing.T) {
		t.Parallel()
		s, f := openFake(t)
		ctx, cancel := context.WithCancel(st.Ctx(t))
		f.setBeforeAppend(func(srvCtx context.Context, _ string) error {
			cancel()
			<-srvCtx.Done() // the client's cancellation reaches the server
			return srvCtx.Err()
		})
		_, err := s.Append(ctx, st.Received(t, uuid.NewString()), 0)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Append: %v; want context.Canceled", err)
		}
	})

	t.Run("the client's ok for no error", func(t *testing.T) {
		t.Parallel()
		// esdb.FromError(nil) answers ok=true: "no error", not "an esdb error".
		if _, ok := esdb.FromError(nil); !ok {
			t.Fatal("esdb.FromError(nil) changed meaning; revisit code()")
		}
		if _, ok := code(nil); ok {
			t.Error("code(nil) reports an esdb error")
		}
		if _, ok := code(fmt.Errorf("wrapped: %w", errors.New("plain"))); ok {
			t.Error("code reports an esdb error for a plain one")
		}
	})
}

// Read pages through all of $all: it keeps the ledger's streams only, of its own prefix,
// and resumes past foreign records.
func TestReadKeepsTheLedgersStreams(t *testing.T) {
	t.Parallel()
	_, url := startFake(t)
	s := openStore(t, Config{URL: url})
	other := openStore(t, Config{URL: url, StreamPrefix: "other_"})
	id, otherID := uuid.NewString(), uuid.NewString()

	s1 := st.MustAppend(t, s, st.Received(t, id), 0)
	putForeign(t, s, "orders-"+uuid.NewString(), "OrderPlaced")
	putForeign(t, s, "$stats-127.0.0.1:2113", "$statsCollected")
	putForeign(t, s, "request-not-a-uuid", "request.received.v1")
	putForeign(t, s, "requests-"+uuid.NewString(), "request.received.v1")
	putForeign(t, s, "$$request-"+id, "$metadata")
	o1 := st.MustAppend(t, other, st.Received(t, otherID), 0)
	s2 := st.MustAppend(t, s, st.Acknowledged(t, id, 2), s1)
	putForeign(t, s, "orders-"+uuid.NewString(), "OrderShipped")

	for _, tc := range []struct {
		name  string
		store *Store
		from  uint64
		want  []uint64
	}{
		{"from the start", s, 1, []uint64{s1, s2}},
		{"past a foreign record", s, s1 + 1, []uint64{s2}},
		{"past the last ledger event", s, s2 + 1, nil},
		{"another prefix", other, 1, []uint64{o1}},
		{"another prefix, resumed", other, o1 + 1, nil},
	} {
		var got []uint64
		for _, rec := range st.ReadAll(t, tc.store, tc.from) {
			got = append(got, rec.Sequence)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: Read(%d) yielded %v, want %v", tc.name, tc.from, got, tc.want)
		}
	}
}

// Read ends at the last event in $all when the iteration began, although the server's
// read goes on to what is stored meanwhile.
func TestReadEndsWhereItBegan(t *testing.T) {
	t.Parallel()
	s, f := openFake(t)
	id := uuid.NewString()
	first := st.MustAppend(t, s, st.Received(t, id), 0)
	later := st.Acknowledged(t, id, 2)
	f.setAfterReadAllEvent(func(uint64) {
		f.setAfterReadAllEvent(nil)
		putLedgerEvent(t, f, later)
	})
	got := st.ReadAll(t, s, 1)
	if len(got) != 1 || got[0].Sequence != first {
		t.Fatalf("Read yielded %d events, want only the one stored when it began", len(got))
	}
	if got := st.ReadAll(t, s, first+1); len(got) != 1 || got[0].ID != later.ID {
		t.Fatalf("resuming yielded %d events, want the later one", len(got))
	}
}

func TestReadRefusesWhatTheLedgerDidNotWrite(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		put  func(t *testing.T, f *fakeStreamsServer, id string)
	}{
		{"another aggregate's envelope", func(t *testing.T, f *fakeStreamsServer, id string) {
			env := st.Received(t, uuid.NewString())
			body, _ := env.Marshal()
			f.putDirect("request-"+id, EventID(env), env.Type, body)
		}},
		{"a foreign event id", func(t *testing.T, f *fakeStreamsServer, id string) {
			env := st.Received(t, id)
			body, _ := env.Marshal()
			f.putDirect("request-"+id, uuid.New(), env.Type, body)
		}},
		{"not an envelope", func(t *testing.T, f *fakeStreamsServer, id string) {
			f.putDirect("request-"+id, uuid.New(), "request.received.v1", []byte(`{"hello":1}`))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, f := openFake(t)
			id := uuid.NewString()
			tc.put(t, f, id)
			if recs, err := s.Load(st.Ctx(t), events.AggregateRequest, id); err == nil {
				t.Errorf("Load: %d events, no error", len(recs))
			}
			var readErr error
			for _, err := range s.Read(st.Ctx(t), 1) {
				readErr = err
			}
			if readErr == nil {
				t.Error("Read: no error")
			}
		})
	}
}

func TestSubscribe(t *testing.T) {
	t.Parallel()
	s, f := openFake(t)
	id := uuid.NewString()
	s1 := st.MustAppend(t, s, st.Received(t, id), 0)
	putForeign(t, s, "orders-"+uuid.NewString(), "OrderPlaced")
	putForeign(t, s, "request-not-a-uuid", "request.received.v1") // passes the server's prefix filter
	st.MustAppend(t, s, st.Acknowledged(t, id, 2), s1)

	// A subscription first yields what Read(from) yields, then each new event.
	for _, tc := range []struct {
		name string
		from func() uint64
	}{
		{"from the start", func() uint64 { return 1 }},
		{"resumed", func() uint64 { return s1 + 1 }},
		{"past the end", func() uint64 { recs := st.MustLoad(t, s, id); return recs[len(recs)-1].Sequence + 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(st.Ctx(t), 10*time.Second)
			defer cancel()
			from := tc.from()
			var want []uint64
			for _, rec := range st.ReadAll(t, s, from) {
				want = append(want, rec.Sequence)
			}
			var live events.Envelope
			if len(want) == 0 {
				live = appendLive(t, s, id)
			}
			var got []uint64
			for rec, err := range s.Subscribe(ctx, from) {
				if err != nil {
					t.Fatalf("Subscribe: %v", err)
				}
				if rec.ID == live.ID {
					break
				}
				got = append(got, rec.Sequence)
				if live.ID == "" && len(got) == len(want) {
					live = appendLive(t, s, id)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Subscribe(%d) caught up with %v, want %v as Read", from, got, want)
			}
		})
	}
	filters := f.subscriptionFilters()
	if len(filters) != 3 {
		t.Fatalf("%d subscriptions reached the server, want 3", len(filters))
	}
	for _, fo := range filters {
		if p := fo.GetStreamIdentifier().GetPrefix(); fmt.Sprint(p) != "[request- report- authority- erasure-]" {
			t.Errorf("subscription filtered on %v, want the prefixes of the catalogue's aggregates, on the server", p)
		}
	}
}

func TestSubscribeEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(s *Store, cancel context.CancelFunc)
		want error // nil: ends without an error
	}{
		{"when its context ends, quietly", func(_ *Store, cancel context.CancelFunc) { cancel() }, nil},
		{"when the store closes, with ErrClosed", func(s *Store, _ context.CancelFunc) { _ = s.Close() }, store.ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := openFake(t)
			st.MustAppend(t, s, st.Received(t, uuid.NewString()), 0)
			ctx, cancel := context.WithCancel(st.Ctx(t))
			defer cancel()
			var errs []error
			for _, err := range s.Subscribe(ctx, 1) {
				if err != nil {
					errs = append(errs, err)
					continue
				}
				go tc.end(s, cancel) // the first event: the subscription is live
			}
			switch {
			case tc.want == nil && len(errs) != 0:
				t.Fatalf("Subscribe ended with %v", errs)
			case tc.want != nil && (len(errs) != 1 || !errors.Is(errs[0], tc.want)):
				t.Fatalf("Subscribe ended with %v, want %v", errs, tc.want)
			}
		})
	}
}

// appendLive appends the aggregate's next event, as a live writer would.
func appendLive(t *testing.T, s *Store, id string) events.Envelope {
	t.Helper()
	recs := st.MustLoad(t, s, id)
	env := st.Acknowledged(t, id, uint64(len(recs))+1)
	st.MustAppend(t, s, env, recs[len(recs)-1].Sequence)
	return env
}

func TestOpen(t *testing.T) {
	t.Parallel()
	t.Run("a bad connection string does not echo its password", func(t *testing.T) {
		t.Parallel()
		_, err := Open(st.Ctx(t), Config{URL: "esdb://admin:s3cret@host:notaport?tls=false"})
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("Open: %v", err)
		}
	})
	t.Run("a bad stream prefix", func(t *testing.T) {
		t.Parallel()
		if _, err := Open(st.Ctx(t), Config{URL: "esdb://127.0.0.1:2113?tls=false", StreamPrefix: "a-b"}); err == nil {
			t.Fatal("Open accepted a prefix with '-'")
		}
	})
	t.Run("no server", func(t *testing.T) {
		t.Parallel()
		// The client's discovery does not take a context; Open returns when ctx ends.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Open(ctx, Config{URL: "esdb://127.0.0.1:1?tls=false", Logger: testLogger()})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Fatalf("Open: %v after %s", err, time.Since(start))
		}
	})
	t.Run("no server, the client gives up first", func(t *testing.T) {
		t.Parallel()
		_, err := Open(st.Ctx(t), Config{URL: "esdb://127.0.0.1:1?tls=false&maxDiscoverAttempts=2&discoveryInterval=10", Logger: testLogger()})
		if err == nil {
			t.Fatal("Open succeeded without a server")
		}
	})
}

// Close ends a Read in progress with ErrClosed and waits for it to leave the client.
func TestCloseDuringRead(t *testing.T) {
	t.Parallel()
	s, _ := openFake(t)
	id := uuid.NewString()
	last := st.MustAppend(t, s, st.Received(t, id), 0)
	for v := uint64(2); v <= 5; v++ {
		last = st.MustAppend(t, s, st.Acknowledged(t, id, v), last)
	}
	var errs []error
	n := 0
	for _, err := range s.Read(st.Ctx(t), 1) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if n++; n == 1 {
			closed := make(chan struct{})
			go func() { _ = s.Close(); close(closed) }()
			select {
			case <-closed:
				t.Fatal("Close returned while a Read was in the client")
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if len(errs) > 1 || (len(errs) == 1 && !errors.Is(errs[0], store.ErrClosed)) {
		t.Fatalf("Read ended with %v, want nothing or store.ErrClosed", errs)
	}
}
