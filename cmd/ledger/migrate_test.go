package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/vault"
)

// recordBeforeTheVault records lines as main's code path did before the vault: a handler
// with the data folder's pseudonymisation key and no vault (HMAC references, clear text).
func recordBeforeTheVault(t *testing.T, dir string, role command.Role, lines ...string) {
	t.Helper()
	g := &globals{dataDir: dir}
	pseudo, err := g.pseudonymizer(true)
	if err != nil {
		t.Fatal(err)
	}
	s := openLedger(t, dir)
	defer s.Close()
	h := command.NewHandler(s, pseudo, command.Options{})
	for _, line := range lines {
		c, err := aggregates.DecodeCommand([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Handle(context.Background(), command.Caller{Name: "officer." + string(role), Role: role}, c); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
}

// storedData is every event's stored data, by sequence.
func storedData(t *testing.T, dir string) map[uint64]string {
	t.Helper()
	s := openLedger(t, dir)
	defer s.Close()
	out := map[uint64]string{}
	for rec, err := range s.Read(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		out[rec.Sequence] = string(rec.Data)
	}
	return out
}

// TestMigrateMovesAnHMACLedgerOntoTheVault: a folder written as main wrote it (HMAC
// references, clear text) keeps recording that way after the upgrade; migrate --dry-run
// says what would change and makes nothing; migrate makes the vault and says what stays;
// a second run changes nothing; new events get tokens and sealed text; old events keep
// their bytes; the folder verifies and reports throughout.
func TestMigrateMovesAnHMACLedgerOntoTheVault(t *testing.T) {
	dir := t.TempDir()
	r1, r2 := uuid.NewString(), uuid.NewString()
	recordBeforeTheVault(t, dir, command.Intake,
		receiveLine(r1, "", "2024-03-01T09:00:00Z", "FR", "court_order", "a1", "a2"),
		receiveLine(r2, "", "2024-03-02T09:00:00Z", "FR", "subpoena", "a3"),
		verifyLine(r1, "2024-03-01T10:00:00Z"))
	recordBeforeTheVault(t, dir, command.Legal, reviewLine(r1, "2024-03-02T09:00:00Z"), decisionLine(r1, "2024-03-03T09:00:00Z", "", "a1", "a2"), closeLine(r1, "2024-03-04T09:00:00Z"))
	mustRun(t, dir, "", "checkpoint")
	mustRun(t, dir, "", "verify")
	auditor := credential(t, dir, "auditor.one", auth.Auditor)
	before := mustRun(t, dir, "", "report", "requests", "--period", "2024", "--format", "csv", auditor)

	// The upgraded binary goes on without a vault until migrate.
	r3 := uuid.NewString()
	submitAsOfficers(t, dir, receiveLine(r3, "", "2024-03-05T09:00:00Z", "DE", "court_order", "b1"))
	old := storedData(t, dir)
	if !strings.Contains(old[7], "Authority of DE") {
		t.Fatalf("before migrate a new request is recorded in the clear, as before: %s", old[7])
	}
	vaultStream := func() error {
		s := openLedger(t, dir)
		defer s.Close()
		_, err := s.JetStream().Stream(context.Background(), vault.StreamName)
		return err
	}
	if err := vaultStream(); !errors.Is(err, natsjs.ErrStreamNotFound) {
		t.Fatalf("vault stream before migrate: %v, want none", err)
	}

	dry := mustRun(t, dir, "", "migrate", "--dry-run")
	for _, want := range []string{
		"vault: not made (--dry-run)",
		"before the vault: 7 events, 3 requests (2 still open), 4 accounts by HMAC reference, 8 personal text values in the clear",
		"destroying that key unlinks every old account at once",
		"all or nothing",
		filepath.Join(dir, "pseudonym.key"),
		"cannot be erased",
		"2 requests still open keep their HMAC references",
	} {
		if !strings.Contains(dry, want) {
			t.Errorf("migrate --dry-run does not say %q:\n%s", want, dry)
		}
	}
	if err := vaultStream(); !errors.Is(err, natsjs.ErrStreamNotFound) {
		t.Fatalf("vault stream after --dry-run: %v, want none", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "vault.key")); err == nil {
		t.Fatal("--dry-run made a vault key")
	}

	out := mustRun(t, dir, "", "migrate")
	if !strings.Contains(out, "vault: made now") || strings.Replace(out, "made now", "not made (--dry-run)", 1) != dry {
		t.Errorf("migrate said:\n%s\nwant the dry run's words with the vault made:\n%s", out, dry)
	}
	key, err := os.ReadFile(filepath.Join(dir, "vault.key"))
	if err != nil || vaultStream() != nil {
		t.Fatalf("after migrate: key %v, stream %v", err, vaultStream())
	}
	again := mustRun(t, dir, "", "migrate")
	if strings.Replace(again, "vault: in use", "vault: made now", 1) != out {
		t.Errorf("a second migrate said:\n%s\nwant the first's words with the vault in use:\n%s", again, out)
	}
	if k, _ := os.ReadFile(filepath.Join(dir, "vault.key")); string(k) != string(key) {
		t.Error("a second migrate changed the vault key")
	}

	r4 := uuid.NewString()
	submitAsOfficers(t, dir, receiveLine(r4, "", "2024-03-06T09:00:00Z", "DE", "court_order", "b2"))
	now := storedData(t, dir)
	for seq, data := range old {
		if now[seq] != data {
			t.Errorf("event %d changed:\n%s\nwas\n%s", seq, now[seq], data)
		}
	}
	if n := len(now); n != len(old)+1 || !strings.Contains(now[8], `"name":"enc:v1:authority.name:`) || strings.Contains(now[8], "Authority of DE") {
		t.Errorf("after migrate a new request is sealed: %d events, %s", n, now[8])
	}
	var tok events.RequestReceived
	if err := events.StrictUnmarshal([]byte(now[8]), &tok); err != nil {
		t.Fatal(err)
	}
	g := &globals{dataDir: dir, backend: backendJetStream}
	l, err := g.open(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := l.vault.HasToken(context.Background(), tok.Targets[0].Account); err != nil || !held {
		t.Errorf("the new request's account is no vault token: %v", err)
	}
	l.store.Close()
	after := strings.TrimSpace(mustRun(t, dir, "", "migrate"))
	if !strings.Contains(after, "recorded with the vault from sequence 8 on") || !strings.Contains(after, "before the vault: 7 events") {
		t.Errorf("migrate after a sealed event:\n%s", after)
	}
	if got := mustRun(t, dir, "", "report", "requests", "--period", "2024", "--format", "csv", auditor); got == before {
		t.Error("the report did not count the requests recorded since") // the folder keeps working
	}
	// A request open at the switch takes commands by raw id as before: its decision names
	// the HMAC reference it was received with.
	submitAsOfficers(t, dir, verifyLine(r2, "2024-03-07T09:00:00Z"), reviewLine(r2, "2024-03-07T10:00:00Z"), decisionLine(r2, "2024-03-07T11:00:00Z", "", "a3"))
	var received, decided struct {
		Targets []struct{ Account string }
	}
	final := storedData(t, dir)
	json.Unmarshal([]byte(final[2]), &received)
	json.Unmarshal([]byte(final[uint64(len(final))]), &decided)
	if len(decided.Targets) != 1 || decided.Targets[0].Account != received.Targets[0].Account {
		t.Errorf("the old request's decision names %v, want its HMAC reference %v", decided.Targets, received.Targets)
	}
	mustRun(t, dir, "", "checkpoint")
	if out, stderr, err := ledgerRun(t, dir, "", "verify"); err != nil {
		t.Fatalf("verify after migrate: %v\n%s%s", err, out, stderr)
	}
}
