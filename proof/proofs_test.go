package proof_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/complianceledger/ledger/proof"
)

func TestProofsBuiltByTheLedgerVerifyOffline(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	cps := ledgerWithCheckpoints(t, s, key, 1, 6, 8, 13)
	_, bodies := rawMessages(t, s)
	ctx := testCtx(t)

	for _, cp := range cps {
		for seq := uint64(1); seq <= cp.Size; seq++ {
			p, err := proof.BuildInclusion(ctx, s, cp.Checkpoint, seq)
			if err != nil {
				t.Fatalf("inclusion of %d in %d: %v", seq, cp.Size, err)
			}
			if !bytes.Equal(p.Event, bodies[seq-1]) {
				t.Fatalf("proof of %d carries other bytes", seq)
			}
			got := roundTrip(t, p).(*proof.InclusionProof)
			if _, err := got.Verify(cp.Note, key.Verifier); err != nil {
				t.Errorf("inclusion of %d in %d: %v", seq, cp.Size, err)
			}
		}
	}
	for i, from := range cps {
		for _, to := range cps[i:] {
			p, err := proof.BuildConsistency(ctx, s, from.Checkpoint, to.Checkpoint)
			if err != nil {
				t.Fatalf("consistency %d..%d: %v", from.Size, to.Size, err)
			}
			got := roundTrip(t, p).(*proof.ConsistencyProof)
			if _, _, err := got.Verify(from.Note, to.Note, key.Verifier); err != nil {
				t.Errorf("consistency %d..%d: %v", from.Size, to.Size, err)
			}
		}
	}
}

func roundTrip(t *testing.T, p any) any {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := proof.DecodeProof(b)
	if err != nil {
		t.Fatalf("DecodeProof(%s): %v", b, err)
	}
	return got
}

func TestCorruptedProofsAreRejected(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	cps := ledgerWithCheckpoints(t, s, key, 11, 29)
	ctx := testCtx(t)
	small, big := cps[0], cps[1]
	incl, err := proof.BuildInclusion(ctx, s, big.Checkpoint, 7)
	if err != nil {
		t.Fatal(err)
	}
	other, err := proof.BuildInclusion(ctx, s, big.Checkpoint, 8)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := proof.BuildConsistency(ctx, s, small.Checkpoint, big.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}

	// The same log name, signed with another key: a forger's checkpoint.
	forger := newKey(t)
	forged, err := big.Checkpoint.Sign(forger.Signer)
	if err != nil {
		t.Fatal(err)
	}
	// The right key, a doctored checkpoint text under the original signature.
	doctored := bytes.Replace(big.Note, []byte("\n29\n"), []byte("\n30\n"), 1)

	inclusion := []struct {
		name   string
		change func(p *proof.InclusionProof) []byte // returns the checkpoint to check against
		want   error
	}{
		{"a flipped bit in each hash", nil, proof.ErrProofFailed},
		{"a hash missing", func(p *proof.InclusionProof) []byte { p.Hashes = p.Hashes[:len(p.Hashes)-1]; return big.Note }, proof.ErrProofFailed},
		{"a hash too many", func(p *proof.InclusionProof) []byte { p.Hashes = append(p.Hashes, p.Hashes[0]); return big.Note }, proof.ErrProofFailed},
		{"another leaf index", func(p *proof.InclusionProof) []byte { p.LeafIndex, p.Sequence = 7, 8; return big.Note }, proof.ErrProofFailed},
		{"the sequence disagrees with the index", func(p *proof.InclusionProof) []byte { p.Sequence = 9; return big.Note }, proof.ErrMalformed},
		{"a wrong leaf: an edited event", func(p *proof.InclusionProof) []byte {
			p.Event = bytes.Replace(p.Event, []byte("alice"), []byte("mlice"), 1)
			return big.Note
		}, proof.ErrProofFailed},
		{"a wrong leaf: another event", func(p *proof.InclusionProof) []byte { p.Event = other.Event; return big.Note }, proof.ErrProofFailed},
		{"another checkpoint", func(*proof.InclusionProof) []byte { return small.Note }, proof.ErrProofFailed},
		{"a checkpoint signed by another key", func(*proof.InclusionProof) []byte { return forged }, proof.ErrBadSignature},
		{"a doctored checkpoint", func(*proof.InclusionProof) []byte { return doctored }, proof.ErrBadSignature},
	}
	for _, tc := range inclusion {
		t.Run("inclusion/"+tc.name, func(t *testing.T) {
			if tc.change == nil { // every hash, one at a time
				for i := range incl.Hashes {
					p := clone(incl)
					p.Hashes[i][i%proof.HashSize] ^= 1
					if _, err := p.Verify(big.Note, key.Verifier); !errors.Is(err, tc.want) {
						t.Errorf("hash %d flipped: %v, want %v", i, err, tc.want)
					}
				}
				return
			}
			p := clone(incl)
			note := tc.change(&p)
			if _, err := p.Verify(note, key.Verifier); !errors.Is(err, tc.want) {
				t.Errorf("%v, want %v", err, tc.want)
			}
		})
	}

	consistency := []struct {
		name     string
		change   func(p *proof.ConsistencyProof)
		from, to []byte
		want     error
	}{
		{"a flipped bit", func(p *proof.ConsistencyProof) { p.Hashes[0] = flip(p.Hashes[0]) }, small.Note, big.Note, proof.ErrProofFailed},
		{"a hash missing", func(p *proof.ConsistencyProof) { p.Hashes = p.Hashes[1:] }, small.Note, big.Note, proof.ErrProofFailed},
		{"checkpoints swapped", func(*proof.ConsistencyProof) {}, big.Note, small.Note, proof.ErrProofFailed},
		{"the later checkpoint forged", func(*proof.ConsistencyProof) {}, small.Note, forged, proof.ErrBadSignature},
	}
	for _, tc := range consistency {
		t.Run("consistency/"+tc.name, func(t *testing.T) {
			p := cons
			p.Hashes = cloneHashes(cons.Hashes)
			tc.change(&p)
			if _, _, err := p.Verify(tc.from, tc.to, key.Verifier); !errors.Is(err, tc.want) {
				t.Errorf("%v, want %v", err, tc.want)
			}
		})
	}

	t.Run("unknown members", func(t *testing.T) {
		b, _ := json.Marshal(incl)
		b = bytes.Replace(b, []byte(`{`), []byte(`{"note":"trust me",`), 1)
		if _, err := proof.DecodeProof(b); !errors.Is(err, proof.ErrMalformed) {
			t.Errorf("%v, want ErrMalformed", err)
		}
	})
}

func clone(p proof.InclusionProof) proof.InclusionProof {
	p.Hashes = cloneHashes(p.Hashes)
	p.Event = bytes.Clone(p.Event)
	return p
}

func cloneHashes(hs [][]byte) [][]byte {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = bytes.Clone(h)
	}
	return out
}

func flip(h []byte) []byte {
	h = bytes.Clone(h)
	h[0] ^= 0x80
	return h
}

// A proof is only built from a stream that still matches the checkpoint.
func TestNoProofFromATamperedStream(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts proof.CheckpointerOptions
		// prefixIntact: the events before the swap keep their leaves once republished (v1);
		// a v2 leaf holds the recorded time, which republishing renews.
		prefixIntact bool
	}{
		{"v1", v1Folder, true},
		{"v2", proof.CheckpointerOptions{Logger: quiet()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openAt(t, dir)
			key := newKey(t)
			cps := ledgerWith(t, s, key, tc.opts, 5, 9)
			subjects, bodies := rawMessages(t, s)
			subjects[6], subjects[7] = subjects[7], subjects[6]
			bodies[6], bodies[7] = bodies[7], bodies[6]
			s = recreate(t, s, dir, subjects, bodies)

			ctx := testCtx(t)
			// From tiles (s is a TileStore) and from the stream alone (bareLog).
			for _, log := range []proof.Log{s, bareLog{s}} {
				if _, err := proof.BuildInclusion(ctx, log, cps[1].Checkpoint, 7); !errors.Is(err, proof.ErrTampered) {
					t.Errorf("%T: inclusion of a moved event: %v, want ErrTampered", log, err)
				}
				_, err := proof.BuildInclusion(ctx, log, cps[0].Checkpoint, 2)
				if tc.prefixIntact && err != nil {
					t.Errorf("%T: inclusion in the intact prefix: %v", log, err)
				}
				if !tc.prefixIntact && !errors.Is(err, proof.ErrTampered) {
					t.Errorf("%T: inclusion of a republished event: %v, want ErrTampered", log, err)
				}
			}
			// The stream no longer holds checkpoint 2's tree: no proof is read from it.
			if _, err := proof.BuildConsistency(ctx, bareLog{s}, cps[0].Checkpoint, cps[1].Checkpoint); !errors.Is(err, proof.ErrTampered) {
				t.Errorf("consistency from the stream: %v, want ErrTampered", err)
			}
		})
	}
}

// bareLog is the ledger's store without its tiles: proofs then read the stream.
type bareLog struct{ withoutTiles }

type withoutTiles interface {
	proof.Log
	proof.CheckpointStore
}

func TestCheckpointFormat(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	cp := proof.Checkpoint{Origin: proof.DefaultOrigin, Size: 42, Root: bytes.Repeat([]byte{7}, 32)}
	want := "ledger.example/LEDGER\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"
	if cp.Body() != want {
		t.Fatalf("body %q, want %q", cp.Body(), want)
	}
	note, err := cp.Sign(key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := proof.OpenCheckpoint(note, key.Verifier)
	if err != nil || got.Size != 42 || !bytes.Equal(got.Root, cp.Root) || got.Origin != cp.Origin {
		t.Fatalf("OpenCheckpoint: %+v %v", got, err)
	}
	for _, bad := range []string{
		"ledger.example/LEDGER\n042\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
		"ledger.example/LEDGER\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw==\n",
		"ledger.example/LEDGER\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\nextra\n",
		"ledger.example/LEDGER\n-1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
		" ledger\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
	} {
		if _, err := proof.ParseCheckpoint(bad); !errors.Is(err, proof.ErrMalformed) {
			t.Errorf("ParseCheckpoint(%q): %v, want ErrMalformed", bad, err)
		}
	}
	// A checkpoint of another log, signed with this key, is not this log's.
	other := cp
	other.Origin = "other.example/log"
	n, err := other.Sign(key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.OpenCheckpoint(n, key.Verifier); !errors.Is(err, proof.ErrBadSignature) {
		t.Errorf("another log's checkpoint: %v, want ErrBadSignature", err)
	}
}

func TestKeyIsCreatedOnceAndPrivate(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/checkpoint.key"
	k1, created, err := proof.LoadOrCreateKey(path, "ledger.test/LEDGER", nil)
	if err != nil || !created {
		t.Fatalf("first use: created %v, %v", created, err)
	}
	k2, created, err := proof.LoadOrCreateKey(path, "ignored", nil)
	if err != nil || created || k2.VerifierKey != k1.VerifierKey {
		t.Fatalf("second use: created %v, %v, key %s vs %s", created, err, k2.VerifierKey, k1.VerifierKey)
	}
	if k1.Signer.Name() != "ledger.test/LEDGER" {
		t.Errorf("name %q", k1.Signer.Name())
	}
	st, err := statMode(path)
	if err != nil || st != 0o600 {
		t.Errorf("mode %o, %v; want 600", st, err)
	}
	msg, err := proof.Checkpoint{Origin: "ledger.test/LEDGER", Size: 1, Root: make([]byte, 32)}.Sign(k2.Signer)
	if err != nil {
		t.Fatal(err)
	}
	v, err := proof.NewVerifier(k1.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.OpenCheckpoint(msg, v); err != nil {
		t.Errorf("the derived verifier key does not verify the key's signature: %v", err)
	}
}

func statMode(path string) (os.FileMode, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Mode().Perm(), nil
}

// ListCheckpoints reads the checkpoint records alone where the store can filter by kind
// (JetStream, by subject), and finds the same notes as a pass over every record.
func TestListCheckpointsByKindIsThePassOverEveryRecord(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	cps := ledgerWithCheckpoints(t, s, key, 3, 10, 11) // leaf chunks and a format record between
	ctx := testCtx(t)
	byKind, err := proof.ListCheckpoints(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	all, err := proof.ListCheckpoints(ctx, noTiles{s}) // a bare CheckpointStore
	if err != nil {
		t.Fatal(err)
	}
	if len(byKind) != len(cps) || len(all) != len(cps) {
		t.Fatalf("%d and %d notes, want %d", len(byKind), len(all), len(cps))
	}
	for i := range cps {
		if !bytes.Equal(byKind[i], cps[i].Note) || !bytes.Equal(all[i], cps[i].Note) {
			t.Errorf("checkpoint %d differs", i+1)
		}
	}
}
