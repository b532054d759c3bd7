package proof

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The tree is also kept as C2SP tlog-tiles (https://c2sp.org/tlog-tiles): tiles of 256
// hashes, level 0 holding leaf hashes and level L the roots of the 256^L-leaf subtrees,
// with partial tiles (".p/W") at the right edge of each checkpointed size. A proof then reads
// O(log n) tiles instead of the stream. Tiles are derived data: the Checkpointer writes them
// as it signs, rebuilds them from the stream when they do not match the newest checkpoint,
// Verify checks them against the signed leaf index and RebuildTiles rewrites them from it.
// Tile coordinates, hashing of stored tiles and proofs from them are golang.org/x/mod's
// sumdb/tlog (the Go checksum database's tiles, of which tlog-tiles is the height-8 case).

// TileHeight is the height of every tile: 2^8 = 256 hashes.
const TileHeight = 8

const tileWidth = 1 << TileHeight

// ErrTileNotFound: the tile store holds no tile at a path. It is fs.ErrNotExist, so that a
// store need not import this package.
var ErrTileNotFound = fs.ErrNotExist

// TileStore keeps tiles by their tlog-tiles path ("tile/0/x001/234", "tile/1/000.p/7").
// store/jetstream's Store implements it (key-value bucket LEDGER_TILES). When the
// CheckpointStore (or, for proofs, the Log) given to this package also implements it, the
// Checkpointer writes tiles, proofs read them and Verify checks them.
type TileStore interface {
	// ReadTile returns the tile at path; an error wrapping ErrTileNotFound when absent.
	ReadTile(ctx context.Context, path string) ([]byte, error)
	// WriteTile stores (or replaces) the tile at path.
	WriteTile(ctx context.Context, path string, data []byte) error
	// ScanTiles calls fn with every stored tile.
	ScanTiles(ctx context.Context, fn func(path string, data []byte) error) error
}

// TilePath is a tile's tlog-tiles path: "tile/<L>/<N>[.p/<W>]", N in 3-digit elements all
// but the last prefixed with "x". (x/mod's paths name the height too: tile/8/<L>/...)
func TilePath(t tlog.Tile) string {
	return "tile/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", TileHeight))
}

// ParseTilePath reads a tlog-tiles path of a hash tile (entry bundles are not kept).
func ParseTilePath(path string) (tlog.Tile, error) {
	rest, ok := strings.CutPrefix(path, "tile/")
	if !ok || strings.HasPrefix(rest, "entries/") {
		return tlog.Tile{}, fmt.Errorf("%w: tile path %q: want tile/<level>/<index>[.p/<width>]", ErrMalformed, path)
	}
	t, err := tlog.ParseTilePath(fmt.Sprintf("tile/%d/%s", TileHeight, rest))
	if err != nil || t.L < 0 || TilePath(t) != path {
		return tlog.Tile{}, fmt.Errorf("%w: tile path %q: want tile/<level>/<index>[.p/<width>]", ErrMalformed, path)
	}
	return t, nil
}

// tileData is a tile and its hashes.
type tileData struct {
	tile tlog.Tile
	data []byte
}

// tileBuilder turns leaf hashes, appended in order, into tiles. It holds the right edge (the
// unfinished tile of each level) and, with keep, the tiles finished since the last flush.
type tileBuilder struct {
	size uint64
	edge [][]byte // edge[L]: the hashes of level L's unfinished tile
	keep bool
	full []tileData
}

func (b *tileBuilder) add(hash []byte) {
	b.size++
	h := hash
	for level := 0; ; level++ {
		if level == len(b.edge) {
			b.edge = append(b.edge, nil)
		}
		b.edge[level] = append(b.edge[level], h...)
		if len(b.edge[level]) < tileWidth*HashSize {
			return
		}
		data := b.edge[level]
		if b.keep {
			n := b.size>>(TileHeight*(level+1)) - 1
			b.full = append(b.full, tileData{tlog.Tile{H: TileHeight, L: level, N: int64(n), W: tileWidth}, data})
			b.edge[level] = nil
		} else {
			b.edge[level] = data[:0]
		}
		h = subtreeRoot(data) // computed before data is reused
	}
}

// subtreeRoot is the root of the perfect subtree whose leaves (or nodes) are hashes.
func subtreeRoot(hashes []byte) []byte {
	level := make([][]byte, len(hashes)/HashSize)
	for i := range level {
		level[i] = hashes[i*HashSize : (i+1)*HashSize]
	}
	for len(level) > 1 {
		for i := range len(level) / 2 {
			level[i] = hasher.HashChildren(level[2*i], level[2*i+1])
		}
		level = level[:len(level)/2]
	}
	return level[0]
}

// tiles returns the finished tiles kept since the last flush and the partial tiles of the
// current size (copies), and forgets the finished ones.
func (b *tileBuilder) tiles() []tileData {
	out := b.full
	b.full = nil
	for level, e := range b.edge {
		if len(e) == 0 {
			continue
		}
		n := b.size >> (TileHeight * (level + 1))
		out = append(out, tileData{tlog.Tile{H: TileHeight, L: level, N: int64(n), W: len(e) / HashSize}, bytes.Clone(e)})
	}
	return out
}

// flush writes the tiles of the current size.
func (b *tileBuilder) flush(ctx context.Context, ts TileStore) error {
	return writeTiles(ctx, ts, b.tiles())
}

// writeFull writes the finished tiles kept so far once there are many (a rebuild's
// memory stays bounded) and forgets them.
func (b *tileBuilder) writeFull(ctx context.Context, ts TileStore) error {
	if len(b.full) < 64 {
		return nil
	}
	err := writeTiles(ctx, ts, b.full)
	b.full = nil
	return err
}

func writeTiles(ctx context.Context, ts TileStore, tiles []tileData) error {
	for _, t := range tiles {
		if err := ts.WriteTile(ctx, TilePath(t.tile), t.data); err != nil {
			return fmt.Errorf("proof: write tile %s: %w", TilePath(t.tile), err)
		}
	}
	return nil
}

// tileReader reads tiles for x/mod's tlog (see ReadTile), through cache when not nil.
type tileReader struct {
	ctx   context.Context
	ts    TileSource
	cache *TileCache
}

func (tileReader) Height() int { return TileHeight }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if r.cache != nil {
			if out[i] = r.cache.get(t); out[i] != nil {
				continue
			}
		}
		d, err := readTile(r.ctx, r.ts, t)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// ReadTile returns the tile at a tlog-tiles path (ErrMalformed for another path): as
// stored, or for a partial tile not stored, the prefix of the full one, as tlog-tiles
// clients read it. ErrTileNotFound when neither is stored.
func ReadTile(ctx context.Context, ts TileSource, path string) ([]byte, error) {
	t, err := ParseTilePath(path)
	if err != nil {
		return nil, err
	}
	return readTile(ctx, ts, t)
}

func readTile(ctx context.Context, ts TileSource, t tlog.Tile) ([]byte, error) {
	d, err := ts.ReadTile(ctx, TilePath(t))
	if errors.Is(err, ErrTileNotFound) && t.W < tileWidth {
		full := t
		full.W = tileWidth
		if d, err = ts.ReadTile(ctx, TilePath(full)); err == nil {
			d = d[:min(len(d), t.W*HashSize)]
		}
	}
	if err != nil {
		return nil, fmt.Errorf("proof: read tile %s: %w", TilePath(t), err)
	}
	if len(d) != t.W*HashSize {
		return nil, fmt.Errorf("proof: tile %s holds %d bytes, want %d", TilePath(t), len(d), t.W*HashSize)
	}
	return d, nil
}

// SaveTiles keeps the tiles tlog.TileHashReader authenticated, when there is a cache.
func (r tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	if r.cache != nil {
		r.cache.save(tiles, data)
	}
}

// tileHashes reads hashes of cp's tree from tiles; every tile read is checked against cp's
// root first (tlog.TileHashReader), so a damaged or missing tile is an error, never a
// wrong hash.
func tileHashes(ctx context.Context, ts TileStore, cp Checkpoint) tlog.HashReader {
	return TileHashes(ctx, ts, nil, cp)
}

// checkTiles reports whether the tiles hold cp's tree: its right edge hashes to cp's root.
func checkTiles(ctx context.Context, ts TileStore, cp Checkpoint) error {
	if cp.Size == 0 {
		return nil
	}
	_, err := tileHashes(ctx, ts, cp).ReadHashes([]int64{tlog.StoredHashIndex(0, int64(cp.Size)-1)})
	return err
}

func hashList(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// RebuildTiles rewrites every tile from the signed leaf index: the full tiles and the
// partial tiles of each checkpoint the index proves (its leaves hash to the signed root).
// It returns the number of tiles written and the size they cover.
func RebuildTiles(ctx context.Context, store CheckpointStore, ts TileStore, v note.Verifier) (written int, size uint64, err error) {
	var rep Report
	cps, index, _, err := readCheckpoints(ctx, store, v, &rep)
	if err != nil {
		return 0, 0, err
	}
	sizes := make([]uint64, len(cps))
	for i, c := range cps {
		sizes[i] = c.cp.Size
	}
	rootsAt, _ := roots(index.size(), index.leaf, sizes, nil)
	var proven []uint64
	for _, c := range cps {
		if bytes.Equal(rootsAt[c.cp.Size], c.cp.Root) {
			proven = append(proven, c.cp.Size)
		}
	}
	b := &tileBuilder{keep: true}
	for _, s := range proven {
		for b.size < s {
			b.add(index.leaf(b.size))
		}
		tiles := b.tiles()
		if err := writeTiles(ctx, ts, tiles); err != nil {
			return written, b.size, err
		}
		written += len(tiles)
	}
	return written, b.size, nil
}

// tileFindings checks every stored tile against the leaf hashes the signatures vouch for
// (leaves, HashSize bytes each) and counts the tiles a tree of that size needs but the
// store lacks. Tiles reaching past it cannot be checked and are counted apart.
func tileFindings(ctx context.Context, ts TileStore, leaves []byte, rep *Report) error {
	trusted := uint64(len(leaves) / HashSize)
	// levels[L]: the hashes at tile level L, as the leaves compute them (1/255 more).
	levels := [][]byte{leaves}
	for l := 0; len(levels[l]) >= tileWidth*HashSize; l++ {
		var next []byte
		for off := 0; off+tileWidth*HashSize <= len(levels[l]); off += tileWidth * HashSize {
			next = append(next, subtreeRoot(levels[l][off:off+tileWidth*HashSize])...)
		}
		levels = append(levels, next)
	}
	stored := map[string]bool{}
	var damaged []string
	err := ts.ScanTiles(ctx, func(path string, data []byte) error {
		stored[path] = true
		t, err := ParseTilePath(path)
		if err != nil {
			damaged = append(damaged, fmt.Sprintf("tile %s: %v", path, err))
			return nil
		}
		from, to := (t.N<<TileHeight)*HashSize, ((t.N<<TileHeight)+int64(t.W))*HashSize
		if t.L >= len(levels) || to > int64(len(levels[t.L])) {
			rep.TilesUnchecked++
			return nil
		}
		if !bytes.Equal(data, levels[t.L][from:to]) {
			damaged = append(damaged, fmt.Sprintf("tile %s: does not match the signed leaf index (damaged); `ledger verify --rebuild-tiles` rewrites the tiles", path))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("proof: reading tiles: %w", err)
	}
	for _, t := range tlog.NewTiles(TileHeight, 0, int64(trusted)) {
		full := t
		full.W = tileWidth
		if !stored[TilePath(t)] && !stored[TilePath(full)] {
			rep.TilesMissing++
		}
	}
	for _, d := range damaged {
		rep.add(Finding{Kind: BadTile, Text: d})
	}
	return nil
}
