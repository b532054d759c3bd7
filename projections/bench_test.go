package projections_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/projections/projectiontest"
)

var benchHistory = sync.OnceValue(func() []events.Recorded {
	g := projectiontest.NewGenerator(rand.New(rand.NewPCG(1, 1)), 2000)
	var h []projectiontest.Event
	for len(h) < 200_000 {
		h = append(h, g.Round()...)
	}
	return projectiontest.Recorded(h)
})

// BenchmarkRunAllViews is a rebuild of every view from envelopes already read and decoded
// (an in-memory source): what decoding payloads and applying them costs, without a store.
func BenchmarkRunAllViews(b *testing.B) {
	src := &sliceSource{recs: benchHistory()}
	b.ResetTimer()
	for b.Loop() {
		if _, err := (&projections.Runner{Source: src}).Run(context.Background(), projections.AsOf{}, projectiontest.Views()...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(src.recs))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSnapshot encodes and decodes every view's state at 200k events.
func BenchmarkSnapshot(b *testing.B) {
	src := &sliceSource{recs: benchHistory()}
	views := projectiontest.Views()
	if _, err := (&projections.Runner{Source: src}).Run(context.Background(), projections.AsOf{}, views...); err != nil {
		b.Fatal(err)
	}
	size := 0
	for b.Loop() {
		size = 0
		for _, v := range views {
			data, err := v.View.MarshalSnapshot()
			if err != nil {
				b.Fatal(err)
			}
			size += len(data)
			if err := v.View.UnmarshalSnapshot(data); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(size), "bytes")
}

// BenchmarkAsOf answers an as-of query for every view at random points of a 200k-event
// history from in-memory snapshots every 50k events: snapshot decoding plus a replay of at
// most 50k events.
func BenchmarkAsOf(b *testing.B) {
	src := &sliceSource{recs: benchHistory()}
	snaps := &projections.MemorySnapshots{}
	r := &projections.Runner{Source: src, Snapshots: snaps, Every: 50_000}
	if _, err := r.Run(context.Background(), projections.AsOf{}, projectiontest.Views()...); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		point := projections.AsOf{Sequence: 1 + rng.Uint64N(uint64(len(src.recs)))}
		if _, err := r.Run(context.Background(), point, projectiontest.Views()...); err != nil {
			b.Fatal(err)
		}
	}
}
