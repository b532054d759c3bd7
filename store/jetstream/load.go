package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

// loadBatch is how many messages one direct batch get asks for. Aggregates hold a dozen
// events or so; the loop in load handles longer ones.
const loadBatch = 1000

// Load returns every event of one aggregate in stream order, or none for an unknown one.
//
// Direct gets may be answered by any replica, so on a cluster a Load can miss the newest
// event; an append based on it then fails with store.ErrConcurrency, never silently.
func (s *Store) Load(ctx context.Context, aggregateType, id string) ([]events.Recorded, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := store.ValidateAggregate(aggregateType, id); err != nil {
		return nil, fmt.Errorf("jetstream: load: %w", err)
	}
	recs, err := s.load(ctx, AggregateFilter(aggregateType, id))
	if err != nil {
		return nil, fmt.Errorf("jetstream: load %s %s: %w", aggregateType, id, err)
	}
	return recs, nil
}

// loadTimeout bounds a Load whose context has no deadline of its own.
const loadTimeout = 30 * time.Second

// load reads every message matching filter with direct batch gets.
//
// A batch whose answers do not all arrive before the context's deadline (or, without one,
// the connection's 2 s request timeout) ends its iteration silently, as if the aggregate
// had no more events: so load sets a deadline of its own and, once a batch ends, asks its
// context whether that deadline ended it. (A busy machine once turned a request's history
// into an empty one that way: "nothing can happen to a request before it is received".)
func (s *Store) load(ctx context.Context, filter string) ([]events.Recorded, error) {
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	var out []events.Recorded
	next := uint64(1)
	for {
		msgs, err := jetstreamext.GetBatch(ctx, s.js, StreamName, loadBatch,
			jetstreamext.GetBatchSeq(next), jetstreamext.GetBatchSubject(filter))
		if err != nil {
			return nil, fmt.Errorf("direct get: %w", err)
		}
		got, more := 0, false
		for m, err := range msgs {
			if errors.Is(err, jetstreamext.ErrNoMessages) {
				break // nothing (more) under filter
			}
			if err != nil {
				return nil, fmt.Errorf("direct get: %w", err)
			}
			rec, err := decode(m.Data, m.Sequence, m.Time)
			if err != nil {
				return nil, err
			}
			out = append(out, rec)
			got++
			next = m.Sequence + 1
			// Nats-Num-Pending counts the matching messages after this one; a batch can
			// also end early on the server's byte limit, so this decides, not the count.
			np, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			more = np > 0
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("direct get after %d events: %w", len(out), err)
		}
		if got == 0 || !more {
			return out, nil
		}
	}
}

// decode turns stored bytes into a Recorded event; at is the stream's timestamp.
func decode(data []byte, seq uint64, at time.Time) (events.Recorded, error) {
	env, err := events.Decode(data)
	if err != nil {
		return events.Recorded{}, fmt.Errorf("sequence %d: %w", seq, err)
	}
	return events.Recorded{Envelope: env, Sequence: seq, RecordedAt: at.UTC()}, nil
}
