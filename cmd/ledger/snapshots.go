package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/store/jetstream"
)

// snapshotBucket gives the runner the JetStream adapter's snapshot bucket; the adapter does
// not import projections, and the two describe a snapshot with the same fields.
type snapshotBucket struct{ js *jetstream.Store }

func (b snapshotBucket) SaveSnapshot(ctx context.Context, info projections.SnapshotInfo, data []byte) error {
	return b.js.SaveSnapshot(ctx, jetstream.SnapshotRef(info), data)
}

func (b snapshotBucket) ListSnapshots(ctx context.Context, view string) ([]projections.SnapshotInfo, error) {
	refs, err := b.js.ListSnapshots(ctx, view)
	out := make([]projections.SnapshotInfo, len(refs))
	for i, r := range refs {
		out[i] = projections.SnapshotInfo(r)
	}
	return out, err
}

func (b snapshotBucket) LoadSnapshot(ctx context.Context, info projections.SnapshotInfo) ([]byte, error) {
	return b.js.LoadSnapshot(ctx, jetstream.SnapshotRef(info))
}

func (b snapshotBucket) DeleteSnapshot(ctx context.Context, info projections.SnapshotInfo) error {
	return b.js.DeleteSnapshot(ctx, jetstream.SnapshotRef(info))
}

// snapshots returns where the ledger keeps the views' snapshots; nil where the backend keeps
// none (esdb), and every run then replays from the start.
func (l *ledger) snapshots() projections.SnapshotStore {
	if js, ok := l.store.(*jetstream.Store); ok {
		return snapshotBucket{js}
	}
	return nil
}

// runner feeds views from the ledger, resuming from and saving snapshots, and shows its
// progress on stderr if that is a terminal.
func (l *ledger) runner() *projections.Runner {
	replayGC()
	return &projections.Runner{Source: l.store, Snapshots: l.snapshots(), Logger: l.log, Progress: l.sequenceMeter("replay")}
}

// replayGC sets the collector for a command that replays: the views (and the embedded
// server's caches) make a large live heap while decoding allocates fast, and with the
// default GOGC of 100 the collector took about a third of the CPU of a rebuild at a million
// events. GOGC 400 trades memory for it, capped by a soft limit of 4 GiB above which the
// collector works harder again (without it a benchmark process grew to 14 GB); see
// BENCHMARKS.md. GOGC or GOMEMLIMIT in the environment overrides both.
func replayGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(replayGOGC)
	debug.SetMemoryLimit(replayMemoryLimit)
}

const (
	replayGOGC        = 400
	replayMemoryLimit = 4 << 30
)
