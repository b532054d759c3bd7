package proof

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/compact"
	merkleproof "github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
)

// DefaultWitnessTimeout bounds how long a checkpoint waits for a witness's answer.
const DefaultWitnessTimeout = 5 * time.Second

// Witness is a witness as the Checkpointer submits checkpoints to it: the C2SP tlog-witness
// add-checkpoint call. witness.Client implements it over HTTP.
type Witness interface {
	// Name identifies the witness in logs and metrics (its key's name+hash).
	Name() string
	// AddCheckpoint submits a signed checkpoint with a consistency proof from oldSize and
	// returns the witness's cosignature lines, verified against its key. A witness that
	// last cosigned another size answers *WitnessConflictError.
	AddCheckpoint(ctx context.Context, oldSize uint64, proof [][]byte, checkpoint []byte) ([]byte, error)
}

// WitnessConflictError: the witness last cosigned a checkpoint of tree size Size, not the
// old size the submission gave (HTTP 409 of tlog-witness).
type WitnessConflictError struct{ Size uint64 }

func (e *WitnessConflictError) Error() string {
	return fmt.Sprintf("witness: the last checkpoint cosigned has tree size %d", e.Size)
}

// ErrWitnessAhead: a witness has cosigned a larger tree of this log's name than the
// checkpoint submitted: the log was rolled back, or another log uses its name.
var ErrWitnessAhead = errors.New("proof: the witness has seen a larger tree")

// cosign submits the signed checkpoint cp to the witnesses ws at once and returns signed
// with the cosignature lines that came back, each answer within the timeout. A witness that
// is down or refuses costs its cosignature only: it is logged, counted (OnWitness) and asked
// again with the next checkpoint. The timeout bounds the answers, not the building of a
// proof: a witness far behind gets its proof however long the read of the stream takes
// (once; then it is at a recent size), or it could never catch up on a large ledger.
func (c *Checkpointer) cosign(ctx context.Context, ws []Witness, cp Checkpoint, signed []byte) []byte {
	if len(ws) == 0 {
		return signed
	}
	var (
		mu     sync.Mutex // guards proofs; a proof from a size is built once
		proofs = map[uint64][][]byte{}
	)
	proofFrom := func(old uint64) ([][]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := proofs[old]; ok {
			return p, nil
		}
		p, err := c.consistency(ctx, old, cp)
		if err == nil {
			proofs[old] = p
		}
		return p, err
	}
	type result struct {
		lines []byte
		size  uint64 // the witness's size as last learned
		err   error
	}
	results := make([]result, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		old, ok := c.witnessSize[w.Name()]
		if !ok {
			old = c.last.Size // most likely what it cosigned last
		}
		wg.Go(func() {
			r := &results[i]
			r.lines, r.size, r.err = submit(ctx, w, old, cp, signed, proofFrom, c.opts.WitnessTimeout)
		})
	}
	wg.Wait()
	for i, w := range ws {
		r := results[i]
		c.witnessSize[w.Name()] = r.size
		if c.opts.OnWitness != nil {
			c.opts.OnWitness(w.Name(), r.err)
		}
		if r.err != nil {
			c.opts.Logger.Warn("proof: witness did not cosign; asked again with the next checkpoint", "witness", w.Name(), "size", cp.Size, "err", r.err)
			continue
		}
		signed = append(signed, r.lines...)
	}
	return signed
}

// recosign asks the witnesses whose cosignature the newest checkpoint lacks (they were down
// or refused when it was signed) to cosign it now, and stores it again with the lines that
// arrive: another checkpoint record of the same tree, so that a quiet ledger need not wait
// for its next event to be witnessed. Nothing is stored when no line arrives.
func (c *Checkpointer) recosign(ctx context.Context) (Signed, bool, error) {
	current := Signed{Checkpoint: c.last, Note: c.note}
	n, err := note.Open(c.note, note.VerifierList(c.key.Verifier))
	if err != nil {
		return Signed{}, false, fmt.Errorf("%w: newest checkpoint: %v", ErrMalformed, err)
	}
	has := map[string]bool{}
	for _, s := range n.UnverifiedSigs {
		has[fmt.Sprintf("%s+%08x", s.Name, s.Hash)] = true
	}
	var missing []Witness
	for _, w := range c.opts.Witnesses {
		if !has[w.Name()] {
			missing = append(missing, w)
		}
	}
	if len(missing) == 0 {
		return current, false, nil
	}
	cosigned := c.cosign(ctx, missing, c.last, bytes.Clone(c.note))
	if len(cosigned) == len(c.note) {
		return current, false, nil
	}
	if err := c.store.AppendCheckpoint(ctx, c.after, nil, cosigned); err != nil {
		c.synced = false
		return Signed{}, false, fmt.Errorf("proof: store the checkpoint of size %d cosigned again: %w", c.last.Size, err)
	}
	c.note = cosigned
	c.opts.Logger.Info("proof: checkpoint cosigned again", "size", c.last.Size, "witnesses", len(missing))
	return Signed{Checkpoint: c.last, Note: cosigned}, true, nil
}

// submit asks w to cosign cp with a proof from old, and once more from the size it answers
// with a conflict. It returns the lines, the witness's size as last learned, and the error.
func submit(ctx context.Context, w Witness, old uint64, cp Checkpoint, signed []byte, proofFrom func(uint64) ([][]byte, error), timeout time.Duration) ([]byte, uint64, error) {
	for retried := false; ; retried = true {
		if old > cp.Size {
			return nil, old, fmt.Errorf("%w: it cosigned tree size %d, this checkpoint is of size %d", ErrWitnessAhead, old, cp.Size)
		}
		hashes, err := proofFrom(old)
		if err != nil {
			return nil, old, fmt.Errorf("consistency proof from size %d: %w", old, err)
		}
		actx, cancel := context.WithTimeout(ctx, timeout)
		lines, err := w.AddCheckpoint(actx, old, hashes, signed)
		cancel()
		var conflict *WitnessConflictError
		if errors.As(err, &conflict) && !retried {
			old = conflict.Size
			continue
		}
		if err != nil {
			return nil, old, err
		}
		return lines, cp.Size, nil
	}
}

// consistency returns the consistency proof from tree size old to cp, which the tree has
// just reached. From a recent checkpoint's size (the usual case: the witness cosigned the
// last one, or one shortly before) it needs no read: the compact range kept at that size
// and the leaves since hold every node. From any other size it reads the stream up to
// cp.Size.
func (c *Checkpointer) consistency(ctx context.Context, old uint64, cp Checkpoint) ([][]byte, error) {
	if old == 0 || old == cp.Size {
		return nil, nil // tlog-witness: no proof from the empty tree, none between equal sizes
	}
	nodes, err := merkleproof.Consistency(old, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("proof: consistency: %w", err)
	}
	rng, leaves, ok := c.recent.at(old)
	if !ok {
		return collect(ctx, c.log, c.formats, cp, nodes, func(uint64, time.Time, []byte) {})
	}
	col := newNodeCollector(nodes.IDs)
	if col.tree, err = factory.NewRange(0, old, slices.Clone(rng)); err != nil {
		return nil, fmt.Errorf("proof: compact range at size %d: %w", old, err)
	}
	for i, id := range compact.RangeNodes(0, old, nil) {
		col.visit(id, rng[i])
	}
	for _, part := range [][][]byte{leaves, c.pending} {
		for _, h := range part {
			if err := col.append(h); err != nil {
				return nil, err
			}
		}
	}
	hashes, err := col.hashes(nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}

// Bounds of recent: the checkpoints a witness may have missed and still get a proof without
// a read of the stream, and the leaf hashes kept for that (32 MiB).
const (
	maxRecent       = 64
	maxRecentLeaves = 1 << 20
)

// recent keeps what consistency proofs from the last checkpoints need: the compact range at
// each one's size, and the leaf hashes from the oldest one's size to the newest's.
type recent struct {
	sizes  []uint64
	ranges [][][]byte
	leaves [][]byte
}

// reset starts over from one checkpoint.
func (r *recent) reset(size uint64, hashes [][]byte) {
	r.sizes, r.ranges, r.leaves = []uint64{size}, [][][]byte{hashes}, nil
}

// add takes in the next checkpoint: its size, its compact range, and the leaves since the
// previous one; the oldest are dropped beyond the bounds.
func (r *recent) add(size uint64, hashes, leaves [][]byte) {
	r.sizes, r.ranges, r.leaves = append(r.sizes, size), append(r.ranges, hashes), append(r.leaves, leaves...)
	for len(r.sizes) > 1 && (len(r.sizes) > maxRecent || len(r.leaves) > maxRecentLeaves) {
		r.leaves = r.leaves[r.sizes[1]-r.sizes[0]:]
		r.sizes, r.ranges = r.sizes[1:], r.ranges[1:]
	}
}

// at returns the compact range at size and the leaves from there to the newest checkpoint,
// if size is one kept.
func (r *recent) at(size uint64) (hashes, leaves [][]byte, ok bool) {
	i := slices.Index(r.sizes, size)
	if i < 0 {
		return nil, nil, false
	}
	return r.ranges[i], r.leaves[size-r.sizes[0]:], true
}
