package command_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
	"github.com/complianceledger/ledger/store/jetstream"
)

// The people of a request's life: four eyes means the decision is not the intake's.
const (
	intake = "ingrid"
	legal  = "lena"
)

// handleAs records c as actor holding the role that records c: tests that are not about
// roles give each command its own role, as a caller with the right token would.
func handleAs(h *command.Handler, ctx context.Context, actor string, c aggregates.Command) (command.Result, error) {
	return h.Handle(ctx, officer(actor, c), c)
}

func officer(actor string, c aggregates.Command) command.Caller {
	return command.Caller{Name: actor, Role: command.RoleOf(aggregates.CommandName(c))}
}

func item(actor string, c aggregates.Command) command.Item {
	return command.Item{Caller: officer(actor, c), Command: c}
}

var (
	delivered   = time.Date(2025, 2, 3, 9, 0, 0, 0, time.UTC)
	packageHash = strings.Repeat("3f", 32)
	key         = []byte("command-test-pseudonymisation-key-32+")
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// countingStore is the real JetStream store; it only counts the conflicts it reports, so
// that a test can tell a retry happened.
type countingStore struct {
	*jetstream.Store
	conflicts atomic.Int64
}

func (s *countingStore) Append(ctx context.Context, env events.Envelope, expectedLast uint64) (store.Appended, error) {
	a, err := s.Store.Append(ctx, env, expectedLast)
	if errors.Is(err, store.ErrConcurrency) {
		s.conflicts.Add(1)
	}
	return a, err
}

func (s *countingStore) AppendBatch(ctx context.Context, entries []store.Entry) []store.Outcome {
	out := s.Store.AppendBatch(ctx, entries)
	for _, o := range out {
		if errors.Is(o.Err, store.ErrConcurrency) {
			s.conflicts.Add(1)
		}
	}
	return out
}

// openStore starts an embedded JetStream on a fresh folder, closed when the test ends.
func openStore(t *testing.T) *countingStore {
	t.Helper()
	s, err := jetstream.Open(testCtx(t), jetstream.Config{
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("jetstream.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &countingStore{Store: s}
}

func pseudonymizer(t *testing.T) *events.Pseudonymizer {
	t.Helper()
	p, err := events.NewPseudonymizer(key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newHandler is one process's handler: its own cache, the shared store and key.
func newHandler(t *testing.T, s command.EventStore) *command.Handler {
	return command.NewHandler(s, pseudonymizer(t), command.Options{Source: "urn:test"})
}

// req builds the commands of one request; step n happens n hours after delivery.
type req struct{ id string }

func newReq() req { return req{uuid.NewString()} }

func (r req) at(hours int) time.Time { return delivered.Add(time.Duration(hours) * time.Hour) }

// on fills a command's header as a caller would: name, request and business time.
func on[C aggregates.Command](r req, hours int, c C) C {
	m := c.Header()
	m.Command = aggregates.CommandName(c)
	m.RequestID = r.id
	m.At = r.at(hours)
	return c
}

func (r req) receive(accounts ...string) *aggregates.ReceiveRequest {
	c := &aggregates.ReceiveRequest{
		Authority:  events.Authority{Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR"},
		Instrument: events.InstrumentCourtOrder,
		Reference:  "PN-2025-0042",
		DataSought: []events.DataCategory{events.DataSubscriber, events.DataIPAddress},
	}
	for _, a := range accounts {
		c.Targets = append(c.Targets, aggregates.TargetInput{Account: aggregates.Account{ID: a}, IdentifierType: events.IdentifierUsername})
	}
	return on(r, 0, c)
}

func (r req) verify() *aggregates.VerifyRequester {
	return on(r, 1, &aggregates.VerifyRequester{Method: "law_enforcement_portal", Verifier: "vera"})
}

func (r req) acknowledge() *aggregates.AcknowledgeReceipt {
	return on(r, 2, &aggregates.AcknowledgeReceipt{Automated: true})
}

func (r req) review() *aggregates.CompleteLegalReview {
	return on(r, 3, &aggregates.CompleteLegalReview{Outcome: events.ReviewValid, Grounds: "competent court"})
}

// decide approves subscriber data and IP address for the first account and rejects the others.
func (r req) decide(accounts ...string) *aggregates.RecordDecision {
	c := &aggregates.RecordDecision{}
	for i, a := range accounts {
		t := aggregates.TargetDecisionInput{Account: aggregates.Account{ID: a}, Outcome: events.OutcomeReject, Grounds: "not named in the order"}
		if i == 0 {
			t = aggregates.TargetDecisionInput{Account: aggregates.Account{ID: a}, Outcome: events.OutcomeProduce,
				Approved: []events.DataCategory{events.DataSubscriber, events.DataIPAddress}}
		}
		c.Targets = append(c.Targets, t)
	}
	return on(r, 4, c)
}

func (r req) disclose(account string) *aggregates.DiscloseData {
	return on(r, 5, &aggregates.DiscloseData{
		Accounts:      []aggregates.DisclosedAccountInput{{Account: aggregates.Account{ID: account}, Categories: []events.DataCategory{events.DataSubscriber, events.DataIPAddress}}},
		Channel:       "law_enforcement_portal",
		PackageSHA256: packageHash,
	})
}

func (r req) notifyDecision() *aggregates.DecideUserNotification {
	return on(r, 6, &aggregates.DecideUserNotification{Decision: events.NotifyUser})
}

func (r req) notify(account string) *aggregates.NotifyUser {
	return on(r, 7, &aggregates.NotifyUser{Accounts: []aggregates.Account{{ID: account}}})
}

func (r req) close() *aggregates.CloseRequest {
	return on(r, 8, &aggregates.CloseRequest{Reason: "answered"})
}

// step is one command and who records it.
type step struct {
	actor string
	cmd   aggregates.Command
}

func mustHandle(t *testing.T, h *command.Handler, steps ...step) []command.Result {
	t.Helper()
	var out []command.Result
	for _, s := range steps {
		res, err := handleAs(h, testCtx(t), s.actor, s.cmd)
		if err != nil {
			t.Fatalf("%s: %v", aggregates.CommandName(s.cmd), err)
		}
		out = append(out, res)
	}
	return out
}

func mustLoad(t *testing.T, s *countingStore, id string) []events.Recorded {
	t.Helper()
	recs, err := s.Load(testCtx(t), events.AggregateRequest, id)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return recs
}

func lastSeq(t *testing.T, s *countingStore) uint64 {
	t.Helper()
	n, err := s.LastSequence(testCtx(t))
	if err != nil {
		t.Fatalf("LastSequence: %v", err)
	}
	return n
}

// eventNames lists the event names of an aggregate's records, and checks they are a
// contiguous history: versions 1..n in stream order.
func eventNames(t *testing.T, recs []events.Recorded) []string {
	t.Helper()
	var names []string
	for i, r := range recs {
		k, err := r.Kind()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, k.Name)
		if r.AggregateVersion != uint64(i+1) {
			t.Errorf("event %d (%s) has version %d, want %d", i, k.Name, r.AggregateVersion, i+1)
		}
		if i > 0 && r.Sequence <= recs[i-1].Sequence {
			t.Errorf("event %d at sequence %d after %d", i, r.Sequence, recs[i-1].Sequence)
		}
	}
	return names
}

func TestHandleRecordsALifecycle(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	h := newHandler(t, s)
	ctx := testCtx(t)
	r := newReq()
	const alice, bob = "platform-user-1001", "platform-user-1002"
	steps := []struct {
		step
		event string
	}{
		{step{intake, r.receive(alice, bob)}, "RequestReceived"},
		{step{intake, r.verify()}, "RequesterVerified"},
		{step{intake, r.acknowledge()}, "ReceiptAcknowledged"},
		{step{legal, r.review()}, "LegalReviewCompleted"},
		{step{legal, r.decide(alice, bob)}, "DecisionRecorded"},
		{step{"dora", r.disclose(alice)}, "DataDisclosed"},
		{step{legal, r.notifyDecision()}, "UserNotificationDecided"},
		{step{"dora", r.notify(alice)}, "UserNotified"},
		{step{legal, r.close()}, "RequestClosed"},
	}
	var results []command.Result
	for i, st := range steps {
		res, err := handleAs(h, ctx, st.actor, st.cmd)
		if err != nil {
			t.Fatalf("step %d %s: %v", i, st.event, err)
		}
		if res.Event != st.event || res.Duplicate || res.RequestID != r.id || res.Command != aggregates.CommandName(st.cmd) {
			t.Errorf("step %d: result %+v, want event %s for request %s", i, res, st.event, r.id)
		}
		if _, err := uuid.Parse(res.EventID); err != nil {
			t.Errorf("step %d: event id %q: %v", i, res.EventID, err)
		}
		if res.CommandID == "" || res.CommandID != st.cmd.Header().CommandID {
			t.Errorf("step %d: command id %q, command carries %q", i, res.CommandID, st.cmd.Header().CommandID)
		}
		if i > 0 && res.Sequence <= results[i-1].Sequence {
			t.Errorf("step %d: sequence %d after %d", i, res.Sequence, results[i-1].Sequence)
		}
		results = append(results, res)
	}

	recs := mustLoad(t, s, r.id)
	if got := eventNames(t, recs); len(got) != len(steps) {
		t.Fatalf("stored %v, want %d events", got, len(steps))
	}
	p := pseudonymizer(t)
	for i, rec := range recs {
		st, res := steps[i], results[i]
		if rec.Sequence != res.Sequence || rec.ID != res.EventID || rec.CommandID != res.CommandID {
			t.Errorf("event %d: stored seq %d id %s command %s; result said %+v", i, rec.Sequence, rec.ID, rec.CommandID, res)
		}
		if rec.Actor != st.actor || !rec.Time.Equal(st.cmd.Header().At) || rec.Source != "urn:test" {
			t.Errorf("event %d: actor %q time %s source %q; want %q at %s", i, rec.Actor, rec.Time, rec.Source, st.actor, st.cmd.Header().At)
		}
		// Raw account ids never reach the stream; their references do.
		for _, raw := range []string{alice, bob} {
			if bytes.Contains(rec.Data, []byte(raw)) {
				t.Errorf("event %d stores the raw account id %s: %s", i, raw, rec.Data)
			}
		}
	}
	e, err := recs[0].Payload()
	if err != nil {
		t.Fatal(err)
	}
	wantTargets := []events.Target{{Account: p.Ref(alice), IdentifierType: events.IdentifierUsername}, {Account: p.Ref(bob), IdentifierType: events.IdentifierUsername}}
	if got := e.(*events.RequestReceived).Targets; !reflect.DeepEqual(got, wantTargets) {
		t.Errorf("received targets %v, want %v", got, wantTargets)
	}

	// Load rebuilds from the store what folding the events read back from the stream gives.
	loaded, err := h.Load(ctx, r.id)
	if err != nil {
		t.Fatal(err)
	}
	folded := aggregates.NewRequest(r.id)
	for rec, err := range s.Read(ctx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		e, err := rec.Payload()
		if err != nil {
			t.Fatal(err)
		}
		folded.Apply(rec, e)
	}
	if !reflect.DeepEqual(loaded, folded) {
		t.Errorf("Load gives\n%+v\nfolding the stream gives\n%+v", loaded, folded)
	}
	approved := map[events.AccountRef][]events.DataCategory{p.Ref(alice): {events.DataSubscriber, events.DataIPAddress}}
	switch {
	case loaded.Status != aggregates.StatusClosed, loaded.Version != uint64(len(steps)), loaded.LastSequence != results[len(results)-1].Sequence:
		t.Errorf("status %q version %d last %d", loaded.Status, loaded.Version, loaded.LastSequence)
	case loaded.IntakeActor != intake, !loaded.DeliveredAt.Equal(delivered), loaded.Country != "FR":
		t.Errorf("intake %q at %s from %s", loaded.IntakeActor, loaded.DeliveredAt, loaded.Country)
	case loaded.Verification != aggregates.Verified, !loaded.Acknowledged, !loaded.Reviewed, !loaded.Decided:
		t.Errorf("flags %+v", loaded)
	case !reflect.DeepEqual(loaded.Approved, approved), !reflect.DeepEqual(loaded.Disclosed, approved):
		t.Errorf("approved %v disclosed %v, want %v", loaded.Approved, loaded.Disclosed, approved)
	case loaded.Notification == nil || loaded.Notification.Decision != events.NotifyUser:
		t.Errorf("notification %+v", loaded.Notification)
	}
}

func TestRacingHandlersOnOneRequestBothSucceedWithRetry(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	// Two processes: separate handlers and caches over one stream.
	a, b := newHandler(t, s), newHandler(t, s)
	const trials = 10
	for trial := range trials {
		r := newReq()
		receive := r.receive("platform-user-1")
		mustHandle(t, a, step{intake, receive})
		// Warm b's cache too: b loads the request to decide a command its rules refuse
		// (a duplicate would not do: the handler forgets a request it finds a duplicate in).
		if _, err := handleAs(b, testCtx(t), legal, r.close()); !errors.Is(err, aggregates.ErrNoDecision) {
			t.Fatalf("trial %d: warming b: %v, want ErrNoDecision", trial, err)
		}
		conflictsBefore := s.conflicts.Load()

		start := make(chan struct{})
		var wg sync.WaitGroup
		var results [2]command.Result
		var errs [2]error
		for i, run := range []struct {
			h   *command.Handler
			cmd aggregates.Command
		}{{a, r.acknowledge()}, {b, r.verify()}} {
			wg.Go(func() {
				<-start
				results[i], errs[i] = handleAs(run.h, testCtx(t), intake, run.cmd)
			})
		}
		close(start)
		wg.Wait()

		for i, err := range errs {
			if err != nil {
				t.Fatalf("trial %d: writer %d: %v", trial, i, err)
			}
		}
		// Both caches stood at version 1, so whoever appended second was stale once.
		if n := s.conflicts.Load() - conflictsBefore; n != 1 {
			t.Errorf("trial %d: %d conflicts, want exactly 1 (one stale writer, one retry)", trial, n)
		}
		recs := mustLoad(t, s, r.id)
		names := eventNames(t, recs)
		if len(recs) != 3 || names[0] != "RequestReceived" {
			t.Fatalf("trial %d: request holds %v", trial, names)
		}
		// Only this test writes to the stream, one trial at a time: 3 events per trial.
		for i, rec := range recs {
			if want := uint64(3*trial + i + 1); rec.Sequence != want {
				t.Errorf("trial %d: event %d at sequence %d, want %d", trial, i, rec.Sequence, want)
			}
		}
		got := map[string]uint64{names[1]: recs[1].Sequence, names[2]: recs[2].Sequence}
		if got["ReceiptAcknowledged"] != results[0].Sequence || got["RequesterVerified"] != results[1].Sequence {
			t.Errorf("trial %d: stored %v, results %+v", trial, got, results)
		}
	}
	// Every event was appended by the two writers and nothing else.
	if n := lastSeq(t, s); n != 3*trials {
		t.Errorf("stream holds %d events, want %d", n, 3*trials)
	}
}

func TestStaleCacheIsDetected(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	a, b := newHandler(t, s), newHandler(t, s)
	cases := []struct {
		name string
		b    func(r req) []step // what the other process records meanwhile
		a    func(r req) step   // a's next command, decided first on its stale cache
		want error              // nil: recorded after a reload
		// the event a records when it succeeds
		event string
	}{
		{
			name:  "other writer acknowledged, verification still goes in",
			b:     func(r req) []step { return []step{{intake, r.acknowledge()}} },
			a:     func(r req) step { return step{intake, r.verify()} },
			event: "RequesterVerified",
		},
		{
			name: "other writer closed the request",
			b: func(r req) []step {
				return []step{{legal, r.review()}, {legal, r.decide("platform-user-1")}, {legal, r.close()}}
			},
			a:    func(r req) step { return step{intake, r.acknowledge()} },
			want: aggregates.ErrEnded,
		},
		{
			name: "other writer verified first",
			b:    func(r req) []step { return []step{{intake, r.verify()}} },
			a:    func(r req) step { return step{intake, r.verify()} },
			want: aggregates.ErrAlreadyVerified,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newReq()
			mustHandle(t, a, step{intake, r.receive("platform-user-1")}) // now in a's cache
			mustHandle(t, b, tc.b(r)...)
			before := len(mustLoad(t, s, r.id))
			last := lastSeq(t, s)

			st := tc.a(r)
			res, err := handleAs(a, testCtx(t), st.actor, st.cmd)
			recs := mustLoad(t, s, r.id)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Handle: %v, want %v", err, tc.want)
				}
				if len(recs) != before || lastSeq(t, s) != last || res.Sequence != 0 {
					t.Fatalf("a refused command changed the ledger: %d events (was %d), result %+v", len(recs), before, res)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			names := eventNames(t, recs)
			if len(recs) != before+1 || names[before] != tc.event || recs[before].Sequence != res.Sequence {
				t.Fatalf("request holds %v, result %+v", names, res)
			}
		})
	}
}

// TestStaleCacheDoesNotRefuseWhatTheLedgerAllows: a rule checked against a stale cache
// must not refuse a command that the request's recorded history allows, nor refuse it for a
// reason the history no longer gives. Another process records what a's cache has not seen.
func TestStaleCacheDoesNotRefuseWhatTheLedgerAllows(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	a, b := newHandler(t, s), newHandler(t, s)
	const alice = "platform-user-1"
	cases := []struct {
		name  string
		b     func(r req) []step
		a     func(r req) step
		want  error  // nil: recorded
		event string // recorded when want is nil
	}{
		{
			name:  "review recorded elsewhere, then the decision",
			b:     func(r req) []step { return []step{{legal, r.review()}} },
			a:     func(r req) step { return step{legal, r.decide(alice)} },
			event: "DecisionRecorded",
		},
		{
			name: "verification and decision recorded elsewhere, then the disclosure",
			b: func(r req) []step {
				return []step{{intake, r.verify()}, {legal, r.review()}, {legal, r.decide(alice)}}
			},
			a:     func(r req) step { return step{"dora", r.disclose(alice)} },
			event: "DataDisclosed",
		},
		{
			name: "decision recorded elsewhere, then a second decision",
			b:    func(r req) []step { return []step{{legal, r.review()}, {legal, r.decide(alice)}} },
			a:    func(r req) step { return step{"lars", r.decide(alice)} },
			want: aggregates.ErrAlreadyDecided,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newReq()
			mustHandle(t, a, step{intake, r.receive(alice)}) // a caches the bare intake
			mustHandle(t, b, tc.b(r)...)
			before := len(mustLoad(t, s, r.id))
			st := tc.a(r)
			res, err := handleAs(a, testCtx(t), st.actor, st.cmd)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Handle: %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v (a's cache is stale; the ledger allows this command)", err)
			}
			recs := mustLoad(t, s, r.id)
			if names := eventNames(t, recs); len(recs) != before+1 || names[before] != tc.event || res.Event != tc.event {
				t.Fatalf("request holds %v, result %+v", names, res)
			}
		})
	}
}

func TestRetriedCommandIsStoredOnce(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	cases := []struct {
		name    string
		retried func(r req) step
		fresh   bool // retry through a new Handler (another process, or after a restart)
		between bool // another command is recorded between the first attempt and the retry
	}{
		{name: "receive, same handler", retried: func(r req) step { return step{intake, r.receive("u-1")} }},
		// A fresh handler assumes a receive is new: the store finds the command id.
		{name: "receive, fresh handler", retried: func(r req) step { return step{intake, r.receive("u-1")} }, fresh: true},
		{name: "verify, same handler", retried: func(r req) step { return step{intake, r.verify()} }},
		{name: "verify, fresh handler", retried: func(r req) step { return step{intake, r.verify()} }, fresh: true},
		{name: "verify, same handler, not the last event", retried: func(r req) step { return step{intake, r.verify()} }, between: true},
		{name: "verify, fresh handler, not the last event", retried: func(r req) step { return step{intake, r.verify()} }, fresh: true, between: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHandler(t, s)
			r := newReq()
			st := tc.retried(r)
			if _, ok := st.cmd.(*aggregates.ReceiveRequest); !ok {
				mustHandle(t, h, step{intake, r.receive("u-1")})
			}
			// The retry is the same request sent again: a new value with the same command id.
			commandID := uuid.NewString()
			st.cmd.Header().CommandID = commandID
			first := mustHandle(t, h, st)[0]
			if tc.between {
				mustHandle(t, h, step{intake, r.acknowledge()})
			}
			recordedBefore := len(mustLoad(t, s, r.id))

			again := tc.retried(r)
			again.cmd.Header().CommandID = commandID
			retrier := h
			if tc.fresh {
				retrier = newHandler(t, s)
			}
			for attempt := range 2 {
				res, err := handleAs(retrier, testCtx(t), again.actor, again.cmd)
				if err != nil {
					t.Fatalf("retry %d: %v", attempt, err)
				}
				if !res.Duplicate || res.Sequence != first.Sequence || res.CommandID != commandID || res.RequestID != r.id {
					t.Fatalf("retry %d: %+v, want a duplicate of sequence %d", attempt, res, first.Sequence)
				}
			}
			recs := mustLoad(t, s, r.id)
			n := 0
			for _, rec := range recs {
				if rec.CommandID == commandID {
					n++
				}
			}
			if n != 1 || len(recs) != recordedBefore {
				t.Fatalf("command stored %d times; request has %d events, had %d", n, len(recs), recordedBefore)
			}
		})
	}
}

func TestRefusedCommandAppendsNothing(t *testing.T) {
	t.Parallel()
	const alice = "platform-user-7"
	reviewed := func(r req) []step {
		return []step{{intake, r.receive(alice)}, {legal, r.review()}}
	}
	decided := func(r req) []step { return append(reviewed(r), step{legal, r.decide(alice)}) }
	cases := []struct {
		name    string
		history func(r req) []step
		refused func(r req) step
		want    error
		field   string // for events.ErrInvalid: the FieldError's field
	}{
		{
			name:    "disclosure before verification",
			history: decided,
			refused: func(r req) step { return step{"dora", r.disclose(alice)} },
			want:    aggregates.ErrNotVerified,
		},
		{
			name:    "four eyes",
			history: reviewed,
			refused: func(r req) step { return step{intake, r.decide(alice)} },
			want:    aggregates.ErrFourEyes,
		},
		{
			name:    "decision before review",
			history: func(r req) []step { return []step{{intake, r.receive(alice)}} },
			refused: func(r req) step { return step{legal, r.decide(alice)} },
			want:    aggregates.ErrReviewRequired,
		},
		{
			name:    "nothing before receipt",
			history: func(req) []step { return nil },
			refused: func(r req) step { return step{intake, r.verify()} },
			want:    aggregates.ErrNotReceived,
		},
		{
			name:    "fact before delivery",
			history: reviewed,
			refused: func(r req) step { return step{intake, on(r, -1, &aggregates.AcknowledgeReceipt{})} },
			want:    aggregates.ErrBeforeDelivery,
		},
		{
			name:    "disclosing an account the decision rejected",
			history: func(r req) []step { return append(decided(r), step{intake, r.verify()}) },
			refused: func(r req) step { return step{"dora", r.disclose("platform-user-8")} },
			want:    aggregates.ErrAccountNotApproved,
		},
		{
			name:    "unknown verification method",
			history: reviewed,
			refused: func(r req) step {
				return step{intake, on(r, 1, &aggregates.VerifyRequester{Method: "carrier_pigeon", Verifier: "vera"})}
			},
			want:  events.ErrInvalid,
			field: "method",
		},
		{
			name:    "bad package hash",
			history: func(r req) []step { return append(decided(r), step{intake, r.verify()}) },
			refused: func(r req) step {
				c := r.disclose(alice)
				c.PackageSHA256 = "not-a-hash"
				return step{"dora", c}
			},
			want:  events.ErrInvalid,
			field: "package_sha256",
		},
		{
			name:    "account and account_ref both given",
			history: decided,
			refused: func(r req) step {
				c := r.notify(alice)
				c.Accounts[0].Ref = pseudonymizer(t).Ref(alice)
				return step{"dora", c}
			},
			want:  events.ErrInvalid,
			field: "accounts[0]",
		},
		{
			name:    "no actor",
			history: reviewed,
			refused: func(r req) step { return step{"", r.acknowledge()} },
			want:    command.ErrForbidden,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t) // alone on its stream, so its last sequence is this request's
			h := newHandler(t, s)
			r := newReq()
			mustHandle(t, h, tc.history(r)...)
			recorded := mustLoad(t, s, r.id)
			last := lastSeq(t, s)

			st := tc.refused(r)
			res, err := handleAs(h, testCtx(t), st.actor, st.cmd)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Handle: %v, want %v", err, tc.want)
			}
			if tc.field != "" {
				var fe *events.FieldError
				if !errors.As(err, &fe) || fe.Field != tc.field {
					t.Fatalf("Handle: %v, want a FieldError on %q", err, tc.field)
				}
			}
			if res.Sequence != 0 || res.EventID != "" || res.Duplicate {
				t.Errorf("refusal reported %+v", res)
			}
			if got := mustLoad(t, s, r.id); len(got) != len(recorded) || lastSeq(t, s) != last {
				t.Fatalf("refused command appended: %d events, had %d; stream at %d, was %d", len(got), len(recorded), lastSeq(t, s), last)
			}
			// The refusal left the handler's view of the request intact.
			if len(recorded) > 0 {
				res, err := handleAs(h, testCtx(t), intake, on(r, 9, &aggregates.WithdrawRequest{Reason: "test over"}))
				if err != nil || res.Sequence <= recorded[len(recorded)-1].Sequence {
					t.Fatalf("next command after a refusal: %+v, %v", res, err)
				}
			}
		})
	}
}

// TestRefusalsLeaveTheStreamAlone checks the stream as a whole: a run of refused commands,
// whatever the reason, does not move its last sequence.
func TestRefusalsLeaveTheStreamAlone(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	h := newHandler(t, s)
	r := newReq()
	mustHandle(t, h, step{intake, r.receive("u-1")}, step{legal, r.review()}, step{legal, r.decide("u-1")})
	last := lastSeq(t, s)
	for _, st := range []step{
		{"dora", r.disclose("u-1")},                       // not verified
		{intake, on(r, 1, &aggregates.VerifyRequester{})}, // no method
		{legal, r.decide("u-1")},                          // already decided
		{legal, r.review()},                               // already reviewed
	} {
		if _, err := handleAs(h, testCtx(t), st.actor, st.cmd); err == nil {
			t.Fatalf("%s was recorded", aggregates.CommandName(st.cmd))
		}
	}
	if n := lastSeq(t, s); n != last {
		t.Fatalf("last sequence %d after refusals, was %d", n, last)
	}
}

// TestCommandIDOfAnotherRequestIsNotTakenForARetry: a command id already used on one
// request, sent with a command for another request, is not a retry of the first. It must be
// recorded or refused, never reported as "already recorded" with the other request's event.
func TestCommandIDOfAnotherRequestIsNotTakenForARetry(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	h := newHandler(t, s)
	first, second := newReq(), newReq()
	commandID := "import-line-1"
	c := first.receive("u-1")
	c.CommandID = commandID
	mustHandle(t, h, step{intake, c})

	c = second.receive("u-2")
	c.CommandID = commandID
	res, err := handleAs(h, testCtx(t), intake, c)
	recs := mustLoad(t, s, second.id)
	if err == nil && (res.Duplicate || len(recs) != 1) {
		t.Fatalf("second request's intake reported %+v with no error, and the request holds %d events", res, len(recs))
	}
}
