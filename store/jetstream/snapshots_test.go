package jetstream

import (
	"bytes"
	"slices"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

func TestSnapshotsAreSavedListedLoadedAndDeleted(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := testCtx(t)
	at := time.Date(2025, 1, 15, 9, 30, 0, 123, time.UTC)
	big := bytes.Repeat([]byte("state "), 100_000) // 600 kB: several object chunks
	refs := []SnapshotRef{
		{View: "telegram", Version: "telegram.v1", Sequence: 100, RecordedAt: at},
		{View: "telegram", Version: "telegram.v1", Sequence: 200, RecordedAt: at.Add(time.Hour)},
		{View: "telegram", Version: "telegram.v0", Sequence: 100, RecordedAt: at},
		{View: "requests", Version: "requests.v1", Sequence: 100, RecordedAt: at},
	}
	if got, err := s.ListSnapshots(ctx, "telegram"); err != nil || len(got) != 0 {
		t.Fatalf("empty bucket lists %v, %v", got, err)
	}
	for i, r := range refs {
		if err := s.SaveSnapshot(ctx, r, append([]byte{byte(i)}, big...)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListSnapshots(ctx, "telegram")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.View != "telegram" {
			t.Errorf("listed %s for view telegram", r)
		}
	}
	if len(got) != 3 || !slices.ContainsFunc(got, func(r SnapshotRef) bool { return r == refs[1] }) {
		t.Errorf("listed %v, want the three telegram snapshots with their times", got)
	}
	data, err := s.LoadSnapshot(ctx, refs[1])
	if err != nil || data[0] != 1 || !bytes.Equal(data[1:], big) {
		t.Fatalf("load %s: %d bytes, %v", refs[1], len(data), err)
	}
	if err := s.DeleteSnapshot(ctx, refs[1]); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ListSnapshots(ctx, "telegram"); len(got) != 2 {
		t.Errorf("after delete, listed %v", got)
	}
	// A deleted snapshot leaves no name behind for a listing to read.
	st, err := s.JetStream().Stream(ctx, "OBJ_"+SnapshotBucket)
	if err != nil {
		t.Fatal(err)
	}
	names, err := st.Info(ctx, natsjs.WithSubjectFilter("$O."+SnapshotBucket+".M.>"))
	if err != nil || len(names.State.Subjects) != len(refs)-1 {
		t.Errorf("after delete, the bucket holds the names %v (%v), want %d", names.State.Subjects, err, len(refs)-1)
	}
	if _, err := s.LoadSnapshot(ctx, refs[1]); err == nil {
		t.Error("a deleted snapshot loads")
	}
	// The bucket is compressed and keeps its objects apart from LEDGER.
	if c := st.CachedInfo().Config.Compression; c != natsjs.S2Compression {
		t.Errorf("snapshot bucket compression %v, want s2", c)
	}
}

// TestSnapshotsSavedUnderOldNamesAreListedAndDeleted: an object named as before names said
// everything ("<view>/<version>/<sequence>", its time and last event in its metadata) is
// still listed from its metadata (once, if saved again under its new name), loaded and
// deleted by its info.
func TestSnapshotsSavedUnderOldNamesAreListedAndDeleted(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := testCtx(t)
	at := time.Date(2025, 1, 15, 9, 30, 0, 123, time.UTC)
	old := SnapshotRef{View: "telegram", Version: "telegram.v1", Sequence: 100, RecordedAt: at, LastEvent: "e-100"}
	current := SnapshotRef{View: "telegram", Version: "telegram.v1", Sequence: 200, RecordedAt: at.Add(time.Hour), LastEvent: "e-200"}
	if err := s.SaveSnapshot(ctx, current, []byte("current")); err != nil {
		t.Fatal(err)
	}
	obs, err := s.JetStream().ObjectStore(ctx, SnapshotBucket)
	if err != nil {
		t.Fatal(err)
	}
	_, err = obs.Put(ctx, natsjs.ObjectMeta{
		Name: "telegram/telegram.v1/00000000000000000100",
		Metadata: map[string]string{"view": "telegram", "version": "telegram.v1", "sequence": "100",
			"recorded_at": at.Format(time.RFC3339Nano), "last_event": "e-100"},
	}, bytes.NewReader([]byte("old")))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ListSnapshots(ctx, "telegram")
	if err != nil || len(got) != 2 || !slices.Contains(got, old) || !slices.Contains(got, current) {
		t.Fatalf("listed %v, %v; want %v and %v", got, err, old, current)
	}
	if data, err := s.LoadSnapshot(ctx, old); err != nil || string(data) != "old" {
		t.Fatalf("load %s: %q, %v", old, data, err)
	}
	// Saved again under its new name, it is listed once.
	if err := s.SaveSnapshot(ctx, old, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ListSnapshots(ctx, "telegram"); err != nil || len(got) != 2 {
		t.Fatalf("saved again under its new name, listed %v, %v", got, err)
	}
	if err := s.DeleteSnapshot(ctx, old); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ListSnapshots(ctx, "telegram"); err != nil || len(got) != 1 || got[0] != current {
		t.Errorf("after deleting the old one, listed %v, %v", got, err)
	}
}
