package jetstream

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/store"
)

// TileBucket is the key-value bucket that keeps the Merkle tree as C2SP tlog-tiles, one key
// per tile path ("tile/0/x001/234", "tile/1/000.p/7"; package proof owns the format). Tiles
// are derived from LEDGER through the checkpoint stream's leaf index and can be rebuilt at
// any time, so the bucket does not follow LEDGER's immutability rules. A key-value bucket
// because a tile is at most 8 KiB, one message, read by key.
const TileBucket = "LEDGER_TILES"

// tileBucket is the bucket, opened (or created) on first use.
type tileBucket struct {
	mu sync.Mutex
	kv natsjs.KeyValue
}

// tileKV returns the bucket; with create false, nil when it does not exist.
func (s *Store) tileKV(ctx context.Context, create bool) (natsjs.KeyValue, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	s.tiles.mu.Lock()
	defer s.tiles.mu.Unlock()
	if s.tiles.kv != nil {
		return s.tiles.kv, nil
	}
	kv, err := s.js.KeyValue(ctx, TileBucket)
	if errors.Is(err, natsjs.ErrBucketNotFound) {
		if !create {
			return nil, nil
		}
		replicas := 1
		if ledger, lerr := s.js.Stream(ctx, StreamName); lerr == nil {
			replicas = max(ledger.CachedInfo().Config.Replicas, 1)
		}
		kv, err = s.js.CreateKeyValue(ctx, natsjs.KeyValueConfig{
			Bucket:      TileBucket,
			Description: "Compliance ledger: the Merkle tree as tlog-tiles (derived from LEDGER; rebuildable)",
			History:     1,
			Storage:     natsjs.FileStorage,
			Replicas:    replicas,
		})
		if errors.Is(err, natsjs.ErrBucketExists) {
			kv, err = s.js.KeyValue(ctx, TileBucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: tile bucket: %w", err)
	}
	s.tiles.kv = kv
	return kv, nil
}

// ReadTile returns the tile at path; an error wrapping fs.ErrNotExist when there is none.
func (s *Store) ReadTile(ctx context.Context, path string) ([]byte, error) {
	kv, err := s.tileKV(ctx, false)
	if err != nil {
		return nil, err
	}
	if kv == nil {
		return nil, fmt.Errorf("jetstream: tile %s: %w", path, fs.ErrNotExist)
	}
	e, err := kv.Get(ctx, path)
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return nil, fmt.Errorf("jetstream: tile %s: %w", path, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: tile %s: %w", path, err)
	}
	return e.Value(), nil
}

// WriteTile stores the tile at path, replacing what was there.
func (s *Store) WriteTile(ctx context.Context, path string, data []byte) error {
	kv, err := s.tileKV(ctx, true)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, path, data); err != nil {
		return fmt.Errorf("jetstream: write tile %s: %w", path, err)
	}
	return nil
}

// ScanTiles calls fn with every stored tile, in no particular order.
func (s *Store) ScanTiles(ctx context.Context, fn func(path string, data []byte) error) error {
	kv, err := s.tileKV(ctx, false)
	if err != nil || kv == nil {
		return err
	}
	w, err := kv.WatchAll(ctx, natsjs.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("jetstream: tiles: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("jetstream: tiles: watcher closed")
			}
			if e == nil { // every stored tile was delivered
				return nil
			}
			if err := fn(e.Key(), e.Value()); err != nil {
				return err
			}
		}
	}
}
