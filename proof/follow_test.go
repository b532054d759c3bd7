package proof_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/complianceledger/ledger/proof"
)

// countingTiles counts the tiles read from a TileSource.
type countingTiles struct {
	src   proof.TileSource
	reads atomic.Int64
}

func (c *countingTiles) ReadTile(ctx context.Context, path string) ([]byte, error) {
	c.reads.Add(1)
	return c.src.ReadTile(ctx, path)
}

// A reader with a TileCache reads each tile once, still checks cached tiles against the root
// it is given, and reads the leaf hashes the tree holds; without a cache it reads them again.
func TestTileHashesCacheAuthenticatedTiles(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	var log memLog
	store := memTiled{&memCheckpoints{}, &memTiles{}}
	for len(log) < 700 {
		log = append(log, fmt.Appendf(nil, `{"event":%d}`, len(log)+1))
	}
	signed, _, err := proof.NewCheckpointer(&log, store, key, proof.CheckpointerOptions{Logger: quiet()}).Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cp := signed.Checkpoint
	leaves := []int64{tlog.StoredHashIndex(0, 3), tlog.StoredHashIndex(0, 600)}
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		cache  *proof.TileCache
		second int64 // tiles read by the second ReadHashes
	}{
		{"cached", proof.NewTileCache(64), 0},
		{"no cache", nil, -1}, // as many as the first
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &countingTiles{src: store}
			hashes, err := proof.TileHashes(ctx, src, tc.cache, cp).ReadHashes(leaves)
			if err != nil {
				t.Fatal(err)
			}
			for i, seq := range []uint64{4, 601} {
				want := proof.LeafHashV2(seq, fakeRecorded(seq), log[seq-1])
				if string(hashes[i][:]) != string(want) {
					t.Errorf("leaf %d: %x, want %x", seq, hashes[i], want)
				}
			}
			first := src.reads.Load()
			if _, err := proof.TileHashes(ctx, src, tc.cache, cp).ReadHashes(leaves); err != nil {
				t.Fatal(err)
			}
			want := tc.second
			if want < 0 {
				want = first
			}
			if got := src.reads.Load() - first; got != want {
				t.Errorf("second read took %d tiles from the source, want %d (first: %d)", got, want, first)
			}
			wrong := cp
			wrong.Root = make([]byte, proof.HashSize)
			if _, err := proof.TileHashes(ctx, src, tc.cache, wrong).ReadHashes(leaves); err == nil {
				t.Error("tiles read for a tree of another root")
			}
		})
	}
}
