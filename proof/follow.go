package proof

import (
	"context"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// What a reader that follows the log from elsewhere (client's verifying subscriber) needs:
// the leaf format of each sequence, and the tree's hashes from tiles it reads over the
// network, each checked against a signed root.

// LeafFormats says which leaf format each sequence of a folder has, as its signed format
// record states it (see RecordFormat).
type LeafFormats struct{ f leafFormats }

// OpenLeafFormats checks a folder's format record against v. A nil record (none stored
// yet) means every leaf so far is v1; the record, once stored, only covers leaves after the
// checkpoints signed before it.
func OpenLeafFormats(record []byte, v note.Verifier) (LeafFormats, error) {
	if record == nil {
		return LeafFormats{}, nil
	}
	f, err := openFormat(record, v)
	return LeafFormats{f}, err
}

// Known reports whether the formats came from a record (else all leaves are v1 so far).
func (f LeafFormats) Known() bool { return f.f.v2 }

// LeafHash is the leaf hash of the event at sequence seq, recorded at recorded, with the
// stored bytes data, in the format in force for seq.
func (f LeafFormats) LeafHash(seq uint64, recorded time.Time, data []byte) []byte {
	return f.f.hash(seq, recorded, data)
}

// TileSource is where tiles are read from: a TileStore, or a connection to one.
type TileSource interface {
	// ReadTile returns the tile at path; an error wrapping ErrTileNotFound when absent.
	ReadTile(ctx context.Context, path string) ([]byte, error)
}

// TileCache keeps the tiles that a tile hash reader authenticated, so that a reader
// checking many events against one growing tree reads each tile once. It holds at most
// max tiles (8 KiB each) and forgets them all when full. Safe for concurrent use.
type TileCache struct {
	mu    sync.Mutex
	max   int
	tiles map[tlog.Tile][]byte
}

// NewTileCache returns a cache of at most max tiles.
func NewTileCache(max int) *TileCache {
	return &TileCache{max: max, tiles: map[tlog.Tile][]byte{}}
}

func (c *TileCache) get(t tlog.Tile) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tiles[t]
}

func (c *TileCache) save(tiles []tlog.Tile, data [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tiles)+len(tiles) > c.max {
		clear(c.tiles)
	}
	for i, t := range tiles {
		c.tiles[t] = data[i]
	}
}

// TileHashes reads hashes of cp's tree from src's tiles (tlog.HashReader: stored hash
// indexes, tlog.StoredHashIndex). Every tile read, from src or cache, is checked against
// cp's root first (tlog.TileHashReader), so a damaged or missing tile is an error, never a
// wrong hash. A cache (nil: none) supplies and keeps authenticated tiles.
func TileHashes(ctx context.Context, src TileSource, cache *TileCache, cp Checkpoint) tlog.HashReader {
	return tlog.TileHashReader(tlog.Tree{N: int64(cp.Size), Hash: tlog.Hash(cp.Root)}, tileReader{ctx, src, cache})
}
