package esdb

import (
	"context"
	"fmt"
	"sync"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

// batchConcurrency bounds the appends an AppendBatch keeps in flight.
const batchConcurrency = 64

// Append stores env if its aggregate's last event is still at position expectedLast (0:
// the aggregate has no events yet), otherwise it returns store.ErrConcurrency.
//
// The server checks a stream revision, the port speaks of positions; Append reads the
// aggregate's stream and translates:
//   - the stream holds env's command (its EventID): a retry, reported as a duplicate of
//     the stored event whatever expectedLast says, as the JetStream adapter does;
//   - expectedLast is 0 and there is no stream: append expecting NoStream;
//   - the stream's last event is at expectedLast: append expecting its revision;
//   - anything else: the writer is stale, store.ErrConcurrency without a write.
//
// The server's revision check makes the read-then-append race-free: a writer that
// appends between our read and our append moves the revision, and ours is refused
// (WrongExpectedVersion, mapped to store.ErrConcurrency), so of racing writers exactly
// one wins. Each Append costs three round trips: the read, the append, and a read of the
// event back for its commit time (store.Appended.Recorded), which the append's answer lacks.
func (s *Store) Append(ctx context.Context, env events.Envelope, expectedLast uint64) (store.Appended, error) {
	if s.isClosed() {
		return store.Appended{}, store.ErrClosed
	}
	if err := env.Validate(); err != nil {
		return store.Appended{}, fmt.Errorf("esdb: append: %w", err)
	}
	if err := store.ValidateAggregate(env.AggregateType, env.Subject); err != nil {
		return store.Appended{}, fmt.Errorf("esdb: append: %w", err)
	}
	body, err := env.Marshal()
	if err != nil {
		return store.Appended{}, fmt.Errorf("esdb: append %s: encode: %w", env.Type, err)
	}
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return store.Appended{}, err
	}
	defer end()

	stream, id := s.names.stream(env.AggregateType, env.Subject), EventID(env)
	fail := func(err error) (store.Appended, error) {
		return store.Appended{}, fmt.Errorf("esdb: append %s to %s expecting last position %d: %w", env.Type, stream, expectedLast, err)
	}
	existing, err := s.readStream(ctx, stream)
	if err != nil {
		return fail(s.mapErr(ctx, err))
	}
	if e := findEvent(existing, id); e != nil {
		return appended(e, true), nil
	}
	var expected esdb.ExpectedRevision
	switch last := len(existing) - 1; {
	case last < 0 && expectedLast == 0:
		expected = esdb.NoStream{}
	case last >= 0 && existing[last].Position.Commit == expectedLast:
		expected = esdb.Revision(existing[last].EventNumber)
	case last < 0:
		return fail(fmt.Errorf("%w: the aggregate has no events", store.ErrConcurrency))
	default:
		return fail(fmt.Errorf("%w: its last event is at %d", store.ErrConcurrency, existing[last].Position.Commit))
	}

	res, err := s.client.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: expected}, esdb.EventData{
		EventID:     id,
		EventType:   env.Type,
		ContentType: esdb.ContentTypeJson,
		Data:        body,
	})
	if err != nil {
		if isWrongExpectedVersion(err) {
			// Another writer got in between; if it stored this very command (a retry
			// racing the original), report that copy, else the conflict stands.
			if e, ferr := s.findCommand(ctx, stream, id); ferr == nil && e != nil {
				return appended(e, true), nil
			}
		}
		return fail(s.mapErr(ctx, err))
	}
	if res.CommitPosition == 0 {
		// Success without a position is the server's answer to an idempotent append
		// whose original position it no longer knows: this command was stored by a
		// writer that raced ours between the read and the append.
		e, ferr := s.findCommand(ctx, stream, id)
		if ferr != nil || e == nil {
			return fail(fmt.Errorf("the server reported an idempotent append that is not in the stream (%v)", ferr))
		}
		return appended(e, true), nil
	}
	// The append's answer has no commit time: read the event back, a third round trip.
	e, err := s.findCommand(ctx, stream, id)
	if err == nil && e == nil {
		err = fmt.Errorf("the event appended at %d is not in its stream", res.CommitPosition)
	}
	if err != nil {
		return fail(fmt.Errorf("stored at %d, reading it back: %w", res.CommitPosition, s.mapErr(ctx, err)))
	}
	return appended(e, false), nil
}

// appended is the store's answer naming a stored event.
func appended(e *esdb.RecordedEvent, duplicate bool) store.Appended {
	return store.Appended{Sequence: e.Position.Commit, Duplicate: duplicate, Recorded: e.CreatedDate.UTC(), Stored: e.Data}
}

// findEvent looks for the event with server-side id id; nil when there is none.
func findEvent(stored []*esdb.RecordedEvent, id uuid.UUID) *esdb.RecordedEvent {
	for _, e := range stored {
		if e.EventID == id {
			return e
		}
	}
	return nil
}

// findCommand reads the stream again and looks for the event with server-side id id.
func (s *Store) findCommand(ctx context.Context, stream string, id uuid.UUID) (*esdb.RecordedEvent, error) {
	stored, err := s.readStream(ctx, stream)
	if err != nil {
		return nil, err
	}
	return findEvent(stored, id), nil
}

// AppendBatch appends events of several aggregates with their appends in flight together
// (up to batchConcurrency), each answered exactly as Append would. Entries of one aggregate
// are appended in entry order, one after the other; entries of different aggregates in
// any order. A batch is not atomic.
func (s *Store) AppendBatch(ctx context.Context, entries []store.Entry) []store.Outcome {
	out := make([]store.Outcome, len(entries))
	var order []string
	groups := map[string][]int{}
	for i, e := range entries {
		key := e.Envelope.AggregateType + "/" + e.Envelope.Subject
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], i)
	}
	sem := make(chan struct{}, batchConcurrency)
	var wg sync.WaitGroup
	for _, key := range order {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for _, i := range groups[key] {
				out[i].Appended, out[i].Err = s.Append(ctx, entries[i].Envelope, entries[i].ExpectedLast)
			}
		})
	}
	wg.Wait()
	return out
}
