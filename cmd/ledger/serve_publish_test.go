package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServePublishesAndProvesWhatTheCLIChecks runs `ledger serve` as a user would: legal
// publishes a report over HTTP, an auditor signs a checkpoint and fetches it and an inclusion
// proof of the publication; after the server stops, `ledger report --as-of-published`
// reproduces the HTTP answer byte for byte and `ledger verify-proof` checks the proof offline
// with the key `ledger keys` prints; `ledger export --report` through the server gives the
// bundle the folder gives once it stopped.
func TestServePublishesAndProvesWhatTheCLIChecks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	submitExamples(t, dir)
	legal := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "leo", "--role", "legal"))
	auditor := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "ada", "--role", "auditor"))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv := serveInProcess(ctx, t, dir, "--nats-listen=")
	base := srv.base
	call := func(method, path, token string, want int) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
		}
		return resp, b
	}

	resp, published := call("POST", "/v1/reports/telegram/publish?period=2024-Q4&format=table", legal, http.StatusCreated)
	id := resp.Header.Get("Ledger-Report-Id")
	if !strings.Contains(string(published), "FR") || resp.Header.Get("Ledger-Sequence") != "9" {
		t.Fatalf("published (event %s):\n%s", resp.Header.Get("Ledger-Sequence"), published)
	}
	call("POST", "/v1/checkpoints", auditor, http.StatusCreated)
	_, b := call("GET", "/v1/checkpoints", auditor, http.StatusOK)
	var list struct {
		Checkpoints []struct {
			Size uint64
			Note string
		}
	}
	if err := json.Unmarshal(b, &list); err != nil || len(list.Checkpoints) == 0 || list.Checkpoints[len(list.Checkpoints)-1].Size != 9 {
		t.Fatalf("checkpoints: %v %s", err, b)
	}
	_, proofDoc := call("GET", "/v1/proofs/inclusion?sequence=9", auditor, http.StatusOK)
	files := t.TempDir()
	served := filepath.Join(files, "served.bundle.json")
	mustRun(t, dir, "", "export", "--report", id, "-o", served, "--token", auditor)

	if err := srv.stop(); err != nil {
		t.Fatalf("serve after interrupt: %v", err)
	}
	cpFile, proofFile := filepath.Join(files, "checkpoint"), filepath.Join(files, "proof.json")
	os.WriteFile(cpFile, []byte(list.Checkpoints[len(list.Checkpoints)-1].Note), 0o600)
	os.WriteFile(proofFile, proofDoc, 0o600)

	if got := mustRun(t, dir, "", "report", "--as-of-published", id); got != string(published) {
		t.Errorf("reproduced:\n%s\npublished over HTTP:\n%s", got, published)
	}
	key := strings.TrimSpace(mustRun(t, dir, "", "keys"))
	// The bundle exported through the server is the one exported from the folder once it
	// stopped (no event came in between), and it verifies offline.
	local := filepath.Join(files, "local.bundle.json")
	mustRun(t, dir, "", "export", "--report", id, "-o", local)
	if a, b := readFile(t, served), readFile(t, local); a != b || a == "" {
		t.Errorf("bundle through the server:\n%s\nfrom the folder:\n%s", a, b)
	}
	if got := mustRun(t, t.TempDir(), "", "verify-bundle", served, "--key", key); !strings.Contains(got, "OK: every part of the report bundle of "+id) {
		t.Errorf("verify-bundle:\n%s", got)
	}
	got := mustRun(t, t.TempDir(), "", "verify-proof", proofFile, "--key", key, "--checkpoint", cpFile)
	if !strings.Contains(got, "OK: the event at sequence 9") || !strings.Contains(got, "actor leo") {
		t.Errorf("verify-proof:\n%s", got)
	}
}
