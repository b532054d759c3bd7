package proof

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// CheckpointStore keeps the signed checkpoints and, beside them, the leaf index: the leaf
// hashes each checkpoint added. The index is what lets Verify name the exact sequence that
// changed; it needs no trust of its own, because Verify recomputes every checkpoint's root
// from it and checks the signature. store/jetstream's Store implements it (stream
// LEDGER_CHECKPOINTS).
type CheckpointStore interface {
	// LastCheckpoint returns the newest signed checkpoint (nil when there is none), when
	// it was stored, and the position after which the next checkpoint's records go.
	LastCheckpoint(ctx context.Context) (note []byte, at time.Time, after uint64, err error)
	// AppendCheckpoint stores the leaf chunks, then the note, right after position after;
	// it fails with an error wrapping ErrConflict if another writer appended since, so
	// that writers on one cluster sign one chain between them.
	AppendCheckpoint(ctx context.Context, after uint64, leafChunks [][]byte, note []byte) error
	// ScanCheckpoints calls fn with every record in order: its position, its kind
	// (RecordLeaves, RecordCheckpoint or RecordFormat) and its bytes.
	ScanCheckpoints(ctx context.Context, fn func(pos uint64, kind string, data []byte) error) error
	// LastRecord returns the bytes of the newest record of kind (nil when there is none).
	LastRecord(ctx context.Context, kind string) ([]byte, error)
	// AppendRecord stores one record of kind right after position after, failing if
	// another writer appended since, and returns its position.
	AppendRecord(ctx context.Context, after uint64, kind string, data []byte) (uint64, error)
}

// Record kinds of a CheckpointStore.
const (
	RecordLeaves     = "leaves"
	RecordCheckpoint = "checkpoint"
)

// MaxChunkLeaves bounds the leaf hashes in one leaf-index record (512 KiB), under NATS's
// default 1 MiB message limit.
const MaxChunkLeaves = 16384

// A leaf chunk is the index of its first leaf (8 bytes, big-endian) and then the leaf
// hashes, 32 bytes each. The first index makes every chunk self-locating, so a reader can
// tell a chunk left by a writer that died before signing from the chunks of a checkpoint.

// leafChunks splits the hashes of leaves first, first+1, ... into chunk records.
func leafChunks(first uint64, hashes [][]byte) [][]byte {
	var out [][]byte
	for len(hashes) > 0 {
		n := min(len(hashes), MaxChunkLeaves)
		c := make([]byte, 8, 8+n*HashSize)
		binary.BigEndian.PutUint64(c, first)
		for _, h := range hashes[:n] {
			c = append(c, h...)
		}
		out = append(out, c)
		first += uint64(n)
		hashes = hashes[n:]
	}
	return out
}

// parseLeafChunk returns a chunk's first leaf index and its hashes (sharing c's memory).
func parseLeafChunk(c []byte) (uint64, []byte, error) {
	if len(c) < 8+HashSize || (len(c)-8)%HashSize != 0 {
		return 0, nil, fmt.Errorf("%w: leaf chunk of %d bytes", ErrMalformed, len(c))
	}
	return binary.BigEndian.Uint64(c), c[8:], nil
}

// leafIndex assembles the leaf hashes recorded in a checkpoint store, in leaf order.
type leafIndex struct {
	leaves    []byte // HashSize bytes per leaf
	committed uint64 // leaves covered by the last checkpoint taken in
}

func (x *leafIndex) size() uint64 { return uint64(len(x.leaves) / HashSize) }

func (x *leafIndex) leaf(i uint64) []byte { return x.leaves[i*HashSize : (i+1)*HashSize] }

// add takes in a leaf chunk. A chunk that restarts at the last checkpoint's size replaces
// what followed it (the records of an interrupted write); any other jump is an error.
func (x *leafIndex) add(c []byte) error {
	first, hashes, err := parseLeafChunk(c)
	if err != nil {
		return err
	}
	switch first {
	case x.size():
	case x.committed:
		x.leaves = x.leaves[:x.committed*HashSize]
	default:
		return fmt.Errorf("%w: leaf chunk starts at leaf %d, the index holds %d (%d checkpointed)", ErrMalformed, first, x.size(), x.committed)
	}
	x.leaves = append(x.leaves, hashes...)
	return nil
}

// commit marks the leaves up to size as covered by a checkpoint.
func (x *leafIndex) commit(size uint64) error {
	if size != x.size() {
		return fmt.Errorf("%w: the leaf index holds %d leaves for a checkpoint of size %d", ErrMalformed, x.size(), size)
	}
	x.committed = size
	return nil
}

// KindScanner is a CheckpointStore that reads the records of one kind alone; store/jetstream's
// Store is one. ListCheckpoints then skips the leaf index (32 bytes per event).
type KindScanner interface {
	ScanKind(ctx context.Context, kind string, fn func(pos uint64, data []byte) error) error
}

// ListCheckpoints returns the signed note of every checkpoint record in order, unchecked:
// checkpoint number i+1 is element i, as Verify numbers them.
func ListCheckpoints(ctx context.Context, store CheckpointStore) ([][]byte, error) {
	var out [][]byte
	var err error
	if ks, ok := store.(KindScanner); ok {
		err = ks.ScanKind(ctx, RecordCheckpoint, func(_ uint64, data []byte) error {
			out = append(out, data)
			return nil
		})
	} else {
		err = store.ScanCheckpoints(ctx, func(_ uint64, kind string, data []byte) error {
			if kind == RecordCheckpoint {
				out = append(out, data)
			}
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("proof: reading checkpoints: %w", err)
	}
	return out, nil
}
