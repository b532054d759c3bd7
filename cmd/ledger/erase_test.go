package main

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/secrets"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/vault"
)

// The README's walk-through request, and what it says about people.
const (
	exampleRequest   = "0192f3a0-5c00-7000-8000-00000000c0de"
	erasedAccount    = "tg:7720931"
	erasedAuthority  = "Police nationale, OFAC"
	erasedGrounds    = "notice would jeopardise the investigation"
	controlRequest   = "0192f3a0-5c00-7000-8000-0000000c0001"
	controlAccount   = "ctl:kept-account-4711"
	controlCommandID = "3f0c2a8e-5a61-4c1e-9f3e-0d5b8c1a7e05" // stored in the clear, in LEDGER
)

// vaultEntry is the stored bytes of one vault entry, read from LEDGER_VAULT directly.
func vaultEntry(t *testing.T, dir, subject string) []byte {
	t.Helper()
	s := openLedger(t, dir)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.JetStream().Stream(ctx, vault.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatalf("vault entry %s: %v", subject, err)
	}
	return msg.Data
}

// accountSubject is the vault subject of a raw account, computed here from the vault key
// as the README says it is: HMAC-SHA256 under HKDF(vault key, "ledger vault lookup v1").
func accountSubject(t *testing.T, dir, raw string) string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(dir, string(secrets.Vault)))
	if err != nil {
		t.Fatal(err)
	}
	lookup, err := hkdf.Key(sha256.New, key, nil, "ledger vault lookup v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, lookup)
	mac.Write([]byte(raw))
	return "vault.acct." + hex.EncodeToString(mac.Sum(nil))
}

// TestErasureLeavesFiguresAndProofsAndNoTrace: after an account's and a request's erasure
// every report is byte-identical, verify passes, the timeline shows the text as erased,
// and no file under the data folder holds the erased plaintext, data key or vault records,
// while what was not erased is still found there (so the search can fail).
func TestErasureLeavesFiguresAndProofsAndNoTrace(t *testing.T) {
	dir := t.TempDir()
	submitExamples(t, dir)
	submitAsOfficers(t, dir,
		receiveLine(controlRequest, "", "2024-11-02T09:00:00Z", "DE", "court_order", controlAccount),
		reviewLine(controlRequest, "2024-11-03T09:00:00Z"))
	auditor := credential(t, dir, "auditor.one", auth.Auditor)
	privacy := credential(t, dir, "privacy.pia", auth.Privacy)
	before := everyReport(t, dir, auditor)

	timeline := mustRun(t, dir, "", "timeline", exampleRequest, "--format", "csv", auditor)
	if !strings.Contains(timeline, erasedAuthority) || !strings.Contains(timeline, erasedGrounds) {
		t.Fatalf("the timeline does not open the personal text for the auditor:\n%s", timeline)
	}

	// What the erasure must remove, read before it: the stored vault records, their
	// subjects, and a data key.
	ctx := context.Background()
	acctSubj, keptSubj := accountSubject(t, dir, erasedAccount), accountSubject(t, dir, controlAccount)
	nameSubj := "vault.req." + exampleRequest
	erasedRecords := [][]byte{vaultEntry(t, dir, acctSubj), vaultEntry(t, dir, nameSubj)}
	keptRecords := [][]byte{vaultEntry(t, dir, keptSubj), vaultEntry(t, dir, "vault.req."+controlRequest)}
	var dataKey []byte
	func() {
		s := openLedger(t, dir)
		defer s.Close()
		key, _ := os.ReadFile(filepath.Join(dir, string(secrets.Vault)))
		v, err := vault.Open(ctx, s.JetStream(), key, vault.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if dataKey, err = v.RequestKey(ctx, exampleRequest, "authority.name"); err != nil {
			t.Fatal(err)
		}
	}()

	// Bad input is refused with a clear error and changes nothing.
	last := lastSequence(t, dir)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown request", []string{"erase", "request", "0192f3a0-5c00-7000-8000-0000000000ff", privacy}, "no request"},
		{"unknown field", []string{"erase", "request", exampleRequest, "--fields", "grounds,colour", privacy}, `"colour" is not a personal field`},
		{"wrong role", []string{"erase", "account", erasedAccount, auditor}, "erase_account is made by role privacy, not auditor"},
		{"unknown account", []string{"erase", "account", "tg:never-seen", privacy}, command.ErrNothingToErase.Error()},
	} {
		if _, _, err := ledgerRun(t, dir, "", tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	if got := lastSequence(t, dir); got != last {
		t.Fatalf("refused erasures wrote %d events", got-last)
	}
	for _, subj := range []string{acctSubj, nameSubj} {
		vaultEntry(t, dir, subj) // still there
	}

	// Each erasure is acknowledged with a receipt, which verify --receipts holds the log to below.
	var receipts bytes.Buffer
	for _, args := range [][]string{{"erase", "account", erasedAccount, privacy}, {"erase", "request", exampleRequest, privacy}} {
		var answer struct {
			Receipt json.RawMessage `json:"receipt"`
		}
		if out := mustRun(t, dir, "", args...); json.Unmarshal([]byte(out), &answer) != nil || len(answer.Receipt) == 0 {
			t.Fatalf("ledger %s answered no receipt:\n%s", strings.Join(args, " "), out)
		}
		receipts.Write(append(answer.Receipt, '\n'))
	}
	if _, _, err := ledgerRun(t, dir, "", "erase", "account", erasedAccount, privacy); err == nil || !errors.Is(err, command.ErrNothingToErase) {
		t.Errorf("a second erasure: %v, want ErrNothingToErase", err)
	}

	// The erasures' records name neither the account nor any token.
	func() {
		s := openLedger(t, dir)
		defer s.Close()
		recs, err := s.LoadType(ctx, events.AggregateErasure)
		if err != nil || len(recs) != 2 {
			t.Fatalf("erasure records: %d, %v; want 2", len(recs), err)
		}
		for _, rec := range recs {
			if bytes.Contains(rec.Data, []byte("acct_")) || bytes.Contains(rec.Data, []byte(erasedAccount)) {
				t.Errorf("erasure record %s names an account", rec.Data)
			}
		}
	}()

	after := everyReport(t, dir, auditor)
	for name, want := range before {
		if after[name] != want {
			t.Errorf("report %s changed with the erasure:\nbefore:\n%s\nafter:\n%s", name, want, after[name])
		}
	}
	if out, stderr, err := ledgerRun(t, dir, "", "verify"); err != nil {
		t.Fatalf("verify after the erasure: %v\n%s%s", err, out, stderr)
	}
	receiptsFile := filepath.Join(t.TempDir(), "erasures.receipts")
	if err := os.WriteFile(receiptsFile, receipts.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, dir, "", "verify", "--receipts", receiptsFile); !strings.Contains(out, "2 clean, 0 broken, 0 forged") {
		t.Fatalf("verify --receipts of the erasures:\n%s", out)
	}
	timeline = mustRun(t, dir, "", "timeline", exampleRequest, "--format", "csv", auditor)
	if strings.Contains(timeline, erasedAuthority) || !strings.Contains(timeline, "authority.name: [erased]") {
		t.Fatalf("the timeline after the erasure:\n%s", timeline)
	}
	if kept := mustRun(t, dir, "", "timeline", controlRequest, "--format", "csv", auditor); !strings.Contains(kept, "grounds: competent authority") {
		t.Fatalf("the request not erased lost its text:\n%s", kept)
	}
	// Every file under the data folder, the server stopped (every command above closed it).
	found := map[string]bool{}
	needles := map[string][]byte{
		"raw account id": []byte(erasedAccount), "authority name": []byte(erasedAuthority),
		"grounds": []byte(erasedGrounds), "data key": dataKey,
		"account record": erasedRecords[0], "request's key record": erasedRecords[1],
		"account subject":              []byte(acctSubj),
		"control: kept account record": keptRecords[0], "control: kept key record": keptRecords[1],
		"control: kept account subject": []byte(keptSubj), "control: command id": []byte(controlCommandID),
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name, needle := range needles {
			if bytes.Contains(b, needle) {
				found[name] = true
				if !strings.HasPrefix(name, "control") {
					t.Errorf("%s found in %s", name, path)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range needles {
		if strings.HasPrefix(name, "control") && !found[name] {
			t.Errorf("%s not found: the search cannot see what it looks for", name)
		}
	}
}
