package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A token is printed once by create, never by list, and stops existing on revoke.
func TestTokenCreateListRevoke(t *testing.T) {
	dir := t.TempDir()
	out, stderr, err := ledgerRun(t, dir, "", "token", "create", "cnil", "--role", "regulator", "--country", "FR,BE")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, stderr)
	}
	token := strings.TrimSpace(out)
	if !strings.HasPrefix(token, "ldg_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("create printed %q, want one token line", out)
	}
	list := mustRun(t, dir, "", "token", "list")
	if !strings.Contains(list, "cnil") || !strings.Contains(list, "BE,FR") || strings.Contains(list, token[20:]) {
		t.Errorf("list:\n%s", list)
	}
	b, err := os.ReadFile(filepath.Join(dir, "tokens.json"))
	if err != nil || strings.Contains(string(b), token[20:]) {
		t.Errorf("tokens.json holds the token (or is missing: %v)", err)
	}
	if _, _, err := ledgerRun(t, dir, "", "token", "create", "cnil", "--role", "auditor"); err == nil {
		t.Error("a second token named cnil was created")
	}
	if _, _, err := ledgerRun(t, dir, "", "token", "create", "x", "--role", "admin"); err == nil || !strings.Contains(err.Error(), "--role") {
		t.Errorf("role admin: %v", err)
	}
	mustRun(t, dir, "", "token", "revoke", "cnil")
	if list := mustRun(t, dir, "", "token", "list"); strings.Contains(list, "cnil") {
		t.Errorf("revoked token still listed:\n%s", list)
	}
}
