package jetstream

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

func TestCheckpointStreamIsImmutableAndApart(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := testCtx(t)
	note, _, after, err := s.LastCheckpoint(ctx)
	if err != nil || note != nil || after != 0 {
		t.Fatalf("LastCheckpoint on a new ledger: %q %d %v", note, after, err)
	}
	st, err := s.js.Stream(ctx, CheckpointStreamName)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	if bad := checkCheckpointStreamConfig(cfg, 1); len(bad) > 0 {
		t.Errorf("created unsafe: %v", bad)
	}
	if !slices.Equal(cfg.Subjects, []string{"ledger-checkpoints.>"}) {
		t.Errorf("subjects %v: only ledger events may live under ledger.>", cfg.Subjects)
	}
	if err := s.AppendCheckpoint(ctx, 0, [][]byte{[]byte("leaves")}, []byte("note")); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(ctx, 1); err == nil {
		t.Error("a checkpoint record was deleted")
	}
	if err := st.Purge(ctx); err == nil {
		t.Error("the checkpoint stream was purged")
	}
	note, _, after, err = s.LastCheckpoint(ctx)
	if err != nil || string(note) != "note" || after != 2 {
		t.Fatalf("LastCheckpoint: %q %d %v", note, after, err)
	}
}

func TestAppendCheckpointRefusesAWriterThatLostTheRace(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := testCtx(t)
	_, _, after, err := s.LastCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendCheckpoint(ctx, after, [][]byte{[]byte("a1"), []byte("a2")}, []byte("A")); err != nil {
		t.Fatal(err)
	}
	err = s.AppendCheckpoint(ctx, after, [][]byte{[]byte("b1")}, []byte("B"))
	if !errors.Is(err, ErrCheckpointConflict) {
		t.Fatalf("stale writer: %v, want ErrCheckpointConflict", err)
	}
	var got []string
	err = s.ScanCheckpoints(ctx, func(_ uint64, kind string, data []byte) error {
		got = append(got, kind+":"+string(data))
		return nil
	})
	if want := []string{"leaves:a1", "leaves:a2", "checkpoint:A"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("records %v (%v), want %v", got, err, want)
	}
}

func TestUnsafeCheckpointStreamIsRefused(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := testCtx(t)
	cfg := checkpointStreamConfig(1)
	cfg.MaxAge = 1 << 40
	// Open made a safe one; whoever may delete streams puts an unsafe one in its place.
	if err := s.js.DeleteStream(ctx, CheckpointStreamName); err != nil {
		t.Fatal(err)
	}
	if _, err := s.js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.LastCheckpoint(ctx); !errors.Is(err, ErrUnsafeStream) {
		t.Errorf("LastCheckpoint: %v, want ErrUnsafeStream", err)
	}
	if err := s.ScanCheckpoints(ctx, func(uint64, string, []byte) error { return nil }); !errors.Is(err, ErrUnsafeStream) {
		t.Errorf("ScanCheckpoints: %v, want ErrUnsafeStream", err)
	}
}

func TestScanYieldsTheStoredBytes(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := testCtx(t)
	var want [][]byte
	for range 6 {
		env := received(t, uuid.NewString())
		mustAppend(t, s, env, 0)
		b, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, b)
	}
	scan := func(from uint64) (seqs []uint64) {
		t.Helper()
		err := s.Scan(ctx, from, func(seq uint64, data []byte) error {
			if !bytes.Equal(data, want[seq-1]) {
				t.Errorf("sequence %d: other bytes", seq)
			}
			seqs = append(seqs, seq)
			return nil
		})
		if err != nil {
			t.Fatalf("Scan from %d: %v", from, err)
		}
		return seqs
	}
	if got := scan(0); !slices.Equal(got, []uint64{1, 2, 3, 4, 5, 6}) {
		t.Errorf("from 0: %v", got)
	}
	if got := scan(5); !slices.Equal(got, []uint64{5, 6}) {
		t.Errorf("from 5: %v", got)
	}
	if got := scan(7); len(got) != 0 {
		t.Errorf("from 7: %v", got)
	}
	stop := errors.New("stop")
	if err := s.Scan(ctx, 1, func(uint64, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("fn's error: %v", err)
	}

	// Events dropped from the head (by an attacker lowering limits) are skipped.
	st, err := s.js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	safe := st.CachedInfo().Config
	lowered := safe
	lowered.MaxMsgs, lowered.Discard = 2, natsjs.DiscardOld
	if _, err := s.js.UpdateStream(ctx, lowered); err != nil {
		t.Fatal(err)
	}
	if _, err := s.js.UpdateStream(ctx, safe); err != nil {
		t.Fatal(err)
	}
	if got := scan(1); !slices.Equal(got, []uint64{5, 6}) {
		t.Errorf("after the head was dropped: %v", got)
	}
}
