package proof

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	merkleproof "github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Proof formats: the "format" member of the JSON documents. An inclusion proof of a v1 leaf
// is InclusionFormat, of a v2 leaf InclusionFormatV2 (with the recorded time).
const (
	InclusionFormat   = "ledger-inclusion-proof/v1"
	InclusionFormatV2 = "ledger-inclusion-proof/v2"
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
	// Recorded (v2 only) is the time the stream recorded the event, which its leaf commits
	// to (RFC 3339 with nanoseconds, UTC).
	Recorded time.Time `json:"recorded,omitzero"`
	Event    []byte    `json:"event"` // the event's stored bytes; the leaf hash is RFC 6962's of its v1 or v2 entry
}

// LeafHash is the proof's leaf hash: LeafHashV2(Sequence, Recorded, Event) for a v2 proof,
// LeafHash(Event) for a v1 one.
func (p InclusionProof) LeafHash() []byte {
	if p.Format == InclusionFormatV2 {
		return LeafHashV2(p.Sequence, p.Recorded, p.Event)
	}
	return LeafHash(p.Event)
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

// BuildInclusion proves the event at sequence seq against cp.
//
// When log is also a TileStore and a CheckpointStore (store/jetstream's Store is), the
// proof's hashes come from O(log n) tiles, each checked against cp's root as it is read,
// and the event is read alone and checked against the proof. Without tiles, or when they
// are missing or damaged, it reads events 1..cp.Size and recomputes the nodes in one pass
// (O(n)), after checking the stream still hashes to cp's root. Either way a stream that no
// longer matches cp is ErrTampered.
func BuildInclusion(ctx context.Context, log Log, cp Checkpoint, seq uint64) (InclusionProof, error) {
	if seq == 0 || seq > cp.Size {
		return InclusionProof{}, fmt.Errorf("proof: sequence %d is not in a checkpoint of size %d", seq, cp.Size)
	}
	formats, err := formatsOf(ctx, log)
	if err != nil {
		return InclusionProof{}, err
	}
	p := InclusionProof{Format: InclusionFormat, Origin: cp.Origin, TreeSize: cp.Size, LeafIndex: seq - 1, Sequence: seq}
	if formats.of(seq) == LeafV2 {
		p.Format = InclusionFormatV2
	}
	if ts, ok := log.(TileStore); ok {
		rp, err := tlog.ProveRecord(int64(cp.Size), int64(seq-1), tileHashes(ctx, ts, cp))
		if err == nil {
			p.Hashes = hashList(rp)
			return p, readEvent(ctx, log, cp, &p)
		}
		if ctx.Err() != nil {
			return InclusionProof{}, ctx.Err()
		}
		// Tiles missing or damaged (verify says which): the stream gives the same proof.
	}
	nodes, err := merkleproof.Inclusion(seq-1, cp.Size)
	if err != nil {
		return InclusionProof{}, fmt.Errorf("proof: inclusion: %w", err)
	}
	p.Hashes, err = collect(ctx, log, formats, cp, nodes, func(s uint64, recorded time.Time, data []byte) {
		if s == seq {
			p.Event = data
			if p.Format == InclusionFormatV2 {
				p.Recorded = recorded.UTC()
			}
		}
	})
	if err != nil {
		return InclusionProof{}, err
	}
	return p, nil
}

// EventReader is a Log that reads one event in one request; store/jetstream's Store is
// one. A proof from tiles then reads the event so; else it scans from the event on.
type EventReader interface {
	// ReadRecorded returns the recorded time and stored bytes of the event at seq; an
	// error wrapping fs.ErrNotExist when there is none.
	ReadRecorded(ctx context.Context, seq uint64) (recorded time.Time, data []byte, err error)
}

// readEvent reads the event of p from log and checks p against cp.
func readEvent(ctx context.Context, log Log, cp Checkpoint, p *InclusionProof) error {
	recorded, data, err := readRecorded(ctx, log, p.Sequence)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("proof: reading sequence %d: %w", p.Sequence, err)
	}
	p.Event = data
	if p.Event == nil {
		return fmt.Errorf("%w: sequence %d, in the checkpoint of size %d, is missing; run verify", ErrTampered, p.Sequence, cp.Size)
	}
	if p.Format == InclusionFormatV2 {
		p.Recorded = recorded.UTC()
	}
	if err := p.check(cp); err != nil {
		return fmt.Errorf("%w: the event at sequence %d does not match the checkpoint of size %d; run verify", ErrTampered, p.Sequence, cp.Size)
	}
	return nil
}

// readRecorded reads the event at seq alone when log is an EventReader, else scans from it;
// an error wrapping fs.ErrNotExist when there is none.
func readRecorded(ctx context.Context, log Log, seq uint64) (recorded time.Time, data []byte, err error) {
	if r, ok := log.(EventReader); ok {
		return r.ReadRecorded(ctx, seq)
	}
	err = log.ScanRecorded(ctx, seq, func(at uint64, t time.Time, b []byte) error {
		if at == seq {
			recorded, data = t, b
		}
		return errStop
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if err == nil && data == nil {
		err = fmt.Errorf("proof: sequence %d: %w", seq, fs.ErrNotExist)
	}
	return recorded, data, err
}

// formatsOf reads the leaf formats of log's folder when log is also its CheckpointStore;
// a bare Log is all v1. The switch record's signature is not checked here: a proof is
// checked against the signed root, which a wrong switch point cannot meet.
func formatsOf(ctx context.Context, log Log) (leafFormats, error) {
	cs, ok := log.(CheckpointStore)
	if !ok {
		return leafFormats{}, nil
	}
	rec, err := cs.LastRecord(ctx, RecordFormat)
	if err != nil || rec == nil {
		return leafFormats{}, err
	}
	return parseFormat(rec)
}

// BuildConsistency proves that from is a prefix of to: from O(log n) tiles when log is
// also a TileStore (see BuildInclusion), else reading events 1..to.Size.
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
	var hashes [][]byte
	if ts, ok := log.(TileStore); ok && from.Size > 0 {
		var tp tlog.TreeProof
		if tp, err = tlog.ProveTree(int64(to.Size), int64(from.Size), tileHashes(ctx, ts, to)); err == nil {
			hashes = hashList(tp)
		} else if ctx.Err() != nil {
			return ConsistencyProof{}, ctx.Err()
		}
	}
	if hashes == nil { // no tiles, or missing or damaged ones (or from is empty)
		formats, err := formatsOf(ctx, log)
		if err != nil {
			return ConsistencyProof{}, err
		}
		if hashes, err = collect(ctx, log, formats, to, nodes, func(uint64, time.Time, []byte) {}); err != nil {
			return ConsistencyProof{}, err
		}
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
func collect(ctx context.Context, log Log, formats leafFormats, cp Checkpoint, nodes merkleproof.Nodes, each func(seq uint64, recorded time.Time, data []byte)) ([][]byte, error) {
	c := newNodeCollector(nodes.IDs)
	err := scanLeaves(ctx, log, formats, cp.Size, func(seq uint64, recorded time.Time, data, hash []byte) error {
		each(seq, recorded, data)
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
	case p.Format != InclusionFormat && p.Format != InclusionFormatV2:
		return fmt.Errorf("%w: format %q, want %q or %q", ErrMalformed, p.Format, InclusionFormat, InclusionFormatV2)
	case p.Format == InclusionFormat && !p.Recorded.IsZero():
		return fmt.Errorf("%w: a v1 proof has no recorded time", ErrMalformed)
	case p.Format == InclusionFormat && len(p.Event) > 0 && p.Event[0] == leafV2Version:
		// Its entry would read as a v2 leaf's: one leaf, one format.
		return fmt.Errorf("%w: a v1 event may not start with byte 0x%02x", ErrMalformed, leafV2Version)
	case p.Origin != cp.Origin:
		return fmt.Errorf("%w: proof for log %q, checkpoint of %q", ErrProofFailed, p.Origin, cp.Origin)
	case p.TreeSize != cp.Size:
		return fmt.Errorf("%w: proof for tree size %d, checkpoint of size %d", ErrProofFailed, p.TreeSize, cp.Size)
	case p.Sequence != p.LeafIndex+1:
		return fmt.Errorf("%w: sequence %d is not leaf %d", ErrMalformed, p.Sequence, p.LeafIndex)
	}
	err := merkleproof.VerifyInclusion(hasher, p.LeafIndex, p.TreeSize, p.LeafHash(), p.Hashes, cp.Root)
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
	case InclusionFormat, InclusionFormatV2:
		p = &InclusionProof{}
	case ConsistencyFormat:
		p = &ConsistencyProof{}
	default:
		return nil, fmt.Errorf("%w: proof format %q, want %q, %q or %q", ErrMalformed, head.Format, InclusionFormat, InclusionFormatV2, ConsistencyFormat)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("%w: proof: %v", ErrMalformed, err)
	}
	return p, nil
}
