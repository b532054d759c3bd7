package bundle_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/bundle"
	"github.com/complianceledger/ledger/proof"
)

func TestReportBundleVerifies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := testCtx(t)
	b, err := f.builder.Report(ctx, f.reportID)
	if err != nil {
		t.Fatal(err)
	}
	// The figures a reader sees are the ones published: reproduced here independently of
	// the bundle, from the store.
	sum := sha256.Sum256(b.Report)
	recs, err := f.store.Load(ctx, "report", f.reportID)
	if err != nil || len(recs) != 1 {
		t.Fatalf("load: %v %d", err, len(recs))
	}
	if !strings.Contains(string(recs[0].Data), hex.EncodeToString(sum[:])) {
		t.Fatalf("report bytes hash to %x, not the published sha256", sum)
	}
	if got := []uint64{b.Events[0].Sequence, size(t, f, b.Checkpoint), size(t, f, b.Newest)}; !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Fatalf("event, checkpoint, newest sizes %v, want [3 4 5]", got)
	}
	if !b.Events[0].RecordedAt.Equal(recs[0].RecordedAt) || b.Events[0].ID != recs[0].ID {
		t.Fatalf("event recorded %v id %s, the store says %v %s", b.Events[0].RecordedAt, b.Events[0].ID, recs[0].RecordedAt, recs[0].ID)
	}
	res, err := bundle.Verify(encode(t, f.cosign(t, b)), f.keys(t))
	if err != nil {
		t.Fatal(err)
	}
	parts := partsOf(res)
	want := []string{bundle.PartFormat, bundle.PartCheckpoint, bundle.PartCheckpointCosignatures, bundle.PartNewest,
		bundle.PartNewestCosignatures, bundle.PartConsistency, "ReportPublished event at sequence 3", bundle.PartReport, bundle.PartPublication}
	if !slices.Equal(parts, want) {
		t.Fatalf("checked %q, want %q", parts, want)
	}
	// Made while no witness is configured: it verifies with a quorum of 0 only.
	if _, err := bundle.Verify(encode(t, b), bundle.Keys{Log: f.key.Verifier}); err != nil {
		t.Fatalf("no witnesses, quorum 0: %v", err)
	}
	if _, err := bundle.Verify(encode(t, b), f.keys(t)); !errors.Is(err, bundle.ErrQuorum) {
		t.Fatalf("uncosigned bundle with a quorum of 2: %v, want ErrQuorum", err)
	}
}

func TestRequestBundleVerifies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := testCtx(t)
	b, err := f.builder.Request(ctx, f.requestID)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := f.store.Load(ctx, "request", f.requestID)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != 2 || len(recs) != 2 {
		t.Fatalf("%d events in the bundle, %d in the store, want 2", len(b.Events), len(recs))
	}
	for i, e := range b.Events {
		r := recs[i]
		if e.Sequence != r.Sequence || e.ID != r.ID || !e.RecordedAt.Equal(r.RecordedAt) {
			t.Errorf("event %d: %d %s %v, the store says %d %s %v", i, e.Sequence, e.ID, e.RecordedAt, r.Sequence, r.ID, r.RecordedAt)
		}
		// The stored bytes are the stream's: their leaf hash is the one the tree holds.
		p, err := proof.BuildInclusion(ctx, f.store, proof.Checkpoint{Origin: proof.DefaultOrigin, Size: size(t, f, b.Checkpoint), Root: root(t, f, b.Checkpoint)}, e.Sequence)
		if err != nil || string(p.Event) != string(e.Stored) {
			t.Errorf("event %d: stored bytes differ from the stream's (%v)", i, err)
		}
	}
	if _, err := bundle.Verify(encode(t, f.cosign(t, b)), f.keys(t)); err != nil {
		t.Fatal(err)
	}
}

// TestBundleWithAFlippedByteIsRefusedNamingThePart flips one byte in each part of a
// cosigned report bundle and a cosigned request bundle; each is refused, naming that part.
func TestBundleWithAFlippedByteIsRefusedNamingThePart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := testCtx(t)
	report, err := f.builder.Report(ctx, f.reportID)
	if err != nil {
		t.Fatal(err)
	}
	request, err := f.builder.Request(ctx, f.requestID)
	if err != nil {
		t.Fatal(err)
	}
	report, request = f.cosign(t, report), f.cosign(t, request)
	w1 := f.witnesses[0].verifier.Name()
	type mutation struct {
		name   string
		of     bundle.Bundle
		change func(b *bundle.Bundle)
		part   string
		err    error
	}
	tests := []mutation{
		{"report bytes", report, func(b *bundle.Bundle) { b.Report[len(b.Report)/2] ^= 1 }, bundle.PartReport, bundle.ErrContent},
		{"the ReportPublished event", report, func(b *bundle.Bundle) { b.Events[0].Stored[40] ^= 1 }, "ReportPublished event at sequence 3", bundle.ErrProof},
		{"the ReportPublished event's id", report, func(b *bundle.Bundle) { b.Events[0].ID = request.Events[0].ID }, "ReportPublished event at sequence 3", bundle.ErrContent},
		{"checkpoint body", report, func(b *bundle.Bundle) { b.Checkpoint = flipRoot(b.Checkpoint) }, bundle.PartCheckpoint, bundle.ErrSignature},
		{"log signature", report, func(b *bundle.Bundle) { b.Checkpoint = flipSignature(t, b.Checkpoint, proof.DefaultOrigin) }, bundle.PartCheckpoint, bundle.ErrSignature},
		{"a cosignature", report, func(b *bundle.Bundle) { b.Checkpoint = flipSignature(t, b.Checkpoint, w1) }, bundle.PartCheckpointCosignatures, bundle.ErrQuorum},
		{"newest note body", report, func(b *bundle.Bundle) { b.Newest = flipRoot(b.Newest) }, bundle.PartNewest, bundle.ErrSignature},
		{"newest note's log signature", request, func(b *bundle.Bundle) { b.Newest = flipSignature(t, b.Newest, proof.DefaultOrigin) }, bundle.PartNewest, bundle.ErrSignature},
		{"a cosignature of the newest note", request, func(b *bundle.Bundle) { b.Newest = flipSignature(t, b.Newest, w1) }, bundle.PartNewestCosignatures, bundle.ErrQuorum},
		{"format", request, func(b *bundle.Bundle) { b.Format = "ledger-evidence-bundle/v0" }, bundle.PartFormat, bundle.ErrMalformed},
	}
	for i := range request.Events {
		seq := request.Events[i].Sequence
		part := fmt.Sprintf("event at sequence %d", seq)
		tests = append(tests,
			mutation{fmt.Sprintf("event %d", seq), request, func(b *bundle.Bundle) { b.Events[i].Stored[len(b.Events[i].Stored)-3] ^= 1 }, part, bundle.ErrProof},
			mutation{fmt.Sprintf("event %d's id", seq), request, func(b *bundle.Bundle) { b.Events[i].ID = report.Events[0].ID }, part, bundle.ErrContent})
		for j := range request.Events[i].Inclusion {
			tests = append(tests, mutation{fmt.Sprintf("inclusion proof of %d, hash %d", seq, j), request, func(b *bundle.Bundle) { b.Events[i].Inclusion[j][5] ^= 1 }, part, bundle.ErrProof})
		}
	}
	for j := range report.Events[0].Inclusion {
		tests = append(tests, mutation{fmt.Sprintf("inclusion proof of the ReportPublished event, hash %d", j), report, func(b *bundle.Bundle) { b.Events[0].Inclusion[j][0] ^= 1 }, "ReportPublished event at sequence 3", bundle.ErrProof})
	}
	for j := range report.Consistency {
		tests = append(tests, mutation{fmt.Sprintf("consistency proof, hash %d", j), report, func(b *bundle.Bundle) { b.Consistency[j][31] ^= 1 }, bundle.PartConsistency, bundle.ErrProof})
	}
	for j := range report.PublicationConsistency {
		tests = append(tests, mutation{fmt.Sprintf("publication consistency proof, hash %d", j), report, func(b *bundle.Bundle) { b.PublicationConsistency[j][31] ^= 1 }, bundle.PartPublication, bundle.ErrProof})
	}
	if len(report.Consistency) == 0 || len(report.PublicationConsistency) == 0 || len(request.Consistency) == 0 {
		t.Fatal("a consistency proof is empty: the fixture does not exercise it")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := clone(t, tt.of)
			tt.change(&b)
			_, err := bundle.Verify(encode(t, b), f.keys(t))
			var pe *bundle.PartError
			if !errors.As(err, &pe) || pe.Part != tt.part || !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want part %q refused with %v", err, tt.part, tt.err)
			}
		})
	}
}

// TestCheckpointSignedByAnotherKeyIsRefused: an operator who re-signs a checkpoint with a
// key of the same log name does not pass for the log.
func TestCheckpointSignedByAnotherKeyIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b, err := f.builder.Request(testCtx(t), f.requestID)
	if err != nil {
		t.Fatal(err)
	}
	other := newKey(t, proof.DefaultOrigin)
	n, err := note.Open([]byte(b.Checkpoint), note.VerifierList(f.key.Verifier))
	if err != nil {
		t.Fatal(err)
	}
	resigned, err := note.Sign(&note.Note{Text: n.Text}, other.Signer)
	if err != nil {
		t.Fatal(err)
	}
	b.Checkpoint = string(resigned)
	_, err = bundle.Verify(encode(t, b), bundle.Keys{Log: f.key.Verifier})
	var pe *bundle.PartError
	if !errors.As(err, &pe) || pe.Part != bundle.PartCheckpoint || !errors.Is(err, bundle.ErrSignature) {
		t.Fatalf("got %v, want the checkpoint refused for its signature", err)
	}
}

func partsOf(res bundle.Result) []string {
	var out []string
	for _, c := range res.Checks {
		out = append(out, c.Part)
	}
	return out
}

// clone deep-copies a bundle through its encoding.
func clone(t *testing.T, b bundle.Bundle) bundle.Bundle {
	t.Helper()
	c, err := bundle.Decode(encode(t, b))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func size(t *testing.T, f *fixture, msg string) uint64 {
	t.Helper()
	cp, err := proof.OpenCheckpoint([]byte(msg), f.key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	return cp.Size
}

func root(t *testing.T, f *fixture, msg string) []byte {
	t.Helper()
	cp, err := proof.OpenCheckpoint([]byte(msg), f.key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	return cp.Root
}

// TestEventRecordedAfterItsCosignatureIsRefused: a witness's cosignature/v1 timestamp bounds
// when the events its checkpoint covers were recorded. The cosignature is written here from
// the C2SP spec, with a chosen time.
func TestEventRecordedAfterItsCosignatureIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b, err := f.builder.Request(testCtx(t), f.requestID)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := note.NewEd25519VerifierKey("witness-spec.example", pub)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := proof.NewWitnessPolicy([]string{vkey}, 1)
	if err != nil {
		t.Fatal(err)
	}
	keys := bundle.Keys{Log: f.key.Verifier, Witnesses: policy}
	last := b.Events[len(b.Events)-1]
	for _, tt := range []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"cosigned after the events were recorded", last.RecordedAt.Add(time.Second), true},
		{"cosigned the second the last event was recorded", last.RecordedAt, true},
		// Every event was recorded after it: the first is named.
		{"cosigned a minute before the events were recorded", b.Events[0].RecordedAt.Add(-time.Minute), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := clone(t, b)
			v := policy.Keys[0]
			s := specCosigner{name: v.Name(), hash: v.KeyHash(), key: priv, at: tt.at}
			c.Checkpoint = addSignature(t, c.Checkpoint, f.key.Verifier, s)
			c.Newest = addSignature(t, c.Newest, f.key.Verifier, s)
			_, err := bundle.Verify(encode(t, c), keys)
			var pe *bundle.PartError
			switch {
			case tt.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tt.ok && (!errors.As(err, &pe) || pe.Part != fmt.Sprintf("event at sequence %d", b.Events[0].Sequence) || !errors.Is(err, bundle.ErrContent)):
				t.Fatalf("got %v, want the event at sequence %d refused for its recorded time", err, b.Events[0].Sequence)
			}
		})
	}
}

// specCosigner signs a C2SP tlog-cosignature/v1 at a chosen time: the signed message is
// "cosignature/v1\ntime T\n" and the checkpoint; the signature is T (8 bytes, big-endian)
// then the Ed25519 signature.
type specCosigner struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	at   time.Time
}

func (s specCosigner) Name() string    { return s.name }
func (s specCosigner) KeyHash() uint32 { return s.hash }
func (s specCosigner) Sign(msg []byte) ([]byte, error) {
	t := uint64(s.at.Unix())
	signed := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, msg)
	return append(binary.BigEndian.AppendUint64(nil, t), ed25519.Sign(s.key, signed)...), nil
}
