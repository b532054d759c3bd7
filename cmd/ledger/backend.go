package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/complianceledger/ledger/owner"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/store"
	"github.com/complianceledger/ledger/store/esdb"
	"github.com/complianceledger/ledger/store/jetstream"
)

// Backends the CLI can open.
const (
	backendJetStream = "jetstream"
	backendESDB      = "esdb"
)

// proofStore is what checkpoints and proofs need: the raw log (with recorded times, for
// the witness check) and a checkpoint stream. Only the JetStream backend keeps them so far.
type proofStore interface {
	proof.Log
	proof.RecordedLog
	proof.CheckpointStore
}

// openStore opens the selected backend; proofs is nil where the backend keeps no Merkle log.
func (g *globals) openStore(ctx context.Context, syncInterval time.Duration) (s store.Store, proofs proofStore, err error) {
	switch g.backend {
	case backendJetStream:
		js, err := jetstream.Open(ctx, jetstream.Config{
			DataDir:      filepath.Join(g.dataDir, "jetstream"),
			URL:          g.natsURL,
			SyncInterval: syncInterval,
			ClientListen: g.natsListen,
			ServiceUsers: g.serviceUsers,
			Logger:       g.logger(),
			Owner:        owner.Info{Command: g.command, HTTP: g.httpURL},
		})
		if err != nil {
			return nil, nil, err
		}
		return js, js, nil
	case backendESDB:
		if g.esdbURL == "" {
			return nil, nil, fmt.Errorf("--store esdb needs --esdb-url (e.g. esdb://127.0.0.1:2113?tls=false)")
		}
		es, err := esdb.Open(ctx, esdb.Config{URL: g.esdbURL, Logger: g.logger()})
		if err != nil {
			return nil, nil, err
		}
		return es, nil, nil
	}
	return nil, nil, fmt.Errorf("--store %q: want %s or %s", g.backend, backendJetStream, backendESDB)
}
