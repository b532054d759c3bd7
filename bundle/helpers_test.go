package bundle_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	formatsnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/bundle"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/publish"
	"github.com/complianceledger/ledger/store/jetstream"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fixture is a real ledger (embedded JetStream) holding a published report and a request
// whose events straddle it:
//
//	1 request A received (FR)   2 request B received (DE)   checkpoint of size 2
//	3 ReportPublished (carries the checkpoint of size 2)
//	4 request A acknowledged    checkpoint of size 4
//	5 request C received        checkpoint of size 5
type fixture struct {
	store     *jetstream.Store
	key       proof.Key
	builder   *bundle.Builder
	reportID  string
	requestID string
	witnesses []witness
}

type witness struct {
	signer   note.Signer
	verifier note.Verifier
	vkey     string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := testCtx(t)
	s, err := jetstream.Open(ctx, jetstream.Config{DataDir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{store: s, key: newKey(t, proof.DefaultOrigin)}
	cpr := proof.NewCheckpointer(s, s, f.key, proof.CheckpointerOptions{Logger: quiet()})
	sign := func(ctx context.Context) error {
		_, _, err := cpr.Checkpoint(ctx)
		return err
	}
	a, b, c := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
	f.requestID = a
	f.append(t, a, 1, "FR", 0)
	f.append(t, b, 1, "DE", 0)
	runner := &projections.Runner{Source: s, Logger: quiet()}
	pub := publish.Publisher{Runner: runner, Store: s, Checkpoint: cpr.CheckpointNote}
	res, err := pub.Report(ctx, events.ReportParameters{View: "requests", Period: "2025", Format: "csv"}, command.Caller{Name: "legal.lena", Role: command.Legal})
	if err != nil {
		t.Fatal(err)
	}
	f.reportID = res.ID
	f.append(t, a, 2, "", 1)
	if err := sign(ctx); err != nil {
		t.Fatal(err)
	}
	f.append(t, c, 1, "FR", 0)
	if err := sign(ctx); err != nil {
		t.Fatal(err)
	}
	f.builder = &bundle.Builder{Source: s, Verifier: f.key.Verifier, Runner: runner, Sign: sign}
	for i := range 2 {
		skey, vkey, err := note.GenerateKey(rand.Reader, fmt.Sprintf("witness-%d.example", i+1))
		if err != nil {
			t.Fatal(err)
		}
		signer, err := formatsnote.NewSignerForCosignatureV1(skey)
		if err != nil {
			t.Fatal(err)
		}
		v, err := proof.ParseWitnessKey(vkey)
		if err != nil {
			t.Fatal(err)
		}
		f.witnesses = append(f.witnesses, witness{signer, v, vkey})
	}
	return f
}

func newKey(t *testing.T, origin string) proof.Key {
	t.Helper()
	skey, err := proof.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	k, err := proof.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// append records a RequestReceived (version 1, of country) or a ReceiptAcknowledged.
func (f *fixture) append(t *testing.T, id string, version uint64, country string, expected uint64) {
	t.Helper()
	var e events.Event = &events.ReceiptAcknowledged{Automated: true}
	if version == 1 {
		e = &events.RequestReceived{
			Authority:  events.Authority{Name: "Police", Kind: events.AuthorityPolice, Country: events.Country(country)},
			Instrument: events.InstrumentCourtOrder,
			Reference:  "REF-" + id[:8],
			Targets:    []events.Target{{Account: events.AccountRef("acct_" + strings.Repeat("0", 32)), IdentifierType: events.IdentifierEmail}},
			DataSought: []events.DataCategory{events.DataSubscriber},
		}
	}
	env, err := events.NewEnvelope(e, events.Meta{
		ID: uuid.Must(uuid.NewV7()), Source: "test", AggregateID: id, AggregateVersion: version,
		Time: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC), Actor: "intake.amara", CommandID: uuid.NewString(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Append(testCtx(t), env, expected); err != nil {
		t.Fatal(err)
	}
}

// keys checks with the log's key and every witness, all required.
func (f *fixture) keys(t *testing.T) bundle.Keys {
	t.Helper()
	var vkeys []string
	for _, w := range f.witnesses {
		vkeys = append(vkeys, w.vkey)
	}
	policy, err := proof.NewWitnessPolicy(vkeys, 0)
	if err != nil {
		t.Fatal(err)
	}
	return bundle.Keys{Log: f.key.Verifier, Witnesses: policy}
}

// cosign adds every witness's cosignature/v1 to both checkpoints of b, as a witness
// server does to the notes the ledger stores.
func (f *fixture) cosign(t *testing.T, b bundle.Bundle) bundle.Bundle {
	t.Helper()
	for _, msg := range []*string{&b.Checkpoint, &b.Newest} {
		for _, w := range f.witnesses {
			*msg = addSignature(t, *msg, f.key.Verifier, w.signer)
		}
	}
	return b
}

// addSignature signs msg's text with s, keeping every signature it had.
func addSignature(t *testing.T, msg string, log note.Verifier, s note.Signer) string {
	t.Helper()
	n, err := note.Open([]byte(msg), note.VerifierList(log))
	if err != nil {
		t.Fatal(err)
	}
	n.Sigs = append(n.Sigs, n.UnverifiedSigs...)
	n.UnverifiedSigs = nil
	out, err := note.Sign(n, s)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// flipSignature flips the last byte of the signature by name in a signed note.
func flipSignature(t *testing.T, msg, name string) string {
	t.Helper()
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(l, "— "+name+" ")
		if !ok {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			t.Fatal(err)
		}
		sig[len(sig)-1] ^= 1
		lines[i] = "— " + name + " " + base64.StdEncoding.EncodeToString(sig)
		return strings.Join(lines, "\n")
	}
	t.Fatalf("no signature of %s in\n%s", name, msg)
	return ""
}

// flipRoot changes one character of the root hash line of a signed note.
func flipRoot(msg string) string {
	lines := strings.Split(msg, "\n")
	root := []byte(lines[2])
	if root[0] == 'A' {
		root[0] = 'B'
	} else {
		root[0] = 'A'
	}
	lines[2] = string(root)
	return strings.Join(lines, "\n")
}

func encode(t *testing.T, b bundle.Bundle) []byte {
	t.Helper()
	doc, err := bundle.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
