package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/client"
	"github.com/complianceledger/ledger/deadline"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/secrets"
	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/store/jetstream"
)

// tailRun runs `ledger tail args...` in-process until it returns or ctx ends. Unlike
// ledgerRun it leaves --nats-url to the caller.
func tailRun(ctx context.Context, dir string, out *lockedBuffer, args ...string) error {
	root := newRoot()
	root.SetArgs(append([]string{"tail", "--data", dir}, args...))
	root.SetOut(out)
	root.SetErr(&lockedBuffer{})
	return root.ExecuteContext(ctx)
}

func tailLines(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out lockedBuffer
	if err := tailRun(ctx, dir, &out, args...); err != nil {
		t.Fatalf("ledger tail %s: %v", strings.Join(args, " "), err)
	}
	return nonEmpty(out.String())
}

func nonEmpty(s string) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestTailPrintsTheDataFoldersEvents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := uuid.NewString(), uuid.NewString()
	mustRun(t, dir, "", "submit", writeFile(t,
		receiveLine(a, "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-1"),
		ackLine(a, "2025-02-03T10:00:00Z"),
		receiveLine(b, "", "2025-02-04T09:00:00Z", "BE", "court_order", "u-2"),
	), credential(t, dir, "ingrid", auth.Intake))

	lines := tailLines(t, dir, "--format", "json", "--nats-url=")
	if len(lines) != 3 {
		t.Fatalf("tail printed %d lines, want 3:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i, l := range lines {
		var got struct {
			Sequence   uint64          `json:"sequence"`
			RecordedAt time.Time       `json:"recorded_at"`
			Event      events.Envelope `json:"event"`
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
		if got.Sequence != uint64(i+1) || got.RecordedAt.IsZero() || got.Event.Actor != "ingrid" || got.Event.Validate() != nil {
			t.Errorf("line %d: %s", i, l)
		}
	}

	lines = tailLines(t, dir, "--type", "RequestReceived", "--from", "2", "--nats-url=")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "3\t") || !strings.Contains(lines[0], "\trequest.received.v2\trequest/"+b+"\tv1\tactor=ingrid\ttime=2025-02-04T09:00:00Z") {
		t.Errorf("tail --type RequestReceived --from 2:\n%s", strings.Join(lines, "\n"))
	}
	if lines := tailLines(t, dir, "--aggregate", "report", "--nats-url="); len(lines) != 0 {
		t.Errorf("tail --aggregate report: %v", lines)
	}
}

func TestTailFollowsAsAServiceUserAndResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := uuid.NewString()
	mustRun(t, dir, "", "submit", writeFile(t,
		receiveLine(first, "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-1"),
		ackLine(first, "2025-02-03T10:00:00Z"),
	), credential(t, dir, "ingrid", auth.Intake))

	// The ledger as `serve` would run it: the same data folder, accepting a service user.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := jetstream.Open(ctx, jetstream.Config{
		DataDir:      filepath.Join(dir, "jetstream"),
		ClientListen: "127.0.0.1:0",
		ServiceUsers: []jetstream.ServiceUser{{Name: "billing", Password: "billing-secret", Consumers: []string{"billing", "billing_tail"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	service := []string{"--nats-url", s.ClientURL(), "--user", "billing", "--password", "billing-secret"}

	if err := tailRun(ctx, dir, &lockedBuffer{}, service...); err == nil || !strings.Contains(err.Error(), "--durable") {
		t.Errorf("tail as a service user without --durable: %v", err)
	}
	lines := tailLines(t, dir, append(service, "--durable", "billing_tail")...)
	if len(lines) != 2 || !strings.Contains(lines[1], "request.receipt_acknowledged.v1") {
		t.Fatalf("first run:\n%s", strings.Join(lines, "\n"))
	}
	if lines := tailLines(t, dir, append(service, "--durable", "billing_tail")...); len(lines) != 0 {
		t.Errorf("second run printed again what the first acknowledged:\n%s", strings.Join(lines, "\n"))
	}

	// --follow: prints events as they are recorded, until interrupted.
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- tailRun(fctx, dir, &out, append(service, "--durable", "billing", "--follow", "--type", "request.received.v1")...)
	}()
	second := uuid.NewString()
	env, err := events.NewEnvelope(&events.RequestReceived{
		Authority:  events.Authority{Name: "Politie", Kind: events.AuthorityPolice, Country: "NL"},
		Instrument: events.InstrumentCourtOrder,
		Targets:    []events.Target{{Account: "acct_00000000000000000000000000000001", IdentifierType: events.IdentifierEmail}},
		DataSought: []events.DataCategory{events.DataSubscriber},
	}, events.Meta{ID: uuid.Must(uuid.NewV7()), Source: "test", AggregateID: second, AggregateVersion: 1,
		Time: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC), Actor: "ingrid", CommandID: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, env, 0); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), second) {
		select {
		case err := <-done:
			t.Fatalf("tail --follow ended: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("tail --follow after interrupt: %v", err)
	}
	if lines := nonEmpty(out.String()); len(lines) != 2 || !strings.HasPrefix(lines[0], "1\t") || !strings.HasPrefix(lines[1], "3\t") {
		t.Errorf("tail --follow printed:\n%s", out.String())
	}
}

// TestTailBesideAServerFollowsItOverNATS: the data folder is served, so tail does not open it;
// with a service token it follows the server over its NATS port, through the service's
// durable, as a downstream service would.
func TestTailBesideAServerFollowsItOverNATS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	service := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "billing", "--role", "service"))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv := serveInProcess(ctx, t, dir, "--nats-listen", "127.0.0.1:0")
	srv.match(t, `NATS clients .* on (nats://\S+)`)
	id := uuid.NewString()
	mustRun(t, dir, receiveLine(id, "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-1")+"\n", "submit", "-", credential(t, dir, "ingrid", auth.Intake))

	if err := tailRun(ctx, dir, &lockedBuffer{}); err == nil || !strings.Contains(err.Error(), "owned by pid") {
		t.Errorf("tail beside the server without a token: %v, want the owner named", err)
	}
	lines := tailLines(t, dir, "--token", service, "--durable", "billing")
	if len(lines) != 1 || !strings.Contains(lines[0], "request/"+id) || !strings.Contains(lines[0], "actor=ingrid") {
		t.Fatalf("tail beside the server:\n%s", strings.Join(lines, "\n"))
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestTailPrintsTheAlerts: `ledger tail --alerts` prints the alert stream, and --type selects
// an alert type.
func TestTailPrintsTheAlerts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := jetstream.Open(t.Context(), jetstream.Config{DataDir: filepath.Join(dir, "jetstream"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	due := time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)
	clock := deadline.Clock{Request: uuid.NewString(), Kind: deadline.KindEPOCEmergency, Start: due.Add(-8 * time.Hour), Due: due}
	pub, err := deadline.NewPublisher(t.Context(), s, "urn:test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		_, err = pub.Publish(t.Context(), deadline.Alerts([]deadline.Clock{clock}, nil, due.Add(time.Hour), deadline.DefaultPolicy()))
	}
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	lines := tailLines(t, dir, "--alerts", "--nats-url=")
	if len(lines) != 2 || !strings.Contains(lines[0], "deadline.approaching.v1") || !strings.Contains(lines[1], "deadline.missed.v1\trequest="+clock.Request+"\tkind=epoc_emergency\tdue=2026-03-02T17:00:00Z") {
		t.Fatalf("tail --alerts:\n%s", strings.Join(lines, "\n"))
	}
	if lines := tailLines(t, dir, "--alerts", "--type", "deadline.missed", "--nats-url="); len(lines) != 1 {
		t.Fatalf("tail --alerts --type deadline.missed: %v", lines)
	}
}

// tail --verify prints the events the data folder's checkpoints cover, keeping the newest in
// its state file (by default in the data folder); pointed at a history rebuilt in another
// folder with the same key, it refuses it and prints nothing.
func TestTailVerifyRefusesARebuiltHistory(t *testing.T) {
	t.Parallel()
	dirA, dirB := t.TempDir(), t.TempDir()
	a := uuid.NewString()
	mustRun(t, dirA, "", "submit", writeFile(t,
		receiveLine(a, "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-1"),
		ackLine(a, "2025-02-03T10:00:00Z"),
	), credential(t, dirA, "ingrid", auth.Intake))
	keyFile := filepath.Join(t.TempDir(), "ledger.vkey")
	if err := os.WriteFile(keyFile, []byte(mustRun(t, dirA, "", "keys")), 0o600); err != nil {
		t.Fatal(err)
	}
	if lines := tailLines(t, dirA, "--nats-url=", "--verify", keyFile); len(lines) != 2 {
		t.Fatalf("tail --verify printed %d lines, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	state := filepath.Join(dirA, "tail.checkpoint")
	kept, err := os.ReadFile(state)
	if err != nil {
		t.Fatalf("default state file: %v", err)
	}

	// The operator's rebuild: the same key, other commands, a fresh folder.
	key, err := os.ReadFile(filepath.Join(dirA, string(secrets.Checkpoint)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, string(secrets.Checkpoint)), key, 0o600); err != nil {
		t.Fatal(err)
	}
	b := uuid.NewString()
	mustRun(t, dirB, "", "submit", writeFile(t,
		receiveLine(b, "", "2025-02-03T09:00:00Z", "BE", "court_order", "u-9"),
		ackLine(b, "2025-02-03T10:00:00Z"),
		receiveLine(uuid.NewString(), "", "2025-02-04T09:00:00Z", "BE", "court_order", "u-8"),
	), credential(t, dirB, "ingrid", auth.Intake))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out lockedBuffer
	err = tailRun(ctx, dirB, &out, "--nats-url=", "--verify", keyFile, "--state", state)
	if !errors.Is(err, client.ErrFork) {
		t.Errorf("tail --verify on the rebuilt history: %v, want client.ErrFork", err)
	}
	if out.String() != "" {
		t.Errorf("tail printed events of the rebuilt history:\n%s", out.String())
	}
	if now, _ := os.ReadFile(state); !bytes.Equal(now, kept) {
		t.Error("the state file changed")
	}
}
