package server_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
)

// TestRunSignsCheckpointsAsTheyFallDue: with a CheckpointInterval, the server signs a checkpoint
// of what was recorded without anybody asking, and it verifies with the key's verifier.
func TestRunSignsCheckpointsAsTheyFallDue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, steps := newRequest("FR")
	f.record(steps, 0, 3)
	want := f.last()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tokens, err := auth.Open(filepath.Join(f.dir, auth.FileName))
	if err != nil {
		t.Fatal(err)
	}
	signer := server.New(server.Config{
		Store: f.store, Pseudonymizer: pseudonymizer(t), Tokens: tokens, Logger: quiet(),
		Proofs: f.store, Key: &f.key, CheckpointInterval: 20 * time.Millisecond,
	})
	done := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { done <- signer.Run(runCtx) }()
	defer func() { stop(); <-done }()

	for {
		stored, err := proof.StoredCheckpoints(ctx, f.store, f.key.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(stored); n > 0 {
			if stored[n-1].Err != nil {
				t.Fatalf("the checkpoint does not verify: %v", stored[n-1].Err)
			}
			if stored[n-1].Size == want {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no checkpoint of size %d was signed: %+v", want, stored)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
