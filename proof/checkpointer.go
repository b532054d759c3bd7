package proof

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults of CheckpointerOptions.
const (
	DefaultEvery    = 1000
	DefaultInterval = time.Minute
)

// CheckpointerOptions say when a checkpoint is due.
type CheckpointerOptions struct {
	// Every: a checkpoint is due once this many events were appended since the last one
	// (0: DefaultEvery).
	Every uint64
	// Interval: a checkpoint is due once this long passed since the last one (or since
	// the Checkpointer first looked, when there is none) and at least one event was
	// appended (0: DefaultInterval).
	Interval time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
}

// Checkpointer writes signed checkpoints of the ledger. It keeps the tree as a compact
// range and reads only the events appended since it last looked, so a checkpoint costs the
// new events, not the whole log.
//
// Before it first extends the tree (and again whenever another writer stored a checkpoint
// in between) it recomputes the tree from the stream and checks it against the newest
// stored checkpoint: a ledger whose past no longer matches what was signed gets no new
// signature (ErrTampered), so a rewritten history is never blessed. That check reads the
// whole stream once per Checkpointer, i.e. once per process; Tick and CheckpointNew only
// once there is a new event to sign.
//
// It is safe for concurrent use; Run calls Tick on a timer.
type Checkpointer struct {
	log   Log
	store CheckpointStore
	key   Key
	opts  CheckpointerOptions

	mu      sync.Mutex
	synced  bool       // tree matches last and the stream up to tree.Size()
	tree    *Tree      // leaves 0..tree.Size()-1
	pending [][]byte   // leaf hashes after last.Size, in order
	last    Checkpoint // newest stored checkpoint (Size 0 and no note when none)
	lastAt  time.Time
	note    []byte // last, signed
	after   uint64 // the store's position after which the next records go
}

// NewCheckpointer returns a Checkpointer that signs with key.
func NewCheckpointer(log Log, store CheckpointStore, key Key, opts CheckpointerOptions) *Checkpointer {
	if opts.Every == 0 {
		opts.Every = DefaultEvery
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Checkpointer{log: log, store: store, key: key, opts: opts}
}

// Signed is a stored checkpoint and its signed note.
type Signed struct {
	Checkpoint
	Note []byte
}

// Checkpoint writes a checkpoint now if any event was appended since the last one, and
// returns the newest checkpoint (ErrNoCheckpoint for an empty ledger); written says
// whether it is new.
func (c *Checkpointer) Checkpoint(ctx context.Context) (cp Signed, written bool, err error) {
	return c.run(ctx, true, false)
}

// CheckpointNew is Checkpoint, except that when nothing was recorded after the newest stored
// checkpoint it returns that one without checking the stream against it first (a server's
// stop: with nothing to sign, the check, a read of the whole stream, can wait).
func (c *Checkpointer) CheckpointNew(ctx context.Context) (cp Signed, written bool, err error) {
	return c.run(ctx, true, true)
}

// Tick writes a checkpoint if one is due (see CheckpointerOptions). Like CheckpointNew it
// reads the whole stream only once there is something to sign.
func (c *Checkpointer) Tick(ctx context.Context) (cp Signed, written bool, err error) {
	return c.run(ctx, false, true)
}

// Run calls Tick every period until ctx ends. It stops at once on ErrTampered,
// ErrBadSignature or ErrMalformed, which no retry mends; other failures are logged and
// retried next tick.
func (c *Checkpointer) Run(ctx context.Context, period time.Duration) error {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		cp, written, err := c.Tick(ctx)
		switch {
		case errors.Is(err, ErrTampered), errors.Is(err, ErrBadSignature), errors.Is(err, ErrMalformed):
			return err
		case errors.Is(err, ErrNoCheckpoint):
		case err != nil:
			c.opts.Logger.Warn("proof: checkpoint", "err", err)
		case written:
			c.opts.Logger.Info("proof: checkpoint written", "size", cp.Size)
		}
	}
}

func (c *Checkpointer) run(ctx context.Context, force, lazy bool) (Signed, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.sync(ctx, lazy); err != nil {
		c.synced = false
		return Signed{}, false, err
	}
	fresh := uint64(len(c.pending))
	due := fresh > 0 && (force || fresh >= c.opts.Every || c.opts.Now().Sub(c.lastAt) >= c.opts.Interval)
	if !due {
		if c.note == nil {
			return Signed{}, false, ErrNoCheckpoint
		}
		return Signed{Checkpoint: c.last, Note: c.note}, false, nil
	}
	cp := Checkpoint{Origin: c.key.Signer.Name(), Size: c.tree.Size(), Root: c.tree.Root()}
	note, err := cp.Sign(c.key.Signer)
	if err != nil {
		return Signed{}, false, err
	}
	if err := c.store.AppendCheckpoint(ctx, c.after, leafChunks(c.last.Size, c.pending), note); err != nil {
		c.synced = false // reload: another writer may have stored one
		return Signed{}, false, fmt.Errorf("proof: store checkpoint of size %d: %w", cp.Size, err)
	}
	// Still synced: the next call finds this note newest and only extends the tree.
	c.last, c.note, c.lastAt, c.pending = cp, note, c.opts.Now(), nil
	c.opts.Logger.Debug("proof: checkpoint", "size", cp.Size)
	return Signed{Checkpoint: cp, Note: note}, true, nil
}

// sync brings the tree up to the stream's end. After another writer's checkpoint (or on
// first use) it rebuilds the tree from sequence 1 and checks it against that checkpoint;
// lazy, only if the stream holds an event after it.
func (c *Checkpointer) sync(ctx context.Context, lazy bool) error {
	note, at, after, err := c.store.LastCheckpoint(ctx)
	if err != nil {
		return fmt.Errorf("proof: last checkpoint: %w", err)
	}
	if c.synced && bytes.Equal(note, c.note) {
		c.after = after
		return c.extend(ctx)
	}
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
			c.last, c.note, c.lastAt, c.after, c.pending = last, note, at, after, nil
			return err
		}
	}
	c.tree, c.pending = NewTree(), nil
	err = scanLeaves(ctx, c.log, last.Size, func(_ uint64, _, hash []byte) error {
		return c.tree.Append(hash)
	})
	if err != nil {
		return fmt.Errorf("proof: checking the stream against checkpoint of size %d: %w", last.Size, err)
	}
	if !bytes.Equal(c.tree.Root(), last.Root) && note != nil {
		return fmt.Errorf("%w: the stream's first %d events do not hash to the root signed at that size; run verify", ErrTampered, last.Size)
	}
	if note == nil {
		at = c.opts.Now() // no checkpoint yet: the interval runs from now
	}
	c.last, c.note, c.lastAt, c.after = last, note, at, after
	if err := c.extend(ctx); err != nil {
		return err
	}
	c.synced = true
	return nil
}

// recordedAfter reports whether the stream holds an event after sequence size.
func (c *Checkpointer) recordedAfter(ctx context.Context, size uint64) (bool, error) {
	found := false
	err := c.log.Scan(ctx, size+1, func(uint64, []byte) error {
		found = true
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return false, fmt.Errorf("proof: events after checkpoint of size %d: %w", size, err)
	}
	return found, nil
}

// extend appends the events after the tree's end to the tree and to pending.
func (c *Checkpointer) extend(ctx context.Context) error {
	next := c.tree.Size() + 1
	return c.log.Scan(ctx, next, func(seq uint64, data []byte) error {
		if seq != next {
			return fmt.Errorf("%w: sequence %d is missing (the next event is %d); run verify", ErrTampered, next, seq)
		}
		h := LeafHash(data)
		if err := c.tree.Append(h); err != nil {
			return err
		}
		c.pending = append(c.pending, h)
		next++
		return nil
	})
}
