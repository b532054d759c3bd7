package esdb

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/complianceledger/ledger/store"
	"github.com/complianceledger/ledger/store/storetest"
)

// realServerEnv names the EventStoreDB the real-server run uses; README.md says how to start one.
const realServerEnv = "LEDGER_ESDB_URL"

// TestConformanceAgainstFakeServer runs the store port's conformance suite through the real
// client against the in-process FAKE server (fake_server_test.go), a new one per subtest:
// it checks the adapter's logic in every run, not the server.
func TestConformanceAgainstFakeServer(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		_, url := startFake(t)
		return openStore(t, Config{URL: url})
	})
}

// TestConformanceAgainstRealServer runs the suite against the EventStoreDB at
// $LEDGER_ESDB_URL. A real server is shared and keeps its events, so every subtest gets
// streams of its own under a random StreamPrefix.
func TestConformanceAgainstRealServer(t *testing.T) {
	url := os.Getenv(realServerEnv)
	if url == "" {
		msg := "SKIP: set " + realServerEnv + "=esdb://... to run the conformance suite against a real EventStoreDB"
		fmt.Println(msg) // t.Skip's text only shows with -v; CI logs must show it
		t.Skip(msg)
	}
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		return openStore(t, Config{URL: url, StreamPrefix: randomPrefix(t)})
	})
}

// randomPrefix is a stream prefix no other test run uses.
func randomPrefix(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b) + "_"
}
