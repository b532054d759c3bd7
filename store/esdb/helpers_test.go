package esdb

import (
	"io"
	"log/slog"
	"testing"

	"github.com/complianceledger/ledger/store/storetest"
)

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openStore opens the adapter on cfg, closed when the test ends.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	s, err := Open(storetest.Ctx(t), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// openFake starts a fake server and opens the adapter on it.
func openFake(t testing.TB) (*Store, *fakeStreamsServer) {
	t.Helper()
	f, url := startFake(t)
	return openStore(t, Config{URL: url}), f
}
