package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

// everything is the count of a read that wants every event: long.MaxValue, what the
// server's own clients send (a larger uint64 does not fit the server's signed count).
const everything = math.MaxInt64

// Load returns every event of one aggregate in stream order, or none for an unknown one.
func (s *Store) Load(ctx context.Context, aggregateType, id string) ([]events.Recorded, error) {
	if err := store.ValidateAggregate(aggregateType, id); err != nil {
		return nil, fmt.Errorf("esdb: load: %w", err)
	}
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	stream := s.names.stream(aggregateType, id)
	raw, err := s.readStream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("esdb: load %s: %w", stream, s.mapErr(ctx, err))
	}
	out := make([]events.Recorded, 0, len(raw))
	for _, e := range raw {
		rec, err := s.decode(e)
		if err != nil {
			return nil, fmt.Errorf("esdb: load %s: %w", stream, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// readStream returns a stream's events as stored, none for a stream that does not exist.
func (s *Store) readStream(ctx context.Context, stream string) ([]*esdb.RecordedEvent, error) {
	rs, err := s.client.ReadStream(ctx, stream, esdb.ReadStreamOptions{From: esdb.Start{}}, everything)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*esdb.RecordedEvent
	for {
		ev, err := rs.Recv()
		switch {
		case errors.Is(err, io.EOF):
			return out, nil
		case isStreamNotFound(err):
			return nil, nil
		case err != nil:
			return nil, err
		case ev.Event != nil:
			out = append(out, ev.Event)
		}
	}
}

// lastPosition returns the position of the last event in $all, of any stream; ok is false
// when $all is empty.
func (s *Store) lastPosition(ctx context.Context) (_ esdb.Position, ok bool, _ error) {
	rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return esdb.Position{}, false, err
	}
	defer rs.Close()
	ev, err := rs.Recv()
	switch {
	case errors.Is(err, io.EOF):
		return esdb.Position{}, false, nil
	case err != nil:
		return esdb.Position{}, false, err
	case ev.Event == nil:
		return esdb.Position{}, false, fmt.Errorf("reading the end of $all: an entry without an event")
	}
	return ev.Event.Position, true, nil
}

// startAt is where a read of $all for the events at positions >= from begins. The server
// can only start at a record's exact position (in its newest log chunk it parses whatever
// it finds at the offset), and from-1 is one when from is one past a position the store
// returned: then the read starts at that event and skips it.
func startAt(from uint64) esdb.AllPosition {
	if from <= 1 {
		return esdb.Start{}
	}
	return esdb.Position{Commit: from - 1, Prepare: from - 1}
}

// Read yields the ledger's events at positions from from (0 or 1: the start) up to the last
// event in $all when the iteration begins, in $all order. from must be 1 or one past a
// position the store returned, as a resuming reader's is; a server may refuse another.
//
// The v4 client's ReadAll takes no filter, so Read pages through $all and keeps the
// ledger's streams itself (system events, other applications' streams and other prefixes
// are skipped); Subscribe filters on the server.
func (s *Store) Read(ctx context.Context, from uint64) iter.Seq2[events.Recorded, error] {
	return func(yield func(events.Recorded, error) bool) {
		if err := s.read(ctx, max(from, 1), yield); err != nil {
			yield(events.Recorded{}, fmt.Errorf("esdb: read from %d: %w", from, err))
		}
	}
}

// read returns an error only when yield still wants values.
func (s *Store) read(ctx context.Context, from uint64, yield func(events.Recorded, error) bool) error {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	last, ok, err := s.lastPosition(ctx)
	if err != nil {
		return s.mapErr(ctx, err)
	}
	if !ok || last.Commit < from {
		return nil // nothing at or after from: do not ask the server to seek past its end
	}
	rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{From: startAt(from)}, everything)
	if err != nil {
		return s.mapErr(ctx, err)
	}
	defer rs.Close()
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return s.mapErr(ctx, err)
		}
		e := ev.Event
		switch {
		case e == nil:
			continue
		case e.Position.Commit > last.Commit:
			return nil // stored after the iteration began
		case e.Position.Commit < from || !s.names.ours(e.StreamID):
			continue
		}
		rec, err := s.decode(e)
		if err != nil {
			return err
		}
		if !yield(rec, nil) {
			return nil
		}
	}
}

// Subscribe yields the ledger's events at positions from from (as Read) and then every new
// one as it is stored, until ctx ends or the caller stops; the end of ctx is not an error.
// It is a catch-up subscription to $all filtered on the server to the ledger's stream
// prefixes; the server's filter checkpoints are not passed on, since a caller resumes from
// the last event it saw.
func (s *Store) Subscribe(ctx context.Context, from uint64) iter.Seq2[events.Recorded, error] {
	return func(yield func(events.Recorded, error) bool) {
		if err := s.subscribe(ctx, max(from, 1), yield); err != nil {
			yield(events.Recorded{}, fmt.Errorf("esdb: subscribe from %d: %w", from, err))
		}
	}
}

func (s *Store) subscribe(parent context.Context, from uint64, yield func(events.Recorded, error) bool) error {
	ctx, end, err := s.begin(parent)
	if err != nil {
		return err
	}
	defer end()
	// A subscription starts after its position (the server skips events at or before
	// it), where a read starts at it: from-1 is the last position not wanted.
	var start esdb.AllPosition = esdb.Start{}
	if from > 1 {
		start = esdb.Position{Commit: from - 1, Prepare: from - 1}
	}
	sub, err := s.client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{
		From:   start,
		Filter: &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: s.names.filterPrefixes()},
	})
	if err != nil {
		return s.stopped(parent, ctx, err)
	}
	defer sub.Close()
	for {
		msg := sub.Recv()
		switch {
		case msg.SubscriptionDropped != nil:
			return s.stopped(parent, ctx, msg.SubscriptionDropped.Error)
		case msg.EventAppeared == nil:
			continue // checkpoint, caught up, fell behind
		}
		e := msg.EventAppeared.Event
		if e == nil || e.Position.Commit < from || !s.names.ours(e.StreamID) {
			continue // the server's prefix filter is coarser than ours
		}
		rec, err := s.decode(e)
		if err != nil {
			return err
		}
		if !yield(rec, nil) {
			return nil
		}
	}
}

// stopped is how a subscription ends: quietly when its caller's ctx ended, with
// store.ErrClosed when Close ended it, and with the mapped error otherwise.
func (s *Store) stopped(parent, ctx context.Context, err error) error {
	if parent.Err() != nil && !s.isClosed() {
		return nil
	}
	return s.mapErr(ctx, err)
}

// decode turns a stored event into a Recorded one. It checks what the adapter relies on:
// the envelope belongs to the stream it is in, its server-side id is the one Append gives
// it (duplicate detection looks for that id), and it was written alone, so that its
// commit position is its own (Sequence) and a read can resume there.
func (s *Store) decode(e *esdb.RecordedEvent) (events.Recorded, error) {
	env, err := events.Decode(e.Data)
	if err != nil {
		return events.Recorded{}, fmt.Errorf("%s@%d: %w", e.StreamID, e.EventNumber, err)
	}
	switch {
	case s.names.stream(env.AggregateType, env.Subject) != e.StreamID:
		return events.Recorded{}, fmt.Errorf("%s@%d holds an event of %s %s: %w",
			e.StreamID, e.EventNumber, env.AggregateType, env.Subject, ErrNotLedgerEvent)
	case e.EventID != EventID(env):
		return events.Recorded{}, fmt.Errorf("%s@%d: event id %s, want %s for command %s: %w",
			e.StreamID, e.EventNumber, e.EventID, EventID(env), env.CommandID, ErrNotLedgerEvent)
	case e.Position.Commit == 0 || e.Position.Commit != e.Position.Prepare:
		return events.Recorded{}, fmt.Errorf("%s@%d at $all position %d/%d, not a single-event write: %w",
			e.StreamID, e.EventNumber, e.Position.Commit, e.Position.Prepare, ErrNotLedgerEvent)
	}
	return events.Recorded{Envelope: env, Sequence: e.Position.Commit, RecordedAt: e.CreatedDate.UTC()}, nil
}
