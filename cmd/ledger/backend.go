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

// proofStore is what checkpoints and proofs need: the raw log (stored bytes and recorded
// times) and a checkpoint stream. Only the JetStream backend keeps them so far.
type proofStore interface {
	proof.Log
	proof.CheckpointStore
}

// jetstreamConfig is how every command opens the JetStream backend.
func (g *globals) jetstreamConfig() jetstream.Config {
	return jetstream.Config{
		DataDir:      filepath.Join(g.dataDir, "jetstream"),
		URL:          g.natsURL,
		CAFile:       g.natsCA,
		Replicas:     g.replicas,
		ClientListen: g.natsListen,
		ServiceUsers: g.serviceUsers,
		Logger:       g.logger(),
		Owner:        owner.Info{Command: g.command, HTTP: g.httpURL},
	}
}

// openStore opens the selected backend; proofs is nil where the backend keeps no Merkle log.
func (g *globals) openStore(ctx context.Context, syncInterval time.Duration) (s store.Store, proofs proofStore, err error) {
	switch g.backend {
	case backendJetStream:
		cfg := g.jetstreamConfig()
		cfg.SyncInterval = syncInterval
		js, err := jetstream.Open(ctx, cfg)
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
