package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/complianceledger/ledger/proof"
)

// streamOnly is the ledger's proof store with its tiles hidden: proofs then take one pass
// over the stream, as before tiles.
type streamOnly struct{ proofStore }

// proofRow measures, in process, an inclusion proof against the newest checkpoint: from the
// tiles (the mean of 100, random events) and from one pass over the stream.
func (b *benchRun) proofRow() error {
	l, err := b.g.openProofs(b.ctx)
	if err != nil {
		return err
	}
	defer l.store.Close()
	v, err := b.g.verifier("")
	if err != nil {
		return err
	}
	cp, err := proof.FindCheckpoint(b.ctx, l.proofs, v, 0)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(cp.Size, 1))
	const tiled = 100
	start := time.Now()
	for range tiled {
		if _, err := proof.BuildInclusion(b.ctx, l.proofs, cp.Checkpoint, 1+rng.Uint64N(cp.Size)); err != nil {
			return err
		}
	}
	fromTiles := time.Since(start) / tiled
	start = time.Now()
	if _, err := proof.BuildInclusion(b.ctx, streamOnly{l.proofs}, cp.Checkpoint, 1+rng.Uint64N(cp.Size)); err != nil {
		return err
	}
	fromStream := time.Since(start)
	b.row(fmt.Sprintf("inclusion proof at a checkpoint of %d: from the tiles (mean of %d) / one pass over the stream", cp.Size, tiled),
		"O(log n) reads", fmt.Sprintf("%s / %s", fromTiles.Round(time.Microsecond), fromStream.Round(time.Millisecond)),
		fmt.Sprintf("%.0f× faster from the tiles", fromStream.Seconds()/fromTiles.Seconds()))
	return nil
}
