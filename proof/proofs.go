package proof

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	merkleproof "github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
)

// Proof formats: the "format" member of the JSON documents.
const (
	InclusionFormat   = "ledger-inclusion-proof/v1"
	ConsistencyFormat = "ledger-consistency-proof/v1"
)

// InclusionProof shows that an event is leaf LeafIndex of the tree a checkpoint signed.
// Byte strings are standard base64 in JSON. A verifier needs only this, the checkpoint
// and the verifier key (see Example_verifyOffline).
type InclusionProof struct {
	Format    string   `json:"format"`
	Origin    string   `json:"origin"`
	TreeSize  uint64   `json:"tree_size"`
	LeafIndex uint64   `json:"leaf_index"`
	Sequence  uint64   `json:"sequence"` // LeafIndex + 1: the event's stream sequence
	Hashes    [][]byte `json:"hashes"`
	Event     []byte   `json:"event"` // the event's stored bytes; its leaf hash is RFC 6962's
}

// ConsistencyProof shows that the tree of size FromSize is a prefix of the tree of size
// ToSize: nothing signed at the first size was changed by the second.
type ConsistencyProof struct {
	Format   string   `json:"format"`
	Origin   string   `json:"origin"`
	FromSize uint64   `json:"from_size"`
	ToSize   uint64   `json:"to_size"`
	Hashes   [][]byte `json:"hashes"`
}

// BuildInclusion proves the event at sequence seq against cp. It reads events 1..cp.Size
// from the log and recomputes the nodes the proof needs in one pass (O(n) reads, fine for
// a proof on request), after checking the stream still hashes to cp's root.
func BuildInclusion(ctx context.Context, log Log, cp Checkpoint, seq uint64) (InclusionProof, error) {
	if seq == 0 || seq > cp.Size {
		return InclusionProof{}, fmt.Errorf("proof: sequence %d is not in a checkpoint of size %d", seq, cp.Size)
	}
	nodes, err := merkleproof.Inclusion(seq-1, cp.Size)
	if err != nil {
		return InclusionProof{}, fmt.Errorf("proof: inclusion: %w", err)
	}
	var event []byte
	hashes, err := collect(ctx, log, cp, nodes, func(s uint64, data []byte) {
		if s == seq {
			event = data
		}
	})
	if err != nil {
		return InclusionProof{}, err
	}
	return InclusionProof{
		Format: InclusionFormat, Origin: cp.Origin, TreeSize: cp.Size,
		LeafIndex: seq - 1, Sequence: seq, Hashes: hashes, Event: event,
	}, nil
}

// BuildConsistency proves that from is a prefix of to, reading events 1..to.Size.
func BuildConsistency(ctx context.Context, log Log, from, to Checkpoint) (ConsistencyProof, error) {
	if from.Size > to.Size {
		return ConsistencyProof{}, fmt.Errorf("proof: consistency from size %d to the smaller %d", from.Size, to.Size)
	}
	if from.Origin != to.Origin {
		return ConsistencyProof{}, fmt.Errorf("proof: consistency between logs %q and %q", from.Origin, to.Origin)
	}
	nodes, err := merkleproof.Consistency(from.Size, to.Size)
	if err != nil {
		return ConsistencyProof{}, fmt.Errorf("proof: consistency: %w", err)
	}
	hashes, err := collect(ctx, log, to, nodes, func(uint64, []byte) {})
	if err != nil {
		return ConsistencyProof{}, err
	}
	p := ConsistencyProof{Format: ConsistencyFormat, Origin: to.Origin, FromSize: from.Size, ToSize: to.Size, Hashes: hashes}
	// The stream matches to; the proof then shows whether from was its prefix.
	if err := p.check(from, to); err != nil {
		return ConsistencyProof{}, fmt.Errorf("%w: checkpoint of size %d is not a prefix of the one of size %d", ErrTampered, from.Size, to.Size)
	}
	return p, nil
}

// collect reads leaves 1..cp.Size, checks their root against cp and returns the proof
// hashes for nodes. each sees every event read.
func collect(ctx context.Context, log Log, cp Checkpoint, nodes merkleproof.Nodes, each func(seq uint64, data []byte)) ([][]byte, error) {
	c := newNodeCollector(nodes.IDs)
	err := scanLeaves(ctx, log, cp.Size, func(seq uint64, data, hash []byte) error {
		each(seq, data)
		return c.append(hash)
	})
	if err != nil {
		return nil, err
	}
	root := hasher.EmptyRoot()
	if cp.Size > 0 {
		if root, err = c.tree.GetRootHash(nil); err != nil {
			return nil, err
		}
	}
	if !bytes.Equal(root, cp.Root) {
		return nil, fmt.Errorf("%w: the stream's first %d events do not hash to the checkpoint's root; run verify", ErrTampered, cp.Size)
	}
	hashes, err := c.hashes(nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}

// Verify checks the proof offline against a signed checkpoint and the verifier key, and
// returns the checkpoint.
func (p InclusionProof) Verify(checkpoint []byte, v note.Verifier) (Checkpoint, error) {
	cp, err := OpenCheckpoint(checkpoint, v)
	if err != nil {
		return Checkpoint{}, err
	}
	return cp, p.check(cp)
}

func (p InclusionProof) check(cp Checkpoint) error {
	switch {
	case p.Format != InclusionFormat:
		return fmt.Errorf("%w: format %q, want %q", ErrMalformed, p.Format, InclusionFormat)
	case p.Origin != cp.Origin:
		return fmt.Errorf("%w: proof for log %q, checkpoint of %q", ErrProofFailed, p.Origin, cp.Origin)
	case p.TreeSize != cp.Size:
		return fmt.Errorf("%w: proof for tree size %d, checkpoint of size %d", ErrProofFailed, p.TreeSize, cp.Size)
	case p.Sequence != p.LeafIndex+1:
		return fmt.Errorf("%w: sequence %d is not leaf %d", ErrMalformed, p.Sequence, p.LeafIndex)
	}
	err := merkleproof.VerifyInclusion(hasher, p.LeafIndex, p.TreeSize, LeafHash(p.Event), p.Hashes, cp.Root)
	if err != nil {
		return fmt.Errorf("%w: event at sequence %d in tree of size %d: %v", ErrProofFailed, p.Sequence, p.TreeSize, err)
	}
	return nil
}

// Verify checks the proof offline against the two signed checkpoints.
func (p ConsistencyProof) Verify(from, to []byte, v note.Verifier) (Checkpoint, Checkpoint, error) {
	a, err := OpenCheckpoint(from, v)
	if err != nil {
		return Checkpoint{}, Checkpoint{}, fmt.Errorf("from: %w", err)
	}
	b, err := OpenCheckpoint(to, v)
	if err != nil {
		return Checkpoint{}, Checkpoint{}, fmt.Errorf("to: %w", err)
	}
	return a, b, p.check(a, b)
}

func (p ConsistencyProof) check(from, to Checkpoint) error {
	switch {
	case p.Format != ConsistencyFormat:
		return fmt.Errorf("%w: format %q, want %q", ErrMalformed, p.Format, ConsistencyFormat)
	case p.Origin != from.Origin || p.Origin != to.Origin:
		return fmt.Errorf("%w: proof for log %q, checkpoints of %q and %q", ErrProofFailed, p.Origin, from.Origin, to.Origin)
	case p.FromSize != from.Size || p.ToSize != to.Size:
		return fmt.Errorf("%w: proof from size %d to %d, checkpoints of sizes %d and %d", ErrProofFailed, p.FromSize, p.ToSize, from.Size, to.Size)
	}
	if err := merkleproof.VerifyConsistency(hasher, p.FromSize, p.ToSize, p.Hashes, from.Root, to.Root); err != nil {
		return fmt.Errorf("%w: from size %d to %d: %v", ErrProofFailed, p.FromSize, p.ToSize, err)
	}
	return nil
}

// EncodeProof writes a proof document as the CLI prints it: indented JSON and a newline.
func EncodeProof(p any) ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("proof: encode: %w", err)
	}
	return append(b, '\n'), nil
}

// DecodeProof reads a proof document of either format: *InclusionProof or
// *ConsistencyProof. Unknown members are refused.
func DecodeProof(b []byte) (any, error) {
	var head struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%w: proof: %v", ErrMalformed, err)
	}
	var p any
	switch head.Format {
	case InclusionFormat:
		p = &InclusionProof{}
	case ConsistencyFormat:
		p = &ConsistencyProof{}
	default:
		return nil, fmt.Errorf("%w: proof format %q, want %q or %q", ErrMalformed, head.Format, InclusionFormat, ConsistencyFormat)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("%w: proof: %v", ErrMalformed, err)
	}
	return p, nil
}
