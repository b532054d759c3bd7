// Package projections holds the read models: pure folds over recorded events, and the runner
// that feeds them from a store.
package projections

import (
	"context"
	"fmt"
	"iter"

	"github.com/complianceledger/ledger/events"
)

// Source is what the runner needs from a store.
type Source interface {
	Read(ctx context.Context, from uint64) iter.Seq2[events.Recorded, error]
}

// Projection folds events into a view. Apply must be deterministic and do no I/O.
type Projection interface {
	// Handles reports whether the view reads events of this name; the runner decodes a
	// payload only when some view wants it.
	Handles(eventName string) bool
	Apply(rec events.Recorded, e events.Event)
}

// Replay feeds every event from sequence from onwards to the views, decoding each payload
// once, and returns the last sequence applied (0 if none).
func Replay(ctx context.Context, src Source, from uint64, views ...Projection) (uint64, error) {
	var last uint64
	for rec, err := range src.Read(ctx, from) {
		if err != nil {
			return last, fmt.Errorf("projections: replay after sequence %d: %w", last, err)
		}
		if err := Feed(rec, views...); err != nil {
			return last, err
		}
		last = rec.Sequence
	}
	return last, nil
}

// Feed hands one recorded event to the views that want it.
func Feed(rec events.Recorded, views ...Projection) error {
	k, err := rec.Kind()
	if err != nil {
		return fmt.Errorf("projections: sequence %d: %w", rec.Sequence, err)
	}
	var e events.Event
	for _, v := range views {
		if !v.Handles(k.Name) {
			continue
		}
		if e == nil {
			if e, err = rec.Payload(); err != nil {
				return fmt.Errorf("projections: sequence %d: %w", rec.Sequence, err)
			}
		}
		v.Apply(rec, e)
	}
	return nil
}
