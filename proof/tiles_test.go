package proof_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/store/jetstream"
)

// memTiles is a TileStore held in memory.
type memTiles struct {
	mu    sync.Mutex
	tiles map[string][]byte
}

func (m *memTiles) ReadTile(_ context.Context, path string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.tiles[path]
	if !ok {
		return nil, fmt.Errorf("tile %s: %w", path, fs.ErrNotExist)
	}
	return bytes.Clone(d), nil
}

func (m *memTiles) WriteTile(_ context.Context, path string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tiles == nil {
		m.tiles = map[string][]byte{}
	}
	m.tiles[path] = bytes.Clone(data)
	return nil
}

func (m *memTiles) ScanTiles(_ context.Context, fn func(string, []byte) error) error {
	m.mu.Lock()
	tiles := maps.Clone(m.tiles)
	m.mu.Unlock()
	for _, p := range slices.Sorted(maps.Keys(tiles)) {
		if err := fn(p, tiles[p]); err != nil {
			return err
		}
	}
	return nil
}

// memTiled is a checkpoint store that keeps tiles, in memory.
type memTiled struct {
	*memCheckpoints
	*memTiles
}

// treeHashFromTiles computes the root of the tree of size n from stored tiles alone, with
// x/mod's tlog.TreeHash over the hashes the tiles hold (nothing checked on the way): the
// tiles' own account of the tree.
func treeHashFromTiles(t *testing.T, ts proof.TileStore, n int64) tlog.Hash {
	t.Helper()
	read := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			tile := tlog.TileForIndex(proof.TileHeight, x)
			tile.W = int(min(256, n>>(proof.TileHeight*tile.L)-tile.N*256)) // its width at size n
			data, err := ts.ReadTile(context.Background(), proof.TilePath(tile))
			if err != nil {
				return nil, err
			}
			if out[i], err = tlog.HashFromTile(tile, data, x); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
	h, err := tlog.TreeHash(n, read)
	if err != nil {
		t.Fatalf("tree hash of size %d from tiles: %v", n, err)
	}
	return h
}

// Every checkpoint's root, as the tiles compute it, is the root the Checkpointer signed
// (its compact range's), across tile and level boundaries; the tiles written are those
// tlog-tiles names for each size.
func TestTilesHoldEveryCheckpointedTree(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	sizes := []int{1, 2, 255, 256, 257, 511, 512, 1000, 65535, 65536, 65537, 70001}
	var log memLog
	store := memTiled{&memCheckpoints{}, &memTiles{}}
	c := proof.NewCheckpointer(&log, store, key, proof.CheckpointerOptions{Logger: quiet()})
	ctx := context.Background()
	prev := int64(0)
	for _, size := range sizes {
		for len(log) < size {
			log = append(log, fmt.Appendf(nil, `{"event":%d}`, len(log)+1))
		}
		cp, written, err := c.Checkpoint(ctx)
		if err != nil || !written || cp.Size != uint64(size) {
			t.Fatalf("checkpoint at %d: %+v %v %v", size, cp.Checkpoint, written, err)
		}
		if got := treeHashFromTiles(t, store, int64(size)); !bytes.Equal(got[:], cp.Root) {
			t.Fatalf("size %d: root from tiles %x, signed %x", size, got, cp.Root)
		}
		for _, tile := range tlog.NewTiles(proof.TileHeight, prev, int64(size)) {
			if _, err := store.ReadTile(ctx, proof.TilePath(tile)); err != nil {
				t.Errorf("size %d: %v", size, err)
			}
		}
		prev = int64(size)
	}
	// TileHashReader checks tiles against the root it is given: a wrong root fails.
	wrong := tlog.Tree{N: prev, Hash: tlog.Hash{1}}
	if _, err := tlog.ProveRecord(prev, 3, tlog.TileHashReader(wrong, tileReader{store})); err == nil {
		t.Error("tiles proved a record in a tree of another root")
	}
}

// tileReader is a tlog.TileReader over a TileStore, as a tlog client would have it.
type tileReader struct{ ts proof.TileStore }

func (tileReader) Height() int { return proof.TileHeight }
func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		d, err := r.ts.ReadTile(context.Background(), proof.TilePath(t))
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}
func (tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func TestTilePaths(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tile tlog.Tile
		path string
	}{
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, "tile/0/000"},
		{tlog.Tile{H: 8, L: 0, N: 1234, W: 256}, "tile/0/x001/234"},
		{tlog.Tile{H: 8, L: 2, N: 1234067, W: 5}, "tile/2/x001/x234/067.p/5"},
	} {
		if got := proof.TilePath(tc.tile); got != tc.path {
			t.Errorf("TilePath(%+v) = %q, want %q", tc.tile, got, tc.path)
		}
		if got, err := proof.ParseTilePath(tc.path); err != nil || got != tc.tile {
			t.Errorf("ParseTilePath(%q) = %+v, %v", tc.path, got, err)
		}
	}
	for _, bad := range []string{"tile/8/0/000", "tile/entries/000", "tile/0/1234", "tile/0/000.p/256", "tiles/0/000", "tile/0/x000/001"} {
		if _, err := proof.ParseTilePath(bad); err == nil {
			t.Errorf("ParseTilePath(%q) accepted", bad)
		}
	}
}

// counting is the ledger's store, counting the tiles and events proofs read.
type counting struct {
	*jetstream.Store
	tiles, events atomic.Int64
}

func (c *counting) ReadTile(ctx context.Context, path string) ([]byte, error) {
	c.tiles.Add(1)
	return c.Store.ReadTile(ctx, path)
}

func (c *counting) ReadRecorded(ctx context.Context, seq uint64) (time.Time, []byte, error) {
	c.events.Add(1)
	return c.Store.ReadRecorded(ctx, seq)
}

func (c *counting) ScanRecorded(ctx context.Context, from uint64, fn func(uint64, time.Time, []byte) error) error {
	return c.Store.ScanRecorded(ctx, from, func(seq uint64, at time.Time, data []byte) error {
		c.events.Add(1)
		return fn(seq, at, data)
	})
}

// Proofs from tiles are the proofs the stream gives, byte for byte, and read a few tiles
// and one event.
func TestProofsFromTilesEqualProofsFromTheStream(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	cps := ledgerWithCheckpoints(t, s, key, 1, 6, 256, 300, 513, 700)
	ctx := testCtx(t)
	c := &counting{Store: s}
	for _, cp := range cps {
		for _, seq := range []uint64{1, 2, 7, 256, 257, 300, 513, 600, 700} {
			if seq > cp.Size {
				continue
			}
			c.tiles.Store(0)
			c.events.Store(0)
			fromTiles, err := proof.BuildInclusion(ctx, c, cp.Checkpoint, seq)
			if err != nil {
				t.Fatalf("inclusion of %d in %d from tiles: %v", seq, cp.Size, err)
			}
			if n := c.events.Load(); n != 1 {
				t.Errorf("inclusion of %d in %d read %d events, want 1", seq, cp.Size, n)
			}
			if n := c.tiles.Load(); (n == 0 && cp.Size > 1) || n > 6 {
				t.Errorf("inclusion of %d in %d read %d tiles", seq, cp.Size, n)
			}
			fromStream, err := proof.BuildInclusion(ctx, bareLog{s}, cp.Checkpoint, seq)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, fmt.Sprintf("inclusion of %d in %d", seq, cp.Size), fromTiles, fromStream)
			if _, err := fromTiles.Verify(cp.Note, key.Verifier); err != nil {
				t.Errorf("inclusion of %d in %d: %v", seq, cp.Size, err)
			}
		}
	}
	for i, a := range cps {
		for _, b := range cps[i:] {
			c.events.Store(0)
			fromTiles, err := proof.BuildConsistency(ctx, c, a.Checkpoint, b.Checkpoint)
			if err != nil {
				t.Fatalf("consistency %d..%d from tiles: %v", a.Size, b.Size, err)
			}
			if n := c.events.Load(); n != 0 {
				t.Errorf("consistency %d..%d read %d events, want none", a.Size, b.Size, n)
			}
			fromStream, err := proof.BuildConsistency(ctx, bareLog{s}, a.Checkpoint, b.Checkpoint)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, fmt.Sprintf("consistency %d..%d", a.Size, b.Size), fromTiles, fromStream)
		}
	}
}

func sameJSON(t *testing.T, what string, a, b any) {
	t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("%s: from tiles\n%s\nfrom the stream\n%s", what, ja, jb)
	}
}

// A tile changed in the bucket is named by verify; proofs fall back to the stream and stay
// right; RebuildTiles restores it from the signed leaf index.
func TestVerifyFindsADamagedTileAndRebuildTilesMendsIt(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	cps := ledgerWithCheckpoints(t, s, key, 300, 600)
	ctx := testCtx(t)
	const path = "tile/0/001"
	good, err := s.ReadTile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	bad[100] ^= 1
	if err := s.WriteTile(ctx, path, bad); err != nil {
		t.Fatal(err)
	}

	rep := verify(t, s, key)
	f, ok := first(rep, proof.BadTile)
	if !ok || !strings.Contains(f.Text, path) || len(rep.Findings) != 1 {
		t.Fatalf("want one finding, tile %s damaged:\n%s", path, lines(rep))
	}
	p, err := proof.BuildInclusion(ctx, s, cps[1].Checkpoint, 260) // leaf 259 is in tile/0/001
	if err != nil {
		t.Fatalf("inclusion with a damaged tile: %v", err)
	}
	if _, err := p.Verify(cps[1].Note, key.Verifier); err != nil {
		t.Fatal(err)
	}

	written, size, err := proof.RebuildTiles(ctx, s, s, key.Verifier)
	if err != nil || size != 600 || written == 0 {
		t.Fatalf("RebuildTiles: %d tiles to size %d, %v", written, size, err)
	}
	if got, _ := s.ReadTile(ctx, path); !bytes.Equal(got, good) {
		t.Error("the tile was not restored")
	}
	if rep := verify(t, s, key); !rep.OK() || rep.TilesMissing != 0 {
		t.Errorf("after the rebuild: %d missing\n%s", rep.TilesMissing, lines(rep))
	}
}

// noTiles is the ledger's store as one without tiles (a folder made before them).
type noTiles struct{ proof.CheckpointStore }

// A folder checkpointed before tiles existed verifies clean with its tiles missing; the next
// Checkpointer writes them all from the stream.
func TestTilesOfAFolderMadeBeforeThemAreBuiltFromTheStream(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	c := proof.NewCheckpointer(s, noTiles{s}, key, proof.CheckpointerOptions{Logger: quiet()})
	record(t, s, 600)
	if _, _, err := c.Checkpoint(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, s, key)
	if rep.Status() != proof.Clean || rep.TilesMissing != len(tlog.NewTiles(proof.TileHeight, 0, 600)) {
		t.Fatalf("status %s, %d tiles missing", rep.Status(), rep.TilesMissing)
	}
	record(t, s, 10)
	cp := checkpoint(t, s, key) // checks the tiles, finds none, writes them
	rep = verify(t, s, key)
	if !rep.OK() || rep.TilesMissing != 0 {
		t.Fatalf("after a checkpoint: %d tiles missing\n%s", rep.TilesMissing, lines(rep))
	}
	if got := treeHashFromTiles(t, s, int64(cp.Size)); !bytes.Equal(got[:], cp.Root) {
		t.Error("tiles do not hold the new checkpoint's tree")
	}
	if got := treeHashFromTiles(t, s, 600); got == (tlog.Hash{}) {
		t.Error("no tiles for size 600")
	}
}

// brokenTiles is a tile store that refuses every write.
type brokenTiles struct{ memTiles }

func (*brokenTiles) WriteTile(context.Context, string, []byte) error {
	return errors.New("tile bucket: permission denied")
}

// Tiles never hold a checkpoint back: with a tile store that refuses writes, checkpoints
// are still signed, and verify finds the tiles missing, not the ledger wrong.
func TestATileStoreThatFailsDoesNotStopCheckpoints(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	var log memLog
	store := struct {
		*memCheckpoints
		*brokenTiles
	}{&memCheckpoints{}, &brokenTiles{}}
	c := proof.NewCheckpointer(&log, store, key, proof.CheckpointerOptions{Logger: quiet()})
	for _, size := range []int{300, 600} {
		for len(log) < size {
			log = append(log, fmt.Appendf(nil, `{"event":%d}`, len(log)+1))
		}
		if cp, written, err := c.Checkpoint(context.Background()); err != nil || !written || cp.Size != uint64(size) {
			t.Fatalf("checkpoint at %d: %+v %v %v", size, cp.Checkpoint, written, err)
		}
	}
	rep, err := proof.Verify(context.Background(), log, store, key.Verifier)
	if err != nil || rep.Status() != proof.Clean || rep.TilesMissing == 0 {
		t.Fatalf("verify: %v, %s, %d tiles missing\n%s", err, rep.Status(), rep.TilesMissing, lines(rep))
	}
}
