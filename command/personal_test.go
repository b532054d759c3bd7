package command_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/vault"
)

func openVault(t *testing.T, s *countingStore) *vault.Vault {
	t.Helper()
	v, err := vault.Open(testCtx(t), s.JetStream(), []byte("handler-test-vault-key-012345678"), vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVaultHandlerStoresTokensAndSealedText: with a vault the stream holds tokens and
// sealed text, never the raw ids or the clear text, and the rules still run on that history
// in a handler that never saw the commands (a fresh process).
func TestVaultHandlerStoresTokensAndSealedText(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := openStore(t)
	v := openVault(t, s)
	h := command.NewHandler(s, pseudonymizer(t), command.Options{Source: "urn:test", Vault: v})
	r := newReq()
	mustHandle(t, h, step{intake, r.receive("alice", "bob")}, step{intake, r.verify()}, step{legal, r.review()})
	// A fresh handler (another process) decides on the sealed history.
	h2 := command.NewHandler(s, pseudonymizer(t), command.Options{Source: "urn:test", Vault: v})
	if _, err := handleAs(h2, ctx, legal, r.decide("alice", "bob")); err != nil {
		t.Fatalf("decision on a sealed history: %v", err)
	}
	recs, err := s.Load(ctx, events.AggregateRequest, r.id)
	if err != nil || len(recs) != 4 {
		t.Fatalf("load: %d events, %v", len(recs), err)
	}
	alice, _ := v.Token(ctx, "alice")
	for _, rec := range recs {
		for _, clear := range []string{"alice", "Police nationale", "PN-2025-0042", "vera", "competent court", "not named in the order", string(pseudonymizer(t).Ref("alice"))} {
			if bytes.Contains(rec.Data, []byte(clear)) {
				t.Errorf("%s holds %q in the clear: %s", rec.Type, clear, rec.Data)
			}
		}
	}
	if !bytes.Contains(recs[0].Data, []byte(alice)) {
		t.Errorf("the intake does not name alice by her token %s: %s", alice, recs[0].Data)
	}
}

// TestRequestsBeforeTheVaultKeepTheirReferences: a request received before the vault (HMAC
// references) still takes commands that name its accounts by raw id.
func TestRequestsBeforeTheVaultKeepTheirReferences(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := openStore(t)
	r := newReq()
	mustHandle(t, newHandler(t, s), step{intake, r.receive("alice", "bob")})
	h := command.NewHandler(s, pseudonymizer(t), command.Options{Source: "urn:test", Vault: openVault(t, s)})
	for _, st := range []step{{intake, r.verify()}, {legal, r.review()}, {legal, r.decide("alice", "bob")}} {
		if _, err := handleAs(h, ctx, st.actor, st.cmd); err != nil {
			t.Fatalf("a command naming the old request's accounts by raw id: %v", err)
		}
	}
}

// TestErasureRefusesBadInput: the wrong role, an unknown request or field, and nothing to
// erase are refused and write nothing.
func TestErasureRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := openStore(t)
	h := command.NewHandler(s, pseudonymizer(t), command.Options{Source: "urn:test", Vault: openVault(t, s)})
	r := newReq()
	mustHandle(t, h, step{intake, r.receive("alice")})
	privacy := command.Caller{Name: "pia", Role: command.Privacy}
	// The request's first sealed text made a key for every field; erased once, none is left.
	if _, err := h.EraseRequest(ctx, privacy, r.id, []string{"note"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"wrong role", func() error {
			_, err := h.EraseRequest(ctx, command.Caller{Name: legal, Role: command.Legal}, r.id, nil)
			return err
		}, command.ErrForbidden},
		{"unknown field", func() error { _, err := h.EraseRequest(ctx, privacy, r.id, []string{"colour"}); return err }, events.ErrInvalid},
		{"unknown request", func() error { _, err := h.EraseRequest(ctx, privacy, newReq().id, nil); return err }, events.ErrInvalid},
		{"not a request id", func() error { _, err := h.EraseRequest(ctx, privacy, "r1", nil); return err }, events.ErrInvalid},
		{"a field erased before", func() error { _, err := h.EraseRequest(ctx, privacy, r.id, []string{"note"}); return err }, command.ErrNothingToErase},
		{"an account never seen", func() error { _, err := h.EraseAccount(ctx, privacy, "carol"); return err }, command.ErrNothingToErase},
		{"no account", func() error { _, err := h.EraseAccount(ctx, privacy, ""); return err }, events.ErrInvalid},
		{"a token never held", func() error {
			_, err := h.EraseToken(ctx, privacy, "acct_00000000000000000000000000000000")
			return err
		}, command.ErrNothingToErase},
		{"not a token", func() error { _, err := h.EraseToken(ctx, privacy, "alice"); return err }, events.ErrInvalid},
	}
	before := lastSeq(t, s)
	for _, tc := range tests {
		if err := tc.run(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if after := lastSeq(t, s); after != before {
		t.Fatalf("refused erasures moved the stream %d -> %d", before, after)
	}
}

// TestEraseTokenUnlinksAndRecords: an erasure by token (retention's) unlinks the account
// and records one event that names no account.
func TestEraseTokenUnlinksAndRecords(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := openStore(t)
	v := openVault(t, s)
	h := command.NewHandler(s, pseudonymizer(t), command.Options{Source: "urn:test", Vault: v})
	tok, err := v.Token(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.EraseToken(ctx, command.Caller{Name: "retention", Role: command.Privacy}, tok)
	if err != nil || res.Event != "PersonalDataErased" {
		t.Fatalf("EraseToken: %+v, %v", res, err)
	}
	if held, _ := v.HasToken(ctx, tok); held {
		t.Fatal("the token is still linked")
	}
	recs, err := s.LoadType(ctx, events.AggregateErasure)
	if err != nil || len(recs) != 1 || bytes.Contains(recs[0].Data, []byte(tok)) || bytes.Contains(recs[0].Data, []byte("alice")) {
		t.Fatalf("erasure records %v, %v: want one that names no account", recs, err)
	}
	// The result names what the store holds, as every command's does (a receipt is signed from it).
	if env, err := events.Decode(res.Stored); err != nil || env.ID != recs[0].ID || !res.Recorded.Equal(recs[0].RecordedAt) {
		t.Fatalf("the result names recorded %v and the bytes of event %q (%v); the store holds %s at %v", res.Recorded, env.ID, err, recs[0].ID, recs[0].RecordedAt)
	}
}
