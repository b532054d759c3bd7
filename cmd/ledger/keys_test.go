package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/secrets"
)

// TestKeysOutsideTheDataFolder: with --keys every secret lives in the keys folder and none in
// the data folder; only 'ledger keys' and 'ledger token create' make secrets there, so a
// command finding none is refused and records nothing; a key file open to others is refused
// naming it; a flag per secret overrides the folder; a backup with keys takes them from the
// keys folder and a restore puts them back into another.
func TestKeysOutsideTheDataFolder(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(t.TempDir(), "keys")
	withKeys := func(args ...string) []string { return append(args, "--keys", keys) }

	tok := strings.TrimSpace(mustRun(t, dir, "", withKeys("token", "create", "ines.intake", "--role", "intake")...))
	line := receiveLine(uuid.NewString(), "", "2024-11-04T09:00:00Z", "FR", "court_order", "u-1") + "\n"
	if _, _, err := ledgerRun(t, dir, line, withKeys("submit", "-", "--token", tok)...); !errors.Is(err, secrets.ErrMissing) || !strings.Contains(err.Error(), filepath.Join(keys, "vault.key")) {
		t.Fatalf("submit before 'ledger keys': %v, want ErrMissing naming the key's path", err)
	}
	if n := lastSequence(t, dir); n != 0 {
		t.Fatalf("a refused submit recorded %d events", n)
	}

	vkey, stderr, err := ledgerRun(t, dir, "", withKeys("keys")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []secrets.Name{secrets.Checkpoint, secrets.Vault} {
		path := filepath.Join(keys, string(n))
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", path, fi, err)
		}
		if !strings.Contains(stderr, "created "+path) {
			t.Errorf("keys said %q, want it to name %s", stderr, path)
		}
	}
	mustRun(t, dir, line, withKeys("submit", "-", "--token", tok)...)
	mustRun(t, dir, "", withKeys("verify")...)
	for _, n := range secrets.All {
		if _, err := os.Stat(filepath.Join(dir, string(n))); err == nil {
			t.Errorf("the data folder holds %s", n)
		}
	}
	if _, _, err := ledgerRun(t, dir, "", withKeys("verify", "--key", strings.TrimSpace(vkey))...); err != nil {
		t.Errorf("verify with the printed verifier key: %v", err)
	}

	// A file per secret overrides the folder, and is not made by anyone but 'ledger keys'.
	signer := filepath.Join(t.TempDir(), "signer.key")
	if _, _, err := ledgerRun(t, dir, "", withKeys("checkpoint", "--checkpoint-key", signer)...); !errors.Is(err, secrets.ErrMissing) || !strings.Contains(err.Error(), signer) {
		t.Errorf("checkpoint with a missing --checkpoint-key: %v, want ErrMissing naming %s", err, signer)
	}

	// A key file readable by its group is refused, naming the file and the rule.
	vaultKey := filepath.Join(keys, "vault.key")
	if err := os.Chmod(vaultKey, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ledgerRun(t, dir, line, withKeys("submit", "-", "--token", tok)...); !errors.Is(err, secrets.ErrLoose) || !strings.Contains(err.Error(), vaultKey) || !strings.Contains(err.Error(), "0600") {
		t.Errorf("submit with a loose key: %v, want ErrLoose naming %s and the rule", err, vaultKey)
	}
	if err := os.Chmod(vaultKey, 0o600); err != nil {
		t.Fatal(err)
	}

	// Backup and restore move the secrets from one keys folder to another.
	backupDir := filepath.Join(t.TempDir(), "backup")
	mustRun(t, dir, "", withKeys("backup", backupDir, "--with-keys")...)
	restored, keys2 := t.TempDir(), filepath.Join(t.TempDir(), "keys2")
	mustRun(t, restored, "", "restore", backupDir, "--keys", keys2)
	for _, n := range []secrets.Name{secrets.Vault, secrets.Checkpoint, secrets.Tokens} {
		want, err := os.ReadFile(filepath.Join(keys, string(n)))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(keys2, string(n))); err != nil || string(got) != string(want) {
			t.Errorf("restored %s: %v, want the original's bytes", n, err)
		}
	}
	for _, n := range secrets.All {
		if _, err := os.Stat(filepath.Join(restored, string(n))); err == nil {
			t.Errorf("the restored data folder holds %s", n)
		}
	}
	mustRun(t, restored, "", "verify", "--keys", keys2)
}
