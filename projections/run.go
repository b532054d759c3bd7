package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections/facts"
)

// DefaultSnapshotEvery is how many stream positions a view advances between two snapshots:
// an as-of query or a restart replays at most this many events after the nearest one.
const DefaultSnapshotEvery = 100_000

// ProgressEvery is how often a run tells its Progress: at every sequence that is a multiple
// of it (so the first report of a run from the start is ProgressEvery itself).
const ProgressEvery = 4096

// Runner feeds views from a source and keeps their snapshots. The views of a run share one
// fact index (projections/facts), fed first and snapshotted with them; they resume
// together from the newest position at or before the point asked where the index and each
// view have a readable snapshot of their own code version, so a restart or an as-of query
// replays only the events after it.
//
// Snapshots are saved when a view's position crosses a multiple of Every, and, after a run
// to the end of the stream, at its last position (the "tail"). Within each span of Every
// positions the oldest and the newest snapshot are kept; tails in between are deleted.
type Runner struct {
	Source    Source
	Snapshots SnapshotStore // nil: no snapshots, every run replays from the start
	Every     uint64        // 0: DefaultSnapshotEvery
	Logger    *slog.Logger  // nil: slog.Default()
	// Progress, if set, is told the last sequence applied now and then during a run, and
	// once more with finished at its end (a meter on a terminal, say).
	Progress func(applied uint64, finished bool)
}

// Named is a view and the name its snapshots are kept under.
type Named struct {
	Name string
	View Snapshotter
}

// RunStats says what a run did.
type RunStats struct {
	Last     uint64            // the last sequence the views include (0: none)
	From     uint64            // the first sequence replayed (the snapshots' own last events are read too, to check them)
	Read     int               // events read and applied
	Restored map[string]uint64 // per view, the sequence of the snapshot it started from (0: none)
	Saved    int               // snapshots written
	// At is where the views that reached Last stand (its event id, and the latest recorded
	// time among the events they hold), for an owner that goes on feeding them (Save).
	At Position
}

// viewRun is one view's progress through a run.
type viewRun struct {
	Named
	wants      map[string]bool
	every      bool      // the fact index: it sees every event, its payload only if wanted
	pos        uint64    // last sequence applied or restored
	lastID     string    // the id of the event at pos
	checked    bool      // the stream's event at pos is the snapshot's (or nothing was restored)
	recordedAt time.Time // the latest recorded time applied or restored
	saved      uint64    // sequence of the last snapshot saved or restored
}

// Run brings the views to point asOf (the zero AsOf: the end of the stream), starting each
// from its nearest snapshot, and saves snapshots on the way. A snapshot that cannot be read
// is logged and skipped; one of another code version is ignored. A failure to save a
// snapshot is logged and does not fail the run: snapshots only save time.
func (r *Runner) Run(ctx context.Context, asOf AsOf, views ...Named) (RunStats, error) {
	log, every := r.settings()
	stats := RunStats{Restored: map[string]uint64{}}
	if len(views) == 0 {
		return stats, nil
	}
	views = withIndex(views)
	runs := make([]*viewRun, len(views))
	wanted := map[string]bool{}
	for i, v := range views {
		_, isIndex := v.View.(*facts.Index)
		vr := &viewRun{Named: v, wants: map[string]bool{}, checked: true, every: isIndex}
		for _, k := range events.Catalogue() {
			if v.View.Handles(k.Name) {
				vr.wants[k.Name] = true
				wanted[k.Name] = true
			}
		}
		runs[i] = vr
	}
	if r.Snapshots != nil {
		if info, ok := r.restore(ctx, log, asOf, views); ok {
			for _, vr := range runs {
				vr.pos, vr.recordedAt, vr.saved, vr.lastID = info.Sequence, info.RecordedAt, info.Sequence, info.LastEvent
				vr.checked = info.LastEvent == ""
			}
		}
	}
	for _, vr := range runs {
		stats.Restored[vr.Name] = vr.pos
	}
	delete(stats.Restored, IndexName)
	// Every view starts where the snapshots were taken, together.
	from := runs[0].pos + 1
	stats.From = from
	// Read from the snapshots' own event, to check it is still the stream's.
	read := from
	if !runs[0].checked {
		read = runs[0].pos
	}

	saves := newSaver(ctx, r.Snapshots, log)
	defer saves.wait()
	var due []*viewRun // views to snapshot after the current event
	_, err := stream(ctx, r.Source, read, asOf, func(name string) bool { return wanted[name] },
		func(rec events.Recorded, name string, e events.Event) error {
			if rec.Sequence >= from {
				stats.Read++
			}
			due = due[:0]
			for _, vr := range runs {
				if !vr.checked && rec.Sequence >= vr.pos {
					if err := vr.check(rec); err != nil {
						return err
					}
				}
				if rec.Sequence <= vr.pos {
					continue
				}
				if vr.every || vr.wants[name] {
					if c, ok := vr.View.(checker); ok {
						if err := c.Check(rec, e); err != nil {
							return err
						}
					}
					vr.View.Apply(rec, e)
				}
				vr.pos, vr.lastID = rec.Sequence, rec.ID
				if rec.RecordedAt.After(vr.recordedAt) {
					vr.recordedAt = rec.RecordedAt
				}
				if r.Snapshots != nil && vr.pos/every > vr.saved/every {
					due = append(due, vr)
				}
			}
			if r.Progress != nil && rec.Sequence%ProgressEvery == 0 {
				r.Progress(rec.Sequence, false)
			}
			saves.save(due...)
			return nil
		})
	for _, vr := range runs {
		stats.Last = max(stats.Last, vr.pos)
	}
	if r.Progress != nil {
		r.Progress(stats.Last, true)
	}
	stats.At.Sequence = stats.Last
	for _, vr := range runs {
		if vr.pos == stats.Last {
			stats.At.EventID = vr.lastID
			if vr.recordedAt.After(stats.At.RecordedAt) {
				stats.At.RecordedAt = vr.recordedAt
			}
		}
		if err == nil && !vr.checked {
			err = fmt.Errorf("%w: view %s: the stream ends before sequence %d, the snapshot's last event", ErrSnapshotMismatch, vr.Name, vr.pos)
		}
	}
	if err != nil {
		stats.Saved = saves.wait()
		return stats, err
	}
	if r.Snapshots != nil && asOf == (AsOf{}) {
		due = due[:0]
		for _, vr := range runs {
			if vr.pos > vr.saved {
				due = append(due, vr)
			}
		}
		saves.save(due...)
		stats.Saved = saves.wait()
		r.pruneAll(ctx, log, runs, every)
	}
	stats.Saved = saves.wait()
	return stats, nil
}

func (r *Runner) settings() (*slog.Logger, uint64) {
	log, every := r.Logger, r.Every
	if log == nil {
		log = slog.Default()
	}
	if every == 0 {
		every = DefaultSnapshotEvery
	}
	return log, every
}

// Position is where views stand in the stream.
type Position struct {
	Sequence   uint64    // the last event applied
	EventID    string    // its id, which a later run checks the stream still holds
	RecordedAt time.Time // the latest recorded time among the events applied
}

// Save snapshots views that their owner fed itself up to pos (a server following the
// stream, say), so that its next start resumes there; older snapshots are pruned as Run
// prunes them. It returns how many were saved; failures are logged, as in Run.
func (r *Runner) Save(ctx context.Context, pos Position, views ...Named) int {
	if r.Snapshots == nil || pos.Sequence == 0 {
		return 0
	}
	log, every := r.settings()
	views, err := sharedIndex(views)
	if err != nil {
		log.Warn("projections: not saving snapshots", "err", err)
		return 0
	}
	runs := make([]*viewRun, len(views))
	for i, v := range views {
		runs[i] = &viewRun{Named: v, pos: pos.Sequence, lastID: pos.EventID, recordedAt: pos.RecordedAt}
	}
	saves := newSaver(ctx, r.Snapshots, log)
	saves.save(runs...)
	saved := saves.wait()
	r.pruneAll(ctx, log, runs, every)
	return saved
}

// ErrSnapshotMismatch: a view's snapshot was not built from this stream (its last event is
// not the stream's event at that sequence: the stream was replaced). Nothing is trusted;
// 'ledger rebuild' drops the snapshots and replays.
var ErrSnapshotMismatch = errors.New("projections: snapshot does not belong to this stream")

// check compares the stream's first event at or after the view's snapshot position with the
// snapshot's last event.
func (vr *viewRun) check(rec events.Recorded) error {
	vr.checked = true
	if rec.Sequence != vr.pos || rec.ID != vr.lastID {
		return fmt.Errorf("%w: view %s: its snapshot ends with event %s at sequence %d; the stream holds %s at %d (run 'ledger rebuild %s')",
			ErrSnapshotMismatch, vr.Name, vr.lastID, vr.pos, rec.ID, rec.Sequence, vr.Name)
	}
	return nil
}

// restore loads into every view its snapshot of the newest position at or before asOf at
// which each of them, of its own code version, has a readable one: the views share the
// fact index, which must stand where they stand.
func (r *Runner) restore(ctx context.Context, log *slog.Logger, asOf AsOf, views []Named) (SnapshotInfo, bool) {
	byView := make([]map[uint64]SnapshotInfo, len(views))
	var common []SnapshotInfo // the first view's snapshots at positions every view has
	listed := make([][]SnapshotInfo, len(views))
	listErrs := make([]error, len(views))
	var lists sync.WaitGroup
	for i, v := range views {
		lists.Go(func() { listed[i], listErrs[i] = r.Snapshots.ListSnapshots(ctx, v.Name) })
	}
	lists.Wait()
	for i, v := range views {
		infos, err := listed[i], listErrs[i]
		if err != nil {
			log.Warn("projections: cannot list snapshots; replaying from the start", "view", v.Name, "err", err)
			return SnapshotInfo{}, false
		}
		version := v.View.SnapshotVersion()
		byView[i] = map[uint64]SnapshotInfo{}
		others := map[string]int{}
		for _, info := range infos {
			switch {
			case info.Version != version:
				others[info.Version]++
			case asOf.eligible(info):
				byView[i][info.Sequence] = info
			}
		}
		for other, n := range others {
			log.Info("projections: ignoring snapshots of another code version", "view", v.Name, "version", other, "want", version, "snapshots", n)
		}
	}
	for _, info := range byView[0] {
		everywhere := true
		for _, m := range byView[1:] {
			if o, ok := m[info.Sequence]; !ok || o.LastEvent != info.LastEvent {
				everywhere = false
				break
			}
		}
		if everywhere {
			common = append(common, info)
		}
	}
	newestFirst(common)
next:
	for _, at := range common {
		// Loaded side by side: reading, checksums and decompression overlap.
		states := make([][]byte, len(views))
		errs := make([]error, len(views))
		var wg sync.WaitGroup
		for i := range views {
			wg.Go(func() {
				info := byView[i][at.Sequence]
				data, err := r.Snapshots.LoadSnapshot(ctx, info)
				if err == nil {
					states[i], err = decodeSnapshot(info, data)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				log.Warn("projections: ignoring unreadable snapshot", "view", views[i].Name, "snapshot", byView[i][at.Sequence].String(), "err", err)
				continue next
			}
		}
		if err := loadStates(views, states); err != nil {
			log.Warn("projections: ignoring unreadable snapshots", "sequence", at.Sequence, "err", err)
			continue
		}
		names := make([]string, len(views))
		for i := range views {
			names[i] = byView[i][at.Sequence].String()
		}
		log.Debug("projections: resuming from snapshots", "sequence", at.Sequence, "snapshots", strings.Join(names, " "))
		return at, true
	}
	if len(common) == 0 {
		log.Debug("projections: no snapshot of every view at one position; replaying from the start", "views", len(views))
	}
	return SnapshotInfo{}, false
}

// loadStates restores every view from its state, or, if one fails, none: the views are
// given back the state they had (empty, at the start of a run).
func loadStates(views []Named, states [][]byte) error {
	before := make([][]byte, len(views))
	for i, v := range views {
		var err error
		if before[i], err = v.View.MarshalSnapshot(); err != nil {
			return fmt.Errorf("%s: %w", v.Name, err)
		}
	}
	for i, v := range views {
		if err := v.View.UnmarshalSnapshot(states[i]); err != nil {
			for j, w := range views[:i] {
				if err := w.View.UnmarshalSnapshot(before[j]); err != nil {
					panic(fmt.Sprintf("projections: %s: its own state does not load back: %v", w.Name, err))
				}
			}
			return fmt.Errorf("%s: %w", v.Name, err)
		}
	}
	if err := sameRows(views); err != nil {
		for j, w := range views {
			if err := w.View.UnmarshalSnapshot(before[j]); err != nil {
				panic(fmt.Sprintf("projections: %s: its own state does not load back: %v", w.Name, err))
			}
		}
		return err
	}
	return nil
}

// sameRows checks that every view has a row for each request of the index it reads.
func sameRows(views []Named) error {
	for _, v := range views {
		if iv, ok := v.View.(indexed); ok && iv.rows() != iv.facts().Len() {
			return fmt.Errorf("%w: %s has %d requests, its fact index %d", ErrSnapshotCorrupt, v.Name, iv.rows(), iv.facts().Len())
		}
	}
	return nil
}

// withIndex makes the views share a new fact index (ShareIndex) and returns them behind
// it, under IndexName: the index is fed each event first and snapshotted with them.
func withIndex(views []Named) []Named {
	ix := ShareIndex(views...)
	if ix == nil {
		return views
	}
	return append([]Named{{Name: IndexName, View: ix}}, views...)
}

// ShareIndex makes the views that read the fact index (every view of this package) read
// one new, empty index, and returns it (nil if none reads one). The views must be empty:
// Runner.Run does this itself; an owner that feeds views with Feed and saves them with
// Runner.Save calls it when it makes them afresh.
func ShareIndex(views ...Named) *facts.Index {
	var ix *facts.Index
	for _, v := range views {
		if iv, ok := v.View.(indexed); ok {
			if ix == nil {
				ix = facts.New()
			}
			iv.useFacts(ix)
		}
	}
	return ix
}

// ErrIndexNotShared: views fed one by one, each with an index of its own, cannot be
// snapshotted together; Runner.Run makes views share one.
var ErrIndexNotShared = errors.New("projections: the views do not share one fact index")

// sharedIndex returns the views behind the index they share, under IndexName.
func sharedIndex(views []Named) ([]Named, error) {
	var ix *facts.Index
	for _, v := range views {
		if iv, ok := v.View.(indexed); ok {
			if ix != nil && iv.facts() != ix {
				return nil, ErrIndexNotShared
			}
			ix = iv.facts()
		}
	}
	if ix == nil {
		return views, nil
	}
	return append([]Named{{Name: IndexName, View: ix}}, views...), nil
}

// pruneAll prunes the snapshots of every view of a run (see prune), the fact index last:
// an index snapshot stays wherever a view of the run still has one, since the views can
// only resume where the index can.
func (r *Runner) pruneAll(ctx context.Context, log *slog.Logger, runs []*viewRun, every uint64) {
	held := map[uint64]bool{}
	var index *viewRun
	for _, vr := range runs {
		if vr.Name == IndexName {
			index = vr
			continue
		}
		for seq := range r.prune(ctx, log, vr, every, nil) {
			held[seq] = true
		}
	}
	if index != nil {
		r.prune(ctx, log, index, every, held)
	}
}

// prune keeps, within each span of every positions, the oldest and the newest snapshot of
// the view's version, and those at positions in keep; it returns the positions kept.
func (r *Runner) prune(ctx context.Context, log *slog.Logger, vr *viewRun, every uint64, keep map[uint64]bool) map[uint64]bool {
	kept := map[uint64]bool{}
	infos, err := r.Snapshots.ListSnapshots(ctx, vr.Name)
	if err != nil {
		return kept
	}
	spans := map[uint64][]SnapshotInfo{}
	for _, info := range infos {
		if info.Version == vr.View.SnapshotVersion() {
			spans[info.Sequence/every] = append(spans[info.Sequence/every], info)
			kept[info.Sequence] = true
		}
	}
	for _, span := range spans {
		newestFirst(span)
		for _, info := range span[1:max(len(span)-1, 1)] {
			if keep[info.Sequence] {
				continue
			}
			if err := r.Snapshots.DeleteSnapshot(ctx, info); err != nil {
				log.Warn("projections: deleting an old snapshot", "snapshot", info.String(), "err", err)
				continue
			}
			delete(kept, info.Sequence)
		}
	}
	return kept
}

// saver writes snapshots on a goroutine of its own, so that applying goes on while the
// store takes the bytes. Encoding happens on the caller's goroutine, at the exact position.
type saver struct {
	ctx   context.Context
	store SnapshotStore
	log   *slog.Logger
	queue chan savedSnapshot
	done  chan struct{}
	saved int
}

type savedSnapshot struct {
	info SnapshotInfo
	data []byte
}

func newSaver(ctx context.Context, store SnapshotStore, log *slog.Logger) *saver {
	s := &saver{ctx: ctx, store: store, log: log, queue: make(chan savedSnapshot, 2), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for q := range s.queue {
			err := store.SaveSnapshot(ctx, q.info, q.data)
			if err != nil && ctx.Err() == nil { // one retry: a busy server can time a write out
				err = store.SaveSnapshot(ctx, q.info, q.data)
			}
			if err != nil {
				log.Warn("projections: saving a snapshot", "snapshot", q.info.String(), "err", err)
				continue
			}
			s.saved++
		}
	}()
	return s
}

// save encodes the views' states now, several at once (applying waits for them), and
// queues them for the store.
func (s *saver) save(views ...*viewRun) {
	if len(views) == 0 {
		return
	}
	encoded := make([]*savedSnapshot, len(views))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, vr := range views {
		info := SnapshotInfo{View: vr.Name, Version: vr.View.SnapshotVersion(), Sequence: vr.pos, RecordedAt: vr.recordedAt.UTC(), LastEvent: vr.lastID}
		vr.saved = vr.pos
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			state, err := vr.View.MarshalSnapshot()
			if err != nil {
				s.log.Warn("projections: encoding a snapshot", "snapshot", info.String(), "err", err)
				return
			}
			encoded[i] = &savedSnapshot{info, encodeSnapshot(info, state)}
		})
	}
	wg.Wait()
	for _, e := range encoded {
		if e != nil {
			s.queue <- *e
		}
	}
}

// wait flushes the queue and returns how many snapshots were saved; no save may follow.
func (s *saver) wait() int {
	if s.queue != nil {
		close(s.queue)
		<-s.done
		s.queue = nil
	}
	return s.saved
}
