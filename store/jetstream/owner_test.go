package jetstream_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/complianceledger/ledger/owner"
	"github.com/complianceledger/ledger/store/jetstream"
)

// TestSecondEmbeddedServerOnAFolderIsRefused: two FileStores on one folder destroy history,
// so the second Open fails at once and names the first, which keeps working.
func TestSecondEmbeddedServerOnAFolderIsRefused(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := jetstream.Open(ctx, jetstream.Config{DataDir: dir, Owner: owner.Info{Command: "serve", HTTP: "http://127.0.0.1:8080"}})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	start := time.Now()
	_, err = jetstream.Open(ctx, jetstream.Config{DataDir: dir, Owner: owner.Info{Command: "report"}})
	var held *owner.HeldError
	if !errors.As(err, &held) || held.Owner.Command != "serve" || held.Owner.HTTP != "http://127.0.0.1:8080" {
		t.Fatalf("second Open: %v, want the first named", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the refusal took %s", took)
	}
	if _, err := first.LastSequence(ctx); err != nil {
		t.Errorf("the first store after the refusal: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := jetstream.Open(ctx, jetstream.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("Open after the first closed: %v", err)
	}
	again.Close()
}

// TestNATSPortInUseEndsOpen: a port another program holds is an error at once, never a
// server that waits forever to be ready, and the folder is free again after it.
func TestNATSPortInUseEndsOpen(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err = jetstream.Open(ctx, jetstream.Config{DataDir: dir, ClientListen: busy.Addr().String()})
	if err == nil {
		t.Fatal("Open on a port in use succeeded")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Open took %s to fail: %v", took, err)
	}
	s, err := jetstream.Open(ctx, jetstream.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("Open after the failed one: %v", err)
	}
	s.Close()
}
