package projections_test

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/projections/projectiontest"
)

// growingSource is a fake stream that holds the first n events of a history.
type growingSource struct {
	all []events.Recorded
	n   int
}

func (g *growingSource) Read(ctx context.Context, from uint64) iter.Seq2[events.Recorded, error] {
	return (&sliceSource{recs: g.all[:g.n]}).Read(ctx, from)
}

func TestSnapshotPlusReplayEqualsFullReplayForRandomHistories(t *testing.T) {
	t.Parallel()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	histories := 40
	if raceDetector { // the race detector makes each history ~9x slower; the seed varies per run
		histories = 10
	}
	for i := range histories {
		h := projectiontest.RandomHistory(rng, rng.IntN(300))
		src := &growingSource{all: projectiontest.Recorded(h)}
		projectiontest.Check(t, rng, projectiontest.Setup{
			Source:     src,
			Snapshots:  &projections.MemorySnapshots{},
			Grow:       func(n int) { src.n = n },
			History:    h,
			Every:      uint64(1 + rng.IntN(60)),
			AsOfPoints: 20,
		})
		if t.Failed() {
			t.Fatalf("history %d of seed %d", i, seed)
		}
	}
}

// runAll runs fresh instances of every view over src with the store, logging into log.
func runAll(t *testing.T, src projections.Source, snaps projections.SnapshotStore, log *bytes.Buffer) ([]projections.Named, projections.RunStats) {
	t.Helper()
	views := projectiontest.Views()
	r := &projections.Runner{Source: src, Snapshots: snaps, Every: 50, Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	stats, err := r.Run(context.Background(), projections.AsOf{}, views...)
	if err != nil {
		t.Fatal(err)
	}
	return views, stats
}

// renamedVersion is a view whose code changed: same state, another version.
type renamedVersion struct{ *projections.Telegram }

func (renamedVersion) SnapshotVersion() string { return "telegram.v3-test" }

func TestASnapshotOfAnotherCodeVersionIsIgnoredAndTheViewRebuilt(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	src := &sliceSource{recs: projectiontest.Recorded(projectiontest.RandomHistory(rng, 120))}
	snaps := &projections.MemorySnapshots{}
	var log bytes.Buffer
	want, _ := runAll(t, src, snaps, &log)

	v2 := renamedVersion{projections.NewTelegram()}
	r := &projections.Runner{Source: src, Snapshots: snaps, Every: 50, Logger: slog.New(slog.NewTextHandler(&log, nil))}
	stats, err := r.Run(context.Background(), projections.AsOf{}, projections.Named{Name: "telegram", View: v2})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Restored["telegram"] != 0 || stats.Read != 120 {
		t.Errorf("restored from %d and read %d events; want 0 and all 120", stats.Restored["telegram"], stats.Read)
	}
	if !strings.Contains(log.String(), "ignoring snapshots of another code version") || !strings.Contains(log.String(), "version=telegram.v3") {
		t.Errorf("no log line names the ignored version:\n%s", log.String())
	}
	i := slices.IndexFunc(want, func(n projections.Named) bool { return n.Name == "telegram" })
	got := projectiontest.Render([]projections.Named{{Name: "telegram", View: v2.Telegram}})
	if !bytes.Equal(got, projectiontest.Render(want[i:i+1])) {
		t.Errorf("rebuilt view differs:\n%s\nwant:\n%s", got, projectiontest.Render(want[i:i+1]))
	}
	// The next run of v2 resumes from its own snapshot.
	stats, err = r.Run(context.Background(), projections.AsOf{}, projections.Named{Name: "telegram", View: renamedVersion{projections.NewTelegram()}})
	if err != nil || stats.Restored["telegram"] != 120 || stats.Read != 0 {
		t.Errorf("second run of v2: restored %d, read %d, err %v; want 120, 0, nil", stats.Restored["telegram"], stats.Read, err)
	}
}

func TestACorruptSnapshotIsSkippedWithALogLineAndTheFiguresStayRight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		corrupt func([]byte) []byte
	}{
		{"flipped byte in the state", func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/3] ^= 0xff; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
		{"empty", func([]byte) []byte { return nil }},
		{"garbage", func([]byte) []byte { return []byte("not a snapshot at all") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(11, 11))
			src := &sliceSource{recs: projectiontest.Recorded(projectiontest.RandomHistory(rng, 130))}
			snaps := &projections.MemorySnapshots{}
			var log bytes.Buffer
			want, _ := runAll(t, src, snaps, &log)
			// Damage every view's newest snapshot (the tail at 130); the one at 100 remains.
			infos := map[string]projections.SnapshotInfo{}
			for _, v := range want {
				list, _ := snaps.ListSnapshots(context.Background(), v.Name)
				for _, info := range list {
					if info.Sequence == 130 {
						infos[v.Name] = info
						snaps.Corrupt(info, tc.corrupt)
					}
				}
			}
			if len(infos) != len(want) {
				t.Fatalf("found tails %v, want one per view", infos)
			}
			log.Reset()
			got, stats := runAll(t, src, snaps, &log)
			for _, v := range want {
				if stats.Restored[v.Name] != 100 {
					t.Errorf("%s resumed from %d, want 100 (the snapshot before the corrupt one)", v.Name, stats.Restored[v.Name])
				}
			}
			if !strings.Contains(log.String(), "ignoring unreadable snapshot") || !strings.Contains(log.String(), "@130") {
				t.Errorf("no log line names the corrupt snapshot:\n%s", log.String())
			}
			if !bytes.Equal(projectiontest.Render(got), projectiontest.Render(want)) {
				t.Error("figures after skipping the corrupt snapshot differ")
			}
		})
	}
}

// The fact index keeps the intake fields the views read (projections/facts). A field added
// to RequestReceived, or to the types it holds, must be considered there, and facts.Version
// bumped if the index keeps it; this test is the reminder.
func TestFactIndexConsidersEveryIntakeField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v      any
		fields int
	}{
		{events.RequestReceived{}, 9},
		{events.Authority{}, 3},
		{events.Target{}, 2},
		{events.DSAOrder{}, 4},
		{events.EEvidenceOrder{}, 1},
	} {
		if got := reflect.TypeOf(tc.v).NumField(); got != tc.fields {
			t.Errorf("%T has %d fields; the fact index was written for %d: update projections/facts and bump facts.Version", tc.v, got, tc.fields)
		}
	}
}

func FuzzUnmarshalSnapshotNeverPanics(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := &sliceSource{recs: projectiontest.Recorded(projectiontest.RandomHistory(rng, 60))}
	views := projectiontest.Views()
	if _, err := (&projections.Runner{Source: src}).Run(context.Background(), projections.AsOf{}, views...); err != nil {
		f.Fatal(err)
	}
	for _, v := range views {
		data, _ := v.View.MarshalSnapshot()
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range projectiontest.Views() {
			if err := v.View.UnmarshalSnapshot(data); err == nil {
				v.View.MarshalSnapshot() // whatever decodes is a usable view
			}
		}
	})
}

func TestSnapshotsOfAnotherStreamAreRefused(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(13, 13))
	snaps := &projections.MemorySnapshots{}
	var log bytes.Buffer
	runAll(t, &sliceSource{recs: projectiontest.Recorded(projectiontest.RandomHistory(rng, 80))}, snaps, &log)
	for _, tc := range []struct {
		name string
		n    int
	}{{"a replaced stream, longer", 120}, {"a replaced stream, shorter", 40}} {
		other := &sliceSource{recs: projectiontest.Recorded(projectiontest.RandomHistory(rng, tc.n))}
		_, err := (&projections.Runner{Source: other, Snapshots: snaps, Every: 50}).Run(context.Background(), projections.AsOf{}, projectiontest.Views()...)
		if !errors.Is(err, projections.ErrSnapshotMismatch) {
			t.Errorf("%s: run = %v, want ErrSnapshotMismatch", tc.name, err)
		}
	}
}
