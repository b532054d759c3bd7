package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/server/loadtest"
	"github.com/complianceledger/ledger/store/jetstream"
	"github.com/complianceledger/ledger/vault"
)

var delivered = time.Date(2025, 2, 3, 9, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fixture is a server over a real embedded JetStream, with one token per role and a
// regulator limited to France.
type fixture struct {
	t      testing.TB
	dir    string
	store  *jetstream.Store
	srv    *server.Server
	url    string
	tokens map[string]string // by caller name: the role's name, or "regulator-fr"
	key    proof.Key         // signs checkpoints
}

func newFixture(t testing.TB) *fixture { return newFixtureWith(t, nil) }

// newFixtureWith is newFixture with the server's configuration changed by edit first (its
// clock, its witnesses).
func newFixtureWith(t testing.TB, edit func(*server.Config)) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	s, err := jetstream.Open(ctx, jetstream.Config{DataDir: filepath.Join(dir, "jetstream"), Logger: quiet()})
	if err != nil {
		t.Fatalf("jetstream.Open: %v", err)
	}
	tokens, err := auth.Open(filepath.Join(dir, auth.FileName))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, dir: dir, store: s, tokens: map[string]string{}}
	for _, r := range auth.Roles {
		if f.tokens[string(r)], _, err = tokens.Create(string(r), r, nil); err != nil {
			t.Fatal(err)
		}
	}
	if f.tokens["regulator-fr"], _, err = tokens.Create("regulator-fr", auth.Regulator, []string{"FR"}); err != nil {
		t.Fatal(err)
	}
	key, _, err := proof.LoadOrCreateKey(filepath.Join(dir, "checkpoint.key"), proof.DefaultOrigin, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.key = key
	v, err := vault.Open(ctx, s.JetStream(), []byte("server-test-vault-key-0123456789"), vault.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{
		Store: s, Pseudonymizer: pseudonymizer(t), Vault: v, Tokens: tokens, Logger: quiet(), MaxBody: 8 << 10, Poll: 50 * time.Millisecond,
		Proofs: s, Key: &f.key,
	}
	if edit != nil {
		edit(&cfg)
	}
	f.srv = server.New(cfg)
	done := make(chan struct{})
	go func() { f.srv.Run(ctx); close(done) }()
	ts := httptest.NewServer(f.srv.Handler())
	f.url = ts.URL
	t.Cleanup(func() {
		ts.Close()
		cancel()
		<-done
		if err := s.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
	})
	return f
}

func pseudonymizer(t testing.TB) *events.Pseudonymizer {
	p, err := events.NewPseudonymizer(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// response is an answer with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// apiError is the error body.
type apiError struct {
	Error struct {
		Code, Field, Rule, Message string
	}
}

func (r response) err(t *testing.T) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("status %d: body is not an API error: %s", r.status, r.body)
	}
	return e
}

// do sends a request as caller ("" for none).
func (f *fixture) do(method, path, caller string, body []byte, header ...string) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.url+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if caller != "" {
		tok, ok := f.tokens[caller]
		if !ok {
			tok = caller // a literal token
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

// last is the stream's last sequence: unchanged means nothing was written.
func (f *fixture) last() uint64 {
	f.t.Helper()
	seq, err := f.store.LastSequence(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return seq
}

// record sends a lifecycle's steps [from, to) as their roles, each expected to be recorded.
func (f *fixture) record(steps []loadtest.Step, from, to int) {
	f.t.Helper()
	for _, s := range steps[from:to] {
		r := f.do("POST", "/v1/commands", string(s.Role), s.Body, "Idempotency-Key", s.Key)
		if r.status != http.StatusCreated {
			f.t.Fatalf("%s as %s: %d %s", s.Command, s.Role, r.status, r.body)
		}
	}
}

func newRequest(country string) (string, []loadtest.Step) {
	id := uuid.Must(uuid.NewV7()).String()
	return id, loadtest.Lifecycle(id, country, delivered)
}
