package jetstream

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

func TestRacingWritersExactlyOneWins(t *testing.T) {
	s := openStore(t)
	ctx := testCtx(t)
	for trial := range 50 {
		id := uuid.NewString()
		// Even trials race to create the aggregate, odd ones to extend it.
		var expected uint64
		if trial%2 == 1 {
			expected = mustAppend(t, s, received(t, id), 0)
		}
		before := len(mustLoad(t, s, id))

		envs := [2]events.Envelope{acknowledged(t, id, uint64(before+1)), acknowledged(t, id, uint64(before+1))}
		if trial%2 == 0 {
			envs = [2]events.Envelope{received(t, id), received(t, id)}
		}
		var (
			ready, done sync.WaitGroup
			start       = make(chan struct{})
			errs        [2]error
		)
		for i := range 2 {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				_, errs[i] = s.Append(ctx, envs[i], expected)
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()

		wins, conflicts := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrConcurrency):
				conflicts++
			default:
				t.Fatalf("trial %d: unexpected error: %v", trial, err)
			}
		}
		if wins != 1 || conflicts != 1 {
			t.Fatalf("trial %d: %d wins and %d conflicts, want 1 and 1 (errs %v)", trial, wins, conflicts, errs)
		}
		if got := len(mustLoad(t, s, id)); got != before+1 {
			t.Fatalf("trial %d: aggregate has %d events, want %d", trial, got, before+1)
		}
	}
}

func TestRetriedCommandIsStoredOnce(t *testing.T) {
	s := openStore(t)
	ctx := testCtx(t)
	id := uuid.NewString()
	first := received(t, id)
	seq1 := mustAppend(t, s, first, 0)

	// The usual retry: same command, same (now stale) expectation.
	a, err := s.Append(ctx, first, 0)
	if err != nil {
		t.Fatalf("retry with stale expectation: %v", err)
	}
	if !a.Duplicate || a.Sequence != seq1 {
		t.Fatalf("retry with stale expectation = %+v, want duplicate of %d", a, seq1)
	}
	// A retry whose expectation is still current is caught by the duplicate window.
	a, err = s.Append(ctx, first, seq1)
	if err != nil {
		t.Fatalf("retry with current expectation: %v", err)
	}
	if !a.Duplicate || a.Sequence != seq1 {
		t.Fatalf("retry with current expectation = %+v, want duplicate of %d", a, seq1)
	}

	second := acknowledged(t, id, 2)
	seq2 := mustAppend(t, s, second, seq1)
	a, err = s.Append(ctx, second, seq1)
	if err != nil || !a.Duplicate || a.Sequence != seq2 {
		t.Fatalf("retry of second command = %+v, %v; want duplicate of %d", a, err, seq2)
	}

	if n := lastSeq(t, s); n != seq2 {
		t.Fatalf("LastSequence = %d, want %d", n, seq2)
	}
	recs := mustLoad(t, s, id)
	if len(recs) != 2 || recs[0].Sequence != seq1 || recs[1].Sequence != seq2 {
		t.Fatalf("Load = %d events, want the two originals", len(recs))
	}
}

// TestServerChecksExpectedSequenceBeforeDedupe pins the server behaviour Append works
// around: a single server answers a duplicate command id that carries a stale expected
// sequence with "wrong last sequence", not with a duplicate ack. If a server upgrade
// changes this, Append stays correct; update its comment.
func TestServerChecksExpectedSequenceBeforeDedupe(t *testing.T) {
	s := openStore(t)
	ctx := testCtx(t)
	id := uuid.NewString()
	env := received(t, id)
	mustAppend(t, s, env, 0)

	body, _ := env.Marshal()
	_, err := s.JetStream().PublishMsg(ctx,
		&nats.Msg{Subject: Subject(env.AggregateType, id, "RequestReceived"), Data: body},
		natsjs.WithMsgID(env.CommandID),
		natsjs.WithExpectLastSequenceForSubject(0, AggregateFilter(env.AggregateType, id)))
	if !isWrongLastSequence(err) {
		t.Fatalf("raw duplicate with stale expectation: err = %v, want wrong last sequence", err)
	}
	if n := lastSeq(t, s); n != 1 {
		t.Fatalf("LastSequence = %d, want 1", n)
	}
}

func TestStreamRefusesDeleteAndPurge(t *testing.T) {
	s := openStore(t)
	ctx := testCtx(t)
	id := uuid.NewString()
	seq := mustAppend(t, s, received(t, id), 0)
	mustAppend(t, s, acknowledged(t, id, 2), seq)

	st, err := s.JetStream().Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(ctx, seq); err == nil {
		t.Error("DeleteMsg succeeded")
	}
	if err := st.SecureDeleteMsg(ctx, seq); err == nil {
		t.Error("SecureDeleteMsg succeeded")
	}
	if err := st.Purge(ctx); err == nil {
		t.Error("Purge succeeded")
	}
	if err := st.Purge(ctx, natsjs.WithPurgeSubject(AggregateFilter(events.AggregateRequest, id))); err == nil {
		t.Error("Purge of one aggregate succeeded")
	}
	if _, err := st.GetMsg(ctx, seq); err != nil {
		t.Fatalf("message %d is gone: %v", seq, err)
	}
	if got := len(mustLoad(t, s, id)); got != 2 {
		t.Fatalf("aggregate has %d events, want 2", got)
	}
}

func TestOpenRefusesUnsafeStreamConfig(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*natsjs.StreamConfig)
		fields []string
	}{
		{"max age", func(c *natsjs.StreamConfig) { c.MaxAge = time.Hour }, []string{"max_age is 1h0m0s: must be unlimited"}},
		{"deletes allowed", func(c *natsjs.StreamConfig) { c.DenyDelete = false }, []string{"deny_delete"}},
		{"purges allowed", func(c *natsjs.StreamConfig) { c.DenyPurge = false }, []string{"deny_purge"}},
		{"max msgs", func(c *natsjs.StreamConfig) { c.MaxMsgs = 1000 }, []string{"max_msgs is 1000"}},
		{"max bytes", func(c *natsjs.StreamConfig) { c.MaxBytes = 1 << 30 }, []string{"max_bytes"}},
		{"max msgs per subject", func(c *natsjs.StreamConfig) { c.MaxMsgsPerSubject = 1 }, []string{"max_msgs_per_subject"}},
		// The server refuses roll-ups without the purge permission.
		{"rollup", func(c *natsjs.StreamConfig) { c.AllowRollup, c.DenyPurge = true, false }, []string{"allow_rollup_hdrs", "deny_purge"}},
		{"discard old", func(c *natsjs.StreamConfig) { c.Discard = natsjs.DiscardOld }, []string{"discard is old: must be new"}},
		{"memory", func(c *natsjs.StreamConfig) { c.Storage = natsjs.MemoryStorage }, []string{"storage is memory"}},
		{"work queue", func(c *natsjs.StreamConfig) { c.Retention = natsjs.WorkQueuePolicy }, []string{"retention is workqueue"}},
		{"ttl", func(c *natsjs.StreamConfig) { c.AllowMsgTTL = true }, []string{"allow_msg_ttl"}},
		{"no direct get", func(c *natsjs.StreamConfig) { c.AllowDirect = false }, []string{"allow_direct"}},
		{"several", func(c *natsjs.StreamConfig) { c.MaxAge, c.DenyDelete, c.MaxMsgs = time.Hour, false, 5 },
			[]string{"max_age", "deny_delete", "max_msgs"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startListeningServer(t)
			ctx := testCtx(t)
			nc, err := nats.Connect(srv.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ := natsjs.New(nc)
			cfg := streamConfig(1)
			tc.mutate(&cfg)
			if _, err := js.CreateStream(ctx, cfg); err != nil {
				t.Fatalf("pre-create: %v", err)
			}

			s, err := Open(ctx, Config{URL: srv.ClientURL(), Logger: testLogger()})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted an unsafe stream")
			}
			if !errors.Is(err, ErrUnsafeStream) {
				t.Fatalf("Open: %v, want ErrUnsafeStream", err)
			}
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not name %q", err, f)
				}
			}
		})
	}
}

func TestOpenAcceptsItsOwnStreamByURL(t *testing.T) {
	srv := startListeningServer(t)
	ctx := testCtx(t)
	for range 2 { // create, then find and check
		s, err := Open(ctx, Config{URL: srv.ClientURL(), Logger: testLogger()})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		mustAppend(t, s, received(t, uuid.NewString()), 0)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEventsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir, 0)
	ids := []string{uuid.NewString(), uuid.NewString()}
	var sent []events.Envelope
	last := map[string]uint64{}
	for v := uint64(1); v <= 3; v++ {
		for _, id := range ids {
			env := acknowledged(t, id, v)
			if v == 1 {
				env = received(t, id)
			}
			last[id] = mustAppend(t, s, env, last[id])
			sent = append(sent, env)
		}
	}
	beforeLoad := [][]events.Recorded{mustLoad(t, s, ids[0]), mustLoad(t, s, ids[1])}
	beforeRead := readAll(t, s, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, dir, 0)
	defer s.Close()
	afterRead := readAll(t, s, 1)
	st, err := s.JetStream().Stream(testCtx(t), StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if len(afterRead) != len(sent) || len(beforeRead) != len(sent) {
		t.Fatalf("Read: %d events before restart, %d after, want %d", len(beforeRead), len(afterRead), len(sent))
	}
	for i, env := range sent {
		want, _ := env.Marshal()
		got, _ := afterRead[i].Envelope.Marshal()
		if !bytes.Equal(got, want) {
			t.Errorf("event %d differs after restart:\n got %s\nwant %s", i, got, want)
		}
		if afterRead[i].Sequence != uint64(i+1) || afterRead[i].Sequence != beforeRead[i].Sequence {
			t.Errorf("event %d: sequence %d after restart, %d before", i, afterRead[i].Sequence, beforeRead[i].Sequence)
		}
		if !afterRead[i].RecordedAt.Equal(beforeRead[i].RecordedAt) {
			t.Errorf("event %d: recorded at %v after restart, %v before", i, afterRead[i].RecordedAt, beforeRead[i].RecordedAt)
		}
		raw, err := st.GetMsg(testCtx(t), uint64(i+1))
		if err != nil || !bytes.Equal(raw.Data, want) {
			t.Errorf("event %d: stored bytes differ (%v)", i, err)
		}
	}
	for i, id := range ids {
		after := mustLoad(t, s, id)
		for _, rec := range after { // Load and Read agree, timestamps included
			if !recordedEqual(rec, afterRead[rec.Sequence-1]) {
				t.Errorf("Load and Read differ at sequence %d", rec.Sequence)
			}
		}
		if len(after) != 3 || len(beforeLoad[i]) != 3 {
			t.Fatalf("aggregate %d: %d events before restart, %d after, want 3", i, len(beforeLoad[i]), len(after))
		}
		for j := range after {
			if !recordedEqual(after[j], beforeLoad[i][j]) {
				t.Errorf("aggregate %d event %d differs after restart", i, j)
			}
		}
	}
	// The reopened stream still enforces concurrency on the old aggregates.
	if _, err := s.Append(testCtx(t), acknowledged(t, ids[0], 4), last[ids[0]]-1); !errors.Is(err, store.ErrConcurrency) {
		t.Fatalf("stale append after restart: %v, want ErrConcurrency", err)
	}
}

func recordedEqual(a, b events.Recorded) bool {
	ab, _ := a.Envelope.Marshal()
	bb, _ := b.Envelope.Marshal()
	return bytes.Equal(ab, bb) && a.Sequence == b.Sequence && a.RecordedAt.Equal(b.RecordedAt)
}

func TestReadStopsAtEndAndHonoursFrom(t *testing.T) {
	s := openStore(t)
	if got := readAll(t, s, 0); len(got) != 0 {
		t.Fatalf("empty stream yielded %d events", len(got))
	}
	id := uuid.NewString()
	var seq uint64
	var sent []events.Envelope
	for v := uint64(1); v <= 10; v++ {
		env := acknowledged(t, id, v)
		if v == 1 {
			env = received(t, id)
		}
		seq = mustAppend(t, s, env, seq)
		sent = append(sent, env)
	}

	for _, from := range []uint64{0, 1, 4, 10, 11, 1000} {
		got := readAll(t, s, from)
		first := max(from, 1)
		want := 0
		if first <= 10 {
			want = int(10 - first + 1)
		}
		if len(got) != want {
			t.Fatalf("Read(%d) yielded %d events, want %d", from, len(got), want)
		}
		for i, rec := range got {
			if rec.Sequence != first+uint64(i) || rec.ID != sent[first-1+uint64(i)].ID {
				t.Fatalf("Read(%d) event %d: sequence %d id %s", from, i, rec.Sequence, rec.ID)
			}
			if rec.RecordedAt.IsZero() {
				t.Fatalf("Read(%d) event %d has no RecordedAt", from, i)
			}
		}
	}

	// Events appended during a Read are not part of it.
	ctx := testCtx(t)
	n := 0
	for rec, err := range s.Read(ctx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			seq = mustAppend(t, s, acknowledged(t, id, 11), seq)
		}
		n++
		if rec.Sequence > 10 {
			t.Fatalf("Read yielded %d, appended after it started", rec.Sequence)
		}
	}
	if n != 10 {
		t.Fatalf("Read yielded %d events, want 10", n)
	}

	// Breaking out early stops cleanly and leaves no consumer behind.
	n = 0
	for _, err := range s.Read(ctx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	st, err := s.JetStream().Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().State.Consumers; c != 0 {
		t.Fatalf("%d consumers left after reads", c)
	}

	// A cancelled context ends the Read with its error.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n = 0
	var readErr error
	for _, err := range s.Read(cctx, 1) {
		if err != nil {
			readErr = err
			break
		}
		n++
		cancel()
	}
	if !errors.Is(readErr, context.Canceled) || n != 1 {
		t.Fatalf("cancelled Read: %d events then %v, want 1 then context.Canceled", n, readErr)
	}
}

func TestLoadUnknownAggregateIsEmpty(t *testing.T) {
	s := openStore(t)
	if recs := mustLoad(t, s, uuid.NewString()); len(recs) != 0 {
		t.Fatalf("empty stream: %d events", len(recs))
	}
	mustAppend(t, s, received(t, uuid.NewString()), 0)
	if recs := mustLoad(t, s, uuid.NewString()); len(recs) != 0 {
		t.Fatalf("unknown aggregate: %d events", len(recs))
	}
	ctx := testCtx(t)
	for _, tc := range []struct{ typ, id string }{
		{"request", "*"},
		{"request", ">"},
		{"request", "a.b"},
		{"request", strings.ToUpper(uuid.NewString())},
		{"request", "{" + uuid.NewString() + "}"},
		{"*", uuid.NewString()},
		{"req.uest", uuid.NewString()},
		{"", uuid.NewString()},
	} {
		if _, err := s.Load(ctx, tc.typ, tc.id); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("Load(%q, %q): %v, want events.ErrInvalid", tc.typ, tc.id, err)
		}
	}
}

func TestLoadSpansSeveralBatches(t *testing.T) {
	s := openAt(t, t.TempDir(), time.Minute) // interval fsync: this test appends a lot
	defer s.Close()
	id, other := uuid.NewString(), uuid.NewString()
	var seq, otherSeq uint64
	const n = loadBatch + loadBatch/2
	for v := uint64(1); v <= n; v++ {
		seq = mustAppend(t, s, acknowledged(t, id, v), seq)
		if v%100 == 0 { // interleave another aggregate
			otherSeq = mustAppend(t, s, acknowledged(t, other, v/100), otherSeq)
		}
	}
	recs := mustLoad(t, s, id)
	if len(recs) != n {
		t.Fatalf("Load: %d events, want %d", len(recs), n)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Sequence <= recs[i-1].Sequence || recs[i].AggregateVersion != uint64(i+1) {
			t.Fatalf("Load out of order at %d", i)
		}
	}
}

func TestAppendRejectsInvalidEnvelope(t *testing.T) {
	s := openStore(t)
	ctx := testCtx(t)
	cases := map[string]func(*events.Envelope){
		"no actor":          func(e *events.Envelope) { e.Actor = "" },
		"no command id":     func(e *events.Envelope) { e.CommandID = "" },
		"subject not uuid":  func(e *events.Envelope) { e.Subject = "not-a-uuid" },
		"wildcard subject":  func(e *events.Envelope) { e.Subject = ">" },
		"upper-case uuid":   func(e *events.Envelope) { e.Subject = strings.ToUpper(e.Subject) },
		"braced uuid":       func(e *events.Envelope) { e.Subject = "{" + e.Subject + "}" },
		"unknown type":      func(e *events.Envelope) { e.Type = "request.nope.v1" },
		"wrong aggregate":   func(e *events.Envelope) { e.AggregateType = "account" },
		"version zero":      func(e *events.Envelope) { e.AggregateVersion = 0 },
		"wrong specversion": func(e *events.Envelope) { e.SpecVersion = "0.3" },
	}
	for name, mutate := range cases {
		env := received(t, uuid.NewString())
		mutate(&env)
		_, err := s.Append(ctx, env, 0)
		if !errors.Is(err, events.ErrInvalid) && !errors.Is(err, events.ErrUnknownType) {
			t.Errorf("%s: Append: %v, want an events validation error", name, err)
		}
	}
	if n := lastSeq(t, s); n != 0 {
		t.Fatalf("invalid envelopes stored %d messages", n)
	}
}

func TestAppendsToOtherAggregatesDoNotConflict(t *testing.T) {
	s := openStore(t)
	a, b := uuid.NewString(), uuid.NewString()
	a1 := mustAppend(t, s, received(t, a), 0)
	b1 := mustAppend(t, s, received(t, b), 0)
	b2 := mustAppend(t, s, acknowledged(t, b, 2), b1)
	// a's last event is still a1, whatever happened to b since.
	a2 := mustAppend(t, s, acknowledged(t, a, 2), a1)
	if a1 != 1 || b1 != 2 || b2 != 3 || a2 != 4 {
		t.Fatalf("sequences a1=%d b1=%d b2=%d a2=%d", a1, b1, b2, a2)
	}
	// Using the stream's last sequence instead of the aggregate's is a conflict.
	if _, err := s.Append(testCtx(t), acknowledged(t, b, 3), a2); !errors.Is(err, store.ErrConcurrency) {
		t.Fatalf("append with another aggregate's sequence: %v, want ErrConcurrency", err)
	}
	for id, want := range map[string][]uint64{a: {a1, a2}, b: {b1, b2}} {
		recs := mustLoad(t, s, id)
		if len(recs) != len(want) {
			t.Fatalf("aggregate %s: %d events, want %d", id, len(recs), len(want))
		}
		for i, r := range recs {
			if r.Sequence != want[i] || r.Subject != id {
				t.Fatalf("aggregate %s event %d: sequence %d subject %s", id, i, r.Sequence, r.Subject)
			}
		}
	}
}

func TestUseAfterCloseIsErrClosed(t *testing.T) {
	s := openAt(t, t.TempDir(), 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := testCtx(t)
	if _, err := s.Append(ctx, received(t, uuid.NewString()), 0); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Append: %v", err)
	}
	if _, err := s.Load(ctx, events.AggregateRequest, uuid.NewString()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Load: %v", err)
	}
	for _, err := range s.Read(ctx, 1) {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("Read: %v", err)
		}
	}
}

func TestCloseDuringRead(t *testing.T) {
	s := openAt(t, t.TempDir(), time.Minute)
	for range 3000 {
		mustAppend(t, s, received(t, uuid.NewString()), 0)
	}
	closed := make(chan error, 1)
	n := 0
	var readErr error
	for _, err := range s.Read(testCtx(t), 1) {
		if err != nil {
			readErr = err
			break
		}
		if n++; n == 10 {
			go func() { closed <- s.Close() }()
		}
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return")
	}
	// Either the Read finished before the connection went, or it reported why it stopped.
	if readErr == nil && n != 3000 {
		t.Fatalf("Read stopped after %d events without an error", n)
	}
	if readErr != nil && !errors.Is(readErr, store.ErrClosed) {
		t.Fatalf("Read ended by Close: %v, want store.ErrClosed", readErr)
	}
	t.Logf("read %d events, then %v", n, readErr)
}
