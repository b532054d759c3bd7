package server_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
)

// TestStartProgressSeesTheFirstReplay: the views' first replay tells StartProgress where it
// ends (a meter on a terminal, in `ledger serve --log-format text`), and its log line says
// how many events it replayed and how fast, whatever the log format.
func TestStartProgressSeesTheFirstReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, steps := newRequest("FR")
	f.record(steps, 0, 3)
	last, err := f.store.LastSequence(context.Background())
	if err != nil || last == 0 {
		t.Fatalf("last sequence %d, %v", last, err)
	}
	tokens, err := auth.Open(filepath.Join(f.dir, auth.FileName))
	if err != nil {
		t.Fatal(err)
	}
	type call struct {
		applied  uint64
		finished bool
	}
	calls := make(chan call, 64)
	log := &syncBuffer{}
	srv := server.New(server.Config{
		Store: f.store, Pseudonymizer: pseudonymizer(t), Tokens: tokens, Poll: 20 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(log, nil)),
		StartProgress: func(applied uint64, finished bool) { calls <- call{applied, finished} },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	for c := range calls {
		if c.finished {
			if c.applied != last {
				t.Errorf("the first replay ended at %d, want %d", c.applied, last)
			}
			break
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "views: started") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var started string
	for line := range strings.Lines(log.String()) {
		if strings.Contains(line, "views: started") {
			started = line
		}
	}
	if !strings.Contains(started, "replayed=") || !strings.Contains(started, "events_per_second=") || !strings.Contains(started, "seconds=") {
		t.Errorf("the start's log line %q says no count and rate", started)
	}
}
