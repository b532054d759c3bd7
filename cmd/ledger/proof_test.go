package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/complianceledger/ledger/server/auth"
)

func TestSubmitCheckpointsAndProofsVerifyOffline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := t.TempDir()
	path := func(name string) string { return filepath.Join(files, name) }

	mustRun(t, dir, "", "submit", "../../examples/intake.jsonl", credential(t, dir, "intake.amara", auth.Intake))
	vkey := strings.TrimSpace(mustRun(t, dir, "", "keys"))
	if !strings.HasPrefix(vkey, "ledger.example/LEDGER+") {
		t.Fatalf("keys printed %q", vkey)
	}
	if info, err := os.Stat(filepath.Join(dir, "checkpoint.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("checkpoint.key: %v %v", info, err)
	}
	// submit signed a checkpoint of its events; checkpoint finds nothing new and exports it.
	mustRun(t, dir, "", "checkpoint", "--out", path("first"))
	for _, file := range []string{"decision", "closing"} {
		mustRun(t, dir, "", "submit", "../../examples/"+file+".jsonl", credential(t, dir, "legal.elena", auth.Legal))
	}
	second := mustRun(t, dir, "", "checkpoint")
	if err := os.WriteFile(path("second"), []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	list := mustRun(t, dir, "", "checkpoints")
	if n := strings.Count(list, " ok\n"); n != 3 {
		t.Fatalf("checkpoints lists %d valid ones, want 3 (one per submit):\n%s", n, list)
	}
	if shown := mustRun(t, dir, "", "checkpoints", "--show", "3"); shown != second {
		t.Errorf("checkpoints --show 3:\n%s\nwant\n%s", shown, second)
	}

	out := mustRun(t, dir, "", "verify")
	if !strings.Contains(out, "OK: the stream matches every checkpoint") || !strings.Contains(out, "3 checkpoints") {
		t.Errorf("verify:\n%s", out)
	}

	mustRun(t, dir, "", "proof", "inclusion", "--seq", "2", "--checkpoint", path("first"), "--out", path("incl.json"))
	mustRun(t, dir, "", "proof", "consistency", "--from", path("first"), "--to", path("second"), "--out", path("cons.json"))

	// Offline: another, empty data folder; only the files and the key.
	offline := t.TempDir()
	out = mustRun(t, offline, "", "verify-proof", path("incl.json"), "--key", vkey, "--checkpoint", path("first"))
	if !strings.Contains(out, "OK: the event at sequence 2 is in ledger.example/LEDGER at tree size 3") ||
		!strings.Contains(out, "request.receipt_acknowledged.v1") {
		t.Errorf("verify-proof inclusion:\n%s", out)
	}
	out = mustRun(t, offline, "", "verify-proof", path("cons.json"), "--key", vkey, "--from", path("first"), "--to", path("second"))
	if !strings.Contains(out, "OK: ledger.example/LEDGER at tree size 7 extends its tree at size 3") {
		t.Errorf("verify-proof consistency:\n%s", out)
	}

	// Refusals: a corrupted proof, a wrong leaf, another key.
	incl, err := os.ReadFile(path("incl.json"))
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"corrupted hash": strings.Replace(string(incl), `"hashes": [
    "`, `"hashes": [
    "A`, 1),
		"wrong leaf": strings.Replace(string(incl), `"leaf_index": 1`, `"leaf_index": 0`, 1),
	}
	for name, doc := range bad {
		if err := os.WriteFile(path("bad.json"), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ledgerRun(t, offline, "", "verify-proof", path("bad.json"), "--key", vkey, "--checkpoint", path("first")); err == nil {
			t.Errorf("%s: verify-proof accepted it", name)
		}
	}
	otherKey := strings.TrimSpace(mustRun(t, t.TempDir(), "", "keys"))
	if _, _, err := ledgerRun(t, offline, "", "verify-proof", path("incl.json"), "--key", otherKey, "--checkpoint", path("first")); err == nil ||
		!strings.Contains(err.Error(), "not signed by the expected key") {
		t.Errorf("another key: %v", err)
	}
}

func TestVerifyCommandNamesSwappedEventsAndFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	submitExamples(t, dir)

	// The attacker: the same events, 2 and 3 swapped, in a recreated stream.
	rewriteStream(t, dir, func(msgs []*nats.Msg) { msgs[1], msgs[2] = msgs[2], msgs[1] })

	out, _, err := ledgerRun(t, dir, "", "verify")
	if !errors.Is(err, errVerifyFailed) {
		t.Fatalf("verify: %v, want errVerifyFailed\n%s", err, out)
	}
	// v2 leaves hold the recorded time, which republishing renews: every event is named
	// (a v1 folder names the swap itself, see proof's TestVerifyNamesSwappedEvents).
	if !strings.Contains(out, "sequences 1-8: changed (its bytes or recorded time differ from checkpoint 1 at size 3)") {
		t.Errorf("verify does not name the republished events:\n%s", out)
	}
	// No new signature over the rewritten history.
	if _, _, err := ledgerRun(t, dir, "", "checkpoint"); err == nil || !strings.Contains(err.Error(), "does not match its signed checkpoint") {
		t.Errorf("checkpoint over a tampered stream: %v", err)
	}
}
