package witness_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/witness"
)

// witnessPrivateKey reads the Ed25519 key out of the witness's key file, as an operator
// moving the witness to other software would.
func witnessPrivateKey(t *testing.T, dir string) ed25519.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, witness.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.SplitN(strings.TrimSpace(string(b)), "+", 5) // base64 may hold a +
	raw, err := base64.StdEncoding.DecodeString(fields[len(fields)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		t.Fatalf("witness key file: %v", err)
	}
	return ed25519.NewKeyFromSeed(raw[1:])
}

// TestCosignaturesInteroperateWithTorchwood: filippo.io/torchwood, written apart from
// transparency-dev/formats, accepts the cosignatures the witness makes and gives the same
// verifier key; ours accept the cosignatures torchwood makes with the same key.
func TestCosignaturesInteroperateWithTorchwood(t *testing.T) {
	key := logKey(t, "example.test/log")
	l := newLog(3, "a")
	dir := t.TempDir()
	w, vkey := newWitness(t, dir, "example.test/w1", key)
	_, msg := signed(t, l, 3, key)
	sig, err := w.AddCheckpoint(testCtx(t), 0, nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	tw, err := torchwood.NewCosignatureSigner("example.test/w1", witnessPrivateKey(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := tw.Verifier().String(); got != vkey {
		t.Errorf("torchwood's verifier key %q, ours %q", got, vkey)
	}
	n, err := note.Open(append(bytes.Clone(msg), sig...), note.VerifierList(tw.Verifier()))
	if err != nil {
		t.Fatalf("torchwood does not accept our cosignature: %v", err)
	}
	if ts, err := torchwood.CosignatureTimestamp(n.Sigs[0]); err != nil || time.Since(time.Unix(ts, 0)) > time.Minute {
		t.Errorf("torchwood reads the timestamp %d (%v), want about now", ts, err)
	}

	// Theirs, checked by ours.
	theirs, err := note.Sign(&note.Note{Text: n.Text}, tw)
	if err != nil {
		t.Fatal(err)
	}
	cosigned := append(bytes.Clone(msg), theirs[len(n.Text)+1:]...)
	policy, err := proof.NewWitnessPolicy([]string{vkey}, 1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := proof.CheckCosignatures(cosigned, key.Verifier, policy)
	if err != nil || !c.Witnessed(policy) || len(c.Forged) > 0 {
		t.Fatalf("our check of torchwood's cosignature: %+v, %v", c, err)
	}
}

// TestCosignatureIsTheSpecMessage checks a cosignature by hand against c2sp.org/
// tlog-cosignature: key ID SHA-256(name || "\n" || 0x04 || key)[:4], then a big-endian
// timestamp, then an Ed25519 signature of "cosignature/v1\ntime <t>\n" and the checkpoint.
func TestCosignatureIsTheSpecMessage(t *testing.T) {
	key := logKey(t, "example.test/log")
	dir := t.TempDir()
	w, vkey := newWitness(t, dir, "example.test/w1", key)
	_, msg := signed(t, newLog(2, "a"), 2, key)
	sig, err := w.AddCheckpoint(testCtx(t), 0, nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	pub := witnessPrivateKey(t, dir).Public().(ed25519.PublicKey)
	id := sha256.Sum256(append([]byte("example.test/w1\n\x04"), pub...))
	wantKey := fmt.Sprintf("example.test/w1+%x+%s", id[:4], base64.StdEncoding.EncodeToString(append([]byte{4}, pub...)))
	if vkey != wantKey {
		t.Errorf("verifier key %q, want %q", vkey, wantKey)
	}
	line := strings.TrimSuffix(string(sig), "\n")
	b64, ok := strings.CutPrefix(line, "— example.test/w1 ")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(raw) != 4+8+ed25519.SignatureSize {
		t.Fatalf("cosignature line %q", line)
	}
	if !bytes.Equal(raw[:4], id[:4]) {
		t.Errorf("key ID %x, want %x", raw[:4], id[:4])
	}
	ts := binary.BigEndian.Uint64(raw[4:12])
	body := string(msg[:bytes.Index(msg, []byte("\n\n"))+1])
	signedMsg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, body)
	if !ed25519.Verify(pub, []byte(signedMsg), raw[12:]) {
		t.Errorf("the signature is not over %q", signedMsg)
	}
	if d := time.Since(time.Unix(int64(ts), 0)); d < 0 || d > time.Minute {
		t.Errorf("timestamp %d is not now", ts)
	}
}
