package proof_test

import (
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/proof"
)

// receiptsFor signs the receipts of events 1..n of s, as serve does at acknowledgment.
func receiptsFor(t testing.TB, s proof.Log, key proof.Key, n int) []proof.SignedReceipt {
	t.Helper()
	r := &proof.Receipter{Key: key, Log: s}
	out := make([]proof.SignedReceipt, n)
	for i := range out {
		var err error
		if out[i], err = r.At(testCtx(t), uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestCheckReceiptsTellsCleanBrokenAndForgedApart(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key, other := newKey(t), newKey(t)
	ledgerWithCheckpoints(t, s, key, 6)
	good := receiptsFor(t, s, key, 6)

	// A receipt the log signed with a time it does not hold (moved), one edited after
	// signing and one of another key (forged), one past the newest checkpoint (uncovered).
	sign := func(r proof.Receipt, k proof.Key) proof.SignedReceipt {
		msg, err := r.Sign(k.Signer)
		if err != nil {
			t.Fatal(err)
		}
		sr, err := proof.ParseSignedReceipt(mustJSON(t, proof.SignedReceipt{Format: proof.ReceiptFormat, Origin: r.Origin,
			Sequence: r.Sequence, EventID: r.EventID, LeafHash: r.LeafHash, Recorded: r.Recorded, Note: string(msg)}))
		if err != nil {
			t.Fatal(err)
		}
		return sr
	}
	opened, err := good[2].Open(key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	moved := opened
	moved.Recorded = moved.Recorded.Add(-time.Hour)
	moved.LeafHash = proof.LeafHashV2(moved.Sequence, moved.Recorded, []byte("{}"))
	uncovered := opened
	uncovered.Sequence = 7
	edited := good[4]
	edited.Note = strings.Replace(edited.Note, "\n5\n", "\n4\n", 1)
	given := append(good, sign(moved, key), edited, sign(opened, other), sign(uncovered, key))

	rep, err := proof.CheckReceipts(testCtx(t), s, s, key.Verifier, given)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 10 || rep.Clean != 6 || rep.Status() != proof.ReceiptsBroken {
		t.Fatalf("report %+v, want 10 checked, 6 clean, broken", rep)
	}
	if len(rep.Broken) != 2 || rep.Broken[0].Kind != proof.BrokenMoved || rep.Broken[0].Index != 6 || rep.Broken[1].Kind != proof.BrokenUncovered || rep.Broken[1].Index != 9 {
		t.Fatalf("broken: %+v", rep.Broken)
	}
	if len(rep.Forged) != 2 || rep.Forged[0].Index != 7 || rep.Forged[1].Index != 8 {
		t.Fatalf("forged: %+v", rep.Forged)
	}
	if rep, err := proof.CheckReceipts(testCtx(t), s, s, key.Verifier, good); err != nil || rep.Status() != proof.ReceiptsClean {
		t.Fatalf("the log's own receipts: %+v, %v", rep, err)
	}
}
