package proof

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// CheckpointerOptions say how checkpoints are signed. A Checkpointer signs whenever it is
// asked and an event was appended since the last checkpoint: `serve` asks every second
// (Run), so every acknowledged event is covered within about a second.
type CheckpointerOptions struct {
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
	// Witnesses are asked to cosign every new checkpoint before it is stored; the note
	// stored carries the cosignatures that came back (see cosign).
	Witnesses []Witness
	// WitnessTimeout bounds the wait for each witness's answer (0: DefaultWitnessTimeout).
	WitnessTimeout time.Duration
	// OnWitness, when set, is told every submission's outcome (nil error: cosigned).
	OnWitness func(witness string, err error)
	// KeepV1 leaves a folder without a leaf-format record on v1 leaves. Otherwise the next
	// checkpoint first stores the signed switch to v2 leaves from its first new leaf (from
	// leaf 0 in a new folder). Verify names moved (reordered, shifted) events only among v1
	// leaves: a v2 leaf holds its sequence, so a moved event reads as changed.
	KeepV1 bool
}

// Checkpointer writes signed checkpoints of the ledger. It keeps the tree as a compact
// range and reads only the events appended since it last looked, so a checkpoint costs the
// new events, not the whole log; and of those not the ones handed over by Recorded (the
// server's own appends, which it has read back already), so a tick costs little more than
// its own writes.
//
// Before it first extends the tree (and again whenever another writer stored a checkpoint
// in between) it recomputes the tree from the stream and checks it against the newest
// stored checkpoint: a ledger whose past no longer matches what was signed gets no new
// signature (ErrTampered), so a rewritten history is never blessed. That check reads the
// whole stream once per Checkpointer, i.e. once per process; Tick and CheckpointNew only
// once there is a new event to sign.
//
// When the store is also a TileStore, every checkpoint's tiles are written after it is
// stored; on first use the Checkpointer checks the tiles of the newest checkpoint against
// its root and rewrites them all, from the stream it reads anyway, if they do not match.
//
// It is safe for concurrent use; Run calls Tick on a timer.
type Checkpointer struct {
	log   Log
	store CheckpointStore
	tiles TileStore // nil: the store keeps no tiles
	key   Key
	opts  CheckpointerOptions

	mu       sync.Mutex
	synced   bool       // tree matches last and the stream up to tree.Size()
	tree     *Tree      // leaves 0..tree.Size()-1
	pending  [][]byte   // leaf hashes after last.Size, in order
	last     Checkpoint // newest stored checkpoint (Size 0 and no note when none)
	note     []byte     // last, signed
	after    uint64     // the store's position after which the next records go
	formats  leafFormats
	switchV2 []byte       // the signed switch to v2 leaves, to store before the next checkpoint
	builder  *tileBuilder // tiles of tree; nil when there is no tile store

	watch atomic.Pointer[newest] // what Covering waits on
	nudge chan struct{}          // Covering asks Run to sign now rather than at the next tick

	recent      recent            // what proofs from recent checkpoints need (witnessing.go)
	witnessSize map[string]uint64 // by witness: the tree size it last cosigned, as learned

	known known // events this process appended, so that extend need not read them back
}

// maxKnown bounds the events Recorded keeps for the next tick (ticks stalled on a slow
// disk, say): beyond it they are read from the stream instead. A caller that signs seldom
// (no Run) hands nothing over: the events would only wait in memory.
const maxKnown = 1 << 14

// known holds events appended through this process, by sequence, until a tick takes them.
// It has a lock of its own: the command that hands one over must never wait for a tick,
// which holds c.mu across its reads and writes.
type known struct {
	mu sync.Mutex
	m  map[uint64]knownEvent
}

type knownEvent struct {
	recorded time.Time
	data     []byte
}

// Recorded tells the Checkpointer of an event just appended at seq with its recorded time
// and stored bytes, as the store's read-back of the append gave them (what a receipt
// signs), so that the next tick hashes it from memory rather than reading it from the
// stream again: reading back a second's events was most of a tick's cost. Events appended
// elsewhere, or not handed over, are read from the stream as before.
func (c *Checkpointer) Recorded(seq uint64, recorded time.Time, data []byte) {
	c.known.mu.Lock()
	defer c.known.mu.Unlock()
	if c.known.m == nil {
		c.known.m = map[uint64]knownEvent{}
	}
	if len(c.known.m) < maxKnown {
		c.known.m[seq] = knownEvent{recorded, data}
	}
}

// take removes and returns the known events from seq next on, in order, up to the first
// one missing; it drops those before next, which the tree has already.
func (k *known) take(next uint64) (out []knownEvent) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for {
		e, ok := k.m[next]
		if !ok {
			break
		}
		delete(k.m, next)
		out = append(out, e)
		next++
	}
	for seq := range k.m {
		if seq < next {
			delete(k.m, seq)
		}
	}
	return out
}

// NewCheckpointer returns a Checkpointer that signs with key.
func NewCheckpointer(log Log, store CheckpointStore, key Key, opts CheckpointerOptions) *Checkpointer {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.WitnessTimeout == 0 {
		opts.WitnessTimeout = DefaultWitnessTimeout
	}
	tiles, _ := store.(TileStore)
	c := &Checkpointer{log: log, store: store, tiles: tiles, key: key, opts: opts, witnessSize: map[string]uint64{}, nudge: make(chan struct{}, 1)}
	c.watch.Store(&newest{next: make(chan struct{})})
	return c
}

// newest is the newest checkpoint a Checkpointer knows (signed or adopted), and a channel
// closed when a newer one replaces it.
type newest struct {
	Signed
	next chan struct{}
}

// announce publishes c.last to Covering's waiters; the caller holds c.mu.
func (c *Checkpointer) announce() {
	if c.note == nil || bytes.Equal(c.watch.Load().Note, c.note) {
		return
	}
	old := c.watch.Swap(&newest{Signed: Signed{Checkpoint: c.last, Note: c.note}, next: make(chan struct{})})
	close(old.next)
}

// Covering waits until this Checkpointer knows a checkpoint of at least size leaves (one it
// signed, or another writer's that it adopted) and returns it: what a command's answer with
// wait=proof waits for. It signs nothing itself: Run (or a caller of Checkpoint) does.
func (c *Checkpointer) Covering(ctx context.Context, size uint64) (Signed, error) {
	for {
		n := c.watch.Load()
		if n.Note != nil && n.Size >= size {
			return n.Signed, nil
		}
		select {
		case c.nudge <- struct{}{}:
		default: // Run is nudged already
		}
		select {
		case <-ctx.Done():
			return Signed{}, fmt.Errorf("proof: waiting for a checkpoint of size %d (the newest has %d): %w", size, n.Size, ctx.Err())
		case <-n.next:
		}
	}
}

// SwitchToV2 makes sure the folder's leaves are v2 from now on: when the folder has no
// leaf-format record it stores the signed switch at the newest checkpoint's size at once,
// rather than with the next checkpoint. It returns the leaf index from which leaves are v2.
// `serve` calls it before it acknowledges anything, so that every receipt it signs names the
// leaf hash the tree uses for that event.
func (c *Checkpointer) SwitchToV2(ctx context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for attempt := 1; ; attempt++ {
		rec, err := c.store.LastRecord(ctx, RecordFormat)
		if err != nil {
			return 0, fmt.Errorf("proof: leaf format: %w", err)
		}
		if rec != nil {
			f, err := openFormat(rec, c.key.Verifier)
			return f.v2From, err
		}
		note, _, after, err := c.store.LastCheckpoint(ctx)
		if err != nil {
			return 0, fmt.Errorf("proof: last checkpoint: %w", err)
		}
		var last Checkpoint
		if note != nil {
			if last, err = OpenCheckpoint(note, c.key.Verifier); err != nil {
				return 0, fmt.Errorf("proof: newest stored checkpoint: %w", err)
			}
		}
		msg, err := signFormat(c.key.Signer, last.Size)
		if err != nil {
			return 0, err
		}
		_, err = c.store.AppendRecord(ctx, after, RecordFormat, msg)
		if err == nil {
			c.synced = false // the next sync reads the switch
			return last.Size, nil
		}
		if !errors.Is(err, ErrConflict) || attempt == conflictAttempts {
			return 0, fmt.Errorf("proof: store the switch to v2 leaves: %w", err)
		}
	}
}

// Signed is a stored checkpoint and its signed note.
type Signed struct {
	Checkpoint
	Note []byte
}

// Checkpoint writes a checkpoint now if any event was appended since the last one, and
// returns the newest checkpoint (ErrNoCheckpoint for an empty ledger); written says
// whether it is new. With nothing new, witnesses whose cosignature the newest checkpoint
// lacks are asked again (see recosign).
func (c *Checkpointer) Checkpoint(ctx context.Context) (cp Signed, written bool, err error) {
	return c.run(ctx, true, false)
}

// CheckpointNew is Checkpoint, except that when nothing was recorded after the newest stored
// checkpoint it returns that one without checking the stream against it first (a server's
// stop: with nothing to sign, the check, a read of the whole stream, can wait).
func (c *Checkpointer) CheckpointNew(ctx context.Context) (cp Signed, written bool, err error) {
	return c.run(ctx, true, true)
}

// Tick writes a checkpoint if any event was appended since the last one. Like CheckpointNew
// it reads the whole stream only once there is something to sign, and unlike Checkpoint it
// asks no witness again when there is nothing new.
func (c *Checkpointer) Tick(ctx context.Context) (cp Signed, written bool, err error) {
	return c.run(ctx, false, true)
}

// nudgeGap is the least time between checkpoints signed because someone waits (Covering):
// waiters batch into one checkpoint, and the checkpoint stream grows by at most ten a second.
const nudgeGap = 100 * time.Millisecond

// Run calls Tick every period, and sooner (at most every nudgeGap) while Covering waits,
// until ctx ends. It stops at once on ErrTampered, ErrBadSignature or ErrMalformed, which no
// retry mends; other failures are logged and retried next tick.
func (c *Checkpointer) Run(ctx context.Context, period time.Duration) error {
	t := time.NewTicker(period)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-c.nudge:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(nudgeGap - time.Since(last)):
			}
		}
		last = time.Now()
		cp, written, err := c.Tick(ctx)
		switch {
		case errors.Is(err, ErrTampered), errors.Is(err, ErrBadSignature), errors.Is(err, ErrMalformed):
			return err
		case errors.Is(err, ErrNoCheckpoint):
		case err != nil:
			c.opts.Logger.Warn("proof: checkpoint", "err", err)
		case written:
			// How long a tick took says what a checkpoint costs the server (BENCHMARKS.md).
			c.opts.Logger.Info("proof: checkpoint written", "size", cp.Size, "took", time.Since(last).Round(time.Microsecond))
		}
	}
}

// conflictAttempts bounds how often one call re-reads the store after losing a race to
// another writer: each loss means the other signed, so the chain grew meanwhile.
const conflictAttempts = 3

func (c *Checkpointer) run(ctx context.Context, force, lazy bool) (Signed, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for attempt := 1; ; attempt++ {
		cp, written, err := c.attempt(ctx, force, lazy)
		if !errors.Is(err, ErrConflict) || attempt == conflictAttempts {
			return cp, written, err
		}
		c.opts.Logger.Debug("proof: another writer signed first; reading its checkpoint", "attempt", attempt)
	}
}

// attempt signs once: bring the tree up to date, and store a checkpoint if one is due.
func (c *Checkpointer) attempt(ctx context.Context, force, lazy bool) (Signed, bool, error) {
	if err := c.sync(ctx, lazy); err != nil {
		c.synced = false
		return Signed{}, false, err
	}
	if len(c.pending) == 0 {
		if c.note == nil {
			return Signed{}, false, ErrNoCheckpoint
		}
		if force {
			return c.recosign(ctx)
		}
		return Signed{Checkpoint: c.last, Note: c.note}, false, nil
	}
	cp := Checkpoint{Origin: c.key.Signer.Name(), Size: c.tree.Size(), Root: c.tree.Root()}
	note, err := cp.Sign(c.key.Signer)
	if err != nil {
		return Signed{}, false, err
	}
	if c.switchV2 != nil {
		after, err := c.store.AppendRecord(ctx, c.after, RecordFormat, c.switchV2)
		if err != nil {
			c.synced = false
			return Signed{}, false, fmt.Errorf("proof: store the switch to v2 leaves: %w", err)
		}
		c.after, c.switchV2 = after, nil
	}
	note = c.cosign(ctx, c.opts.Witnesses, cp, note)
	if err := c.store.AppendCheckpoint(ctx, c.after, leafChunks(c.last.Size, c.pending), note); err != nil {
		// Another writer stored one: the next sync adopts it if it extends this tree, so
		// the tree stays. Any other failure: reload.
		c.synced = c.synced && errors.Is(err, ErrConflict)
		return Signed{}, false, fmt.Errorf("proof: store checkpoint of size %d: %w", cp.Size, err)
	}
	// Still synced: the next call finds this note newest and only extends the tree.
	c.recent.add(cp.Size, slices.Clone(c.tree.r.Hashes()), c.pending)
	c.last, c.note, c.pending = cp, note, nil
	c.announce()
	c.opts.Logger.Debug("proof: checkpoint", "size", cp.Size)
	if c.builder != nil {
		if err := c.builder.flush(ctx, c.tiles); err != nil {
			c.dropTiles(err)
		}
	}
	return Signed{Checkpoint: cp, Note: note}, true, nil
}

// dropTiles stops writing tiles in this process after a failed write. Tiles are derived
// data and never hold a checkpoint back: proofs read the stream where tiles are missing,
// and the next process's Checkpointer finds them stale and rewrites them.
func (c *Checkpointer) dropTiles(err error) {
	c.builder = nil
	c.opts.Logger.Warn("proof: writing tiles failed; none are written until the next start", "err", err)
}

// sync brings the tree up to the stream's end. After another writer's checkpoint (or on
// first use) it rebuilds the tree from sequence 1 and checks it against that checkpoint;
// lazy, only if the stream holds an event after it.
func (c *Checkpointer) sync(ctx context.Context, lazy bool) error {
	note, _, after, err := c.store.LastCheckpoint(ctx)
	if err != nil {
		return fmt.Errorf("proof: last checkpoint: %w", err)
	}
	if c.synced && bytes.Equal(note, c.note) {
		c.after = after
		return c.extend(ctx)
	}
	if c.synced && note != nil {
		if adopted, err := c.adopt(ctx, note, after); err != nil || adopted {
			return err
		}
	}
	// From here on the tree is rebuilt (or, lazily, the rebuild waits for a new event):
	// pending no longer follows from the tree, so nothing may extend it meanwhile.
	c.synced = false
	var last Checkpoint
	if note != nil {
		if last, err = OpenCheckpoint(note, c.key.Verifier); err != nil {
			return fmt.Errorf("proof: newest stored checkpoint: %w", err)
		}
	}
	if c.note != nil && last.Size < c.last.Size {
		// Checkpoint records do not go away on their own: the stream was deleted or rewritten.
		return fmt.Errorf("%w: the newest stored checkpoint has size %d, this process stored one of size %d", ErrTampered, last.Size, c.last.Size)
	}
	if note != nil && lazy {
		if fresh, err := c.recordedAfter(ctx, last.Size); err != nil || !fresh {
			// Nothing to sign, so no need to read the whole stream now (a server stopped
			// soon after its start, say): the check waits for the first new event.
			c.last, c.note, c.after, c.pending = last, note, after, nil
			c.announce()
			return err
		}
	}
	if err := c.readFormats(ctx, last.Size); err != nil {
		return err
	}
	c.tree, c.pending, c.builder = NewTree(), nil, nil
	if c.tiles != nil {
		// Tiles that do not hold the newest checkpoint are rewritten from the stream.
		c.builder = &tileBuilder{keep: note != nil && checkTiles(ctx, c.tiles, last) != nil}
	}
	err = scanLeaves(ctx, c.log, c.formats, last.Size, func(_ uint64, _ time.Time, _, hash []byte) error {
		if c.builder != nil {
			c.builder.add(hash)
			if c.builder.keep {
				if err := c.builder.writeFull(ctx, c.tiles); err != nil {
					c.dropTiles(err)
				}
			}
		}
		return c.tree.Append(hash)
	})
	if err != nil {
		return fmt.Errorf("proof: checking the stream against checkpoint of size %d: %w", last.Size, err)
	}
	if !bytes.Equal(c.tree.Root(), last.Root) && note != nil {
		return fmt.Errorf("%w: the stream's first %d events do not hash to the root signed at that size; run verify", ErrTampered, last.Size)
	}
	if c.builder != nil && c.builder.keep {
		c.opts.Logger.Info("proof: rewrote the tiles from the stream", "size", last.Size)
		if err := c.builder.flush(ctx, c.tiles); err != nil {
			c.dropTiles(err)
		}
	}
	if c.builder != nil {
		c.builder.keep = true // from here on: every new tile is written with its checkpoint
	}
	c.last, c.note, c.after = last, note, after
	c.announce()
	c.recent.reset(last.Size, slices.Clone(c.tree.r.Hashes()))
	if err := c.extend(ctx); err != nil {
		return err
	}
	c.synced = true
	return nil
}

// adopt takes in another writer's newest checkpoint when it extends this tree (the replicas
// of serve on one cluster race to sign every second): it reads only the events after the
// tree's end, as every tick does, and compares the tree's root at that size with the signed
// one. It reports false, for a full sync, when the checkpoint is not such an extension.
func (c *Checkpointer) adopt(ctx context.Context, note []byte, after uint64) (bool, error) {
	cp, err := OpenCheckpoint(note, c.key.Verifier)
	if err != nil {
		return false, fmt.Errorf("proof: newest stored checkpoint: %w", err)
	}
	if cp.Size < c.last.Size || c.switchV2 != nil {
		return false, nil
	}
	if err := c.extend(ctx); err != nil {
		return false, err
	}
	hashes, _, ok := c.recent.at(c.last.Size)
	if !ok || cp.Size > c.tree.Size() {
		return false, nil
	}
	r, err := factory.NewRange(0, c.last.Size, slices.Clone(hashes))
	if err != nil {
		return false, nil
	}
	k := cp.Size - c.last.Size
	for _, h := range c.pending[:k] {
		if err := r.Append(h, nil); err != nil {
			return false, err
		}
	}
	root := hasher.EmptyRoot()
	if cp.Size > 0 {
		if root, err = r.GetRootHash(nil); err != nil {
			return false, err
		}
	}
	if !bytes.Equal(root, cp.Root) {
		return false, nil // the full sync says what differs
	}
	c.recent.add(cp.Size, r.Hashes(), slices.Clone(c.pending[:k]))
	c.last, c.note, c.after, c.pending = cp, note, after, slices.Clone(c.pending[k:])
	if c.builder != nil {
		// The finished tiles kept here are written now (the winner wrote the same bytes), so
		// that a replica that keeps losing keeps no growing list of them.
		err := writeTiles(ctx, c.tiles, c.builder.full)
		c.builder.full = nil
		if err != nil {
			c.dropTiles(err)
		}
	}
	c.announce()
	c.opts.Logger.Debug("proof: adopted another writer's checkpoint", "size", cp.Size)
	return true, nil
}

// readFormats reads the folder's leaf formats; a folder without them switches to v2 leaves
// from size on (unless KeepV1), the signed switch being stored with the next checkpoint.
func (c *Checkpointer) readFormats(ctx context.Context, size uint64) error {
	rec, err := c.store.LastRecord(ctx, RecordFormat)
	if err != nil {
		return fmt.Errorf("proof: leaf format: %w", err)
	}
	c.switchV2 = nil
	switch {
	case rec != nil:
		c.formats, err = openFormat(rec, c.key.Verifier)
		return err
	case c.opts.KeepV1:
		c.formats = leafFormats{}
		return nil
	}
	c.formats = leafFormats{v2: true, v2From: size}
	c.switchV2, err = signFormat(c.key.Signer, size)
	return err
}

// recordedAfter reports whether the stream holds an event after sequence size.
func (c *Checkpointer) recordedAfter(ctx context.Context, size uint64) (bool, error) {
	found := false
	err := c.log.ScanRecorded(ctx, size+1, func(uint64, time.Time, []byte) error {
		found = true
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return false, fmt.Errorf("proof: events after checkpoint of size %d: %w", size, err)
	}
	return found, nil
}

// extend appends the events after the tree's end to the tree and to pending: those handed
// over by Recorded from memory, then the rest (appended elsewhere, or still in flight after
// a gap) from the stream.
func (c *Checkpointer) extend(ctx context.Context) error {
	next := c.tree.Size() + 1
	for _, e := range c.known.take(next) {
		h := c.formats.hash(next, e.recorded, e.data)
		if err := c.tree.Append(h); err != nil {
			return err
		}
		if c.builder != nil {
			c.builder.add(h)
		}
		c.pending = append(c.pending, h)
		next++
	}
	return c.log.ScanRecorded(ctx, next, func(seq uint64, recorded time.Time, data []byte) error {
		if seq != next {
			return fmt.Errorf("%w: sequence %d is missing (the next event is %d); run verify", ErrTampered, next, seq)
		}
		h := c.formats.hash(seq, recorded, data)
		if err := c.tree.Append(h); err != nil {
			return err
		}
		if c.builder != nil {
			c.builder.add(h)
		}
		c.pending = append(c.pending, h)
		next++
		return nil
	})
}
