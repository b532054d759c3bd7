package command

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/store"
)

// BatchAppender is an optional store capability: appending events of distinct aggregates
// together, each with its own concurrency check, so that they share the round trips.
type BatchAppender interface {
	AppendBatch(ctx context.Context, entries []store.Entry) []store.Outcome
}

// Item is one command of a batch and who records it.
type Item struct {
	Caller  Caller
	Command aggregates.Command
}

// HandleBatch records one command for each of several distinct requests, as Handle would
// one by one, but with their appends in flight together when the store can do that. A bulk
// import of historic requests uses it. Results and errors are in the order of items; an item
// that meets a concurrent writer is retried on its own.
func (h *Handler) HandleBatch(ctx context.Context, items []Item) ([]Result, []error) {
	results, errs := make([]Result, len(items)), make([]error, len(items))
	batcher, ok := h.store.(BatchAppender)
	registry := slices.ContainsFunc(items, func(it Item) bool { _, ok := it.Command.(aggregates.RegistryCommand); return ok })
	if !ok || len(items) == 1 || registry { // the registry's commands go one by one
		for i, it := range items {
			results[i], errs[i] = h.Handle(ctx, it.Caller, it.Command)
		}
		return results, errs
	}

	seen := make(map[string]bool, len(items))
	var ready []int // items whose commands passed Prepare
	for i, it := range items {
		c := it.Command
		errs[i] = h.prepare(it.Caller, c)
		id := c.Header().RequestID
		if errs[i] == nil && seen[id] {
			errs[i] = fmt.Errorf("request %s appears twice in one batch", id)
		}
		if errs[i] != nil {
			results[i], errs[i] = resultOf(c), fmt.Errorf("%s: %w", c.Header().Command, errs[i])
			continue
		}
		seen[id] = true
		ready = append(ready, i)
	}

	retry := h.appendTogether(ctx, batcher, items, ready, results, errs)
	for _, i := range retry {
		results[i], errs[i] = h.handle(ctx, items[i].Command)
		wrap(items[i].Command, &errs[i])
	}
	return results, errs
}

// decideWorkers bounds the items of a batch decided at once.
const decideWorkers = 16

// appendTogether decides every ready item under its request's lock, appends the events in
// one batch and settles them; it returns the items that met a concurrent writer.
func (h *Handler) appendTogether(ctx context.Context, batcher BatchAppender, items []Item, ready []int, results []Result, errs []error) (retry []int) {
	stripes := make([]int, 0, len(ready))
	for _, i := range ready {
		stripes = append(stripes, h.stripe(items[i].Command.Header().RequestID))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, s := range stripes { // in order, so that two batches cannot deadlock
		h.locks[s].Lock()
	}
	defer func() {
		for _, s := range stripes {
			h.locks[s].Unlock()
		}
	}()

	// Deciding waits on round trips (a load, the vault's tokens and keys): the items are
	// distinct requests, locked above, so they are decided side by side.
	pendings := make([]*pending, len(ready))
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(decideWorkers, len(ready)) {
		wg.Go(func() {
			for k := range work {
				i := ready[k]
				pendings[k], results[i], errs[i] = h.decide(ctx, items[i].Command, 0)
			}
		})
	}
	for k := range ready {
		work <- k
	}
	close(work)
	wg.Wait()

	var entries []store.Entry
	var decided []*pending
	var at []int
	for k, i := range ready {
		p := pendings[k]
		if p == nil {
			wrap(items[i].Command, &errs[i])
			continue
		}
		entries = append(entries, store.Entry{Envelope: p.env, ExpectedLast: p.state.LastSequence})
		decided = append(decided, p)
		at = append(at, i)
	}
	for k, out := range batcher.AppendBatch(ctx, entries) {
		i := at[k]
		var again bool
		results[i], again, errs[i] = h.settle(decided[k], out.Appended, out.Err)
		if again {
			retry = append(retry, i)
			continue
		}
		wrap(items[i].Command, &errs[i])
	}
	return retry
}

// wrap adds the command and request to an error, as Handle does.
func wrap(c aggregates.Command, err *error) {
	if *err != nil {
		m := c.Header()
		*err = fmt.Errorf("%s %s: %w", m.Command, m.RequestID, *err)
	}
}
