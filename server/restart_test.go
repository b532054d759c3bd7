package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
)

// TestARestartedServerResumesFromItsSnapshots: a server saves its views where they stand
// when it stops, and the next server over the same stream starts from those snapshots,
// replaying nothing, with the same figures.
func TestARestartedServerResumesFromItsSnapshots(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, steps := newRequest("FR")
	f.record(steps, 0, 3)
	tokens, err := auth.Open(filepath.Join(f.dir, auth.FileName))
	if err != nil {
		t.Fatal(err)
	}
	snaps := &projections.MemorySnapshots{}
	type running struct {
		report func() string
		asOf   func() string // the position the last report was computed at
		log    *syncBuffer
		stop   func()
	}
	start := func() running {
		log := &syncBuffer{}
		srv := server.New(server.Config{
			Store: f.store, Pseudonymizer: pseudonymizer(t), Tokens: tokens, Poll: 20 * time.Millisecond,
			Snapshots: snaps, Logger: slog.New(slog.NewTextHandler(log, nil)),
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		ts := httptest.NewServer(srv.Handler())
		var asOf string
		report := func() string {
			t.Helper()
			req, _ := http.NewRequest("GET", ts.URL+"/v1/reports/requests?period=2025&format=csv", nil)
			req.Header.Set("Authorization", "Bearer "+f.tokens["auditor"])
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("report: %d %s", res.StatusCode, b)
			}
			asOf = res.Header.Get("Ledger-As-Of-Sequence")
			return string(b)
		}
		return running{report, func() string { return asOf }, log, func() { ts.Close(); cancel(); <-done }}
	}

	first := start()
	first.report() // the views are current: three events, snapshotted at start
	f.record(steps, 3, len(steps))
	// The rest, which the first server learns of by following the stream. The last event
	// need not change the report, so wait for the position, not for the figures.
	before := string(f.do("GET", "/v1/reports/requests?period=2025&format=csv", "auditor", nil).body)
	last := f.last()
	for deadline := time.Now().Add(10 * time.Second); first.report() != before || first.asOf() != fmt.Sprint(last); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first server did not follow the stream to %d (at %s):\n%s\nwant:\n%s", last, first.asOf(), first.report(), before)
		}
	}
	first.stop()
	infos, err := snaps.ListSnapshots(context.Background(), "requests")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(infos, func(i projections.SnapshotInfo) bool { return i.Sequence == last }) {
		t.Fatalf("no snapshot at %d, where the server stopped: %v\n%s", last, infos, first.log)
	}

	second := start()
	defer second.stop()
	if after := second.report(); after != before {
		t.Errorf("after the restart:\n%s\nbefore:\n%s", after, before)
	}
	if !strings.Contains(second.log.String(), "replayed=0") {
		t.Errorf("the restarted server replayed events its snapshots hold:\n%s", second.log)
	}
}

// syncBuffer is a bytes.Buffer that a logger and the test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
