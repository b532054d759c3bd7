package proof

import (
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// CheckpointNote writes a checkpoint now if any event was appended since the last one, and
// returns the newest checkpoint's signed note: what a published report carries.
func (c *Checkpointer) CheckpointNote(ctx context.Context) ([]byte, error) {
	cp, _, err := c.Checkpoint(ctx)
	return cp.Note, err
}

// Stored is a checkpoint as the store keeps it, opened with a verifier.
type Stored struct {
	Number int // 1 = the first, as Verify numbers them
	Checkpoint
	Note []byte
	Err  error // nil: signed by the verifier's key; else why not (Checkpoint is then zero)
}

// StoredCheckpoints returns every stored checkpoint in order, each checked against v: what
// `ledger checkpoints` lists and GET /v1/checkpoints answers.
func StoredCheckpoints(ctx context.Context, store CheckpointStore, v note.Verifier) ([]Stored, error) {
	notes, err := ListCheckpoints(ctx, store)
	if err != nil {
		return nil, err
	}
	out := make([]Stored, len(notes))
	for i, n := range notes {
		cp, err := OpenCheckpoint(n, v)
		out[i] = Stored{Number: i + 1, Checkpoint: cp, Note: n, Err: err}
	}
	return out, nil
}

// FindCheckpoint returns the stored checkpoint of tree size size signed by v's key, or the
// newest such one for size 0. ErrNoCheckpoint when there is none. The newest is read
// directly when v signed it, its Number then left 0 (counting would read every record);
// otherwise, and for a given size, every record is read.
func FindCheckpoint(ctx context.Context, store CheckpointStore, v note.Verifier, size uint64) (Stored, error) {
	if size == 0 { // the newest is the last record of its kind: no pass over the leaf index
		n, _, _, err := store.LastCheckpoint(ctx)
		if err != nil {
			return Stored{}, fmt.Errorf("proof: last checkpoint: %w", err)
		}
		if cp, err := OpenCheckpoint(n, v); n != nil && err == nil {
			return Stored{Checkpoint: cp, Note: n}, nil
		}
	}
	all, err := StoredCheckpoints(ctx, store, v)
	if err != nil {
		return Stored{}, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if s := all[i]; s.Err == nil && (size == 0 || s.Size == size) {
			return s, nil
		}
	}
	if size == 0 {
		return Stored{}, fmt.Errorf("%w signed by %s", ErrNoCheckpoint, v.Name())
	}
	return Stored{}, fmt.Errorf("%w of tree size %d signed by %s", ErrNoCheckpoint, size, v.Name())
}
