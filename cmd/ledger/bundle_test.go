package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	formatsnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/complianceledger/ledger/bundle"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server/auth"
)

// TestExportedBundlesVerifyOffline: export writes a bundle of a report published a moment
// ago (signing the checkpoint that covers it) and of a request; verify-bundle checks both in
// an empty folder with the verifier key alone, says that no witness vouches for them, and
// refuses another key and a quorum nobody cosigned, naming the part.
func TestExportedBundlesVerifyOffline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := t.TempDir()
	path := func(name string) string { return filepath.Join(files, name) }
	submitExamples(t, dir)
	_, stderr, err := ledgerRun(t, dir, "", "report", "telegram", "--period", "2024-Q4", "--format", "csv", "--publish", credential(t, dir, "comms.lena", auth.Legal))
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, stderr)
	}
	m := regexp.MustCompile(`published report ([0-9a-f-]{36})`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("stderr does not name the published report:\n%s", stderr)
	}
	vkey := strings.TrimSpace(mustRun(t, dir, "", "keys"))
	out := mustRun(t, dir, "", "export", "--report", m[1], "-o", path("report.json"))
	if !strings.Contains(out, "evidence bundle of report "+m[1]+" (1 events)") {
		t.Errorf("export --report: %s", out)
	}
	mustRun(t, dir, "", "export", "--request", "0192f3a0-5c00-7000-8000-00000000c0de", "-o", path("request.json"))

	offline := t.TempDir()
	out = mustRun(t, offline, "", "verify-bundle", path("report.json"), "--key", vkey)
	for _, want := range []string{
		"ok    checkpoint: tree size 9 signed by ledger.example/LEDGER+",
		"ok    ReportPublished event at sequence 9: report.published.v",
		"ok    report: ", "ok    publication checkpoint: tree size 8 (the report's position 8)",
		"WARNING: no witness cosignature was required (no --witness key)",
		"OK: every part of the report bundle of " + m[1] + " holds",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify-bundle report: no %q in\n%s", want, out)
		}
	}
	out = mustRun(t, offline, "", "verify-bundle", path("request.json"), "--key", vkey)
	if n := strings.Count(out, "ok    event at sequence "); n != 8 || !strings.Contains(out, "OK: every part of the request bundle") {
		t.Errorf("verify-bundle request: %d events checked, want 8:\n%s", n, out)
	}

	otherKey := strings.TrimSpace(mustRun(t, t.TempDir(), "", "keys"))
	out, _, err = ledgerRun(t, offline, "", "verify-bundle", path("report.json"), "--key", otherKey)
	if err == nil || !strings.Contains(err.Error(), "checkpoint: bundle: not signed by the log's key") || !strings.Contains(out, "FAIL  checkpoint: ") {
		t.Errorf("another key: %v\n%s", err, out)
	}
	witness := "witness.example+00000000+" + strings.SplitN(vkey, "+", 3)[2]
	_, _, err = ledgerRun(t, offline, "", "verify-bundle", path("report.json"), "--key", vkey, "--witness", witness)
	if err == nil || !strings.Contains(err.Error(), "checkpoint cosignatures") {
		t.Errorf("a quorum of one witness that never cosigned: %v", err)
	}

	// Two witnesses cosign both checkpoints (as the ledger will store them): a quorum of
	// two holds, a quorum of three cannot be reached with two keys.
	doc, err := os.ReadFile(path("report.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	log, err := proof.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	var wflags []string
	for i := range 2 {
		skey, wkey, err := note.GenerateKey(rand.Reader, fmt.Sprintf("witness-%d.example", i+1))
		if err != nil {
			t.Fatal(err)
		}
		s, err := formatsnote.NewSignerForCosignatureV1(skey)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range []*string{&b.Checkpoint, &b.Newest} {
			n, err := note.Open([]byte(*msg), note.VerifierList(log))
			if err != nil {
				t.Fatal(err)
			}
			n.Sigs = append(n.Sigs, n.UnverifiedSigs...)
			signed, err := note.Sign(n, s)
			if err != nil {
				t.Fatal(err)
			}
			*msg = string(signed)
		}
		wflags = append(wflags, "--witness", wkey)
	}
	if doc, err = bundle.Encode(b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path("cosigned.json"), doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, offline, "", append([]string{"verify-bundle", path("cosigned.json"), "--key", vkey}, wflags...)...)
	if !strings.Contains(out, "ok    checkpoint cosignatures: 2 of 2 required: witness-1.example+") || strings.Contains(out, "WARNING") {
		t.Errorf("verify-bundle with two witnesses:\n%s", out)
	}
	_, _, err = ledgerRun(t, offline, "", append([]string{"verify-bundle", path("cosigned.json"), "--key", vkey, "--witnesses", "3"}, wflags...)...)
	if err == nil || !strings.Contains(err.Error(), "witnesses 3: only 2 witness keys given") {
		t.Errorf("a quorum of 3 with 2 keys: %v", err)
	}
}

// TestBundleCarriesRealWitnessCosignatures: with two `ledger witness` processes following
// the ledger, a published report's bundle carries both witnesses' cosignatures, and
// verify-bundle in an empty folder holds it to a quorum of two with their keys alone.
func TestBundleCarriesRealWitnessCosignatures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logKey := strings.TrimSpace(mustRun(t, dir, "", "keys"))
	w1 := startWitnessProcess(t, t.TempDir(), "w1.test/witness", logKey)
	w2 := startWitnessProcess(t, t.TempDir(), "w2.test/witness", logKey)
	useWitnesses(t, dir, w1, w2)
	submitExamples(t, dir)
	_, stderr, err := ledgerRun(t, dir, "", "report", "telegram", "--period", "2024-Q4", "--format", "csv", "--publish", credential(t, dir, "comms.lena", auth.Legal))
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, stderr)
	}
	m := regexp.MustCompile(`published report ([0-9a-f-]{36})`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("stderr does not name the published report:\n%s", stderr)
	}
	file := filepath.Join(t.TempDir(), "report.json")
	mustRun(t, dir, "", "export", "--report", m[1], "-o", file)
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*witnessProc{w1, w2} {
		if !cosignedBy(b.Checkpoint, w) || !cosignedBy(b.Newest, w) {
			t.Errorf("the bundle's checkpoints lack %s's cosignature:\n%s\n%s", w.name, b.Checkpoint, b.Newest)
		}
	}
	out, stderr, err := ledgerRun(t, t.TempDir(), "", "verify-bundle", file, "--key", logKey, "--witness", w1.vkey, "--witness", w2.vkey, "--witnesses", "2")
	if err != nil || !strings.Contains(out, "OK: every part of the report bundle") {
		t.Fatalf("verify-bundle with both witnesses: %v\n%s%s", err, out, stderr)
	}
}
