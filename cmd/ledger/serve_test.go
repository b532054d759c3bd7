package main

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/complianceledger/ledger/client"
	"github.com/complianceledger/ledger/events"
)

// TestServeLetsServiceTokensSubscribe runs `ledger serve` as a user would: a command sent over
// HTTP by an intake officer reaches a downstream service that logs in to the NATS port with
// its service token, and that service cannot publish into the ledger's subjects.
func TestServeLetsServiceTokensSubscribe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	intake := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "ingrid", "--role", "intake"))
	service := strings.TrimSpace(mustRun(t, dir, "", "token", "create", "billing", "--role", "service"))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv := serveInProcess(ctx, t, dir, "--nats-listen", "127.0.0.1:0")
	base := srv.base
	natsURL := srv.match(t, `NATS clients \(service users: 1\) on (nats://\S+)`)

	id := uuid.NewString()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/commands",
		strings.NewReader(receiveLine(id, "", "2025-02-03T09:00:00Z", "FR", "court_order", "u-1")))
	req.Header.Set("Authorization", "Bearer "+intake)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("receive_request over HTTP: %s", resp.Status)
	}

	c, err := client.Dial(ctx, natsURL, "billing", service)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []client.Event
	err = c.Subscribe(ctx, client.Options{Durable: "billing", StopWhenCaughtUp: true}, func(_ context.Context, ev client.Event) error {
		got = append(got, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Subject != id || got[0].Actor != "ingrid" {
		t.Fatalf("the service got %+v, want the one RequestReceived of %s by ingrid", got, id)
	}
	if _, ok := got[0].Payload.(*events.RequestReceived); !ok {
		t.Errorf("payload %T, want *events.RequestReceived", got[0].Payload)
	}

	// A wrong password is refused; a right one still cannot write.
	if bad, err := client.Dial(ctx, natsURL, "billing", service+"x"); err == nil {
		bad.Close()
		t.Error("a wrong service token was let in")
	}
	// bcrypt under the race detector can outlast the default 2 s connect timeout.
	nc, err := nats.Connect(natsURL, nats.UserInfo("billing", service), nats.Timeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, err = nc.Request("ledger.request."+id+".RequestReceived", []byte("{}"), 2*time.Second)
	if err == nil || !(errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) || strings.Contains(err.Error(), "ermissions")) {
		t.Errorf("publish into ledger.> as a service: %v, want it refused", err)
	}

	// A revoked service token loses its NATS access while serve runs.
	mustRun(t, dir, "", "token", "revoke", "billing")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c, err := nats.Connect(natsURL, nats.UserInfo("billing", service), nats.Timeout(time.Minute))
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("a revoked service token still connects")
		}
	}

	if err := srv.stop(); err != nil {
		t.Errorf("serve after interrupt: %v", err)
	}
	if lines := nonEmpty(mustRun(t, dir, "", "timeline", id, "--format", "csv")); len(lines) != 2 {
		t.Errorf("after the service's publish attempt the request has %d events, want 1:\n%s", len(lines)-1, strings.Join(lines, "\n"))
	}
}

// served is a `ledger serve` running in-process for a test.
type served struct {
	base string // http://127.0.0.1:port
	out  *lockedBuffer
	done chan error
	stop func() error // interrupts it and returns how it ended
}

// serveInProcess runs `ledger serve --data dir` on a free port with args added, and waits until
// it listens.
func serveInProcess(ctx context.Context, t *testing.T, dir string, args ...string) *served {
	t.Helper()
	serveCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	s := &served{out: &lockedBuffer{}, done: make(chan error, 1)}
	s.stop = func() error { cancel(); return <-s.done }
	go func() {
		root := newRoot()
		root.SetArgs(append([]string{"serve", "--data", dir, "--nats-url=", "--listen", "127.0.0.1:0", "--log-level", "warn"}, args...))
		root.SetOut(s.out)
		root.SetErr(&lockedBuffer{})
		s.done <- root.ExecuteContext(serveCtx)
	}()
	s.base = s.match(t, `listening on (http://\S+)`)
	return s
}

// match waits for a line of serve's output and returns the pattern's first group.
func (s *served) match(t *testing.T, pattern string) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	for !re.MatchString(s.out.String()) {
		select {
		case err := <-s.done:
			t.Fatalf("serve ended: %v\n%s", err, s.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return re.FindStringSubmatch(s.out.String())[1]
}
