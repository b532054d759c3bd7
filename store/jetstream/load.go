package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
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
	err := s.direct(ctx, StreamName, filter, 1, 0, func(m *natsjs.RawStreamMsg) error {
		rec, err := decode(m.Data, m.Sequence, m.Time)
		if err != nil {
			return err
		}
		out = append(out, rec)
		return nil
	})
	return out, err
}

// directTail is the longest run of messages that Read and Scan fetch with direct batch
// gets rather than an ordered consumer: a follower's catch-up, a checkpoint's new events.
// A consumer costs the server an object per read, and on a cluster a consumer created a
// moment ago on a replica can miss the first pull (measured: 10 s stalls until the
// client's heartbeat check recreates it); a direct get is answered by any replica at once.
const directTail = 4096

// direct calls fn with every message of stream under filter from sequence from on, in
// order, fetched with direct batch gets. With upTo 0 it ends when no message is left; with
// upTo it ends after sequence upTo, and a replica that has not caught up with upTo yet is
// asked again for up to formingWait before the read fails naming the sequence it lacks.
// fn's error ends the read and is returned as is.
func (s *Store) direct(ctx context.Context, stream, filter string, from, upTo uint64, fn func(*natsjs.RawStreamMsg) error) error {
	next := from
	var behindSince time.Time
	for upTo == 0 || next <= upTo {
		got, more := 0, false
		// A retry (the stream still forming) resumes at next: nothing is read twice.
		var fnErr error
		err := whileForming(ctx, func() error {
			msgs, err := jetstreamext.GetBatch(ctx, s.js, stream, loadBatch,
				jetstreamext.GetBatchSeq(next), jetstreamext.GetBatchSubject(filter))
			if err != nil {
				return fmt.Errorf("direct get: %w", err)
			}
			for m, err := range msgs {
				if errors.Is(err, jetstreamext.ErrNoMessages) {
					break // nothing (more) under filter
				}
				if err != nil {
					return fmt.Errorf("direct get: %w", err)
				}
				if upTo > 0 && m.Sequence > upTo {
					more = false
					break
				}
				if fnErr = fn(m); fnErr != nil {
					return nil
				}
				got++
				next = m.Sequence + 1
				// Nats-Num-Pending counts the matching messages after this one; a batch can
				// also end early on the server's byte limit, so this decides, not the count.
				np, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
				more = np > 0
			}
			return nil
		})
		switch {
		case err != nil:
			return err
		case fnErr != nil:
			return fnErr
		case ctx.Err() != nil:
			// A batch cut short by the deadline ends its iteration silently: say so rather
			// than pass a cut history for the whole.
			return fmt.Errorf("direct get: ended at sequence %d: %w", next, ctx.Err())
		case more:
			behindSince = time.Time{}
		case upTo == 0 || next > upTo:
			return nil
		case behindSince.IsZero():
			behindSince = time.Now()
		case time.Since(behindSince) > formingWait:
			return fmt.Errorf("direct get: %s holds sequence %d, yet no replica served sequence %d within %s", stream, upTo, next, formingWait)
		default:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// decode turns stored bytes into a Recorded event; at is the stream's timestamp.
func decode(data []byte, seq uint64, at time.Time) (events.Recorded, error) {
	env, err := events.Decode(data)
	if err != nil {
		return events.Recorded{}, fmt.Errorf("sequence %d: %w", seq, err)
	}
	return events.Recorded{Envelope: env, Sequence: seq, RecordedAt: at.UTC()}, nil
}
