package witness_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/witness"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// memLog is a log held in memory: the proofs of a test are built from it by package proof.
type memLog [][]byte

func (l memLog) ScanRecorded(_ context.Context, from uint64, fn func(uint64, time.Time, []byte) error) error {
	for i := max(from, 1); i <= uint64(len(l)); i++ {
		if err := fn(i, time.Time{}, l[i-1]); err != nil {
			return err
		}
	}
	return nil
}

func newLog(n int, tag string) memLog {
	l := make(memLog, n)
	for i := range l {
		l[i] = fmt.Appendf(nil, "event %d %s", i+1, tag)
	}
	return l
}

// signed is the checkpoint of l's first n leaves, signed with key.
func signed(t testing.TB, l memLog, n int, key proof.Key) (proof.Checkpoint, []byte) {
	t.Helper()
	tree := proof.NewTree()
	for _, e := range l[:n] {
		if err := tree.Append(proof.LeafHash(e)); err != nil {
			t.Fatal(err)
		}
	}
	cp := proof.Checkpoint{Origin: key.Signer.Name(), Size: tree.Size(), Root: tree.Root()}
	msg, err := cp.Sign(key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return cp, msg
}

func consistency(t testing.TB, l memLog, from, to proof.Checkpoint) [][]byte {
	t.Helper()
	if from.Size == 0 {
		return nil
	}
	p, err := proof.BuildConsistency(testCtx(t), l, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return p.Hashes
}

func logKey(t testing.TB, origin string) proof.Key {
	t.Helper()
	skey, err := proof.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	k, err := proof.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newWitness is a witness in dir following the logs of keys, and its verifier key.
func newWitness(t testing.TB, dir, name string, keys ...proof.Key) (*witness.Witness, string) {
	t.Helper()
	signer, vkey, _, err := witness.LoadOrCreateKey(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	var vkeys []string
	for _, k := range keys {
		vkeys = append(vkeys, k.VerifierKey)
	}
	w, err := witness.New(dir, signer, vkeys, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return w, vkey
}

func post(t testing.TB, url string, body []byte) (int, string, string) {
	t.Helper()
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestAddCheckpointAnswersEachStatusOfTheSpec drives the endpoint through every status
// tlog-witness names, from a state where the witness has cosigned the log at size 5.
func TestAddCheckpointAnswersEachStatusOfTheSpec(t *testing.T) {
	key := logKey(t, "example.test/log")
	l := newLog(9, "a")
	w, vkey := newWitness(t, t.TempDir(), "example.test/w1", key)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()

	cp5, note5 := signed(t, l, 5, key)
	if code, _, body := post(t, srv.URL, witness.FormatRequest(0, nil, note5)); code != 200 {
		t.Fatalf("first checkpoint: %d %s", code, body)
	}
	cp9, note9 := signed(t, l, 9, key)
	good := consistency(t, l, cp5, cp9)
	_, fork5 := signed(t, newLog(5, "b"), 5, key)
	other := logKey(t, "example.test/log") // same origin, another key
	_, forged9 := signed(t, l, 9, other)
	unknown := logKey(t, "example.test/other")
	_, unknown9 := signed(t, l, 9, unknown)
	badProof := append([][]byte{}, good...)
	badProof[0] = bytes.Repeat([]byte{7}, 32)
	// A signature line of the log's name and key hash whose signature is wrong.
	tampered := bytes.Clone(note9)
	i := bytes.LastIndexByte(tampered[:len(tampered)-1], ' ') + 10
	tampered[i] = map[bool]byte{true: 'B', false: 'A'}[tampered[i] == 'A']

	tests := []struct {
		name string
		body []byte
		code int
		want string // in the answer
	}{
		{"old size not the last cosigned", witness.FormatRequest(3, nil, note9), 409, "5\n"},
		{"a log not followed", witness.FormatRequest(0, nil, unknown9), 404, "unknown log"},
		{"bad consistency proof", witness.FormatRequest(5, badProof, note9), 422, "not consistent"},
		{"empty proof", witness.FormatRequest(5, nil, note9), 422, "not consistent"},
		{"split view: another tree of the same size", witness.FormatRequest(5, nil, fork5), 422, "not consistent"},
		{"signed by another key of the same name", witness.FormatRequest(5, good, forged9), 403, "not signed"},
		{"a signature line of the key that does not verify", witness.FormatRequest(5, good, tampered), 403, "not signed"},
		{"old larger than the checkpoint", witness.FormatRequest(10, nil, note9), 400, "larger"},
		{"no old line", []byte("5\n\n" + string(note9)), 400, "old <size>"},
		{"old with a leading zero", []byte("old 05\n\n" + string(note9)), 400, "old <size>"},
		{"proof line not a hash", []byte("old 5\nabc\n\n" + string(note9)), 400, "base64"},
		{"no checkpoint", []byte("old 5\n\n"), 400, "signed note"},
		{"extension: the consistent checkpoint", witness.FormatRequest(5, good, note9), 200, "— example.test/w1 "},
		{"the same checkpoint again", witness.FormatRequest(9, nil, note9), 200, "— example.test/w1 "},
		{"a rollback to the old tree", witness.FormatRequest(9, nil, note5), 400, "larger"},
	}
	for _, tc := range tests {
		code, ctype, body := post(t, srv.URL, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, code, body, tc.code, tc.want)
		}
		if code == 409 && ctype != "text/x.tlog.size" {
			t.Errorf("%s: Content-Type %q, want text/x.tlog.size", tc.name, ctype)
		}
	}

	// The cosignature answered verifies with the witness's key, over the checkpoint.
	_, _, sig := post(t, srv.URL, witness.FormatRequest(9, nil, note9))
	v, err := proof.ParseWitnessKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(append(note9, sig...), note.VerifierList(v)); err != nil {
		t.Errorf("the cosignature does not verify: %v", err)
	}
}

func TestCheckpointOfSizeZeroMustHaveTheEmptyRoot(t *testing.T) {
	key := logKey(t, "example.test/log")
	w, _ := newWitness(t, t.TempDir(), "example.test/w1", key)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		root string
		code int
	}{
		{strings.Repeat("A", 43) + "=", 422},
		{"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 200}, // SHA-256 of ""
	} {
		msg, err := note.Sign(&note.Note{Text: "example.test/log\n0\n" + tc.root + "\n"}, key.Signer)
		if err != nil {
			t.Fatal(err)
		}
		if code, _, body := post(t, srv.URL, witness.FormatRequest(0, nil, msg)); code != tc.code {
			t.Errorf("root %s: %d %s, want %d", tc.root, code, body, tc.code)
		}
	}
}

func TestWitnessKeepsItsStateAcrossRestarts(t *testing.T) {
	key := logKey(t, "example.test/log")
	l := newLog(8, "a")
	dir := t.TempDir()
	w, vkey := newWitness(t, dir, "example.test/w1", key)
	_, note4 := signed(t, l, 4, key)
	if _, err := w.AddCheckpoint(testCtx(t), 0, nil, note4); err != nil {
		t.Fatal(err)
	}

	again, vkey2 := newWitness(t, dir, "another-name", key) // the key made first stays
	if vkey2 != vkey {
		t.Fatalf("verifier key after restart %q, want %q", vkey2, vkey)
	}
	_, fork4 := signed(t, newLog(4, "b"), 4, key)
	if _, err := again.AddCheckpoint(testCtx(t), 4, nil, fork4); err == nil {
		t.Fatal("after a restart the witness cosigned another tree of the size it had cosigned")
	}
	var conflict *proof.WitnessConflictError
	if _, err := again.AddCheckpoint(testCtx(t), 0, nil, note4); !errors.As(err, &conflict) || conflict.Size != 4 {
		t.Fatalf("old 0 after a restart: %v, want a conflict at size 4", err)
	}
	// Monitors read the last cosigned checkpoint, with the log's and the witness's lines.
	srv := httptest.NewServer(again.Handler())
	defer srv.Close()
	v, _ := proof.ParseWitnessKey(vkey)
	resp, err := http.Get(srv.URL + "/" + originHash("example.test/log") + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := note.Open(b, note.VerifierList(v, key.Verifier)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET checkpoint: %d %v\n%s", resp.StatusCode, err, b)
	}
	if resp, err := http.Get(srv.URL + "/" + originHash("example.test/none") + "/checkpoint"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("GET checkpoint of an unknown log: %v %v", resp, err)
	}
}

// originHash is the origin's name in tlog-witness URLs, computed here from the spec.
func originHash(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(h[:])
}
