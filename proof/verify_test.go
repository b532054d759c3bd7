package proof_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/store/jetstream"
)

func TestVerifyPassesAnUntouchedLedger(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	ledgerWithCheckpoints(t, s, key, 5, 12, 40)
	record(t, s, 3) // not yet checkpointed
	rep := verify(t, s, key)
	if !rep.OK() {
		t.Fatalf("findings on an untouched ledger:\n%s", lines(rep))
	}
	if rep.Events != 43 || rep.Checkpoints != 3 || rep.Size != 40 || rep.Uncovered != 3 {
		t.Errorf("report %+v, want 43 events, 3 checkpoints, size 40, 3 uncovered", rep)
	}
}

// checkpointRecords returns the checkpoint stream's records (subject, bytes) in order.
func checkpointRecords(t testing.TB, s *jetstream.Store) (subjects []string, data [][]byte) {
	t.Helper()
	ctx := testCtx(t)
	st, err := s.JetStream().Stream(ctx, jetstream.CheckpointStreamName)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= st.CachedInfo().State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		subjects, data = append(subjects, m.Subject), append(data, m.Data)
	}
	return subjects, data
}

// rewriteCheckpoints deletes the checkpoint stream and publishes records anew.
func rewriteCheckpoints(t testing.TB, s *jetstream.Store, subjects []string, data [][]byte) {
	t.Helper()
	ctx := testCtx(t)
	if err := s.JetStream().DeleteStream(ctx, jetstream.CheckpointStreamName); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.LastCheckpoint(ctx); err != nil { // recreates it
		t.Fatal(err)
	}
	for i := range data {
		if _, err := s.JetStream().PublishMsg(ctx, &nats.Msg{Subject: subjects[i], Data: data[i]}); err != nil {
			t.Fatal(err)
		}
	}
}

// An attacker without the key appends a checkpoint of their own.
func TestVerifyRejectsACheckpointSignedByAnotherKey(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	ledgerWithCheckpoints(t, s, key, 5)
	record(t, s, 2)
	// A checkpoint of the same log name, over the same intact events.
	forger := newKey(t)
	tree := proof.NewTree()
	_, bodies := rawMessages(t, s)
	for _, b := range bodies {
		if err := tree.Append(proof.LeafHash(b)); err != nil {
			t.Fatal(err)
		}
	}
	forged, err := proof.Checkpoint{Origin: proof.DefaultOrigin, Size: tree.Size(), Root: tree.Root()}.Sign(forger.Signer)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	_, _, after, err := s.LastCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendCheckpoint(ctx, after, nil, forged); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, s, key)
	f, ok := first(rep, proof.BadCheckpoint)
	if !ok || f.Checkpoint != 2 || !strings.Contains(f.Text, "checkpoint 2") {
		t.Fatalf("want checkpoint 2 rejected:\n%s", lines(rep))
	}
}

// An attacker swaps two events and rewrites the leaf index to match, keeping the signed
// notes: the index no longer hashes to the signed roots, and the stream neither.
func TestVerifyCatchesARewrittenLeafIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openAt(t, dir)
	key := newKey(t)
	ledgerWith(t, s, key, v1Folder, 6, 12) // the index rewritten with v1 leaf hashes below
	subjects, bodies := rawMessages(t, s)
	subjects[8], subjects[9] = subjects[9], subjects[8]
	bodies[8], bodies[9] = bodies[9], bodies[8]

	cs, cd := checkpointRecords(t, s)
	for i := range cd {
		if strings.HasSuffix(cs[i], ".leaves") {
			first := int(binary.BigEndian.Uint64(cd[i]))
			for j := range (len(cd[i]) - 8) / proof.HashSize {
				copy(cd[i][8+j*proof.HashSize:], proof.LeafHash(bodies[first+j]))
			}
		}
	}
	s = recreate(t, s, dir, subjects, bodies)
	rewriteCheckpoints(t, s, cs, cd)

	rep := verify(t, s, key)
	if f, ok := first(rep, proof.BadIndex); !ok || f.Checkpoint != 2 {
		t.Errorf("want the index of checkpoint 2 rejected:\n%s", lines(rep))
	}
	if f, ok := first(rep, proof.RootMismatch); !ok || f.Checkpoint != 2 || !strings.Contains(f.Text, "sequences 7-12") {
		t.Errorf("want checkpoint 2's root, sequences 7-12:\n%s", lines(rep))
	}
}

// An attacker who also holds the signing key rewrites the stream and every checkpoint: the
// ledger's own records agree with each other, a checkpoint held elsewhere does not.
func TestVerifyAgainstAHeldCheckpointCatchesARewriteWithTheKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openAt(t, dir)
	key := newKey(t)
	held := ledgerWithCheckpoints(t, s, key, 9)[0]
	subjects, bodies := rawMessages(t, s)
	subjects[0], subjects[1] = subjects[1], subjects[0]
	bodies[0], bodies[1] = bodies[1], bodies[0]
	s = recreate(t, s, dir, subjects, bodies)
	if err := s.JetStream().DeleteStream(testCtx(t), jetstream.CheckpointStreamName); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, s, key) // re-signed history

	if rep := verify(t, s, key); !rep.OK() {
		t.Fatalf("the rewritten records disagree:\n%s", lines(rep))
	}
	rep, err := proof.Verify(testCtx(t), s, s, key.Verifier, proof.Held{Name: "q4-report.checkpoint", Note: held.Note})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := first(rep, proof.RootMismatch); !ok || !strings.Contains(f.Text, "q4-report.checkpoint") {
		t.Fatalf("the held checkpoint did not catch the rewrite:\n%s", lines(rep))
	}
}

// Events that no checkpoint covers yet (a ledger stopped between two checkpoints, or one
// that never signed) are not tampering: the report says how many, with no finding, and its
// Status tells them from a mismatch.
func TestVerifyTellsUnsignedEventsFromTampering(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		build     func(t *testing.T, s *jetstream.Store, dir string, key proof.Key) *jetstream.Store
		want      proof.Status
		uncovered uint64
	}{
		{"never signed", func(t *testing.T, s *jetstream.Store, _ string, _ proof.Key) *jetstream.Store {
			record(t, s, 4)
			return s
		}, proof.Unsigned, 4},
		{"tail after the newest checkpoint", func(t *testing.T, s *jetstream.Store, _ string, key proof.Key) *jetstream.Store {
			ledgerWithCheckpoints(t, s, key, 5)
			record(t, s, 2)
			return s
		}, proof.Unsigned, 2},
		{"every event signed", func(t *testing.T, s *jetstream.Store, _ string, key proof.Key) *jetstream.Store {
			ledgerWithCheckpoints(t, s, key, 5, 7)
			return s
		}, proof.Clean, 0},
		{"swapped, with an unsigned tail", func(t *testing.T, s *jetstream.Store, dir string, key proof.Key) *jetstream.Store {
			ledgerWithCheckpoints(t, s, key, 6)
			record(t, s, 2)
			subjects, bodies := rawMessages(t, s)
			subjects[1], subjects[2] = subjects[2], subjects[1]
			bodies[1], bodies[2] = bodies[2], bodies[1]
			return recreate(t, s, dir, subjects, bodies)
		}, proof.Mismatch, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			key := newKey(t)
			s := tc.build(t, openAt(t, dir), dir, key)
			rep := verify(t, s, key)
			if got := rep.Status(); got != tc.want {
				t.Errorf("status %s, want %s:\n%s", got, tc.want, lines(rep))
			}
			if rep.Uncovered != tc.uncovered {
				t.Errorf("%d uncovered, want %d", rep.Uncovered, tc.uncovered)
			}
			if tc.want != proof.Mismatch && !rep.OK() {
				t.Errorf("findings where nothing mismatches:\n%s", lines(rep))
			}
		})
	}
}

func TestWatchedTellsHowFarVerifyReadTheStream(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	ledgerWithCheckpoints(t, s, key, 5, 12)
	var seen []uint64
	rep, err := proof.Verify(testCtx(t), proof.Watched(s, func(seq uint64) { seen = append(seen, seq) }), s, key.Verifier)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify through Watched: %+v, %v", rep, err)
	}
	if len(seen) != 12 || seen[0] != 1 || seen[11] != 12 {
		t.Errorf("seen %v, want sequences 1 to 12", seen)
	}
}
