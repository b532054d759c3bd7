package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

// Append stores env if its aggregate's last event is still at expectedLast (0: the
// aggregate has no events yet). The check is sent on every append, including the first, so
// that two writers creating the same aggregate cannot both succeed.
//
// A retried command (same CommandID) is stored once. Observed on nats-server 2.15.2:
//   - the retry carries an expectedLast that is still current: the server's duplicate
//     window answers, PubAck.Duplicate with the first copy's sequence;
//   - the retry carries the expectedLast of the first attempt, which that attempt made
//     stale: a single server checks the expected sequence BEFORE the duplicate window and
//     answers "wrong last sequence" (a cluster checks the window first and answers
//     duplicate). Append then looks for the command id in the aggregate and reports the
//     earlier copy as a duplicate, so a retry behaves the same on both, and after the
//     window too.
//
// The duplicate window is keyed by aggregate and command id (MsgID): a different event sent
// to the same aggregate with an already used command id is reported as a duplicate of the
// first and not stored.
func (s *Store) Append(ctx context.Context, env events.Envelope, expectedLast uint64) (store.Appended, error) {
	if s.closed.Load() {
		return store.Appended{}, store.ErrClosed
	}
	msg, err := message(env)
	if err != nil {
		return store.Appended{}, err
	}
	ack, err := s.js.PublishMsg(ctx, msg, publishOpts(env, expectedLast)...)
	return s.answer(ctx, env, expectedLast, ack, err)
}

// message checks an envelope and builds its message: the subject and the canonical bytes.
func message(env events.Envelope) (*nats.Msg, error) {
	if err := env.Validate(); err != nil {
		return nil, fmt.Errorf("jetstream: append: %w", err)
	}
	if err := store.ValidateAggregate(env.AggregateType, env.Subject); err != nil {
		return nil, fmt.Errorf("jetstream: append: %w", err)
	}
	kind, err := env.Kind()
	if err != nil {
		return nil, fmt.Errorf("jetstream: append: %w", err)
	}
	body, err := env.Marshal()
	if err != nil {
		return nil, fmt.Errorf("jetstream: append %s: encode: %w", kind.Name, err)
	}
	return &nats.Msg{Subject: Subject(env.AggregateType, env.Subject, kind.Name), Data: body}, nil
}

// answer turns the server's reply to one append into the store's answer (see Append).
func (s *Store) answer(ctx context.Context, env events.Envelope, expectedLast uint64, ack *natsjs.PubAck, err error) (store.Appended, error) {
	if err == nil {
		return s.readBack(ctx, env, store.Appended{Sequence: ack.Sequence, Duplicate: ack.Duplicate})
	}
	if isInsufficientResources(err) {
		return store.Appended{}, fmt.Errorf("jetstream: append %s to %s %s: %w (%v)", env.Type, env.AggregateType, env.Subject, store.ErrNoSpace, err)
	}
	if !isWrongLastSequence(err) {
		return store.Appended{}, fmt.Errorf("jetstream: append %s to %s %s: %w", env.Type, env.AggregateType, env.Subject, err)
	}
	seq, found, lerr := s.findCommand(ctx, env.AggregateType, env.Subject, env.CommandID)
	if lerr != nil {
		// The conflict stands; the caller reloads and sees for itself.
		s.log.Warn("jetstream: looking for a retried command after a conflict", "aggregate", env.Subject, "err", lerr)
	} else if found {
		return s.readBack(ctx, env, store.Appended{Sequence: seq, Duplicate: true})
	}
	return store.Appended{}, fmt.Errorf("jetstream: append %s to %s %s expecting last sequence %d: %w (%v)",
		env.Type, env.AggregateType, env.Subject, expectedLast, store.ErrConcurrency, err)
}

// readBack fills in a's recorded time and stored bytes from the stream: a publish ack
// names the sequence only. One direct get by sequence, answered by any replica; one that
// has not caught up with the sequence yet is asked again (BENCHMARKS.md has the cost).
func (s *Store) readBack(ctx context.Context, env events.Envelope, a store.Appended) (store.Appended, error) {
	st, err := s.ledgerStream(ctx)
	if err == nil {
		lagging := func(err error) bool {
			return errors.Is(err, natsjs.ErrMsgNotFound) || errors.Is(err, nats.ErrNoResponders)
		}
		err = retryWhile(ctx, formingWait, 5*time.Millisecond, lagging, func() error {
			m, err := st.GetMsg(ctx, a.Sequence)
			if err == nil {
				a.Recorded, a.Stored = m.Time.UTC(), m.Data
			}
			return err
		})
	}
	if err != nil {
		// The event is stored: say so, so that a retry (same command id) finds it.
		return store.Appended{}, fmt.Errorf("jetstream: append %s to %s %s: stored at sequence %d, reading it back: %w", env.Type, env.AggregateType, env.Subject, a.Sequence, err)
	}
	return a, nil
}

// ledgerStream is LEDGER's handle, read once: its cached configuration (AllowDirect) makes
// GetMsg a direct get, one request to any replica.
func (s *Store) ledgerStream(ctx context.Context) (natsjs.Stream, error) {
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	if s.ledger == nil {
		st, err := s.js.Stream(ctx, StreamName)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", StreamName, err)
		}
		s.ledger = st
	}
	return s.ledger, nil
}

// publishOpts are the headers of every append: the message id for the duplicate window and
// the per-aggregate concurrency check. The message id is the aggregate id and the command
// id, because the window spans the whole stream and a command id is only unique within its
// aggregate: another request's command with the same id must not pass for a retry. The server stores them with the event, so
// each costs bytes on every replay; keep the list short.
func publishOpts(env events.Envelope, expectedLast uint64) []natsjs.PublishOpt {
	return []natsjs.PublishOpt{
		natsjs.WithMsgID(MsgID(env)),
		natsjs.WithExpectLastSequenceForSubject(expectedLast, AggregateFilter(env.AggregateType, env.Subject)),
	}
}

// isWrongLastSequence reports the server's optimistic-concurrency refusal. Replicated
// streams answer with a second code for the same condition.
func isWrongLastSequence(err error) bool {
	var apiErr *natsjs.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == natsjs.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == natsjs.JSErrCodeStreamWrongLastSequenceConstant
}

// jsErrCodeInsufficientResources is the server's refusal of a write beyond its storage limit
// (nats-server's JSInsufficientResourcesErr); nats.go names no constant for it.
const jsErrCodeInsufficientResources natsjs.ErrorCode = 10023

// isInsufficientResources reports a write the server refused for want of storage: the
// embedded server's limit is 75% of the disk that was free when it started (see Config).
func isInsufficientResources(err error) bool {
	var apiErr *natsjs.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrCodeInsufficientResources
}

// findCommand looks for an event of the aggregate recorded by commandID.
func (s *Store) findCommand(ctx context.Context, aggregateType, id, commandID string) (uint64, bool, error) {
	recs, err := s.load(ctx, AggregateFilter(aggregateType, id))
	if err != nil {
		return 0, false, err
	}
	for _, r := range recs {
		if r.CommandID == commandID {
			return r.Sequence, true, nil
		}
	}
	return 0, false, nil
}

// MsgID is the Nats-Msg-Id of an event: "<aggregate id>/<command id>".
func MsgID(env events.Envelope) string { return env.Subject + "/" + env.CommandID }
