package jetstream

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store"
)

// LoadType returns every event of every aggregate of one type in stream order, with direct
// batch gets on the subjects of that type: for the few aggregates that are listed whole
// (published reports), never for requests.
func (s *Store) LoadType(ctx context.Context, aggregateType string) ([]events.Recorded, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	// The type goes into a subject filter: check it as a Load would (any id will do).
	if err := store.ValidateAggregate(aggregateType, uuid.Nil.String()); err != nil {
		return nil, fmt.Errorf("jetstream: load type: %w", err)
	}
	recs, err := s.load(ctx, AggregateFilter(aggregateType, "*"))
	if err != nil {
		return nil, fmt.Errorf("jetstream: load type %s: %w", aggregateType, err)
	}
	return recs, nil
}
