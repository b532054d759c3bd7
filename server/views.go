package server

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/complianceledger/ledger/deadline"
	"github.com/complianceledger/ledger/projections"
)

// views are the read models kept warm: brought to the end of the stream at start from their
// snapshots, then the stream followed from the last applied event, woken by every command
// this server records and by a poll for events written elsewhere (another `ledger serve`,
// `ledger submit`).
type views struct {
	src    Store
	runner *projections.Runner
	poll   time.Duration
	log    *slog.Logger
	// progress is told how far the first replay (start) has gone; nil: nothing.
	progress func(applied uint64, finished bool)

	mu       sync.RWMutex // guards the views below while an event is applied
	reports  map[string]projections.ReportView
	workload *projections.Workload
	// deadlines holds the deadline clocks and fraud flags (package deadline).
	deadlines *deadline.Book
	pos       projections.Position // where the views stand (guarded by mu)
	saved     uint64               // the position of their last snapshot (guarded by mu)

	applied atomic.Uint64 // last sequence applied
	known   atomic.Uint64 // highest stream sequence known to exist
	ready   atomic.Bool   // the first replay finished

	wake   chan struct{} // buffered 1: "look again soon" (a command was recorded)
	urgent chan struct{} // buffered 1: "look again now" (a query waits)

	advMu    sync.Mutex
	advanced chan struct{} // closed and replaced whenever applied moves
}

func newViews(src Store, runner *projections.Runner, poll time.Duration, log *slog.Logger) *views {
	v := &views{
		src: src, runner: runner, poll: poll, log: log,
		reports:  map[string]projections.ReportView{},
		workload: projections.NewWorkload(),
		wake:     make(chan struct{}, 1),
		urgent:   make(chan struct{}, 1),
		advanced: make(chan struct{}),
	}
	v.reset()
	return v
}

// reset makes every view empty.
func (v *views) reset() {
	for _, name := range projections.ReportViewNames() {
		v.reports[name], _ = projections.NewReportView(name)
	}
	v.workload = projections.NewWorkload()
	v.deadlines = deadline.NewBook()
	projections.ShareIndex(v.named()...) // snapshotted together, they read one fact index
	v.pos, v.saved = projections.Position{}, 0
	v.applied.Store(0)
}

// named lists the views under their snapshot names.
func (v *views) named() []projections.Named {
	named := []projections.Named{{Name: "workload", View: v.workload}, {Name: "deadlines", View: v.deadlines}}
	for name, r := range v.reports {
		named = append(named, projections.Named{Name: name, View: r})
	}
	return named
}

// snapshot saves the views where they stand, unless a snapshot of that position exists; the
// caller holds mu.
func (v *views) snapshot(ctx context.Context) {
	if v.pos.Sequence <= v.saved {
		return
	}
	named := v.named()
	n := v.runner.Save(ctx, v.pos, named...)
	if n < len(named) { // the failures are logged; the next mark, or the stop, tries again
		return
	}
	v.saved = v.pos.Sequence
	v.log.Info("views: snapshots saved", "sequence", v.pos.Sequence, "saved", n)
}

// snapshotEvery is how far the views advance between two snapshots while they follow.
func (v *views) snapshotEvery() uint64 {
	return cmp.Or(v.runner.Every, projections.DefaultSnapshotEvery)
}

// start brings the views to the end of the stream from their snapshots, so that a restart
// reads only what was recorded since, and saves fresh snapshots. If that fails (a snapshot
// of another stream, say), the views start empty and catchUp replays everything.
func (v *views) start(ctx context.Context) {
	v.mu.Lock()
	defer v.mu.Unlock()
	runner := *v.runner // this run only shows its progress; as-of queries and saves do not
	runner.Progress = v.progress
	began := time.Now()
	stats, err := runner.Run(ctx, projections.AsOf{}, v.named()...)
	if err != nil {
		v.log.Warn("views: starting from snapshots failed; replaying from the first event", "err", err)
		v.reset()
		return
	}
	took := time.Since(began)
	v.log.Info("views: started", "restored", stats.Restored, "replayed", stats.Read, "applied", stats.Last,
		"seconds", took.Round(time.Millisecond).Seconds(), "events_per_second", int(float64(stats.Read)/max(took.Seconds(), 1e-9)))
	v.applied.Store(stats.Last)
	v.saw(stats.Last)
	// Run saved the tail; a later snapshot goes on from where it stands.
	v.pos, v.saved = stats.At, stats.Last
}

// stop saves the views where they stand, so that the next start replays nothing; ctx has
// ended, so the save gets a bounded context of its own.
func (v *views) stop(ctx context.Context) error {
	save, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	v.mu.Lock()
	v.snapshot(save)
	v.mu.Unlock()
	return ctx.Err()
}

// run follows the stream until ctx ends, then saves snapshots.
func (v *views) run(ctx context.Context) error {
	v.start(ctx)
	v.signal()
	tick := time.NewTicker(v.poll)
	defer tick.Stop()
	for {
		if err := v.catchUp(ctx); err != nil {
			if ctx.Err() != nil {
				return v.stop(ctx)
			}
			v.log.Warn("views: following the stream", "err", err, "applied", v.applied.Load())
		} else if !v.ready.Load() {
			// The start's garbage (snapshot bytes, decoded batches: several times the views'
			// size) goes back to the system now rather than over minutes.
			debug.FreeOSMemory()
			v.ready.Store(true)
			v.log.Info("views: replayed", "applied", v.applied.Load())
		}
		select {
		case <-ctx.Done():
			return v.stop(ctx)
		case <-v.urgent:
		case <-tick.C:
		case <-v.wake:
			// Gather the commands of the next moment into one read: each read costs the
			// server a consumer, and nobody waits for these events yet.
			select {
			case <-time.After(settle):
			case <-v.urgent:
			case <-ctx.Done():
				return v.stop(ctx)
			}
		}
	}
}

// settle is how long the follower lets recorded commands gather before reading them.
const settle = 50 * time.Millisecond

// catchUp applies every event after the last applied one.
func (v *views) catchUp(ctx context.Context) error {
	if ls, ok := v.src.(LastSequencer); ok {
		last, err := ls.LastSequence(ctx)
		if err != nil {
			return err
		}
		v.saw(last)
		if last <= v.applied.Load() {
			return nil
		}
	}
	all := make([]projections.Projection, 0, len(v.reports)+1)
	for _, r := range v.reports {
		all = append(all, r)
	}
	all = append(all, v.workload, v.deadlines)
	for rec, err := range v.src.Read(ctx, v.applied.Load()+1) {
		if err != nil {
			return err
		}
		v.mu.Lock()
		err := projections.Feed(rec, all...)
		if err == nil {
			v.applied.Store(rec.Sequence)
			v.pos.Sequence, v.pos.EventID = rec.Sequence, rec.ID
			if rec.RecordedAt.After(v.pos.RecordedAt) {
				v.pos.RecordedAt = rec.RecordedAt
			}
			if every := v.snapshotEvery(); v.pos.Sequence/every > v.saved/every {
				v.snapshot(ctx)
			}
		}
		v.mu.Unlock()
		if err != nil {
			return err
		}
		v.saw(rec.Sequence)
		v.signal()
	}
	return nil
}

func (v *views) signal() {
	v.advMu.Lock()
	close(v.advanced)
	v.advanced = make(chan struct{})
	v.advMu.Unlock()
}

// saw records that the stream holds at least seq.
func (v *views) saw(seq uint64) {
	for {
		k := v.known.Load()
		if seq <= k || v.known.CompareAndSwap(k, seq) {
			return
		}
	}
}

// kick asks the follower to look again soon.
func (v *views) kick() { signalOn(v.wake) }

func signalOn(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (v *views) lag() uint64 {
	k, a := v.known.Load(), v.applied.Load()
	if k < a {
		return 0
	}
	return k - a
}

// errNotCurrent: the views did not reach a sequence in time.
var errNotCurrent = errors.New("server: views are behind")

// waitFor waits until the views include seq, so that a caller reads what this server
// acknowledged before (read-your-writes).
func (v *views) waitFor(ctx context.Context, seq uint64) error {
	for v.applied.Load() < seq {
		v.advMu.Lock()
		ch := v.advanced
		v.advMu.Unlock()
		if v.applied.Load() >= seq {
			return nil
		}
		signalOn(v.urgent)
		select {
		case <-ch:
		case <-ctx.Done():
			return errNotCurrent
		}
	}
	return nil
}

// current waits (briefly) until the views include everything this server knows is in the
// stream, then calls fn with them under the read lock; last is the sequence they include.
func (v *views) current(ctx context.Context, fn func(last uint64)) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// The first replay holds the lock for as long as it takes: wait for it within the same
	// bound, and answer "not yet" rather than hang on the lock.
	for !v.ready.Load() {
		select {
		case <-ctx.Done():
			return errNotCurrent
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := v.waitFor(ctx, v.known.Load()); err != nil {
		return err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	fn(v.applied.Load())
	return nil
}
