// Package proof makes the ledger tamper-evident: an RFC 6962 Merkle tree over the events in
// stream order, signed checkpoints of it (Go's signed-note format, ed25519), inclusion and
// consistency proofs, and Verify, which recomputes the tree from the stream and names every
// event that was changed, removed, inserted or reordered.
//
// Leaf i (0-based) is the event at stream sequence i+1; its hash is the RFC 6962 leaf hash
// of the message body exactly as the stream stores it (the canonical envelope bytes), and
// in leaf format v2 of its sequence and recorded time too (see LeafHashV2).
// Hashing, compact ranges and proofs come from github.com/transparency-dev/merkle.
package proof

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// HashSize is the size of every leaf and node hash (SHA-256).
const HashSize = 32

var (
	hasher  = rfc6962.DefaultHasher
	factory = &compact.RangeFactory{Hash: hasher.HashChildren}
)

// Log is the ledger's event stream as proof reads it: the stored bytes and recorded times,
// in order. store/jetstream's Store implements it.
type Log interface {
	// ScanRecorded calls fn with the sequence, recorded time (the stream's timestamp) and
	// stored bytes of every message from sequence from to the last one stored when it was
	// called, in order, skipping deleted sequences. fn's error ends the scan and is returned
	// as is.
	ScanRecorded(ctx context.Context, from uint64, fn func(seq uint64, recorded time.Time, data []byte) error) error
}

// Watched is log with a hook: seen is told the sequence of every message its ScanRecorded
// yields, before the scan's own fn. Verify reads the whole stream through it, so a caller that
// shows how far it has gone (the CLI's meter on a terminal) passes Watched(log, …) as its
// log; this package draws nothing.
func Watched(log Log, seen func(seq uint64)) Log { return watched{log, seen} }

type watched struct {
	Log
	seen func(seq uint64)
}

func (w watched) ScanRecorded(ctx context.Context, from uint64, fn func(seq uint64, recorded time.Time, data []byte) error) error {
	return w.Log.ScanRecorded(ctx, from, func(seq uint64, recorded time.Time, data []byte) error {
		w.seen(seq)
		return fn(seq, recorded, data)
	})
}

// LeafHash is the RFC 6962 leaf hash of an event's stored bytes: a v1 leaf (see LeafV1).
func LeafHash(event []byte) []byte { return hasher.HashLeaf(event) }

// Tree is the ledger's Merkle tree kept as a compact range: O(log n) hashes, extended one
// leaf at a time, so a checkpoint costs the new events only.
type Tree struct{ r *compact.Range }

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{r: factory.NewEmptyRange(0)} }

// Append adds the next leaf by its hash (see LeafHash). The tree keeps hash.
func (t *Tree) Append(hash []byte) error {
	if len(hash) != HashSize {
		return fmt.Errorf("proof: leaf hash of %d bytes, want %d", len(hash), HashSize)
	}
	return t.r.Append(hash, nil)
}

// Size is the number of leaves.
func (t *Tree) Size() uint64 { return t.r.End() }

// Root is the RFC 6962 root hash (the hash of the empty string for an empty tree).
func (t *Tree) Root() []byte {
	if t.r.End() == 0 {
		return hasher.EmptyRoot()
	}
	root, err := t.r.GetRootHash(nil)
	if err != nil { // only for ranges not starting at 0, which a Tree never is
		panic(err)
	}
	return root
}

// errStop ends a Scan early without failing it.
var errStop = errors.New("proof: stop scan")

// scanLeaves calls fn with the leaf hash (in format f) and bytes of events 1..size in
// order, and fails with ErrTampered if a sequence is missing or the log holds fewer events.
func scanLeaves(ctx context.Context, log Log, f leafFormats, size uint64, fn func(seq uint64, recorded time.Time, data, hash []byte) error) error {
	if size == 0 {
		return nil
	}
	next := uint64(1)
	err := log.ScanRecorded(ctx, 1, func(seq uint64, recorded time.Time, data []byte) error {
		if seq != next {
			return fmt.Errorf("%w: sequence %d is missing (the next event is %d); run verify", ErrTampered, next, seq)
		}
		if err := fn(seq, recorded, data, f.hash(seq, recorded, data)); err != nil {
			return err
		}
		next++
		if seq == size {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	if next <= size {
		return fmt.Errorf("%w: the stream holds %d events, the checkpoint %d; run verify", ErrTampered, next-1, size)
	}
	return nil
}

// nodeCollector gathers the hashes of chosen perfect-subtree nodes while leaves are
// appended to a compact range, which reports every node it completes: one pass over the
// leaves yields the nodes of any number of proofs.
type nodeCollector struct {
	tree   *compact.Range
	wanted map[compact.NodeID][]byte
	found  int
}

func newNodeCollector(ids ...[]compact.NodeID) *nodeCollector {
	c := &nodeCollector{tree: factory.NewEmptyRange(0), wanted: map[compact.NodeID][]byte{}}
	for _, list := range ids {
		for _, id := range list {
			c.wanted[id] = nil
		}
	}
	return c
}

func (c *nodeCollector) visit(id compact.NodeID, hash []byte) {
	if h, ok := c.wanted[id]; ok && h == nil {
		c.wanted[id] = hash
		c.found++
	}
}

func (c *nodeCollector) append(leaf []byte) error {
	if len(c.wanted) == c.found {
		return c.tree.Append(leaf, nil)
	}
	return c.tree.Append(leaf, c.visit)
}

// hashes returns the hashes of ids, in order.
func (c *nodeCollector) hashes(ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h := c.wanted[id]
		if h == nil {
			return nil, fmt.Errorf("proof: node %d/%d not among the %d leaves", id.Level, id.Index, c.tree.End())
		}
		out[i] = h
	}
	return out, nil
}
