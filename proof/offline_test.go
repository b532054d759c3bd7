package proof_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/proof"
)

var update = flag.Bool("update", false, "rewrite testdata/offline from a fresh ledger")

// fixedEnvelope is event i (1-based) of a deterministic history: four requests, each
// received and acknowledged, so the ledger's bytes and roots come out the same every run.
func fixedEnvelope(t testing.TB, i int) events.Envelope {
	t.Helper()
	req := (i + 1) / 2
	version := uint64(2 - i%2)
	m := events.Meta{
		ID:               uuid.MustParse(fmt.Sprintf("0192f3a0-5c00-7000-8000-1000000000%02d", i)),
		Source:           "urn:ledger:example",
		AggregateID:      fmt.Sprintf("0192f3a0-5c00-7000-8000-%012d", req),
		AggregateVersion: version,
		Time:             time.Date(2024, 10, 1, 9, i, 0, 0, time.UTC),
		Actor:            "intake.amara",
		CommandID:        fmt.Sprintf("command-%d", i),
	}
	var e events.Event = &events.ReceiptAcknowledged{Automated: true}
	if version == 1 {
		e = &events.RequestReceived{
			Authority:  events.Authority{Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR"},
			Instrument: events.InstrumentCourtOrder,
			Reference:  fmt.Sprintf("REF-%d", req),
			Targets:    []events.Target{{Account: events.AccountRef(fmt.Sprintf("acct_%032d", req)), IdentifierType: events.IdentifierPhone}},
			DataSought: []events.DataCategory{events.DataSubscriber},
		}
	}
	env, err := events.NewEnvelope(e, m)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// testdata/offline is what the ledger builds for a fixed history and key; the example
// verifies it without the ledger's code. Refresh with go test ./proof -run Offline -update.
func TestOfflineTestdataIsWhatTheLedgerBuilds(t *testing.T) {
	t.Parallel()
	skey, err := proof.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{42}, 32)), proof.DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	key, err := proof.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	s := openAt(t, t.TempDir())
	ctx := testCtx(t)
	last := map[string]uint64{}
	for i := 1; i <= 8; i++ {
		env := fixedEnvelope(t, i)
		a, err := s.Append(ctx, env, last[env.Subject])
		if err != nil {
			t.Fatal(err)
		}
		last[env.Subject] = a.Sequence
	}
	// v1 leaves: a v2 leaf holds the recorded time, which differs every run.
	cp, _, err := proof.NewCheckpointer(s, s, key, v1Folder).Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	incl, err := proof.BuildInclusion(ctx, s, cp.Checkpoint, 3)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := proof.EncodeProof(incl)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"ledger.vkey":    []byte(key.VerifierKey + "\n"),
		"checkpoint":     cp.Note,
		"inclusion.json": doc,
	}
	for name, want := range files {
		path := filepath.Join("testdata", "offline", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the ledger builds now (-update to refresh):\n%s\nwant\n%s", path, got, want)
		}
	}
}
