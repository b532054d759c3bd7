package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/backup"
	"github.com/complianceledger/ledger/secrets"
	"github.com/complianceledger/ledger/server/auth"
)

// everyReport is each view's report in each format, for comparing two folders byte for byte.
func everyReport(t *testing.T, dir, auditor string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, view := range []string{"telegram", "requests", "transparency", "dsa", "eevidence"} {
		for _, format := range []string{"csv", "json"} {
			out[view+"."+format] = mustRun(t, dir, "", "report", view, "--period", "2024", "--format", format, auditor)
		}
	}
	return out
}

// TestBackupRestoresEveryReportAndProof: a history backed up and restored into an empty
// folder verifies, and every report of it is byte-identical to the original's; a backup
// without keys holds no secret and verifies with the original's verifier key; a damaged
// backup, a restore over an existing ledger and a backup into a used folder are refused.
func TestBackupRestoresEveryReportAndProof(t *testing.T) {
	dir := t.TempDir()
	submitExamples(t, dir)
	var lines []string
	for i := range 40 {
		lines = append(lines, receiveLine(uuid.NewString(), "", fmt.Sprintf("2024-11-%02dT09:00:00Z", i%28+1), []string{"FR", "DE", "ES"}[i%3], "court_order", fmt.Sprintf("u-%d", i)))
	}
	submitAsOfficers(t, dir, lines...)
	auditor := credential(t, dir, "auditor.one", auth.Auditor)
	want := everyReport(t, dir, auditor)
	verifierKey := strings.TrimSpace(mustRun(t, dir, "", "keys"))

	withKeys := filepath.Join(t.TempDir(), "with-keys")
	out := mustRun(t, dir, "", "backup", withKeys, "--with-keys")
	if !strings.Contains(out, "LEDGER: 48 messages") {
		t.Fatalf("backup: %s\nwant the 48 events of LEDGER", out)
	}
	if _, _, err := ledgerRun(t, dir, "", "backup", withKeys); !errors.Is(err, backup.ErrExists) {
		t.Errorf("backup into a used folder: %v, want ErrExists", err)
	}

	restored := t.TempDir()
	mustRun(t, restored, "", "restore", withKeys)
	if out, stderr, err := ledgerRun(t, restored, "", "verify"); err != nil {
		t.Fatalf("verify the restored folder: %v\n%s%s", err, out, stderr)
	}
	got := everyReport(t, restored, auditor) // the tokens came back with the keys
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s after restore differs:\n%s\nwant\n%s", name, got[name], w)
		}
	}
	// The vault came back with its key: the personal text still opens.
	if tl := mustRun(t, restored, "", "timeline", exampleRequest, "--format", "csv", auditor); !strings.Contains(tl, erasedAuthority) {
		t.Errorf("the restored timeline does not open the personal text:\n%s", tl)
	}
	if _, _, err := ledgerRun(t, restored, "", "restore", withKeys); !errors.Is(err, backup.ErrExists) {
		t.Errorf("restore over a restored ledger: %v, want ErrExists", err)
	}

	// Without keys: no secret in the backup; the restored folder verifies with the key the
	// auditor was given.
	keyless := filepath.Join(t.TempDir(), "keyless")
	mustRun(t, dir, "", "backup", keyless)
	for _, f := range secrets.All {
		if _, err := os.Stat(filepath.Join(keyless, string(f))); err == nil {
			t.Errorf("a backup without --with-keys holds %s", f)
		}
	}
	bare := t.TempDir()
	mustRun(t, bare, "", "restore", keyless)
	if out, stderr, err := ledgerRun(t, bare, "", "verify", "--key", verifierKey); err != nil {
		t.Fatalf("verify with the original verifier key: %v\n%s%s", err, out, stderr)
	}
	// Nor the vault: the personal text of the restored events reads as erased.
	bareAuditor := credential(t, bare, "auditor.one", auth.Auditor)
	if tl := mustRun(t, bare, "", "timeline", exampleRequest, "--format", "csv", bareAuditor); strings.Contains(tl, erasedAuthority) || !strings.Contains(tl, "[erased]") {
		t.Errorf("a keyless backup's timeline:\n%s", tl)
	}

	// One flipped byte in the events' snapshot: refused by its SHA-256, nothing restored.
	damaged := filepath.Join(t.TempDir(), "damaged")
	mustRun(t, dir, "", "backup", damaged)
	data, err := backupDataFile(damaged)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(data, b, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	if _, _, err := ledgerRun(t, empty, "", "restore", damaged); !errors.Is(err, backup.ErrDamaged) || !strings.Contains(err.Error(), "LEDGER/") {
		t.Errorf("restore of a damaged backup: %v, want ErrDamaged naming the file", err)
	}
	if n := lastSequence(t, empty); n != 0 {
		t.Errorf("a refused restore left %d events", n)
	}
}

// backupDataFile is the snapshot archive of LEDGER in a backup folder.
func backupDataFile(dir string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "LEDGER", "stream*"))
	if err != nil || len(matches) != 1 {
		return "", fmt.Errorf("LEDGER's archive in %s: %v %v", dir, matches, err)
	}
	return matches[0], nil
}
