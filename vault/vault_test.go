package vault_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/store/jetstream"
	"github.com/complianceledger/ledger/vault"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var exclusive = flag.Bool("exclusive", false, "benchmark an exclusive vault (entries kept in memory)")

var testKey = []byte("vault-test-key-vault-test-key-01")

// openVault opens a vault on a real embedded JetStream in a fresh folder.
func openVault(t testing.TB, key []byte) *vault.Vault {
	t.Helper()
	return openVaultWith(t, key, vault.Options{})
}

func openVaultWith(t testing.TB, key []byte, opts vault.Options) *vault.Vault {
	t.Helper()
	s, err := jetstream.Open(testCtx(t), jetstream.Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	v, err := vault.Open(testCtx(t), s.JetStream(), key, opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestShortKeyIsRefused(t *testing.T) {
	if _, err := vault.Open(testCtx(t), nil, []byte("short"), vault.Options{}); !errors.Is(err, vault.ErrShortKey) {
		t.Fatalf("err = %v, want ErrShortKey", err)
	}
}

func TestSameAccountSameTokenWhileLinked(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	v := openVault(t, testKey)
	a1, err := v.Token(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := v.Token(ctx, "alice@example.com")
	b, _ := v.Token(ctx, "bob@example.com")
	if a1 != a2 || a1 == b {
		t.Fatalf("tokens alice %s, %s; bob %s: want one token per account", a1, a2, b)
	}
	if err := a1.Validate("token"); err != nil {
		t.Fatal(err)
	}
	// Random, not derived: another vault with the same key gives another token.
	if other, _ := openVault(t, testKey).Token(ctx, "alice@example.com"); other == a1 {
		t.Fatalf("a second vault gave the same token %s: tokens must not be derived from the raw id", a1)
	}
}

func TestEraseAccountUnlinks(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	v := openVault(t, testKey)
	before, _ := v.Token(ctx, "alice")
	kept, _ := v.Token(ctx, "bob")
	if err := v.EraseAccount(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if held, _ := v.HasToken(ctx, before); held {
		t.Fatal("the erased token is still linked")
	}
	if held, _ := v.HasToken(ctx, kept); !held {
		t.Fatal("erasing alice unlinked bob")
	}
	if err := v.EraseAccount(ctx, "alice"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("second erasure: %v, want ErrNotFound", err)
	}
	after, _ := v.Token(ctx, "alice")
	if after == before {
		t.Fatal("after erasure the account got its old token back")
	}
}

func TestEraseTokenUnlinksTheAccount(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	v := openVault(t, testKey)
	tok, _ := v.Token(ctx, "carol")
	if err := v.EraseToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := v.EraseAccount(ctx, "carol"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("the account entry survived the token's erasure: %v", err)
	}
	if err := v.EraseToken(ctx, "acct_00000000000000000000000000000000"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("unknown token: %v, want ErrNotFound", err)
	}
}

func TestSealedTextIsBoundToItsRequestAndField(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	v := openVault(t, testKey)
	const r1, r2 = "0190a5b0-0000-7000-8000-000000000001", "0190a5b0-0000-7000-8000-000000000002"
	sealed, err := v.Seal(ctx, r1, "grounds", "the officer Jane Roe asked")
	if err != nil {
		t.Fatal(err)
	}
	if field, _, ok := events.ParseSealed(sealed); !ok || field != "grounds" {
		t.Fatalf("sealed %q is not a sealed grounds", sealed)
	}
	if got, err := v.Unseal(ctx, r1, sealed); err != nil || got != "the officer Jane Roe asked" {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	v.Seal(ctx, r2, "grounds", "x") // r2 has a grounds key of its own
	if _, err := v.Unseal(ctx, r2, sealed); !errors.Is(err, vault.ErrCorrupt) {
		t.Fatalf("moved to another request: %v, want ErrCorrupt", err)
	}
	v.Seal(ctx, r1, "reason", "x")
	_, payload, _ := events.ParseSealed(sealed)
	if _, err := v.Unseal(ctx, r1, events.FormatSealed("reason", payload)); !errors.Is(err, vault.ErrCorrupt) {
		t.Fatalf("moved to another field: %v, want ErrCorrupt", err)
	}
	if got, _ := v.Unseal(ctx, r1, "clear text"); got != "clear text" {
		t.Fatalf("clear text (events before the vault) came back as %q", got)
	}
}

func TestEraseRequestFields(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	v := openVault(t, testKey)
	const id = "0190a5b0-0000-7000-8000-000000000003"
	grounds, _ := v.Seal(ctx, id, "grounds", "grounds text")
	reason, _ := v.Seal(ctx, id, "reason", "reason text")
	tests := []struct {
		name   string
		fields []string
		want   error
	}{
		{"an unknown field changes nothing", []string{"grounds", "colour"}, vault.ErrUnknownField},
		{"a request that sealed nothing", nil, vault.ErrNotFound},
		{"one field", []string{"grounds"}, nil},
		{"the same field again", []string{"grounds"}, vault.ErrNotFound},
	}
	for _, tc := range tests {
		req := id
		if tc.fields == nil {
			req = "0190a5b0-0000-7000-8000-0000000000ff"
		}
		if _, err := v.EraseRequest(ctx, req, tc.fields); !errors.Is(err, tc.want) && (tc.want != nil || err != nil) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := v.Unseal(ctx, id, grounds); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("erased grounds: %v, want ErrErased", err)
	}
	if got, err := v.Unseal(ctx, id, reason); err != nil || got != "reason text" {
		t.Fatalf("the reason, not erased: %q, %v", got, err)
	}
	// Every field has its key from the first sealed text on; erasing all takes the rest.
	erased, err := v.EraseRequest(ctx, id, nil)
	if want := slices.DeleteFunc(events.PersonalFields(), func(f string) bool { return f == "grounds" }); err != nil || !slices.Equal(erased, want) {
		t.Fatalf("erase all = %v, %v; want %v", erased, err, want)
	}
	if _, err := v.Unseal(ctx, id, reason); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("erased reason: %v, want ErrErased", err)
	}
	// New text after the erasure gets a new key, which the erased text does not open under.
	again, err := v.Seal(ctx, id, "grounds", "later grounds")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Unseal(ctx, id, again); err != nil || got != "later grounds" {
		t.Fatalf("text sealed after the erasure: %q, %v", got, err)
	}
	if _, err := v.Unseal(ctx, id, grounds); !errors.Is(err, vault.ErrCorrupt) {
		t.Fatalf("the erased grounds under the new key: %v, want ErrCorrupt", err)
	}
}

// TestExclusiveVaultForgetsWhatItErases: the in-memory entries of an exclusive vault go
// with the erasure, for reads that follow and for reads running alongside.
func TestExclusiveVaultForgetsWhatItErases(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	v := openVaultWith(t, testKey, vault.Options{Exclusive: true})
	const id = "0190a5b0-0000-7000-8000-000000000004"
	sealed, _ := v.Seal(ctx, id, "grounds", "kept in memory")
	if got, err := v.Unseal(ctx, id, sealed); err != nil || got != "kept in memory" {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	tok, _ := v.Token(ctx, "alice")
	// Readers hammer the entries while they are erased; afterwards none may come back.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			v.Unseal(ctx, id, sealed)
			v.Token(ctx, "bob")
		}
	}()
	if _, err := v.EraseRequest(ctx, id, []string{"grounds"}); err != nil {
		t.Fatal(err)
	}
	if err := v.EraseAccount(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	<-done
	if _, err := v.Unseal(ctx, id, sealed); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("after the erasure: %v, want ErrErased", err)
	}
	if again, _ := v.Token(ctx, "alice"); again == tok {
		t.Fatal("after the erasure the old token came back from memory")
	}
	if held, _ := v.HasToken(ctx, tok); held {
		t.Fatal("the erased token is still held")
	}
}

// BenchmarkTokenHeld is the cost a command pays per account the vault already links: one
// read of the account entry from the stream's leader.
func BenchmarkTokenHeld(b *testing.B) {
	ctx := context.Background()
	v := openVaultWith(b, testKey, vault.Options{Exclusive: *exclusive})
	v.Token(ctx, "alice")
	for b.Loop() {
		if _, err := v.Token(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealHeldKey is the cost per personal field whose data key exists: one read and
// AES-GCM.
func BenchmarkSealHeldKey(b *testing.B) {
	ctx := context.Background()
	v := openVaultWith(b, testKey, vault.Options{Exclusive: *exclusive})
	const id = "0190a5b0-0000-7000-8000-000000000009"
	v.Seal(ctx, id, "grounds", "x")
	for b.Loop() {
		if _, err := v.Seal(ctx, id, "grounds", "the second account is not linked to the investigation"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEraseFieldOverwritesTheOldEntry: erasing one field rewrites the request's entry
// without its key and overwrites the version that held it, so no file of the vault's stream
// still holds those bytes, while the new version (the other fields' keys) is there.
func TestEraseFieldOverwritesTheOldEntry(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dir := t.TempDir()
	s, err := jetstream.Open(ctx, jetstream.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, s.JetStream(), testKey, vault.Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	const id = "0190a5b0-0000-7000-8000-000000000005"
	entry := func() []byte {
		st, err := s.JetStream().Stream(ctx, vault.StreamName)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := st.GetLastMsgForSubject(ctx, "vault.req."+id)
		if err != nil {
			t.Fatal(err)
		}
		return msg.Data
	}
	reason, _ := v.Seal(ctx, id, "reason", "kept reason")
	grounds, _ := v.Seal(ctx, id, "grounds", "erased grounds")
	old := entry()
	if erased, err := v.EraseRequest(ctx, id, []string{"grounds"}); err != nil || !slices.Equal(erased, []string{"grounds"}) {
		t.Fatalf("EraseRequest = %v, %v", erased, err)
	}
	kept := entry()
	if _, err := v.Unseal(ctx, id, grounds); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("erased grounds: %v, want ErrErased", err)
	}
	if got, err := v.Unseal(ctx, id, reason); err != nil || got != "kept reason" {
		t.Fatalf("kept reason: %q, %v", got, err)
	}
	s.Close()
	found := map[string]bool{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found["old"] = found["old"] || bytes.Contains(b, old)
		found["kept"] = found["kept"] || bytes.Contains(b, kept)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found["old"] || !found["kept"] {
		t.Fatalf("in the stream's files: the replaced version %v (want false), the new one %v (want true)", found["old"], found["kept"])
	}
}

// BenchmarkSealNewRequest is what a new request's two personal fields cost: one write of its
// keys, without a read first when the caller knows the request is new (isNew), after a read
// that misses when it does not.
func BenchmarkSealNewRequest(b *testing.B) {
	for _, isNew := range []bool{true, false} {
		b.Run(map[bool]string{true: "known new", false: "read first"}[isNew], func(b *testing.B) {
			ctx := context.Background()
			v := openVaultWith(b, testKey, vault.Options{Exclusive: *exclusive})
			for b.Loop() {
				id := uuid.NewString()
				k, err := v.Keys(ctx, id, isNew)
				if err != nil {
					b.Fatal(err)
				}
				for _, f := range []string{"authority.name", "reference"} {
					if _, err := k.Seal(ctx, f, "Police nationale, OFAC"); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
