package command_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
)

// checkBatch fails unless every item is recorded as the event named for it, and each result
// names an event of its own request, recorded by the item's actor and command.
func checkBatch(t *testing.T, s *countingStore, items []command.Item, results []command.Result, errs []error, event func(i int) string) {
	t.Helper()
	if len(results) != len(items) || len(errs) != len(items) {
		t.Fatalf("%d results and %d errors for %d items", len(results), len(errs), len(items))
	}
	for i, it := range items {
		if errs[i] != nil {
			t.Errorf("item %d: %v", i, errs[i])
			continue
		}
		res, id := results[i], it.Command.Header().RequestID
		if res.RequestID != id || res.Event != event(i) || res.Duplicate || res.EventID == "" {
			t.Errorf("item %d: result %+v, want %s for request %s", i, res, event(i), id)
			continue
		}
		var stored *events.Recorded
		for _, rec := range mustLoad(t, s, id) {
			if rec.Sequence == res.Sequence {
				stored = &rec
			}
		}
		if stored == nil {
			t.Errorf("item %d: result %+v; the request holds no event at that sequence", i, res)
			continue
		}
		if k, _ := stored.Kind(); k.Name != res.Event || stored.ID != res.EventID || stored.Actor != it.Caller.Name || stored.CommandID != res.CommandID {
			t.Errorf("item %d: result %+v; the request holds at that sequence %+v", i, res, stored)
		}
		// What a receipt signs: the store's time and bytes of that very event.
		if env, err := events.Decode(res.Stored); err != nil || env.ID != stored.ID || !res.Recorded.Equal(stored.RecordedAt) {
			t.Errorf("item %d: result names recorded %v and the bytes of %q (%v); the store holds %s at %v", i, res.Recorded, env.ID, err, stored.ID, stored.RecordedAt)
		}
	}
}

func receiveItems(reqs []req) []command.Item {
	items := make([]command.Item, len(reqs))
	for i, r := range reqs {
		items[i] = item(intake, r.receive("platform-user-1", "platform-user-2"))
	}
	return items
}

func newReqs(n int) []req {
	reqs := make([]req, n)
	for i := range reqs {
		reqs[i] = newReq()
	}
	return reqs
}

func TestHandleBatch(t *testing.T) {
	t.Parallel()
	s := openStore(t)

	t.Run("new requests, then their next steps", func(t *testing.T) {
		t.Parallel()
		h := newHandler(t, s)
		reqs := newReqs(25)
		items := receiveItems(reqs)
		results, errs := h.HandleBatch(testCtx(t), items)
		checkBatch(t, s, items, results, errs, func(int) string { return "RequestReceived" })

		// The next step differs from request to request; each goes to its own request.
		next := make([]command.Item, len(reqs))
		for i, r := range reqs {
			next[i] = item(intake, r.verify())
			if i%2 == 1 {
				next[i] = item("ada", r.acknowledge())
			}
		}
		results, errs = h.HandleBatch(testCtx(t), next)
		checkBatch(t, s, next, results, errs, func(i int) string {
			if i%2 == 1 {
				return "ReceiptAcknowledged"
			}
			return "RequesterVerified"
		})
		for _, r := range reqs {
			if recs := mustLoad(t, s, r.id); len(eventNames(t, recs)) != 2 {
				t.Errorf("request %s has %d events, want 2", r.id, len(recs))
			}
		}
		// A fresh handler (empty cache) sees the same requests and carries on with a batch.
		closing := make([]command.Item, len(reqs))
		for i, r := range reqs {
			closing[i] = item(intake, on(r, 9, &aggregates.WithdrawRequest{Reason: "case dropped"}))
		}
		results, errs = newHandler(t, s).HandleBatch(testCtx(t), closing)
		checkBatch(t, s, closing, results, errs, func(int) string { return "RequestWithdrawn" })
	})

	t.Run("bad items are reported at their indexes, the others recorded", func(t *testing.T) {
		t.Parallel()
		h := newHandler(t, s)
		reqs := newReqs(4)
		if _, errs := h.HandleBatch(testCtx(t), receiveItems(reqs)); errors.Join(errs...) != nil {
			t.Fatal(errors.Join(errs...))
		}
		before := make([]int, len(reqs))
		for i, r := range reqs {
			before[i] = len(mustLoad(t, s, r.id))
		}
		items := []command.Item{
			item(intake, reqs[0].verify()),
			item(intake, on(reqs[1], 1, &aggregates.VerifyRequester{Method: "carrier_pigeon", Verifier: "vera"})),
			item(legal, reqs[2].close()), // no decision yet
			item(intake, reqs[3].acknowledge()),
		}
		results, errs := h.HandleBatch(testCtx(t), items)
		var fe *events.FieldError
		if !errors.Is(errs[1], events.ErrInvalid) || !errors.As(errs[1], &fe) || fe.Field != "method" {
			t.Errorf("item 1: %v, want a FieldError on method", errs[1])
		}
		if !errors.Is(errs[2], aggregates.ErrNoDecision) {
			t.Errorf("item 2: %v, want ErrNoDecision", errs[2])
		}
		for _, i := range []int{1, 2} {
			if results[i].Sequence != 0 || results[i].RequestID != reqs[i].id {
				t.Errorf("item %d: refused, but result %+v", i, results[i])
			}
			if got := len(mustLoad(t, s, reqs[i].id)); got != before[i] {
				t.Errorf("item %d: refused, but the request went from %d to %d events", i, before[i], got)
			}
		}
		good := []command.Item{items[0], items[3]}
		checkBatch(t, s, good, []command.Result{results[0], results[3]}, []error{errs[0], errs[3]}, func(i int) string {
			return []string{"RequesterVerified", "ReceiptAcknowledged"}[i]
		})
	})

	t.Run("a request named twice is refused the second time", func(t *testing.T) {
		t.Parallel()
		h := newHandler(t, s)
		reqs := newReqs(2)
		if _, errs := h.HandleBatch(testCtx(t), receiveItems(reqs)); errors.Join(errs...) != nil {
			t.Fatal(errors.Join(errs...))
		}
		items := []command.Item{
			item(intake, reqs[0].verify()),
			item(intake, reqs[1].verify()),
			item(intake, reqs[0].acknowledge()),
		}
		results, errs := h.HandleBatch(testCtx(t), items)
		if errs[2] == nil || !strings.Contains(errs[2].Error(), "twice") {
			t.Fatalf("item 2 names request 0 again: %v, want a refusal", errs[2])
		}
		if results[2].Sequence != 0 {
			t.Errorf("item 2 refused but result %+v", results[2])
		}
		checkBatch(t, s, items[:2], results[:2], errs[:2], func(int) string { return "RequesterVerified" })
		if names := eventNames(t, mustLoad(t, s, reqs[0].id)); len(names) != 2 {
			t.Errorf("request 0 holds %v, want the intake and the verification", names)
		}
	})

	t.Run("an item whose request another handler changed is retried", func(t *testing.T) {
		t.Parallel()
		a, b := newHandler(t, s), newHandler(t, s)
		reqs := newReqs(3)
		if _, errs := a.HandleBatch(testCtx(t), receiveItems(reqs)); errors.Join(errs...) != nil {
			t.Fatal(errors.Join(errs...))
		}
		// a's cache holds every request at version 1; b moves request 1 on.
		mustHandle(t, b, step{intake, reqs[1].acknowledge()})
		conflicts := s.conflicts.Load()
		items := make([]command.Item, len(reqs))
		for i, r := range reqs {
			items[i] = item(intake, r.verify())
		}
		results, errs := a.HandleBatch(testCtx(t), items)
		checkBatch(t, s, items, results, errs, func(int) string { return "RequesterVerified" })
		if n := s.conflicts.Load() - conflicts; n < 1 {
			t.Errorf("%d conflicts: the stale item was not appended against its stale sequence", n)
		}
		if names := eventNames(t, mustLoad(t, s, reqs[1].id)); len(names) != 3 {
			t.Errorf("request 1 holds %v", names)
		}
	})

	t.Run("a batch racing another handler on one request", func(t *testing.T) {
		t.Parallel()
		a, b := newHandler(t, s), newHandler(t, s)
		for trial := range 5 {
			reqs := newReqs(4)
			if _, errs := a.HandleBatch(testCtx(t), receiveItems(reqs)); errors.Join(errs...) != nil {
				t.Fatal(errors.Join(errs...))
			}
			raced := reqs[2]
			// Warm b's cache with a refused command, so both sides start from version 1.
			if _, err := handleAs(b, testCtx(t), legal, raced.close()); !errors.Is(err, aggregates.ErrNoDecision) {
				t.Fatalf("trial %d: warming b: %v", trial, err)
			}
			items := make([]command.Item, len(reqs))
			for i, r := range reqs {
				items[i] = item(intake, r.verify())
			}
			start := make(chan struct{})
			var wg sync.WaitGroup
			var results []command.Result
			var errs []error
			var bErr error
			wg.Go(func() { <-start; results, errs = a.HandleBatch(testCtx(t), items) })
			wg.Go(func() { <-start; _, bErr = handleAs(b, testCtx(t), intake, raced.acknowledge()) })
			close(start)
			wg.Wait()
			if bErr != nil {
				t.Fatalf("trial %d: the other handler: %v", trial, bErr)
			}
			checkBatch(t, s, items, results, errs, func(int) string { return "RequesterVerified" })
			names := eventNames(t, mustLoad(t, s, raced.id))
			if len(names) != 3 {
				t.Fatalf("trial %d: raced request holds %v, want intake, verification and acknowledgement", trial, names)
			}
		}
	})
}

// TestHandleBatchWithoutBatchStore: a store that cannot batch gets the commands one by one,
// with the same results.
func TestHandleBatchWithoutBatchStore(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	h := newHandler(t, onlyStore{s}) // hides AppendBatch
	reqs := newReqs(3)
	items := receiveItems(reqs)
	items = append(items, item(intake, reqs[0].verify())) // in order, after the intake
	results, errs := h.HandleBatch(testCtx(t), items)
	checkBatch(t, s, items, results, errs, func(i int) string {
		if i == 3 {
			return "RequesterVerified"
		}
		return "RequestReceived"
	})
}

// onlyStore exposes only command.EventStore, as a store without batch appends would.
type onlyStore struct{ command.EventStore }
