package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/store/jetstream"
)

// TestShutdownLosesNoAcknowledgedCommand sends commands from several clients, shuts the
// server down while they are in flight, closes the store, reopens it, and finds every
// command that was acknowledged (201) in the stream.
func TestShutdownLosesNoAcknowledgedCommand(t *testing.T) {
	dir := t.TempDir()
	jsDir := filepath.Join(dir, "jetstream")
	s, err := jetstream.Open(context.Background(), jetstream.Config{DataDir: jsDir, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.Open(filepath.Join(dir, auth.FileName))
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := tokens.Create("intake", auth.Intake, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{Store: s, Pseudonymizer: pseudonymizer(t), Tokens: tokens, Logger: quiet()})
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, 10*time.Second) }()

	var mu sync.Mutex
	acked := map[string]uint64{} // request id -> sequence of its receipt
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id, steps := newRequest([]string{"FR", "DE"}[w%2])
				req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/v1/commands", bytes.NewReader(steps[0].Body))
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := client.Do(req)
				if err != nil {
					return // the server stopped listening
				}
				var out struct{ Sequence uint64 }
				json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				if res.StatusCode == http.StatusCreated {
					mu.Lock()
					acked[id] = out.Sequence
					mu.Unlock()
				} else if res.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("status %d", res.StatusCode)
					return
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("store Close: %v", err)
	}
	if len(acked) == 0 {
		t.Fatal("no command was acknowledged before shutdown")
	}

	s, err = jetstream.Open(context.Background(), jetstream.Config{DataDir: jsDir, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	found := map[string]uint64{}
	for rec, err := range s.Read(context.Background(), 1) {
		if err != nil {
			t.Fatal(err)
		}
		found[rec.Subject] = rec.Sequence
	}
	for id, seq := range acked {
		if found[id] != seq {
			t.Errorf("request %s acknowledged at sequence %d; after reopening: %d", id, seq, found[id])
		}
	}
	t.Logf("%d commands acknowledged before shutdown, %d in the stream", len(acked), len(found))
}

// TestMetricsCountCommandsAndLag: the service role scrapes commands by type and outcome,
// append latency and projection lag.
func TestMetricsCountCommandsAndLag(t *testing.T) {
	f := newFixture(t)
	_, steps := newRequest("FR")
	f.record(steps, 0, 2)
	f.do("POST", "/v1/commands", "intake", steps[0].Body, "Idempotency-Key", steps[0].Key)
	f.do("POST", "/v1/commands", "intake", []byte(`{`))
	r := f.do("GET", "/metrics", "service", nil)
	if r.status != 200 {
		t.Fatalf("metrics: %d", r.status)
	}
	for _, want := range []string{
		`ledger_commands_total{command="receive_request",outcome="recorded"} 1`,
		`ledger_commands_total{command="receive_request",outcome="duplicate"} 1`,
		`ledger_commands_total{command="acknowledge_receipt",outcome="recorded"} 1`,
		`ledger_commands_total{command="unknown",outcome="invalid"} 1`,
		`ledger_command_append_seconds_count 2`,
		`ledger_projection_lag_events `,
		`ledger_projection_applied_sequence `,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
