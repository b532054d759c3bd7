// Package projections holds the read models: pure folds over recorded events, and the runner
// that feeds them from a store.
package projections

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections/facts"
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
	return ReplayAsOf(ctx, src, from, AsOf{}, views...)
}

// ReplayAsOf is Replay stopped at a point of the ledger's history: the views then say what
// the ledger knew at that moment.
// Empty views that read the fact index share one, fed every event first.
func ReplayAsOf(ctx context.Context, src Source, from uint64, asOf AsOf, views ...Projection) (uint64, error) {
	named := make([]Named, 0, len(views))
	for _, v := range views {
		if iv, ok := v.(indexed); ok && iv.rows() == 0 && iv.facts().Len() == 0 {
			if s, ok := v.(Snapshotter); ok {
				named = append(named, Named{View: s})
			}
		}
	}
	ix := ShareIndex(named...)
	wants := wantedBy(views)
	return stream(ctx, src, from, asOf, func(name string) bool { return len(wants[name]) > 0 || ix != nil && ix.Handles(name) },
		func(rec events.Recorded, name string, e events.Event) error {
			if ix != nil {
				if err := ix.Check(rec, e); err != nil {
					return err
				}
				ix.Apply(rec, e)
			}
			for _, v := range wants[name] {
				if c, ok := v.(checker); ok {
					if err := c.Check(rec, e); err != nil {
						return err
					}
				}
				v.Apply(rec, e)
			}
			return nil
		})
}

// wantedBy lists, per event name of the catalogue, the views that read it. Asked once per
// replay, so that decoding goroutines never call a view.
func wantedBy(views []Projection) map[string][]Projection {
	wants := map[string][]Projection{}
	for _, k := range events.Catalogue() {
		for _, v := range views {
			if v.Handles(k.Name) {
				wants[k.Name] = append(wants[k.Name], v)
			}
		}
	}
	return wants
}

// ErrAsOf is returned for an as-of point that cannot be read.
var ErrAsOf = errors.New("projections: invalid as-of point")

// AsOf is a point in the ledger's history: a stream sequence, or a recorded time (when the
// ledger learnt a fact, not when it happened). The zero value is "everything so far".
type AsOf struct {
	Sequence uint64
	Time     time.Time
}

// ParseAsOf reads a stream sequence ("1500") or an RFC 3339 time ("2025-01-15T00:00:00Z").
func ParseAsOf(s string) (AsOf, error) {
	if seq, err := strconv.ParseUint(s, 10, 64); err == nil && seq > 0 {
		return AsOf{Sequence: seq}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return AsOf{}, fmt.Errorf("%w: %q: want a stream sequence (1, 2, ...) or an RFC 3339 time", ErrAsOf, s)
	}
	return AsOf{Time: t}, nil
}

// Includes reports whether the ledger knew rec at this point. The stream records in time
// order, so a replay stops at the first event it does not include.
func (a AsOf) Includes(rec events.Recorded) bool {
	switch {
	case a.Sequence > 0:
		return rec.Sequence <= a.Sequence
	case !a.Time.IsZero():
		return !rec.RecordedAt.After(a.Time)
	}
	return true
}

// String describes the point for report titles.
func (a AsOf) String() string {
	switch {
	case a.Sequence > 0:
		return fmt.Sprintf("as of sequence %d", a.Sequence)
	case !a.Time.IsZero():
		return "as recorded at " + a.Time.UTC().Format(time.RFC3339)
	}
	return ""
}

// Feed hands one recorded event to the views that want it, and to every fact index they
// read, first.
func Feed(rec events.Recorded, views ...Projection) error {
	k, err := rec.Kind()
	if err != nil {
		return fmt.Errorf("projections: sequence %d: %w", rec.Sequence, err)
	}
	var e events.Event
	var fed *facts.Index
	for _, v := range views {
		iv, ok := v.(indexed)
		if !ok || iv.facts() == fed {
			continue
		}
		fed = iv.facts()
		if e == nil && fed.Handles(k.Name) {
			if e, err = rec.Payload(); err != nil {
				return fmt.Errorf("projections: sequence %d: %w", rec.Sequence, err)
			}
		}
		if fed.Handles(k.Name) {
			if err := fed.Check(rec, e); err != nil {
				return fmt.Errorf("projections: %w", err)
			}
			fed.Apply(rec, e)
		} else {
			fed.Apply(rec, nil)
		}
	}
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
