package proof_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/store"
	"github.com/complianceledger/ledger/store/jetstream"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openAt opens the ledger's store on dir (a real embedded JetStream); closed at the end.
func openAt(t testing.TB, dir string) *jetstream.Store {
	t.Helper()
	s, err := jetstream.Open(testCtx(t), jetstream.Config{DataDir: dir, Logger: quiet()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newKey(t testing.TB) proof.Key {
	t.Helper()
	skey, err := proof.GenerateKey(rand.Reader, proof.DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	k, err := proof.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// envelope is a valid RequestReceived of a new request, or a ReceiptAcknowledged of it.
func envelope(t testing.TB, id string, version uint64) events.Envelope {
	t.Helper()
	m := events.Meta{
		ID: uuid.Must(uuid.NewV7()), Source: "test", AggregateID: id, AggregateVersion: version,
		Time: time.Now(), Actor: "alice", CommandID: uuid.NewString(),
	}
	var e events.Event = &events.ReceiptAcknowledged{Automated: true}
	if version == 1 {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		e = &events.RequestReceived{
			Authority:  events.Authority{Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR"},
			Instrument: events.InstrumentCourtOrder,
			Reference:  "REF-1",
			Targets:    []events.Target{{Account: events.AccountRef("acct_" + hex.EncodeToString(b)), IdentifierType: events.IdentifierEmail}},
			DataSought: []events.DataCategory{events.DataSubscriber, events.DataIPAddress},
		}
	}
	env, err := events.NewEnvelope(e, m)
	if err != nil {
		t.Fatalf("NewEnvelope: %v", err)
	}
	return env
}

// record appends n events (first events of new requests) and returns their sequences.
func record(t testing.TB, s *jetstream.Store, n int) {
	t.Helper()
	entries := make([]store.Entry, n)
	for i := range entries {
		entries[i] = store.Entry{Envelope: envelope(t, uuid.NewString(), 1)}
	}
	for i, o := range s.AppendBatch(testCtx(t), entries) {
		if o.Err != nil {
			t.Fatalf("append %d: %v", i, o.Err)
		}
	}
}

func checkpoint(t testing.TB, s *jetstream.Store, key proof.Key) proof.Signed {
	t.Helper()
	cp, _, err := proof.NewCheckpointer(s, s, key, proof.CheckpointerOptions{Logger: quiet()}).Checkpoint(testCtx(t))
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	return cp
}

// ledgerWithCheckpoints records events and checkpoints after each batch, sizes e.g.
// 10, 20, 30: checkpoints at those sizes (counting the events already there). Its leaves
// are v2.
func ledgerWithCheckpoints(t testing.TB, s *jetstream.Store, key proof.Key, sizes ...int) []proof.Signed {
	t.Helper()
	return ledgerWith(t, s, key, proof.CheckpointerOptions{Logger: quiet()}, sizes...)
}

// v1Folder makes a folder as the ledger did before v2 leaves: the attacks that republish
// events test the diff's naming of moved events there, since republishing gives every
// event a new recorded time, which a v2 leaf holds.
var v1Folder = proof.CheckpointerOptions{Logger: quiet(), KeepV1: true}

// ledgerWith is ledgerWithCheckpoints with a Checkpointer of opts.
func ledgerWith(t testing.TB, s *jetstream.Store, key proof.Key, opts proof.CheckpointerOptions, sizes ...int) []proof.Signed {
	t.Helper()
	c := proof.NewCheckpointer(s, s, key, opts)
	var out []proof.Signed
	last, err := s.LastSequence(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	done := int(last)
	for _, size := range sizes {
		record(t, s, size-done)
		done = size
		cp, written, err := c.Checkpoint(testCtx(t))
		if err != nil || !written || cp.Size != uint64(size) {
			t.Fatalf("checkpoint at %d: %+v written=%v err=%v", size, cp.Checkpoint, written, err)
		}
		out = append(out, cp)
	}
	return out
}

func verify(t testing.TB, s *jetstream.Store, key proof.Key) proof.Report {
	t.Helper()
	rep, err := proof.Verify(testCtx(t), s, s, key.Verifier)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for _, f := range rep.Findings {
		t.Logf("verify: %s", f)
	}
	return rep
}

// findingFor returns the finding of kind that names seq.
func findingFor(rep proof.Report, kind proof.FindingKind, seq uint64) (proof.Finding, bool) {
	for _, f := range rep.Findings {
		if f.Kind == kind && slices.Contains(f.Sequences, seq) {
			return f, true
		}
	}
	return proof.Finding{}, false
}

func mustFind(t testing.TB, rep proof.Report, kind proof.FindingKind, seqs ...uint64) {
	t.Helper()
	for _, seq := range seqs {
		f, ok := findingFor(rep, kind, seq)
		if !ok {
			t.Errorf("no %q finding names sequence %d; findings:\n%s", kind, seq, lines(rep))
			continue
		}
		if !strings.Contains(f.Text, "sequence") {
			t.Errorf("finding %q does not name a sequence", f.Text)
		}
	}
}

func lines(rep proof.Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		b.WriteString("  " + f.Text + "\n")
	}
	return b.String()
}

// rawMessages returns every message of LEDGER (subject and bytes) in order.
func rawMessages(t testing.TB, s *jetstream.Store) (subjects []string, bodies [][]byte) {
	t.Helper()
	ctx := testCtx(t)
	last, err := s.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.JetStream().Stream(ctx, jetstream.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= last; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get %d: %v", seq, err)
		}
		subjects = append(subjects, m.Subject)
		bodies = append(bodies, m.Data)
	}
	return subjects, bodies
}
