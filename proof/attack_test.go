package proof_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/complianceledger/ledger/internal/blockfile"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/store/jetstream"
)

// These tests act as an attacker with access to the server and its files, after the
// ledger signed checkpoints. Each tampers in one way; verify must fail and name the
// sequences.

// An attacker edits one byte of a stored event in the server's block file, with the
// server stopped: naively (the record's checksum then fails and the server drops it), or
// recomputing the record's checksum too, so that the server serves the edited bytes.
func TestVerifyNamesAnEventEditedInTheServersFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		fixChecksum bool
		want        proof.FindingKind
	}{
		{"naive", false, proof.Removed},
		{"checksum recomputed", true, proof.Changed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			key := newKey(t)
			s := openAt(t, dir)
			ledgerWithCheckpoints(t, s, key, 10, 20)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			const target = 7
			editOnDisk(t, dir, target, tc.fixChecksum)

			s = openAt(t, dir)
			rep := verify(t, s, key)
			if rep.OK() {
				t.Fatal("verify passed a ledger with an edited event")
			}
			mustFind(t, rep, tc.want, target)
			if n := len(rep.Findings); n != 2 { // the root and the event
				t.Errorf("%d findings, want the root and sequence %d:\n%s", n, target, lines(rep))
			}
		})
	}
}

// editOnDisk changes the actor of the event at seq ("alice" to "mlice") in LEDGER's block
// files, and with fixChecksum recomputes the record's checksum as the server would.
func editOnDisk(t *testing.T, dir string, seq uint64, fixChecksum bool) {
	t.Helper()
	editRecordOnDisk(t, dir, seq, fixChecksum, func(_, msg []byte) {
		at := bytes.Index(msg, []byte(`"actor":"alice"`))
		if at < 0 {
			t.Fatalf("sequence %d has no actor alice: %s", seq, msg)
		}
		msg[at+len(`"actor":"`)] = 'm'
	})
}

// editRecordOnDisk lets edit change the timestamp and the bytes of the record of seq in
// LEDGER's block files (blockfile.Edit).
func editRecordOnDisk(t *testing.T, dir string, seq uint64, fixChecksum bool, edit func(ts, msg []byte)) {
	t.Helper()
	if err := blockfile.Edit(dir, jetstream.StreamName, seq, fixChecksum, edit); err != nil {
		t.Fatal(err)
	}
}

// An attacker lowers the stream's limits so that the server drops the oldest events, then
// restores the limits so that the ledger starts again.
func TestVerifyNamesEventsDroppedByLoweredLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := newKey(t)
	s := openAt(t, dir)
	ledgerWithCheckpoints(t, s, key, 10, 25)

	ctx := testCtx(t)
	js := s.JetStream()
	st, err := js.Stream(ctx, jetstream.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	safe := st.CachedInfo().Config
	lowered := safe
	lowered.MaxMsgs, lowered.Discard = 20, natsjs.DiscardOld
	if _, err := js.UpdateStream(ctx, lowered); err != nil {
		t.Fatalf("lowering limits: %v", err)
	}
	if _, err := js.UpdateStream(ctx, safe); err != nil {
		t.Fatalf("restoring limits: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, dir) // the restored config passes the ledger's check
	rep := verify(t, s, key)
	mustFind(t, rep, proof.Removed, 1, 2, 3, 4, 5)
	if _, ok := findingFor(rep, proof.Removed, 6); ok {
		t.Errorf("sequence 6 reported removed:\n%s", lines(rep))
	}
}

// recreate deletes LEDGER and publishes bodies as a new history under the same subjects.
func recreate(t testing.TB, s *jetstream.Store, dir string, subjects []string, bodies [][]byte) *jetstream.Store {
	t.Helper()
	ctx := testCtx(t)
	if err := s.JetStream().DeleteStream(ctx, jetstream.StreamName); err != nil {
		t.Fatalf("deleting the stream: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir) // creates LEDGER anew, with the safe config
	for i, b := range bodies {
		if _, err := s.JetStream().PublishMsg(ctx, &nats.Msg{Subject: subjects[i], Data: b}); err != nil {
			t.Fatalf("republishing %d: %v", i+1, err)
		}
	}
	return s
}

// An attacker deletes the stream and recreates it with another history.
func TestVerifyNamesARecreatedStream(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := newKey(t)
	s := openAt(t, dir)
	ledgerWithCheckpoints(t, s, key, 8, 15)

	other := openAt(t, t.TempDir())
	record(t, other, 15)
	subjects, bodies := rawMessages(t, other)
	s = recreate(t, s, dir, subjects, bodies)

	rep := verify(t, s, key)
	if f, ok := first(rep, proof.Replaced); !ok {
		t.Errorf("no 'replaced' finding:\n%s", lines(rep))
	} else if f.Text == "" {
		t.Error("empty text")
	}
	mustFind(t, rep, proof.Changed, 1, 8, 15)
	if _, ok := first(rep, proof.RootMismatch); !ok {
		t.Errorf("no root finding:\n%s", lines(rep))
	}
}

// An attacker recreates the stream with the same events but two of them swapped (v1
// leaves; in v2 every republished event is changed, see TestVerifyNamesARepublishedV2Stream).
func TestVerifyNamesSwappedEvents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := newKey(t)
	s := openAt(t, dir)
	ledgerWith(t, s, key, v1Folder, 10, 20)
	subjects, bodies := rawMessages(t, s)
	subjects[4], subjects[5] = subjects[5], subjects[4]
	bodies[4], bodies[5] = bodies[5], bodies[4]
	s = recreate(t, s, dir, subjects, bodies)

	rep := verify(t, s, key)
	f, ok := findingFor(rep, proof.Reordered, 5)
	if !ok || !slices.Equal(f.Sequences, []uint64{5, 6}) {
		t.Fatalf("want sequences 5 and 6 reordered:\n%s", lines(rep))
	}
	if f.Text != "sequences 5 and 6: reordered (each holds the other's event)" {
		t.Errorf("text %q", f.Text)
	}
	if n := len(rep.Findings); n != 2 { // the root and the swap
		t.Errorf("%d findings, want the root and the swap:\n%s", n, lines(rep))
	}
}

// An attacker recreates the stream with one event more in the middle and one event less
// later on.
func TestVerifyNamesAnInsertedAndARemovedEvent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := newKey(t)
	s := openAt(t, dir)
	ledgerWith(t, s, key, v1Folder, 20)
	subjects, bodies := rawMessages(t, s)

	extra := openAt(t, t.TempDir())
	record(t, extra, 1)
	xs, xb := rawMessages(t, extra)
	// New history: 1..9, X, 10..14, 16..20: X at 10, events 10..14 at 11..15, 15 gone.
	subjects = append(append(append(subjects[:9:9], xs[0]), subjects[9:14]...), subjects[15:]...)
	bodies = append(append(append(bodies[:9:9], xb[0]), bodies[9:14]...), bodies[15:]...)
	s = recreate(t, s, dir, subjects, bodies)

	rep := verify(t, s, key)
	mustFind(t, rep, proof.Inserted, 10)
	mustFind(t, rep, proof.Shifted, 11, 15)
	mustFind(t, rep, proof.Removed, 15)
	for _, seq := range []uint64{1, 9, 16, 20} {
		for _, f := range rep.Findings {
			if len(f.Sequences) > 0 && slices.Contains(f.Sequences, seq) {
				t.Errorf("sequence %d, untouched, named: %s", seq, f.Text)
			}
		}
	}
}

func first(rep proof.Report, kind proof.FindingKind) (proof.Finding, bool) {
	for _, f := range rep.Findings {
		if f.Kind == kind {
			return f, true
		}
	}
	return proof.Finding{}, false
}
