package projections

import (
	"fmt"
	"math"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections/columnar"
	"github.com/complianceledger/ledger/projections/facts"
)

// Snapshot versions of the views. Bump a view's version whenever its Apply or its columns
// change meaning; the runner then ignores the old snapshots and rebuilds the view.
const (
	telegramVersion     = "telegram.v3"
	requestsVersion     = "requests.v3"
	transparencyVersion = "transparency.v3"
	workloadVersion     = "workload.v2"
	dsaVersion          = "dsa.v3"
	eevidenceVersion    = "eevidence.v4"
)

// IndexName is the name the fact index's snapshots are kept under, beside the views'.
const IndexName = "index"

// indexed is a view that reads the fact index: every view of this package. Each new view
// has an index of its own; the runner makes the views of one run share one, which it feeds
// first and snapshots once.
type indexed interface {
	facts() *facts.Index
	useFacts(*facts.Index)
	rows() int // requests the view keeps a row for: the index's, once both stand at one point
}

// base is what every view holds besides its own columns: the index it reads.
type base struct{ ix *facts.Index }

func newBase() base                      { return base{ix: facts.New()} }
func (b *base) facts() *facts.Index      { return b.ix }
func (b *base) useFacts(ix *facts.Index) { b.ix = ix }

// Check reports an event the view's index cannot apply (facts.ErrUnappliable).
func (b *base) Check(rec events.Recorded, e events.Event) error { return b.ix.Check(rec, e) }

// checker is a view that can refuse an event before it is applied: every replay path asks,
// so that no recorded event is silently skipped.
type checker interface {
	Check(rec events.Recorded, e events.Event) error
}

// received hands e to the index and, for a RequestReceived, returns the request's id and
// true: the view then starts the request's row.
func (b *base) received(rec events.Recorded, e events.Event) (facts.ID, bool) {
	b.ix.Apply(rec, e)
	if _, ok := e.(*events.RequestReceived); !ok {
		return 0, false
	}
	id, _ := b.ix.Lookup(rec.Subject)
	return id, true
}

// row returns the id of the request rec is about, if the view has a row for it (n rows).
func (b *base) row(rec events.Recorded, n int) (facts.ID, bool) {
	id, ok := b.ix.Lookup(rec.Subject)
	return id, ok && int(id) < n
}

// grow makes col long enough for id, filling with zero.
func grow[T any](col []T, id facts.ID, zero T) []T {
	for len(col) <= int(id) {
		col = append(col, zero)
	}
	return col
}

// nanos is a range in Unix nanoseconds, saturated at the ends of int64.
type nanos struct{ from, to int64 }

func nanosOf(r Range) nanos { return nanos{unixNano(r.From), unixNano(r.To)} }

func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64+1)):
		return math.MinInt64 + 1
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func (n nanos) contains(t int64) bool { return t != facts.NoTime && t >= n.from && t < n.to }

// unmarshalColumns decodes a view's columns; lengths lists the lengths that must be equal
// once decoded (a view's rows, one per request).
func unmarshalColumns(data []byte, view string, columns []any, lengths func() []int) error {
	if err := columnar.Unmarshal(data, columns...); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSnapshotCorrupt, view, err)
	}
	for _, n := range lengths() {
		if n != lengths()[0] {
			return fmt.Errorf("%w: %s: columns of unequal lengths", ErrSnapshotCorrupt, view)
		}
	}
	return nil
}
