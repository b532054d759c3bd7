package jetstream

import (
	"testing"

	"github.com/complianceledger/ledger/store"
	"github.com/complianceledger/ledger/store/storetest"
)

// TestConformance runs the store port's conformance suite against the JetStream adapter on
// an embedded nats-server: a fresh server and folder for every subtest.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return openStore(t) })
}
