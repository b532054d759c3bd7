package jetstream

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

const (
	// snapshotStream is the bucket's stream, and snapshotMeta the subject prefix of its
	// objects' metadata messages, one subject per object name (nats.go's object store
	// layout: "$O.<bucket>.M.<base64url of the name>").
	snapshotStream = "OBJ_" + SnapshotBucket
	snapshotMeta   = "$O." + SnapshotBucket + ".M."
)

// snapshotStore is the bucket, opened (or created) on first use.
type snapshotStore struct {
	mu     sync.Mutex
	obs    natsjs.ObjectStore
	stream natsjs.Stream
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
	st, err := s.js.Stream(ctx, snapshotStream)
	if err != nil {
		return nil, fmt.Errorf("jetstream: snapshot bucket: %w", err)
	}
	s.snaps.obs, s.snaps.stream = obs, st
	return obs, nil
}

// snapshotName is "<view>/<version>/<sequence, 20 digits>/<recorded at, RFC 3339>/<last
// event id>": one object per snapshot, and the name says all that a listing needs, so that
// listing reads only the names (see ListSnapshots).
func snapshotName(info SnapshotRef) string {
	return fmt.Sprintf("%s/%s/%020d/%s/%s", info.View, info.Version, info.Sequence, info.RecordedAt.UTC().Format(time.RFC3339Nano), info.LastEvent)
}

// parseSnapshotName reads a name snapshotName wrote; ok is false for any other name (one
// written before names carried the time and last event: see legacySnapshot).
func parseSnapshotName(name string) (SnapshotRef, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 5 || len(parts[2]) != 20 {
		return SnapshotRef{}, false
	}
	seq, serr := strconv.ParseUint(parts[2], 10, 64)
	at, terr := time.Parse(time.RFC3339Nano, parts[3])
	if serr != nil || terr != nil {
		return SnapshotRef{}, false
	}
	ref := SnapshotRef{View: parts[0], Version: parts[1], Sequence: seq, RecordedAt: at, LastEvent: parts[4]}
	return ref, snapshotName(ref) == name
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

// ListSnapshots returns every snapshot of a view, of any version. It reads the names of the
// bucket's objects from the server's index of the stream's subjects (one stream info
// request, no message read): the object store's own List reads every metadata message
// through a consumer, whose creation must find the last message of each name among all the
// compressed chunks; at 10M events, gigabytes of them, that took longer than the API's 5 s
// and a restart replayed everything. Objects whose metadata does not read are left out (and
// logged): they cannot be trusted to say what they hold.
func (s *Store) ListSnapshots(ctx context.Context, view string) ([]SnapshotRef, error) {
	obs, err := s.snapshots(ctx)
	if err != nil {
		return nil, err
	}
	info, err := s.snaps.stream.Info(ctx, natsjs.WithSubjectFilter(snapshotMeta+">"))
	if err != nil {
		return nil, fmt.Errorf("jetstream: list snapshots: %w", err)
	}
	var out []SnapshotRef
	var legacy []string
	current := map[string]bool{} // the old names of the snapshots listed under new ones
	for subject := range info.State.Subjects {
		raw, err := base64.URLEncoding.DecodeString(strings.TrimPrefix(subject, snapshotMeta))
		name := string(raw)
		if err != nil || !strings.HasPrefix(name, view+"/") {
			continue
		}
		if ref, ok := parseSnapshotName(name); ok {
			out = append(out, ref)
			current[legacyName(ref)] = true
		} else {
			legacy = append(legacy, name)
		}
	}
	for _, name := range legacy {
		if current[name] { // saved again under its new name: listed once
			continue
		}
		ref, ok, err := s.legacySnapshot(ctx, obs, name)
		if err != nil {
			return nil, err
		}
		if ok && ref.View == view {
			out = append(out, ref)
		}
	}
	return out, nil
}

// legacyName is the name of a snapshot saved before names carried the time and last event.
func legacyName(info SnapshotRef) string {
	return fmt.Sprintf("%s/%s/%020d", info.View, info.Version, info.Sequence)
}

// legacySnapshot reads the metadata of an object named before names carried everything
// ("<view>/<version>/<sequence>"), or a deleted one's; ok is false for one deleted or
// unreadable.
func (s *Store) legacySnapshot(ctx context.Context, obs natsjs.ObjectStore, name string) (SnapshotRef, bool, error) {
	o, err := obs.GetInfo(ctx, name)
	if errors.Is(err, natsjs.ErrObjectNotFound) {
		return SnapshotRef{}, false, nil
	}
	if err != nil {
		return SnapshotRef{}, false, fmt.Errorf("jetstream: list snapshots: %s: %w", name, err)
	}
	seq, serr := strconv.ParseUint(o.Metadata["sequence"], 10, 64)
	at, terr := time.Parse(time.RFC3339Nano, o.Metadata["recorded_at"])
	ref := SnapshotRef{View: o.Metadata["view"], Version: o.Metadata["version"], Sequence: seq, RecordedAt: at, LastEvent: o.Metadata["last_event"]}
	if serr != nil || terr != nil || legacyName(ref) != name {
		s.log.Warn("jetstream: ignoring a snapshot object with unreadable metadata", "object", name)
		return SnapshotRef{}, false, nil
	}
	return ref, true, nil
}

// LoadSnapshot returns a snapshot's bytes, checked against the digest stored with them.
func (s *Store) LoadSnapshot(ctx context.Context, info SnapshotRef) ([]byte, error) {
	obs, err := s.snapshots(ctx)
	if err != nil {
		return nil, err
	}
	data, err := obs.GetBytes(ctx, snapshotName(info))
	if errors.Is(err, natsjs.ErrObjectNotFound) {
		data, err = obs.GetBytes(ctx, legacyName(info))
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: load snapshot %s: %w", info, err)
	}
	return data, nil
}

// deleteTimeout bounds a DeleteSnapshot whose context has no deadline of its own: the
// server purges the object's chunks from compressed blocks, which took longer than the
// client's default 5 s in a bucket of gigabytes (5M events).
const deleteTimeout = 2 * time.Minute

// DeleteSnapshot removes one snapshot.
func (s *Store) DeleteSnapshot(ctx context.Context, info SnapshotRef) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, deleteTimeout)
		defer cancel()
	}
	obs, err := s.snapshots(ctx)
	if err != nil {
		return err
	}
	for _, name := range []string{snapshotName(info), legacyName(info)} {
		if err := obs.Delete(ctx, name); errors.Is(err, natsjs.ErrObjectNotFound) {
			continue
		} else if err != nil {
			return fmt.Errorf("jetstream: delete snapshot %s: %w", info, err)
		}
		// Delete leaves a marker under the name's subject; without it the name is gone
		// from listings too.
		subject := snapshotMeta + base64.URLEncoding.EncodeToString([]byte(name))
		if err := s.snaps.stream.Purge(ctx, natsjs.WithPurgeSubject(subject)); err != nil {
			return fmt.Errorf("jetstream: delete snapshot %s: %w", info, err)
		}
	}
	return nil
}
