package proof_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/store/jetstream"
)

func TestCheckpointerTickSignsWheneverAnEventIsNew(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	c := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet()})
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
	record(t, s, 1)
	tick(true, 1) // one event is enough: no count or time to wait for
	tick(false, 1)
	record(t, s, 3)
	tick(true, 4)

	record(t, s, 1)
	cp, written, err := c.Checkpoint(ctx) // forced
	if err != nil || !written || cp.Size != 5 {
		t.Fatalf("Checkpoint: %+v %v %v", cp.Checkpoint, written, err)
	}
	if rep := verify(t, s, key); !rep.OK() || rep.Checkpoints != 3 {
		t.Fatalf("verify: %d checkpoints\n%s", rep.Checkpoints, lines(rep))
	}
}

// Replicas of serve on one cluster race to sign every second. The loser adopts the winner's
// checkpoint from the events it reads anyway: after its first sync it never reads the
// stream from the start again.
func TestReplicaAdoptsTheWinnersCheckpointWithoutRereadingTheStream(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	ctx := testCtx(t)
	var fromStart atomic.Int64
	logA, logB := &fromStartCounting{Store: s, n: &fromStart}, &fromStartCounting{Store: s, n: &fromStart}
	a := proof.NewCheckpointer(logA, s, key, proof.CheckpointerOptions{Logger: quiet()})
	b := proof.NewCheckpointer(logB, s, key, proof.CheckpointerOptions{Logger: quiet()})
	record(t, s, 5)
	for _, c := range []*proof.Checkpointer{a, b} {
		if _, _, err := c.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	first := fromStart.Load()
	if first == 0 {
		t.Fatal("the test counts nothing: the first syncs read the stream from the start")
	}
	size := uint64(5)
	for round := range 6 {
		record(t, s, 3)
		size += 3
		winner, loser := a, b
		if round%2 == 1 {
			winner, loser = b, a
		}
		if cp, written, err := winner.Tick(ctx); err != nil || !written || cp.Size != size {
			t.Fatalf("round %d: winner: %+v %v %v", round, cp.Checkpoint, written, err)
		}
		// The loser finds the winner's checkpoint, which covers everything: nothing to sign.
		if cp, written, err := loser.Tick(ctx); err != nil || written || cp.Size != size {
			t.Fatalf("round %d: loser: %+v written=%v %v; want the winner's of size %d", round, cp.Checkpoint, written, err, size)
		}
		// Both raced on fresh events: one stores, the other loses and adopts.
		record(t, s, 2)
		size += 2
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, c := range []*proof.Checkpointer{a, b} {
			wg.Go(func() { _, _, errs[i] = c.Tick(ctx) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: racing: %v", round, err)
		}
	}
	if n := fromStart.Load(); n != first {
		t.Fatalf("the stream was read from the start %d more times after the first syncs", n-first)
	}
	if rep := verify(t, s, key); !rep.OK() {
		t.Fatalf("verify:\n%s", lines(rep))
	}
}

// fromStartCounting counts the scans of the stream from its first event.
type fromStartCounting struct {
	*jetstream.Store
	n *atomic.Int64
}

func (c *fromStartCounting) ScanRecorded(ctx context.Context, from uint64, fn func(uint64, time.Time, []byte) error) error {
	if from <= 1 {
		c.n.Add(1)
	}
	return c.Store.ScanRecorded(ctx, from, fn)
}

func TestCoveringWaitsForTheCheckpointOfAnEvent(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	c := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet()})
	ctx := testCtx(t)
	record(t, s, 3)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Covering(short, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Covering before any checkpoint: %v, want the deadline", err)
	}
	got := make(chan proof.Signed, 1)
	go func() {
		cp, err := c.Covering(ctx, 3)
		if err != nil {
			t.Error(err)
		}
		got <- cp
	}()
	signed, _, err := c.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp := <-got; cp.Size != 3 || string(cp.Note) != string(signed.Note) {
		t.Fatalf("Covering returned %+v, the checkpoint signed is %+v", cp.Checkpoint, signed.Checkpoint)
	}
}

// A folder without a leaf-format record switches to v2 when serve starts, at the newest
// checkpoint's size, before anything is acknowledged.
func TestSwitchToV2StoresTheSwitchAtOnce(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	ctx := testCtx(t)
	ledgerWith(t, s, key, v1Folder, 4)
	record(t, s, 2)
	c := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet()})
	from, err := c.SwitchToV2(ctx)
	if err != nil || from != 4 {
		t.Fatalf("SwitchToV2: %d, %v; want leaf 4", from, err)
	}
	if again, err := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet()}).SwitchToV2(ctx); err != nil || again != 4 {
		t.Fatalf("SwitchToV2 again: %d, %v; want the stored switch at 4", again, err)
	}
	if cp, _, err := c.Checkpoint(ctx); err != nil || cp.Size != 6 {
		t.Fatalf("Checkpoint: %+v %v", cp.Checkpoint, err)
	}
	cp, err := proof.FindCheckpoint(ctx, s, key.Verifier, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proof.BuildInclusion(ctx, s, cp.Checkpoint, 5)
	if err != nil || p.Format != proof.InclusionFormatV2 {
		t.Fatalf("event 5 after the switch: %+v, %v; want a v2 leaf", p.Format, err)
	}
	if rep := verify(t, s, key); !rep.OK() {
		t.Fatalf("verify:\n%s", lines(rep))
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

// TestRecordedEventsAreNotReadBack: events handed over with Recorded are hashed from
// memory; the tick reads from the stream only from the first one missing (a command still
// in flight) on, and the checkpoints it signs are the stream's, as verify recomputes them.
func TestRecordedEventsAreNotReadBack(t *testing.T) {
	t.Parallel()
	s := openAt(t, t.TempDir())
	key := newKey(t)
	ctx := testCtx(t)
	var scanned atomic.Int64
	c := proof.NewCheckpointer(&scanCounting{Store: s, n: &scanned}, s, key, proof.CheckpointerOptions{Logger: quiet()})
	record(t, s, 3)
	if _, _, err := c.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	appendAndHandOver := func(n int, skip uint64) {
		t.Helper()
		for range n {
			a, err := s.Append(ctx, envelope(t, uuid.NewString(), 1), 0)
			if err != nil {
				t.Fatal(err)
			}
			if a.Sequence != skip {
				c.Recorded(a.Sequence, a.Recorded, a.Stored)
			}
		}
	}
	for _, tc := range []struct {
		name     string
		append   int
		skip     uint64 // the sequence not handed over
		wantRead int64
		wantSize uint64
	}{
		{"a gap at 6: 6 to 9 are read", 6, 6, 4, 9},
		{"all handed over: nothing is read", 3, 0, 0, 12},
	} {
		scanned.Store(0)
		appendAndHandOver(tc.append, tc.skip)
		cp, written, err := c.Tick(ctx)
		if err != nil || !written || cp.Size != tc.wantSize {
			t.Fatalf("%s: Tick: size %d written %v err %v, want size %d", tc.name, cp.Size, written, err, tc.wantSize)
		}
		if n := scanned.Load(); n != tc.wantRead {
			t.Errorf("%s: %d events read from the stream, want %d", tc.name, n, tc.wantRead)
		}
	}
	if rep := verify(t, s, key); !rep.OK() || rep.Checkpoints != 3 {
		t.Fatalf("verify: %d checkpoints\n%s", rep.Checkpoints, lines(rep))
	}
}

// scanCounting counts the events ScanRecorded delivers.
type scanCounting struct {
	*jetstream.Store
	n *atomic.Int64
}

func (c *scanCounting) ScanRecorded(ctx context.Context, from uint64, fn func(uint64, time.Time, []byte) error) error {
	return c.Store.ScanRecorded(ctx, from, func(seq uint64, at time.Time, data []byte) error {
		c.n.Add(1)
		return fn(seq, at, data)
	})
}
