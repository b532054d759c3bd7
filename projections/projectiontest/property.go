package projectiontest

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

// T is the part of testing.TB that Check uses; this package does not import testing, so
// that 'ledger bench' can use its generator.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Setup is a stream under test and where its snapshots go.
type Setup struct {
	Source    projections.Source
	Snapshots projections.SnapshotStore
	// Grow makes Source hold the first n events of History (it only ever grows).
	Grow    func(n int)
	History []Event
	Every   uint64 // snapshot interval of the runner
	// AsOfPoints is how many random as-of points to check.
	AsOfPoints int
}

// Check runs the runner's properties over one history:
//
//   - incremental equals rebuild: the views run to the end in several runs, each a fresh
//     process resuming from the snapshots the last one saved, replay only the new events,
//     and give the same bytes (every table, and the snapshot state) as a replay from the
//     start without snapshots and as the events folded straight into fresh views;
//   - as-of equals a full replay stopped there: at random stream sequences and recorded
//     times, the nearest snapshot plus a replay of fewer than Every events (the stream's sequences are dense) gives the bytes of
//     the events up to that point folded into fresh views.
func Check(t T, rng *rand.Rand, s Setup) {
	t.Helper()
	ctx := context.Background()
	n := len(s.History)
	runner := &projections.Runner{Source: s.Source, Snapshots: s.Snapshots, Every: s.Every}

	// Incremental: runs at random points of the stream's growth.
	var ends []int
	for range 1 + rng.IntN(5) {
		ends = append(ends, rng.IntN(n+1))
	}
	ends = append(ends, n)
	slices.Sort(ends)
	ends = slices.Compact(ends)
	var incremental []projections.Named
	prev := 0
	for _, end := range ends {
		s.Grow(end)
		incremental = Views()
		stats, err := runner.Run(ctx, projections.AsOf{}, incremental...)
		if err != nil {
			t.Fatalf("run to %d: %v", end, err)
		}
		if stats.Last != uint64(end) {
			t.Fatalf("run to %d: views include up to %d", end, stats.Last)
		}
		if stats.Read != end-prev {
			t.Fatalf("run to %d resumed after %d: read %d events, want %d (restored %v)", end, prev, stats.Read, end-prev, stats.Restored)
		}
		prev = end
	}

	var recs []events.Recorded
	for rec, err := range s.Source.Read(ctx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if len(recs) != n {
		t.Fatalf("source holds %d events, want %d", len(recs), n)
	}
	folded := fold(t, recs)
	if got, want := Render(incremental), Render(folded); !bytes.Equal(got, want) {
		t.Fatalf("incremental run differs from the events folded from the start:\n%s\nwant:\n%s", got, want)
	}
	rebuilt := Views()
	if _, err := (&projections.Runner{Source: s.Source}).Run(ctx, projections.AsOf{}, rebuilt...); err != nil {
		t.Fatal(err)
	}
	if got, want := Render(rebuilt), Render(incremental); !bytes.Equal(got, want) {
		t.Fatalf("rebuild differs from the incremental run:\n%s\nwant:\n%s", got, want)
	}
	for i := range rebuilt {
		a, err := rebuilt[i].View.MarshalSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		b, err := incremental[i].View.MarshalSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: rebuilt state differs from the incremental state (%d and %d bytes)", rebuilt[i].Name, len(a), len(b))
		}
	}

	// As-of: random sequences and recorded times, some between events, some before all.
	for range s.AsOfPoints {
		var point projections.AsOf
		switch i := rng.IntN(n + 1); {
		case i == n || rng.IntN(2) == 0:
			point.Sequence = uint64(max(i, 1))
		default:
			point.Time = recs[i].RecordedAt.Add(-time1(rng))
		}
		var prefix []events.Recorded
		for _, r := range recs {
			if !point.Includes(r) {
				break
			}
			prefix = append(prefix, r)
		}
		views := Views()
		stats, err := runner.Run(ctx, point, views...)
		if err != nil {
			t.Fatalf("%s: %v", point, err)
		}
		var want uint64
		if len(prefix) > 0 {
			want = prefix[len(prefix)-1].Sequence
		}
		if stats.Last != want {
			t.Errorf("%s: views include up to %d, want %d", point, stats.Last, want)
		}
		if uint64(stats.Read) >= max(s.Every, 1) {
			t.Errorf("%s: replayed %d events after the snapshots %v; want fewer than %d", point, stats.Read, stats.Restored, s.Every)
		}
		if got, want := Render(views), Render(fold(t, prefix)); !bytes.Equal(got, want) {
			t.Fatalf("%s: snapshot + replay differs from a full replay stopped there:\n%s\nwant:\n%s", point, got, want)
		}
	}
}

// time1 is 0 (exactly an event's recorded time) or up to an hour before it.
func time1(rng *rand.Rand) time.Duration {
	if rng.IntN(2) == 0 {
		return 0
	}
	return time.Duration(rng.Int64N(int64(time.Hour)))
}

// fold feeds recs into fresh views with no runner and no snapshot: the reference.
func fold(t T, recs []events.Recorded) []projections.Named {
	views := Views()
	ps := make([]projections.Projection, len(views))
	for i, v := range views {
		ps[i] = v.View
	}
	for _, r := range recs {
		if err := projections.Feed(r, ps...); err != nil {
			t.Fatal(err)
		}
	}
	return views
}
