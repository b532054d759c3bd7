package jetstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/complianceledger/ledger/events"
)

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openAt opens an embedded store on dir; the caller closes it.
func openAt(t testing.TB, dir string, sync time.Duration) *Store {
	t.Helper()
	s, err := Open(testCtx(t), Config{DataDir: dir, SyncInterval: sync, Logger: testLogger()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// openStore opens an embedded store on a fresh folder, closed when the test ends.
func openStore(t testing.TB) *Store {
	t.Helper()
	s := openAt(t, t.TempDir(), 0)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// startListeningServer runs a JetStream server on a random local port, for tests that
// need to shape the stream before the store connects by URL.
func startListeningServer(t testing.TB) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		ServerName: "test", Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("test server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

func accountRef() events.AccountRef {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return events.AccountRef("acct_" + hex.EncodeToString(b))
}

func meta(aggregateID string, version uint64) events.Meta {
	return events.Meta{
		ID:               uuid.Must(uuid.NewV7()),
		Source:           "test",
		AggregateID:      aggregateID,
		AggregateVersion: version,
		Time:             time.Now(),
		Actor:            "alice",
		CommandID:        uuid.NewString(),
	}
}

// received is a valid first event of a new request aggregate.
func received(t testing.TB, aggregateID string) events.Envelope {
	t.Helper()
	env, err := events.NewEnvelope(&events.RequestReceived{
		Authority:  events.Authority{Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR"},
		Instrument: events.InstrumentCourtOrder,
		Reference:  "REF-1",
		Targets:    []events.Target{{Account: accountRef(), IdentifierType: events.IdentifierEmail}},
		DataSought: []events.DataCategory{events.DataSubscriber, events.DataIPAddress},
	}, meta(aggregateID, 1))
	if err != nil {
		t.Fatalf("NewEnvelope: %v", err)
	}
	return env
}

// acknowledged is a valid later event of an aggregate.
func acknowledged(t testing.TB, aggregateID string, version uint64) events.Envelope {
	t.Helper()
	env, err := events.NewEnvelope(&events.ReceiptAcknowledged{Automated: true}, meta(aggregateID, version))
	if err != nil {
		t.Fatalf("NewEnvelope: %v", err)
	}
	return env
}

func mustAppend(t testing.TB, s *Store, env events.Envelope, expectedLast uint64) uint64 {
	t.Helper()
	a, err := s.Append(testCtx(t), env, expectedLast)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if a.Duplicate {
		t.Fatalf("Append: unexpected duplicate at %d", a.Sequence)
	}
	return a.Sequence
}

func mustLoad(t testing.TB, s *Store, id string) []events.Recorded {
	t.Helper()
	recs, err := s.Load(testCtx(t), events.AggregateRequest, id)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return recs
}

func readAll(t testing.TB, s *Store, from uint64) []events.Recorded {
	t.Helper()
	var out []events.Recorded
	for rec, err := range s.Read(testCtx(t), from) {
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		out = append(out, rec)
	}
	return out
}

func lastSeq(t testing.TB, s *Store) uint64 {
	t.Helper()
	n, err := s.LastSequence(testCtx(t))
	if err != nil {
		t.Fatalf("LastSequence: %v", err)
	}
	return n
}
