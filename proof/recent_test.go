package proof

import (
	"encoding/binary"
	"testing"
)

func TestRecentKeepsTheLastCheckpointsWithinItsBounds(t *testing.T) {
	leaf := func(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }
	var r recent
	r.reset(0, nil)
	for n := uint64(1); n <= maxRecent+6; n++ {
		var leaves [][]byte
		for i := (n - 1) * 10; i < n*10; i++ {
			leaves = append(leaves, leaf(i))
		}
		r.add(n*10, [][]byte{leaf(n)}, leaves)
	}
	if len(r.sizes) != maxRecent || r.sizes[0] != 70 {
		t.Fatalf("kept %d checkpoints from size %d, want %d from 70", len(r.sizes), r.sizes[0], maxRecent)
	}
	if _, _, ok := r.at(60); ok {
		t.Error("size 60 was dropped, yet at finds it")
	}
	rng, leaves, ok := r.at(100)
	if !ok || string(rng[0]) != string(leaf(10)) || len(leaves) != 600 || string(leaves[0]) != string(leaf(100)) {
		t.Errorf("at(100): %v, range %x, %d leaves from %x", ok, rng, len(leaves), leaves[0])
	}

	// One checkpoint of more leaves than the bound leaves only itself.
	r.add(r.sizes[len(r.sizes)-1]+maxRecentLeaves+1, nil, make([][]byte, maxRecentLeaves+1))
	if len(r.sizes) != 1 || len(r.leaves) != 0 {
		t.Errorf("after a huge checkpoint: %d kept, %d leaves", len(r.sizes), len(r.leaves))
	}
}
