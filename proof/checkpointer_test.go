package proof_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/complianceledger/ledger/internal/clocktest"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/store/jetstream"
)

func TestCheckpointerWritesAfterEnoughEventsOrTime(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	clock := clocktest.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	c := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Every: 5, Interval: time.Minute, Now: clock.Now, Logger: quiet()})
	ctx := testCtx(t)

	tick := func(wantWritten bool, wantSize uint64) {
		t.Helper()
		cp, written, err := c.Tick(ctx)
		if wantSize == 0 {
			if !errors.Is(err, proof.ErrNoCheckpoint) {
				t.Fatalf("Tick: %v, want ErrNoCheckpoint", err)
			}
			return
		}
		if err != nil || written != wantWritten || cp.Size != wantSize {
			t.Fatalf("Tick: size %d written %v err %v, want size %d written %v", cp.Size, written, err, wantSize, wantWritten)
		}
	}
	tick(false, 0) // empty ledger
	record(t, s, 3)
	tick(false, 0) // 3 events, no time passed
	record(t, s, 2)
	tick(true, 5) // 5 events
	record(t, s, 1)
	clock.Advance(59 * time.Second)
	tick(false, 5)
	clock.Advance(time.Second)
	tick(true, 6) // a minute with an event
	clock.Advance(time.Hour)
	tick(false, 6) // time, but nothing new

	record(t, s, 1)
	cp, written, err := c.Checkpoint(ctx) // forced
	if err != nil || !written || cp.Size != 7 {
		t.Fatalf("Checkpoint: %+v %v %v", cp.Checkpoint, written, err)
	}
	if rep := verify(t, s, key); !rep.OK() || rep.Checkpoints != 3 {
		t.Fatalf("verify: %d checkpoints\n%s", rep.Checkpoints, lines(rep))
	}
}

func TestCheckpointerResumesFromTheStoredCheckpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := newKey(t)
	s := openAt(t, dir)
	ledgerWithCheckpoints(t, s, key, 4, 9)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir)
	record(t, s, 3)
	if cp := checkpoint(t, s, key); cp.Size != 12 {
		t.Fatalf("size %d, want 12", cp.Size)
	}
	// A checkpoint with nothing new returns the newest, unchanged.
	if cp := checkpoint(t, s, key); cp.Size != 12 {
		t.Fatalf("size %d, want 12", cp.Size)
	}
	if rep := verify(t, s, key); !rep.OK() || rep.Checkpoints != 3 {
		t.Fatalf("verify: %d checkpoints\n%s", rep.Checkpoints, lines(rep))
	}
}

// A checkpoint of a rewritten history would bless it; the Checkpointer refuses.
func TestCheckpointerRefusesToSignOverATamperedStream(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := newKey(t)
	s := openAt(t, dir)
	ledgerWithCheckpoints(t, s, key, 10)
	subjects, bodies := rawMessages(t, s)
	subjects[2], subjects[3] = subjects[3], subjects[2]
	bodies[2], bodies[3] = bodies[3], bodies[2]
	s = recreate(t, s, dir, subjects, bodies)
	record(t, s, 2)

	_, _, err := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet()}).Checkpoint(testCtx(t))
	if !errors.Is(err, proof.ErrTampered) {
		t.Fatalf("Checkpoint over a swapped stream: %v, want ErrTampered", err)
	}
	if rep := verify(t, s, key); rep.Checkpoints != 1 {
		t.Errorf("%d checkpoints stored, want the first only", rep.Checkpoints)
	}
}

// Two writers (two processes against one cluster) never interleave their records; the
// loser of a race reads the winner's checkpoint and signs after it, so neither fails and
// the chain stays whole.
func TestConcurrentCheckpointersKeepOneChain(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	ctx := testCtx(t)
	a := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet()})
	b := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet()})
	for range 5 {
		record(t, s, 3)
		var wg sync.WaitGroup
		for _, c := range []*proof.Checkpointer{a, b} {
			wg.Go(func() {
				if _, _, err := c.Checkpoint(ctx); err != nil {
					t.Errorf("Checkpoint: %v", err)
				}
			})
		}
		wg.Wait()
	}
	rep := verify(t, s, key)
	if !rep.OK() || rep.Checkpoints < 5 {
		t.Fatalf("verify: %d checkpoints\n%s", rep.Checkpoints, lines(rep))
	}
}

// A writer that died after some leaf chunks but before its note leaves records that
// readers and the next writer step over.
func TestAnInterruptedCheckpointLeavesNoTrace(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	ledgerWithCheckpoints(t, s, key, 6)
	orphan := make([]byte, 8+2*proof.HashSize)
	orphan[7] = 6 // leaves 6 and 7, never signed
	if _, err := s.JetStream().PublishMsg(testCtx(t), &nats.Msg{Subject: "ledger-checkpoints.leaves", Data: orphan}); err != nil {
		t.Fatal(err)
	}
	record(t, s, 4)
	if cp := checkpoint(t, s, key); cp.Size != 10 {
		t.Fatalf("size %d, want 10", cp.Size)
	}
	if rep := verify(t, s, key); !rep.OK() || rep.Checkpoints != 2 {
		t.Fatalf("verify: %d checkpoints\n%s", rep.Checkpoints, lines(rep))
	}
}

// A running Checkpointer that sees its checkpoints vanish does not start a new chain.
func TestCheckpointerRefusesWhenCheckpointsVanish(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	ctx := testCtx(t)
	c := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet()})
	record(t, s, 4)
	if _, _, err := c.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.JetStream().DeleteStream(ctx, jetstream.CheckpointStreamName); err != nil {
		t.Fatal(err)
	}
	record(t, s, 1)
	if _, _, err := c.Checkpoint(ctx); !errors.Is(err, proof.ErrTampered) {
		t.Fatalf("Checkpoint after the checkpoints vanished: %v, want ErrTampered", err)
	}
}

// TestCheckpointerReadsNothingWhileEverythingIsSigned: a Checkpointer started over a ledger
// whose every event is signed (a server restarted, then stopped) answers Tick and
// CheckpointNew with the stored checkpoint without reading the stream from its start; the
// first new event makes it check the whole stream against that checkpoint before it signs
// again. Checkpoint (`ledger checkpoint`) checks the stream whatever is new.
func TestCheckpointerReadsNothingWhileEverythingIsSigned(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := newKey(t)
	s := openAt(t, dir)
	ledgerWithCheckpoints(t, s, key, 4, 9)
	var mu sync.Mutex
	var read []uint64
	log := proof.Watched(s, func(seq uint64) {
		mu.Lock()
		defer mu.Unlock()
		read = append(read, seq)
	})
	c := proof.NewCheckpointer(log, s, key, proof.CheckpointerOptions{Logger: quiet()})
	ctx := testCtx(t)
	for _, call := range []func(context.Context) (proof.Signed, bool, error){c.Tick, c.CheckpointNew, c.Tick} {
		cp, written, err := call(ctx)
		if err != nil || written || cp.Size != 9 {
			t.Fatalf("Tick or CheckpointNew: size %d written %v err %v, want the stored 9", cp.Size, written, err)
		}
	}
	if len(read) != 0 {
		t.Errorf("with every event signed, the checkpointer read sequences %v", read)
	}
	cp, written, err := proof.NewCheckpointer(log, s, key, proof.CheckpointerOptions{Logger: quiet()}).Checkpoint(ctx)
	if err != nil || written || cp.Size != 9 || len(read) != 9 {
		t.Fatalf("Checkpoint with nothing new: size %d written %v err %v after reading %v; want the stored 9 after reading 1 to 9", cp.Size, written, err, read)
	}
	read = nil
	record(t, s, 1)
	cp, written, err = c.CheckpointNew(ctx)
	if err != nil || !written || cp.Size != 10 {
		t.Fatalf("Checkpoint after a new event: size %d written %v err %v", cp.Size, written, err)
	}
	if len(read) < 10 || !slices.Equal(read[len(read)-10:], []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Errorf("before signing a new event the checkpointer read %v, want the whole stream, 1 to 10", read)
	}
	if rep := verify(t, s, key); !rep.OK() || rep.Checkpoints != 3 {
		t.Fatalf("verify: %d checkpoints\n%s", rep.Checkpoints, lines(rep))
	}
}
