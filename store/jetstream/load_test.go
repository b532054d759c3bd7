package jetstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
)

// TestALoadCutShortByItsDeadlineFails: a direct batch get whose answers do not arrive in
// time ends its iteration without an error; Load must then fail, not return the events seen
// so far (none, here) as the aggregate's whole history, which the rules would then judge.
func TestALoadCutShortByItsDeadlineFails(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	id := uuid.NewString()
	mustAppend(t, s, received(t, id), 0)
	if recs := mustLoad(t, s, id); len(recs) != 1 {
		t.Fatalf("loaded %d events, want 1", len(recs))
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	recs, err := s.Load(ctx, events.AggregateRequest, id)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load past its deadline returned %d events and %v; want context.DeadlineExceeded", len(recs), err)
	}
}
