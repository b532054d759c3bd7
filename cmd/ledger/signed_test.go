package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/complianceledger/ledger/server/auth"
	"github.com/complianceledger/ledger/store/jetstream"
)

// exitStatusOf is the exit status of a child process that ended with err (0: none).
func exitStatusOf(t *testing.T, err error) int {
	t.Helper()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	t.Fatalf("child process: %v", err)
	return 0
}

// appendUnsigned appends n events to the stream behind every checkpoint's back, as a
// process that stopped before signing would leave them: copies of the last event's bytes,
// which verify hashes like any other.
func appendUnsigned(t *testing.T, dir string, n int) {
	t.Helper()
	s := openLedger(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.JetStream().Stream(ctx, jetstream.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	last, err := st.GetMsg(ctx, st.CachedInfo().State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := s.JetStream().PublishMsg(ctx, &nats.Msg{Subject: last.Subject, Data: last.Data}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// The fault test of issue 18: a real `ledger serve` process acknowledges commands and is
// stopped with SIGTERM; `ledger verify`, another process, then finds every event signed
// (exit status 0). On main the stop left them unsigned and verify reported "no valid
// checkpoint ... 1 findings". Timed checkpoints are off (--checkpoint-interval 0): only the
// stop can have signed.
func TestGracefulStopLeavesEveryEventSigned(t *testing.T) {
	dir := t.TempDir()
	intake := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "ingrid", "--role", "intake"))
	srv := startServeProcess(t, dir, "--checkpoint-interval=0")
	const commands = 12
	for i := range commands {
		status, body, err := srv.post(intake, uuid.NewString(), receiveLine(uuid.NewString(), "", "2025-02-03T09:00:00Z", "FR", "court_order", fmt.Sprintf("u-%d", i)))
		if err != nil || status != http.StatusCreated {
			t.Fatalf("command %d: %d %s %v", i, status, body, err)
		}
	}
	srv.stop(t)

	out, stderr, err := cli(t, dir, "", "verify")
	if code := exitStatusOf(t, err); code != 0 || !strings.Contains(out, "12 events (last sequence 12), 1 checkpoints") || !strings.Contains(out, "OK:") {
		t.Fatalf("verify after a graceful stop: exit %d, want 0, 12 events and 1 checkpoint:\n%s%s", code, out, stderr)
	}

	// The exit status of events not signed yet is 2, not 1: nothing mismatches.
	appendUnsigned(t, dir, 3)
	out, stderr, err = cli(t, dir, "", "verify")
	if code := exitStatusOf(t, err); code != exitUnsigned || !strings.Contains(out, "3 events after the newest checkpoint (sequences 13 to 15) are not signed yet") {
		t.Errorf("verify with 3 unsigned events: exit %d, want %d:\n%s%s", code, exitUnsigned, out, stderr)
	}
}

// verify tells events not signed yet (a warning, exit status 2, signed by `ledger
// checkpoint`) from a stream that does not match a signature (exit status 1); every
// command that records leaves nothing unsigned, report --publish included.
func TestVerifyTellsUnsignedEventsFromTampering(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, dir, "", "submit", "../../examples/intake.jsonl", credential(t, dir, officers[auth.Intake], auth.Intake))
	verify := func() (string, error) {
		out, _, err := ledgerRun(t, dir, "", "verify")
		return out, err
	}
	if out, err := verify(); err != nil {
		t.Fatalf("verify after submit: %v\n%s", err, out)
	}

	appendUnsigned(t, dir, 2)
	out, err := verify()
	if !errors.Is(err, errUnsigned) || errors.Is(err, errVerifyFailed) || exitStatus(err) != exitUnsigned {
		t.Fatalf("verify with an unsigned tail: %v (exit %d), want errUnsigned (exit %d)\n%s", err, exitStatus(err), exitUnsigned, out)
	}
	for _, want := range []string{
		"WARNING: 2 events after the newest checkpoint (sequences 4 to 5) are not signed yet; 'ledger checkpoint'",
		"UNSIGNED:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify's report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "findings") || strings.Contains(out, "does not match") {
		t.Errorf("verify calls unsigned events a mismatch:\n%s", out)
	}

	mustRun(t, dir, "", "checkpoint")
	if out, err := verify(); err != nil {
		t.Fatalf("verify after checkpoint: %v\n%s", err, out)
	}

	// report --publish signs a checkpoint before its ReportPublished event, and then that
	// event too.
	mustRun(t, dir, "", "report", "requests", "--period", "2024", "--publish", credential(t, dir, officers[auth.Legal], auth.Legal))
	if out, err := verify(); err != nil {
		t.Fatalf("verify after report --publish: %v\n%s", err, out)
	}

	// Tampering stays exit status 1, with or without unsigned events after it.
	appendUnsigned(t, dir, 1)
	rewriteStream(t, dir, func(msgs []*nats.Msg) { msgs[1], msgs[2] = msgs[2], msgs[1] })
	out, err = verify()
	if !errors.Is(err, errVerifyFailed) || exitStatus(err) != 1 {
		t.Fatalf("verify of a stream with an event removed: %v (exit %d), want errVerifyFailed (exit 1)\n%s", err, exitStatus(err), out)
	}
}

// rewriteStream recreates the stream with its messages as edit leaves them, as an attacker
// with the server's files would.
func rewriteStream(t *testing.T, dir string, edit func([]*nats.Msg)) {
	t.Helper()
	s := openLedger(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.JetStream().Stream(ctx, jetstream.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*nats.Msg
	for seq := uint64(1); seq <= st.CachedInfo().State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, &nats.Msg{Subject: m.Subject, Data: m.Data})
	}
	edit(msgs)
	if err := s.JetStream().DeleteStream(ctx, jetstream.StreamName); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openLedger(t, dir)
	for _, m := range msgs {
		if _, err := s.JetStream().PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
