package cluster_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/cluster/clustertest"
	"github.com/complianceledger/ledger/store/storetest"
)

// TestAReaderOnAnotherNodeSeesEveryAppend: after each append through node 1, a reader
// connected to node 2 reads exactly that event, as a second `serve` replica's views do.
// (Read by an ordered consumer, one read in ten stalled for 10 s here, and some never ended:
// a consumer just created on a replica missed its first pull.)
func TestAReaderOnAnotherNodeSeesEveryAppend(t *testing.T) {
	c := clustertest.Start(t, clustertest.Plan(t, 3))
	writer, err := open(t, c.NodeURL(0), 3)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := open(t, c.NodeURL(1), 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx := storetest.Ctx(t)
	applied := uint64(0)
	for i := range 100 {
		seq := storetest.MustAppend(t, writer, storetest.Received(t, uuid.NewString()), 0)
		var got []uint64
		for rec, err := range reader.Read(ctx, applied+1) {
			if err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
			got = append(got, rec.Sequence)
			applied = rec.Sequence
		}
		if len(got) != 1 || got[0] != seq {
			t.Fatalf("read %d after appending %d: got sequences %v", i, seq, got)
		}
	}
}
