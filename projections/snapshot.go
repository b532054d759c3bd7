package projections

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Snapshotter is a projection whose state can be saved and restored: the one interface a
// view implements to get checkpoints, snapshots, fast restarts and fast as-of queries.
type Snapshotter interface {
	Projection
	// SnapshotVersion names the code that built the state ("telegram.v1"). Change it whenever
	// Apply or the encoding changes: snapshots of another version are ignored and the view
	// is rebuilt from the stream.
	SnapshotVersion() string
	// MarshalSnapshot encodes the whole state. Equal states must give equal bytes.
	MarshalSnapshot() ([]byte, error)
	// UnmarshalSnapshot replaces the whole state with the decoded one; on error the view
	// is left as it was.
	UnmarshalSnapshot([]byte) error
}

// SnapshotInfo says which view a snapshot holds, built by which code, and up to where: the
// last stream sequence applied, and the latest recorded time among the events applied (an
// as-of time at or after it includes everything the snapshot holds).
type SnapshotInfo struct {
	View       string
	Version    string
	Sequence   uint64
	RecordedAt time.Time
	// LastEvent is the id of the event at Sequence: a restored view checks that the stream
	// still holds it there.
	LastEvent string
}

func (i SnapshotInfo) String() string {
	return fmt.Sprintf("%s/%s@%d", i.View, i.Version, i.Sequence)
}

// SnapshotStore keeps the views' snapshots; the bytes are opaque to it. store/jetstream
// keeps them in a JetStream object store; MemorySnapshots keeps them in memory.
type SnapshotStore interface {
	SaveSnapshot(ctx context.Context, info SnapshotInfo, data []byte) error
	// ListSnapshots returns every snapshot of the view, of any version, in any order.
	ListSnapshots(ctx context.Context, view string) ([]SnapshotInfo, error)
	LoadSnapshot(ctx context.Context, info SnapshotInfo) ([]byte, error)
	DeleteSnapshot(ctx context.Context, info SnapshotInfo) error
}

// ErrSnapshotCorrupt: stored snapshot bytes do not decode, or do not match what their
// header and checksum say. The runner ignores such a snapshot and replays instead.
var ErrSnapshotCorrupt = errors.New("projections: corrupt snapshot")

// snapshotMagic ends every snapshot. The state comes first, then a header that repeats
// the info with the state's checksum, the header's length (4 bytes, big-endian) and the
// magic: a trailer rather than a prefix, so that framing megabytes of state never copies
// them.
const snapshotMagic = "\nledger-snapshot/1\n"

type snapshotHeader struct {
	View       string    `json:"view"`
	Version    string    `json:"version"`
	Sequence   uint64    `json:"sequence"`
	RecordedAt time.Time `json:"recorded_at"`
	LastEvent  string    `json:"last_event"`
	SHA256     string    `json:"sha256"` // of the state bytes
}

// encodeSnapshot frames a view's state with a trailer that repeats the info and a checksum,
// so that a damaged or misfiled object is recognised rather than trusted. It appends to
// state.
func encodeSnapshot(info SnapshotInfo, state []byte) []byte {
	sum := sha256.Sum256(state)
	h, _ := json.Marshal(snapshotHeader{info.View, info.Version, info.Sequence, info.RecordedAt.UTC(), info.LastEvent, hex.EncodeToString(sum[:])})
	out := append(state, h...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(h)))
	return append(out, snapshotMagic...)
}

// decodeSnapshot checks the frame against info and returns the state bytes.
func decodeSnapshot(info SnapshotInfo, data []byte) ([]byte, error) {
	rest, ok := bytes.CutSuffix(data, []byte(snapshotMagic))
	if !ok || len(rest) < 4 {
		return nil, fmt.Errorf("%w: %s: not a snapshot", ErrSnapshotCorrupt, info)
	}
	n := int(binary.BigEndian.Uint32(rest[len(rest)-4:]))
	rest = rest[:len(rest)-4]
	if n > len(rest) {
		return nil, fmt.Errorf("%w: %s: no header", ErrSnapshotCorrupt, info)
	}
	state, line := rest[:len(rest)-n], rest[len(rest)-n:]
	var h snapshotHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, fmt.Errorf("%w: %s: header: %v", ErrSnapshotCorrupt, info, err)
	}
	if h.View != info.View || h.Version != info.Version || h.Sequence != info.Sequence || !h.RecordedAt.Equal(info.RecordedAt) || h.LastEvent != info.LastEvent {
		return nil, fmt.Errorf("%w: %s: header says %s/%s@%d", ErrSnapshotCorrupt, info, h.View, h.Version, h.Sequence)
	}
	if sum := sha256.Sum256(state); hex.EncodeToString(sum[:]) != h.SHA256 {
		return nil, fmt.Errorf("%w: %s: checksum mismatch", ErrSnapshotCorrupt, info)
	}
	return state, nil
}

// eligible reports whether a snapshot holds only what the ledger knew at point a.
func (a AsOf) eligible(info SnapshotInfo) bool {
	switch {
	case a.Sequence > 0:
		return info.Sequence <= a.Sequence
	case !a.Time.IsZero():
		return !info.RecordedAt.After(a.Time)
	}
	return true
}

// newestFirst orders snapshots by sequence, newest first.
func newestFirst(infos []SnapshotInfo) {
	slices.SortFunc(infos, func(a, b SnapshotInfo) int { return cmp.Compare(b.Sequence, a.Sequence) })
}

// MemorySnapshots is a SnapshotStore in memory, for tests and one-off runs.
type MemorySnapshots struct {
	mu   sync.Mutex
	data map[SnapshotInfo][]byte
}

func key(info SnapshotInfo) SnapshotInfo {
	info.RecordedAt = info.RecordedAt.UTC()
	return info
}

func (m *MemorySnapshots) SaveSnapshot(_ context.Context, info SnapshotInfo, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = map[SnapshotInfo][]byte{}
	}
	m.data[key(info)] = bytes.Clone(data)
	return nil
}

func (m *MemorySnapshots) ListSnapshots(_ context.Context, view string) ([]SnapshotInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []SnapshotInfo
	for info := range m.data {
		if info.View == view {
			out = append(out, info)
		}
	}
	return out, nil
}

func (m *MemorySnapshots) LoadSnapshot(_ context.Context, info SnapshotInfo) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.data[key(info)]
	if !ok {
		return nil, fmt.Errorf("projections: snapshot %s: not found", info)
	}
	return bytes.Clone(d), nil
}

func (m *MemorySnapshots) DeleteSnapshot(_ context.Context, info SnapshotInfo) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key(info))
	return nil
}

// Corrupt overwrites a stored snapshot's bytes (tests of damaged snapshots).
func (m *MemorySnapshots) Corrupt(info SnapshotInfo, f func([]byte) []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key(info)] = f(m.data[key(info)])
}
