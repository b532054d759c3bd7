package client_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/client"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/store/jetstream"
)

// A downstream service that holds the ledger to its signed checkpoints: the README's
// example, run against an embedded ledger so that it cannot rot.
func Example_verifyingSubscriber() {
	url, verifierKey, dir, stop := exampleLedger()
	defer stop()
	ctx := context.Background()

	c, err := client.Dial(ctx, url, "billing", "billing-secret")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	err = c.Subscribe(ctx, client.Options{
		Durable:          "billing",
		StopWhenCaughtUp: true, // a service keeps following; the example stops
		Verify: &client.Verify{
			Key:       verifierKey,                              // `ledger keys` prints it
			StateFile: filepath.Join(dir, "billing.checkpoint"), // the newest checkpoint verified
		},
	}, func(ctx context.Context, ev client.Event) error {
		fmt.Println(ev.Sequence, ev.Type) // only events a verified checkpoint covers
		return nil
	})
	if errors.Is(err, client.ErrFork) || errors.Is(err, client.ErrNotIncluded) {
		log.Fatalf("the ledger rewrote its history: %v", err) // keep the state file: it is the evidence
	}
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// 1 request.received.v2
	// 2 request.receipt_acknowledged.v1
}

// exampleLedger runs a ledger with the service user billing, two events and a checkpoint
// signed over them (`ledger serve` signs one within a second of every event). It returns
// its NATS URL, its verifier key, a folder for the service's files, and how to stop it.
func exampleLedger() (url, verifierKey, dir string, stop func()) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ledger-example-")
	if err != nil {
		log.Fatal(err)
	}
	s, err := jetstream.Open(ctx, jetstream.Config{
		DataDir:      filepath.Join(dir, "jetstream"),
		ClientListen: "127.0.0.1:0",
		ServiceUsers: []jetstream.ServiceUser{{Name: "billing", Password: "billing-secret"}},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}
	id, last := uuid.NewString(), uint64(0)
	for i, e := range []events.Event{samples()[0], samples()[3]} { // RequestReceived, ReceiptAcknowledged
		env, err := events.NewEnvelope(e, events.Meta{
			ID: uuid.Must(uuid.NewV7()), Source: "ledger-example", AggregateID: id, AggregateVersion: uint64(i + 1),
			Time: time.Date(2024, 11, 5, 9, 30, 0, 0, time.UTC), Actor: "alice", CommandID: uuid.NewString(),
		})
		if err != nil {
			log.Fatal(err)
		}
		a, err := s.Append(ctx, env, last)
		if err != nil {
			log.Fatal(err)
		}
		last = a.Sequence
	}
	skey, err := proof.GenerateKey(rand.Reader, proof.DefaultOrigin)
	if err != nil {
		log.Fatal(err)
	}
	key, err := proof.ParseKey(skey)
	if err != nil {
		log.Fatal(err)
	}
	if _, _, err := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: slog.New(slog.DiscardHandler)}).Checkpoint(ctx); err != nil {
		log.Fatal(err)
	}
	return s.ClientURL(), key.VerifierKey, dir, func() {
		s.Close()
		os.RemoveAll(dir)
	}
}
