package proof_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/store/jetstream"
)

// The v2 leaf, computed here from its definition: SHA-256 of 0x00 (RFC 6962's leaf prefix),
// then the entry 0x02 || seq u64 BE || unix nanos i64 BE || bytes.
func refLeafV2(seq uint64, at time.Time, data []byte) []byte {
	entry := []byte{0x02}
	entry = binary.BigEndian.AppendUint64(entry, seq)
	entry = binary.BigEndian.AppendUint64(entry, uint64(at.UnixNano()))
	h := sha256.Sum256(append([]byte{0x00}, append(entry, data...)...))
	return h[:]
}

func TestLeafV2CommitsToSequenceTimeAndBytes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 9, 0, 0, 123456789, time.UTC)
	base := proof.Leaf{Seq: 7, Recorded: at, Data: []byte(`{"a":1}`)}
	for _, tc := range []struct {
		name string
		leaf proof.Leaf
	}{
		{"as recorded", base},
		{"another sequence", proof.Leaf{Seq: 8, Recorded: at, Data: base.Data}},
		{"a nanosecond later", proof.Leaf{Seq: 7, Recorded: at.Add(time.Nanosecond), Data: base.Data}},
		{"another zone, same instant", proof.Leaf{Seq: 7, Recorded: at.In(time.FixedZone("X", 3600)), Data: base.Data}},
		{"other bytes", proof.Leaf{Seq: 7, Recorded: at, Data: []byte(`{"a":2}`)}},
		{"before 1970", proof.Leaf{Seq: 1, Recorded: time.Unix(-5, 0), Data: nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := tc.leaf
			want := refLeafV2(l.Seq, l.Recorded, l.Data)
			if got := l.Hash(); !bytes.Equal(got, want) {
				t.Fatalf("Hash %x, want %x", got, want)
			}
			if got := proof.LeafHashV2(l.Seq, l.Recorded, l.Data); !bytes.Equal(got, want) {
				t.Fatalf("LeafHashV2 %x, want %x", got, want)
			}
			same := l.Seq == base.Seq && l.Recorded.Equal(base.Recorded) && bytes.Equal(l.Data, base.Data)
			if differs := !bytes.Equal(l.Hash(), base.Hash()); differs == same {
				t.Errorf("hash differs from the base leaf: %v, want %v", differs, !same)
			}
			if bytes.Equal(l.Hash(), proof.LeafHash(l.Data)) {
				t.Error("the v2 leaf equals the v1 leaf")
			}
		})
	}
}

// A folder checkpointed with v1 leaves keeps verifying after the upgrade; its next
// checkpoint signs the switch to v2 from its first new leaf, and proofs on either side of
// it carry their own format.
func TestAV1FolderSwitchesToV2AtItsNextCheckpoint(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	old := ledgerWith(t, s, key, v1Folder, 5, 10)
	oldProof, err := proof.BuildInclusion(testCtx(t), s, old[1].Checkpoint, 3)
	if err != nil || oldProof.Format != proof.InclusionFormat {
		t.Fatalf("v1 proof: %+v %v", oldProof, err)
	}
	if rep := verify(t, s, key); rep.Status() != proof.Clean {
		t.Fatalf("v1 folder: %s", rep.Status())
	}

	cps := ledgerWithCheckpoints(t, s, key, 15, 20) // today's Checkpointer
	if rep := verify(t, s, key); rep.Status() != proof.Clean {
		t.Fatalf("after the switch: %s", rep.Status())
	}
	ctx := testCtx(t)
	for _, tc := range []struct {
		seq    uint64
		format string
	}{{3, proof.InclusionFormat}, {10, proof.InclusionFormat}, {11, proof.InclusionFormatV2}, {20, proof.InclusionFormatV2}} {
		p, err := proof.BuildInclusion(ctx, s, cps[1].Checkpoint, tc.seq)
		if err != nil {
			t.Fatalf("inclusion of %d: %v", tc.seq, err)
		}
		if p.Format != tc.format || p.Recorded.IsZero() != (tc.format == proof.InclusionFormat) {
			t.Errorf("sequence %d: format %s, recorded %v; want %s", tc.seq, p.Format, p.Recorded, tc.format)
		}
		if _, err := p.Verify(cps[1].Note, key.Verifier); err != nil {
			t.Errorf("sequence %d: %v", tc.seq, err)
		}
		if tc.format == proof.InclusionFormatV2 {
			moved := p
			moved.Recorded = moved.Recorded.Add(time.Millisecond)
			if _, err := moved.Verify(cps[1].Note, key.Verifier); !errors.Is(err, proof.ErrProofFailed) {
				t.Errorf("sequence %d with another recorded time: %v, want ErrProofFailed", tc.seq, err)
			}
			elsewhere := p
			elsewhere.Sequence, elsewhere.LeafIndex = p.Sequence+1, p.LeafIndex+1
			if _, err := elsewhere.Verify(cps[1].Note, key.Verifier); !errors.Is(err, proof.ErrProofFailed) {
				t.Errorf("sequence %d claimed at %d: %v, want ErrProofFailed", tc.seq, elsewhere.Sequence, err)
			}
			asV1 := p
			asV1.Format, asV1.Recorded = proof.InclusionFormat, time.Time{}
			if _, err := asV1.Verify(cps[1].Note, key.Verifier); !errors.Is(err, proof.ErrProofFailed) {
				t.Errorf("sequence %d read as v1: %v, want ErrProofFailed", tc.seq, err)
			}
		}
	}
	// The proof made before the upgrade still verifies.
	if _, err := oldProof.Verify(old[1].Note, key.Verifier); err != nil {
		t.Errorf("v1 proof after the switch: %v", err)
	}
}

// An attacker with the server's files moves the recorded time of an event (recomputing
// the record's checksum, so the server serves it). A v2 leaf holds the time: verify names
// the event. A v1 leaf does not: the same edit goes unseen, which is why folders move on.
func TestVerifyNamesAnEventWhoseRecordedTimeWasMoved(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts proof.CheckpointerOptions
		seen bool
	}{
		{"v2", testOpts(), true},
		{"v1", v1Folder, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			key := newKey(t)
			s := openAt(t, dir)
			ledgerWith(t, s, key, tc.opts, 10, 20)
			_, before := recordedTimes(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			const target = 7
			editRecordOnDisk(t, dir, target, true, func(ts, _ []byte) {
				ns := int64(binary.LittleEndian.Uint64(ts))
				binary.LittleEndian.PutUint64(ts, uint64(ns-int64(time.Hour))) // an hour earlier
			})

			s = openAt(t, dir)
			seqs, after := recordedTimes(t, s)
			if len(seqs) != 20 || after[target-1].Equal(before[target-1]) || !after[target-1].Equal(before[target-1].Add(-time.Hour)) {
				t.Fatalf("the edit did not move sequence %d's time by an hour: %v -> %v", target, before[target-1], after[target-1])
			}
			rep := verify(t, s, key)
			if !tc.seen {
				if !rep.OK() {
					t.Fatalf("v1 leaves hold no time, yet verify found:\n%s", lines(rep))
				}
				return
			}
			mustFind(t, rep, proof.Changed, target)
			if f, _ := findingFor(rep, proof.Changed, target); len(f.Sequences) != 1 {
				t.Errorf("want sequence %d alone: %s", target, f.Text)
			}
			if n := len(rep.Findings); n != 2 { // the root and the event
				t.Errorf("%d findings, want the root and sequence %d:\n%s", n, target, lines(rep))
			}
		})
	}
}

func testOpts() proof.CheckpointerOptions { return proof.CheckpointerOptions{Logger: quiet()} }

// recordedTimes returns the sequence and recorded time of every event of s.
func recordedTimes(t testing.TB, s *jetstream.Store) ([]uint64, []time.Time) {
	t.Helper()
	var seqs []uint64
	var ats []time.Time
	err := s.ScanRecorded(testCtx(t), 1, func(seq uint64, at time.Time, _ []byte) error {
		seqs, ats = append(seqs, seq), append(ats, at)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seqs, ats
}
