package server_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/store/jetstream"
)

// verifyAnswer is the body of GET /v1/verify.
type verifyAnswer struct {
	Status    proof.Status
	OK        bool
	Events    uint64
	Uncovered uint64
	Findings  []string
	Advice    string
}

// GET /v1/verify tells events not signed yet ("unsigned", with the count and how to sign
// them) from a mismatch, as `ledger verify` does; ok means no finding.
func TestVerifyRouteTellsUnsignedEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, steps := newRequest("FR")
	f.record(steps, 0, 3)
	get := func() verifyAnswer {
		t.Helper()
		r := f.do("GET", "/v1/verify", "auditor", nil)
		var v verifyAnswer
		if err := json.Unmarshal(r.body, &v); r.status != 200 || err != nil {
			t.Fatalf("verify: %d %s (%v)", r.status, r.body, err)
		}
		return v
	}
	v := get()
	if v.Status != proof.Unsigned || !v.OK || v.Uncovered != 3 || len(v.Findings) != 0 ||
		!strings.Contains(v.Advice, "3 events after the newest checkpoint are not signed yet; POST /v1/checkpoints") {
		t.Errorf("3 events, none signed: %+v", v)
	}
	if r := f.do("POST", "/v1/checkpoints", "auditor", nil); r.status != http.StatusCreated {
		t.Fatalf("POST /v1/checkpoints: %d %s", r.status, r.body)
	}
	if v := get(); v.Status != proof.Clean || !v.OK || v.Uncovered != 0 || v.Advice != "" {
		t.Errorf("after a checkpoint: %+v", v)
	}
}

// A graceful stop (Serve's context cancelled) signs a checkpoint of every event it
// acknowledged, even with no timed checkpoints (CheckpointInterval 0): verify then finds the
// ledger clean.
func TestGracefulStopSignsEveryAcknowledgedEvent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := jetstream.Open(context.Background(), jetstream.Config{DataDir: filepath.Join(dir, "jetstream"), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tokens, err := auth.Open(filepath.Join(dir, auth.FileName))
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := tokens.Create("intake", auth.Intake, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := proof.LoadOrCreateKey(filepath.Join(dir, "checkpoint.key"), proof.DefaultOrigin, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{Store: s, Pseudonymizer: pseudonymizer(t), Tokens: tokens, Logger: quiet(), Proofs: s, Key: &key})
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, 10*time.Second) }()

	const commands = 7
	for range commands {
		_, steps := newRequest("DE")
		req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/v1/commands", strings.NewReader(string(steps[0].Body)))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("receive_request: %s", res.Status)
		}
	}
	stop()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	rep, err := proof.Verify(context.Background(), s, s, key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status() != proof.Clean || rep.Events != commands || rep.Checkpoints != 1 {
		t.Errorf("after a graceful stop: %s, %d events, %d checkpoints, %d uncovered; want clean, %d events, 1 checkpoint",
			rep.Status(), rep.Events, rep.Checkpoints, rep.Uncovered, commands)
	}
}
