package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/complianceledger/ledger/client"
)

// natsCLI finds the `nats` command line tool (github.com/nats-io/natscli v0.5.0): $LEDGER_NATS_CLI,
// then $(go env GOPATH)/bin/nats, then PATH. Without it the test is skipped, loudly.
func natsCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LEDGER_NATS_CLI"); p != "" {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "nats")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	t.Skip("SKIP: the nats CLI is not installed, so the ledger was NOT checked against it: " +
		"go install github.com/nats-io/natscli/nats@v0.5.0, or set LEDGER_NATS_CLI (see .ci/run)")
	return ""
}

// natsCmd runs the CLI as the service user against url, isolated from any saved contexts.
func natsCmd(ctx context.Context, t *testing.T, bin, url string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--server", url, "--user", serviceUser, "--password", servicePassword, "--inbox-prefix", client.InboxPrefix(serviceUser)}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "HOME="+t.TempDir(), "NATS_CONTEXT=")
	return cmd
}

// TestNatsCLIReadsTheLedger: a service user sees the stream with `nats stream info`, follows
// events with `nats sub`, resumes through its durable with `nats sub --durable`, and is
// refused when it tries to publish an event.
func TestNatsCLIReadsTheLedger(t *testing.T) {
	t.Parallel()
	bin := natsCLI(t)
	s := ledgerStore(t)
	url := s.ClientURL()
	w := newWriter(t, s)
	w.request()
	ctx := testCtx(t)

	// nats stream info
	out, err := natsCmd(ctx, t, bin, url, "stream", "info", "LEDGER", "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("nats stream info: %v\n%s", err, out)
	}
	var info struct {
		Config struct {
			Name       string   `json:"name"`
			Subjects   []string `json:"subjects"`
			DenyDelete bool     `json:"deny_delete"`
			DenyPurge  bool     `json:"deny_purge"`
		} `json:"config"`
		State struct {
			Messages uint64 `json:"messages"`
			LastSeq  uint64 `json:"last_seq"`
		} `json:"state"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("nats stream info --json: %v\n%s", err, out)
	}
	if info.Config.Name != "LEDGER" || info.Config.Subjects[0] != "ledger.>" || !info.Config.DenyDelete || !info.Config.DenyPurge || info.State.LastSeq != 2 {
		t.Errorf("nats stream info: %s", out)
	}
	if out, err := natsCmd(ctx, t, bin, url, "stream", "info", "LEDGER").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("LEDGER")) {
		t.Errorf("nats stream info (text): %v\n%s", err, out)
	}

	// nats stream get: one event by sequence.
	if out, err := natsCmd(ctx, t, bin, url, "stream", "get", "LEDGER", "2").CombinedOutput(); err != nil || !bytes.Contains(out, []byte(`"type":"request.receipt_acknowledged.v1"`)) {
		t.Errorf("nats stream get LEDGER 2: %v\n%s", err, out)
	}

	// nats sub: live events as they are recorded.
	sub := natsCmd(ctx, t, bin, url, "sub", "ledger.>", "--count", "2")
	var subOut lockedBuffer
	sub.Stdout, sub.Stderr = &subOut, &subOut
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(subOut.String(), "Subscribing on"); {
		if time.Now().After(deadline) {
			t.Fatalf("nats sub did not subscribe:\n%s", subOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the notice is printed just before the SUB is flushed
	rec, ack := w.request()
	if err := sub.Wait(); err != nil {
		t.Fatalf("nats sub: %v\n%s", err, subOut.String())
	}
	var lines []string
	for _, l := range strings.Split(subOut.String(), "\n") {
		if strings.HasPrefix(l, `{"specversion":"1.0"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 || !strings.Contains(lines[0], `"type":"request.received.v2"`) || !strings.Contains(lines[1], `"type":"request.receipt_acknowledged.v1"`) {
		t.Errorf("nats sub printed (want events %d and %d):\n%s", rec, ack, subOut.String())
	}

	// nats sub --durable: JetStream, from the start, through the service's own consumer; a
	// second run resumes after what the first acknowledged.
	durable := func(count int) []string {
		out, err := natsCmd(ctx, t, bin, url, "sub", "--stream", "LEDGER", "--durable", serviceUser, "--all", "--ack", "--count", strconv.Itoa(count), "--raw").CombinedOutput()
		if err != nil {
			t.Fatalf("nats sub --durable: %v\n%s", err, out)
		}
		var types []string
		for _, l := range strings.Split(string(out), "\n") {
			var ev struct{ Type string }
			if json.Unmarshal([]byte(l), &ev) == nil {
				types = append(types, ev.Type)
			}
		}
		return types
	}
	if got := durable(4); len(got) != 4 {
		t.Errorf("nats sub --durable printed %v, want 4 events", got)
	}
	w.request()
	want := []string{"request.received.v2", "request.receipt_acknowledged.v1"}
	if got := durable(2); !slices.Equal(got, want) {
		t.Errorf("nats sub --durable, resumed, printed %v, want %v", got, want)
	}

	// nats pub into the ledger: refused by the server.
	out, _ = natsCmd(ctx, t, bin, url, "pub", "ledger.request.x.RequestReceived", "{}").CombinedOutput()
	if !strings.Contains(string(out), "Permissions Violation") {
		t.Errorf("nats pub into ledger.> was not refused:\n%s", out)
	}
	if out, err := natsCmd(ctx, t, bin, url, "--timeout", "1s", "stream", "purge", "LEDGER", "-f").CombinedOutput(); err == nil {
		t.Errorf("nats stream purge succeeded:\n%s", out)
	}
	if last, err := s.LastSequence(ctx); err != nil || last != 6 {
		t.Errorf("last sequence %d (%v), want 6", last, err)
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
