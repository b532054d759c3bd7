package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/secrets"
	"github.com/complianceledger/ledger/server/auth"
)

// receiptsOf reads a receipts file (JSON lines).
func receiptsOf(t *testing.T, file string) []proof.SignedReceipt {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []proof.SignedReceipt
	for line := range strings.Lines(string(b)) {
		sr, err := proof.ParseSignedReceipt([]byte(line))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, sr)
	}
	return out
}

func writeReceipts(t *testing.T, rs ...proof.SignedReceipt) string {
	t.Helper()
	var b strings.Builder
	for _, r := range rs {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	f := filepath.Join(t.TempDir(), "receipts.jsonl")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// The operator, who holds the key, rebuilds the history in a fresh folder with the same
// key and other commands: every receipt the first history gave out is broken, and verify
// --receipts names each (exit 3). A retry gave the same receipts; a forged receipt, one of
// another log and one with its time moved are refused as forged (exit 4).
func TestVerifyReceiptsNamesEveryReceiptARebuiltHistoryBroke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs CLI processes")
	}
	t.Parallel()
	dir, rebuilt, other := t.TempDir(), t.TempDir(), t.TempDir()
	var lines []string
	for i := range 5 {
		lines = append(lines, receiveLine(uuid.NewString(), fmt.Sprintf("first-%d", i), "2025-02-03T09:00:00Z", "FR", "court_order", fmt.Sprintf("u-%d", i)))
	}
	file := writeFile(t, lines...)
	kept := filepath.Join(t.TempDir(), "kept.jsonl")
	out := mustRun(t, dir, "", "submit", file, "--receipts", kept, credential(t, dir, "ingrid", auth.Intake))
	if n := strings.Count(out, `"receipt":{"format":"ledger-receipt/v1"`); n != 5 {
		t.Fatalf("submit printed %d receipts, want 5:\n%s", n, out)
	}
	mustRun(t, dir, "", "submit", file, "--receipts", kept, credential(t, dir, "ingrid", auth.Intake)) // a retry
	got := receiptsOf(t, kept)
	if len(got) != 10 {
		t.Fatalf("%d receipts kept, want 10", len(got))
	}
	for i := range 5 {
		if got[i].Note != got[i+5].Note {
			t.Fatalf("the retry of line %d got another receipt:\n%s\n%s", i+1, got[i].Note, got[i+5].Note)
		}
	}
	original := writeReceipts(t, got[:5]...)
	if stdout, stderr, err := cli(t, dir, "", "verify", "--receipts", original); exitStatusOf(t, err) != 0 || !strings.Contains(stdout, "5 clean, 0 broken, 0 forged") {
		t.Fatalf("the log's own receipts: exit %v\n%s%s", err, stdout, stderr)
	}

	// The rebuilt history: the same key, four other commands.
	key, err := os.ReadFile(filepath.Join(dir, string(secrets.Checkpoint)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rebuilt, string(secrets.Checkpoint)), key, 0o600); err != nil {
		t.Fatal(err)
	}
	lines = lines[:0]
	for i := range 4 {
		lines = append(lines, receiveLine(uuid.NewString(), fmt.Sprintf("again-%d", i), "2025-02-03T09:00:00Z", "FR", "court_order", fmt.Sprintf("w-%d", i)))
	}
	mustRun(t, rebuilt, "", "submit", writeFile(t, lines...), credential(t, rebuilt, "ingrid", auth.Intake))
	if stdout, stderr, err := cli(t, rebuilt, "", "verify"); exitStatusOf(t, err) != 0 {
		t.Fatalf("the rebuilt history verifies on its own (that is the attack): exit %v\n%s%s", err, stdout, stderr)
	}
	stdout, stderr, err := cli(t, rebuilt, "", "verify", "--receipts", original)
	if exitStatusOf(t, err) != exitBroken || !strings.Contains(stdout, "0 clean, 5 broken, 0 forged") {
		t.Fatalf("rebuilt history: exit %v, want %d\n%s%s", err, exitBroken, stdout, stderr)
	}
	for i, r := range got[:5] {
		kind := "moved"
		if i == 4 {
			kind = "uncovered" // the rebuilt log has 4 events
		}
		want := fmt.Sprintf("BROKEN (%s) receipt %d, sequence %d: ", kind, i+1, r.Sequence)
		if !strings.Contains(stdout, want) || !strings.Contains(stdout, r.EventID) {
			t.Errorf("verify does not name receipt %d (%q, event %s):\n%s", i+1, want, r.EventID, stdout)
		}
	}

	// Forged: signed by another key of the same name, a receipt of another log, a time
	// moved after signing.
	sign := func(rc proof.Receipt, k proof.Key) proof.SignedReceipt {
		t.Helper()
		msg, err := rc.Sign(k.Signer)
		if err != nil {
			t.Fatal(err)
		}
		return proof.SignedReceipt{Format: proof.ReceiptFormat, Origin: rc.Origin, Sequence: rc.Sequence, EventID: rc.EventID,
			LeafHash: rc.LeafHash, Recorded: rc.Recorded, Note: string(msg)}
	}
	rc, err := proof.ParseReceipt(strings.SplitN(got[0].Note, "\n\n", 2)[0] + "\n")
	if err != nil {
		t.Fatal(err)
	}
	mallory, _, err := proof.LoadOrCreateKey(filepath.Join(other, "mallory.key"), proof.DefaultOrigin, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherLog, _, err := proof.LoadOrCreateKey(filepath.Join(other, "other.key"), "other.example/LEDGER", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ofOther := rc
	ofOther.Origin = "other.example/LEDGER"
	moved := got[1]
	old := moved.Recorded.UTC().Format(time.RFC3339Nano)
	moved.Recorded = moved.Recorded.Add(time.Minute)
	moved.Note = strings.Replace(moved.Note, old, moved.Recorded.UTC().Format(time.RFC3339Nano), 1)
	forged := writeReceipts(t, got[0], sign(rc, mallory), sign(ofOther, otherLog), moved)
	stdout, stderr, err = cli(t, dir, "", "verify", "--receipts", forged)
	if exitStatusOf(t, err) != exitForged || !strings.Contains(stdout, "1 clean, 0 broken, 3 forged") {
		t.Fatalf("forged receipts: exit %v, want %d\n%s%s", err, exitForged, stdout, stderr)
	}
	for _, want := range []string{"FORGED receipt 2: ", "FORGED receipt 3: ", `"origin":"other.example/LEDGER"`, "FORGED receipt 4: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify does not say %q:\n%s", want, stdout)
		}
	}
}

// Stream files destroyed behind a stopped server: the checkpoint signed within a second of
// the acknowledgments catches it (verify, exit 1), and so do the receipts the callers kept
// (verify --receipts, exit 3). The server was killed, so no stop signed anything.
func TestDestroyedStreamIsCaughtByReceiptsAndTheOneSecondCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server and CLI processes")
	}
	dir := t.TempDir()
	intake := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "ingrid", "--role", "intake"))
	auditor := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "audrey", "--role", "auditor"))
	srv := startServeProcess(t, dir)
	var kept []proof.SignedReceipt
	var acked time.Time
	for i := range 5 {
		status, body, err := srv.post(intake, fmt.Sprintf("k-%d", i), receiveLine(uuid.NewString(), "", "2025-02-04T09:00:00Z", "DE", "court_order", "v-1"))
		if err != nil || status != http.StatusCreated {
			t.Fatalf("POST: %d %s %v", status, body, err)
		}
		acked = time.Now()
		var a struct{ Receipt proof.SignedReceipt }
		if err := json.Unmarshal([]byte(body), &a); err != nil || a.Receipt.Note == "" {
			t.Fatalf("no receipt in %s (%v)", body, err)
		}
		kept = append(kept, a.Receipt)
	}
	// Nobody asks for a checkpoint: serve signs one covering the five within a second.
	size := regexp.MustCompile(`"size":(\d+)`)
	for {
		_, body := srv.fetch(t, auditor, "/v1/checkpoints")
		if m := size.FindAllStringSubmatch(body, -1); len(m) > 0 && m[len(m)-1][1] == "5" {
			break
		}
		if time.Since(acked) > 5*time.Second {
			t.Fatalf("no checkpoint of size 5 within 5 s of the last acknowledgment: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("checkpoint of size 5 seen %s after the last acknowledgment", time.Since(acked).Round(time.Millisecond))
	if err := srv.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()

	// Destroy the stream's message blocks, as the bug of issue 20 did.
	destroyed := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(path, filepath.Join("streams", "LEDGER", "msgs")) {
			destroyed++
			return os.Truncate(path, 0)
		}
		return err
	})
	if err != nil || destroyed == 0 {
		t.Fatalf("destroyed %d files: %v", destroyed, err)
	}
	stdout, stderr, err := cli(t, dir, "", "verify")
	if exitStatusOf(t, err) != 1 {
		t.Fatalf("verify after the loss: exit %v, want 1\n%s%s", err, stdout, stderr)
	}
	stdout, stderr, err = cli(t, dir, "", "verify", "--receipts", writeReceipts(t, kept...))
	if exitStatusOf(t, err) != exitBroken || !strings.Contains(stdout, "0 clean, 5 broken") {
		t.Fatalf("verify --receipts after the loss: exit %v, want %d\n%s%s", err, exitBroken, stdout, stderr)
	}
}
