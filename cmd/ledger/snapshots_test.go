package main

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/projections/projectiontest"
	"github.com/complianceledger/ledger/store/jetstream"
)

// openStore opens an embedded JetStream ledger in dir with interval fsync (test data).
func openStore(t *testing.T, dir string) *jetstream.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := jetstream.Open(ctx, jetstream.Config{DataDir: filepath.Join(dir, "jetstream"), SyncInterval: time.Minute})
	if err != nil {
		t.Fatalf("jetstream.Open: %v", err)
	}
	return s
}

// appender appends a generated history to a store, event by event, with the aggregate's
// last sequence as the concurrency check.
type appender struct {
	t    *testing.T
	s    *jetstream.Store
	h    []projectiontest.Event
	n    int
	last map[string]uint64
}

func (a *appender) grow(n int) {
	a.t.Helper()
	for ; a.n < n; a.n++ {
		env := a.h[a.n].Envelope
		got, err := a.s.Append(context.Background(), env, a.last[env.Subject])
		if err != nil {
			a.t.Fatalf("append event %d: %v", a.n+1, err)
		}
		a.last[env.Subject] = got.Sequence
	}
}

func TestSnapshotPlusReplayEqualsFullReplayOnJetStream(t *testing.T) {
	t.Parallel()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	s := openStore(t, t.TempDir())
	defer s.Close()
	h := projectiontest.RandomHistory(rng, 250+rng.IntN(100))
	a := &appender{t: t, s: s, h: h, last: map[string]uint64{}}
	projectiontest.Check(t, rng, projectiontest.Setup{
		Source:     s,
		Snapshots:  snapshotBucket{s},
		Grow:       a.grow,
		History:    h,
		Every:      uint64(20 + rng.IntN(60)),
		AsOfPoints: 15,
	})
}

func TestARestartResumesFromTheSnapshotAndReplaysOnlyNewEvents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 3))
	h := projectiontest.RandomHistory(rng, 230)
	last, appended := map[string]uint64{}, 0
	run := func(n int) (projections.RunStats, []projections.Named) {
		s := openStore(t, dir) // a new process: the store reopened, the views fresh
		defer s.Close()
		(&appender{t: t, s: s, h: h, n: appended, last: last}).grow(n)
		appended = n
		views := projectiontest.Views()
		stats, err := (&projections.Runner{Source: s, Snapshots: snapshotBucket{s}, Every: 64}).Run(context.Background(), projections.AsOf{}, views...)
		if err != nil {
			t.Fatal(err)
		}
		return stats, views
	}
	if stats, _ := run(200); stats.Read != 200 || stats.Last != 200 {
		t.Fatalf("first run read %d events up to %d; want 200 up to 200", stats.Read, stats.Last)
	}
	stats, views := run(230)
	if stats.Read != 30 || stats.From != 201 || stats.Last != 230 {
		t.Errorf("after the restart: read %d events from %d up to %d; want 30 from 201 up to 230", stats.Read, stats.From, stats.Last)
	}
	for name, seq := range stats.Restored {
		if seq != 200 {
			t.Errorf("%s resumed from %d, want 200", name, seq)
		}
	}
	want := projectiontest.Views()
	src := projectiontest.Recorded(h)
	for _, r := range src {
		for _, v := range want {
			if err := projections.Feed(r, v.View); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !bytes.Equal(projectiontest.Render(views), projectiontest.Render(want)) {
		t.Error("views resumed after the restart differ from a full replay")
	}
}

func TestRebuildEqualsIncrementalAndReportsAsOfUseSnapshots(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	h := projectiontest.RandomHistory(rng, 300)
	last := map[string]uint64{}
	s := openStore(t, dir)
	(&appender{t: t, s: s, h: h, last: last}).grow(300)
	s.Close()

	reportAt := func(asOf string) (string, string) {
		t.Helper()
		out, stderr, err := ledgerRun(t, dir, "", "report", "transparency", "--period", "2024", "--format", "csv", "--as-of", asOf, "-v")
		if err != nil {
			t.Fatalf("report --as-of %s: %v\n%s", asOf, err, stderr)
		}
		return out, stderr
	}
	before, _ := reportAt("170") // no snapshot yet: a full replay stopped at 170
	out := mustRun(t, dir, "", "rebuild", "all", "--every", "50")
	views := projections.SnapshotViewNames()
	for _, view := range views {
		if !strings.Contains(out, view) || strings.Contains(out, "DIFFERS") {
			t.Errorf("rebuild output does not say %s is identical:\n%s", view, out)
		}
	}
	if got := strings.Count(out, "identical to the incremental view"); got != len(views) {
		t.Errorf("rebuild said identical %d times, want %d:\n%s", got, len(views), out)
	}
	after, log := reportAt("170")
	if after != before {
		t.Errorf("report as of 170 from snapshots:\n%s\nwant (full replay):\n%s", after, before)
	}
	// The snapshot at 150, or an older one if a busy machine timed a write or a read out
	// (logged, and the figures the same).
	if !strings.Contains(log, "resuming from snapshot") || !strings.Contains(log, "transparency/transparency.v3@") {
		t.Errorf("the report as of 170 did not start from a snapshot:\n%s", log)
	} else if !strings.Contains(log, "transparency/transparency.v3@150") {
		t.Logf("the report as of 170 started from an older snapshot than 150:\n%s", log)
	}
	// A second rebuild finds the snapshots the first one saved, drops and replays again.
	if out := mustRun(t, dir, "", "rebuild", "telegram"); !strings.Contains(out, "identical") || strings.Contains(out, "Dropped 0 ") {
		t.Errorf("second rebuild:\n%s", out)
	}
}

func TestADamagedSnapshotInTheBucketIsSkippedWithALogLine(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	rng := rand.New(rand.NewPCG(9, 9))
	h := projectiontest.RandomHistory(rng, 120)
	(&appender{t: t, s: s, h: h, last: map[string]uint64{}}).grow(120)
	bucket := snapshotBucket{s}
	var log bytes.Buffer
	r := &projections.Runner{Source: s, Snapshots: bucket, Every: 50, Logger: slog.New(slog.NewTextHandler(&log, nil))}
	want := projectiontest.Views()
	if _, err := r.Run(context.Background(), projections.AsOf{}, want...); err != nil {
		t.Fatal(err)
	}
	// Overwrite the telegram tail (sequence 120) with other bytes under the same name.
	infos, err := bucket.ListSnapshots(context.Background(), "telegram")
	if err != nil {
		t.Fatal(err)
	}
	damaged := false
	for _, info := range infos {
		if info.Sequence == 120 {
			data, err := bucket.LoadSnapshot(context.Background(), info)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0x55
			if err := bucket.SaveSnapshot(context.Background(), info, data); err != nil {
				t.Fatal(err)
			}
			damaged = true
		}
	}
	if !damaged {
		t.Fatalf("no telegram snapshot at 120 in %v", infos)
	}
	got := projectiontest.Views()
	stats, err := r.Run(context.Background(), projections.AsOf{}, got...)
	if err != nil {
		t.Fatal(err)
	}
	// The views share the fact index, so they all resume from the one position before.
	if stats.Restored["telegram"] != 100 || stats.Restored["requests"] != 100 {
		t.Errorf("restored from %v; want every view from 100 (the position before the damaged snapshot)", stats.Restored)
	}
	if !strings.Contains(log.String(), "ignoring unreadable snapshot") || !strings.Contains(log.String(), "telegram/telegram.v3@120") {
		t.Errorf("no log line names the damaged snapshot:\n%s", log.String())
	}
	if !bytes.Equal(projectiontest.Render(got), projectiontest.Render(want)) {
		t.Error("figures after skipping the damaged snapshot differ")
	}
}
