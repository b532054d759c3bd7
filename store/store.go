// Package store defines where events live: the port every backend adapter implements, and
// the errors they share. Adapters: store/jetstream (default), store/esdb.
package store

import (
	"context"
	"errors"
	"iter"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
)

var (
	// ErrConcurrency: the aggregate gained events since the writer read it. Reload and retry.
	ErrConcurrency = errors.New("store: aggregate changed since it was read")
	// ErrClosed: the store was used after Close.
	ErrClosed = errors.New("store: closed")
	// ErrNoSpace: the store refused the event for want of storage; nothing of it was
	// written, so a retry with the same command id once there is room is safe.
	ErrNoSpace = errors.New("store: out of storage")
)

// Appended is what the store says about an append.
type Appended struct {
	// Sequence is the event's position in the ledger's total order: greater than 0 and
	// strictly increasing, not necessarily dense (JetStream: the stream sequence;
	// EventStoreDB: the $all commit position, a log offset).
	Sequence uint64
	// Duplicate is true when the command id had been stored already; Sequence is then
	// the position of the earlier copy and nothing new was written.
	Duplicate bool
	// Recorded is the time the store recorded the event at Sequence (JetStream: the
	// stream's timestamp; EventStoreDB: its commit time), in UTC: the earlier copy's for a
	// Duplicate. What a receipt names, with Stored.
	Recorded time.Time
	// Stored is the event's bytes exactly as the store holds them (the earlier copy's for
	// a Duplicate): what a proof's leaf hashes.
	Stored []byte
}

// Store is the port. Consumers declare the subset they use.
type Store interface {
	// Append stores one event if the aggregate's last event is still at expectedLast (the
	// Sequence of its last event; 0 for a new aggregate), otherwise it returns ErrConcurrency. The
	// envelope's CommandID makes a retried append idempotent.
	Append(ctx context.Context, env events.Envelope, expectedLast uint64) (Appended, error)
	// Load returns every event of one aggregate in order.
	Load(ctx context.Context, aggregateType, id string) ([]events.Recorded, error)
	// Read yields the events at positions from from (0 or 1 = the start) to the last one
	// stored when the iteration begins, in order. To resume, pass one past the last
	// Sequence seen; other values are adapter-defined (store/esdb may fail the read).
	Read(ctx context.Context, from uint64) iter.Seq2[events.Recorded, error]
	Close() error
}

// Entry is one event to append and its aggregate's expected last sequence.
type Entry struct {
	Envelope     events.Envelope
	ExpectedLast uint64
}

// Outcome is the store's answer to one entry of a batch.
type Outcome struct {
	Appended
	Err error
}

var aggregateTypePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ValidateAggregate is every adapter's rule for the names it builds from an aggregate: a
// plain lowercase type, and the id as a canonical UUID, so that one aggregate has exactly one
// subject or stream name ("{…}", "urn:uuid:…" and upper case all parse as UUIDs) and no
// wildcard, dot or space reaches one.
func ValidateAggregate(aggregateType, id string) error {
	if !aggregateTypePattern.MatchString(aggregateType) {
		return events.Invalid("aggregatetype", "%q is not a lowercase aggregate name", aggregateType)
	}
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return events.Invalid("subject", "%q is not a canonical lowercase UUID", id)
	}
	return nil
}
