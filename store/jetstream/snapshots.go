package jetstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/store"
)

// SnapshotBucket is the JetStream object store that keeps the views' snapshots, beside the
// LEDGER stream. Snapshots are derived data: they can be deleted at any time (the views are
// then rebuilt from LEDGER), so the bucket does not follow LEDGER's immutability rules.
// An object store rather than a key-value bucket because a view's state at a million events
// is megabytes, above a message's size limit; the object store chunks it and checks its
// SHA-256 digest on every read. The bucket's stream is S2-compressed.
const SnapshotBucket = "LEDGER_SNAPSHOTS"

// snapshotStore is the bucket, opened (or created) on first use.
type snapshotStore struct {
	mu  sync.Mutex
	obs natsjs.ObjectStore
}

// SnapshotRef names one snapshot: the view, the version of the code that built it, the last
// stream sequence it holds and the latest recorded time among its events. It has the fields
// of projections.SnapshotInfo, so the one converts to the other (this package does not import
// projections).
type SnapshotRef struct {
	View       string
	Version    string
	Sequence   uint64
	RecordedAt time.Time
	LastEvent  string // the id of the event at Sequence
}

func (r SnapshotRef) String() string { return fmt.Sprintf("%s/%s@%d", r.View, r.Version, r.Sequence) }

func (s *Store) snapshots(ctx context.Context) (natsjs.ObjectStore, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	s.snaps.mu.Lock()
	defer s.snaps.mu.Unlock()
	if s.snaps.obs != nil {
		return s.snaps.obs, nil
	}
	obs, err := s.js.ObjectStore(ctx, SnapshotBucket)
	if errors.Is(err, natsjs.ErrBucketNotFound) {
		replicas := 1
		if ledger, lerr := s.js.Stream(ctx, StreamName); lerr == nil {
			replicas = max(ledger.CachedInfo().Config.Replicas, 1)
		}
		obs, err = s.js.CreateObjectStore(ctx, natsjs.ObjectStoreConfig{
			Bucket:      SnapshotBucket,
			Description: "Compliance ledger: snapshots of the views (derived from LEDGER; safe to delete)",
			Storage:     natsjs.FileStorage,
			Replicas:    replicas,
			Compression: true,
		})
		if errors.Is(err, natsjs.ErrBucketExists) {
			obs, err = s.js.ObjectStore(ctx, SnapshotBucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: snapshot bucket: %w", err)
	}
	s.snaps.obs = obs
	return obs, nil
}

// snapshotName is "<view>/<version>/<sequence, 20 digits>": one object per snapshot, listed
// in sequence order within a view and version.
func snapshotName(info SnapshotRef) string {
	return fmt.Sprintf("%s/%s/%020d", info.View, info.Version, info.Sequence)
}

// SaveSnapshot stores a view's snapshot; the info travels in the object's metadata so that
// listing needs no object's bytes.
func (s *Store) SaveSnapshot(ctx context.Context, info SnapshotRef, data []byte) error {
	obs, err := s.snapshots(ctx)
	if err != nil {
		return err
	}
	_, err = obs.Put(ctx, natsjs.ObjectMeta{
		Name: snapshotName(info),
		Metadata: map[string]string{
			"view":        info.View,
			"version":     info.Version,
			"sequence":    strconv.FormatUint(info.Sequence, 10),
			"recorded_at": info.RecordedAt.UTC().Format(time.RFC3339Nano),
			"last_event":  info.LastEvent,
		},
	}, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("jetstream: save snapshot %s: %w", info, err)
	}
	return nil
}

// ListSnapshots returns every snapshot of a view, of any version. Objects whose metadata
// does not read are left out (and logged): they cannot be trusted to say what they hold.
func (s *Store) ListSnapshots(ctx context.Context, view string) ([]SnapshotRef, error) {
	obs, err := s.snapshots(ctx)
	if err != nil {
		return nil, err
	}
	objs, err := listObjects(ctx, obs)
	if errors.Is(err, natsjs.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: list snapshots: %w", err)
	}
	var out []SnapshotRef
	for _, o := range objs {
		if o.Deleted || o.Metadata["view"] != view {
			continue
		}
		seq, serr := strconv.ParseUint(o.Metadata["sequence"], 10, 64)
		at, terr := time.Parse(time.RFC3339Nano, o.Metadata["recorded_at"])
		info := SnapshotRef{View: view, Version: o.Metadata["version"], Sequence: seq, RecordedAt: at, LastEvent: o.Metadata["last_event"]}
		if serr != nil || terr != nil || snapshotName(info) != o.Name {
			s.log.Warn("jetstream: ignoring a snapshot object with unreadable metadata", "object", o.Name)
			continue
		}
		out = append(out, info)
	}
	return out, nil
}

// listAttempt bounds one object listing: nats.go's List waits, without end, for a first
// answer that a replicated bucket created a moment ago (no stream leader yet) never sends.
const listAttempt = 5 * time.Second

// listObjects lists obs, trying again while attempts time out and ctx allows.
func listObjects(ctx context.Context, obs natsjs.ObjectStore) ([]*natsjs.ObjectInfo, error) {
	for {
		attempt, cancel := context.WithTimeout(ctx, listAttempt)
		objs, err := obs.List(attempt)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return objs, err
		}
	}
}

// LoadSnapshot returns a snapshot's bytes, checked against the digest stored with them.
func (s *Store) LoadSnapshot(ctx context.Context, info SnapshotRef) ([]byte, error) {
	obs, err := s.snapshots(ctx)
	if err != nil {
		return nil, err
	}
	data, err := obs.GetBytes(ctx, snapshotName(info))
	if err != nil {
		return nil, fmt.Errorf("jetstream: load snapshot %s: %w", info, err)
	}
	return data, nil
}

// DeleteSnapshot removes one snapshot.
func (s *Store) DeleteSnapshot(ctx context.Context, info SnapshotRef) error {
	obs, err := s.snapshots(ctx)
	if err != nil {
		return err
	}
	if err := obs.Delete(ctx, snapshotName(info)); err != nil && !errors.Is(err, natsjs.ErrObjectNotFound) {
		return fmt.Errorf("jetstream: delete snapshot %s: %w", info, err)
	}
	return nil
}
