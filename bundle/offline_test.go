package bundle_test

import (
	"flag"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/bundle"
)

var update = flag.Bool("update", false, "rewrite testdata/offline from a fresh ledger")

// TestOfflineCheckAcceptsWhatTheLedgerBuilds runs the example's verifier, which imports
// nothing of the ledger, on bundles the ledger just built, and on the same bundles with a
// byte changed. With -update it writes the report bundle and keys the example reads.
func TestOfflineCheckAcceptsWhatTheLedgerBuilds(t *testing.T) {
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
	var wkeys []string
	for _, w := range f.witnesses {
		wkeys = append(wkeys, w.vkey)
	}
	for _, b := range []bundle.Bundle{report, request} {
		if _, err := checkOffline(encode(t, b), f.key.VerifierKey, wkeys, 2); err != nil {
			t.Errorf("%s bundle refused offline: %v", b.Kind, err)
		}
	}
	for name, change := range map[string]func(b *bundle.Bundle){
		"report bytes":        func(b *bundle.Bundle) { b.Report[0] ^= 1 },
		"event":               func(b *bundle.Bundle) { b.Events[0].Stored[50] ^= 1 },
		"inclusion proof":     func(b *bundle.Bundle) { b.Events[0].Inclusion[0][0] ^= 1 },
		"consistency proof":   func(b *bundle.Bundle) { b.Consistency[0][0] ^= 1 },
		"publication proof":   func(b *bundle.Bundle) { b.PublicationConsistency[0][0] ^= 1 },
		"checkpoint":          func(b *bundle.Bundle) { b.Checkpoint = flipRoot(b.Checkpoint) },
		"newest checkpoint":   func(b *bundle.Bundle) { b.Newest = flipRoot(b.Newest) },
		"witness cosignature": func(b *bundle.Bundle) { b.Checkpoint = flipSignature(t, b.Checkpoint, f.witnesses[1].verifier.Name()) },
	} {
		b := clone(t, report)
		change(&b)
		if _, err := checkOffline(encode(t, b), f.key.VerifierKey, wkeys, 2); err == nil {
			t.Errorf("changed %s: accepted offline", name)
		}
	}
	if !*update {
		return
	}
	files := map[string][]byte{
		"report.bundle.json": encode(t, report),
		"ledger.vkey":        []byte(f.key.VerifierKey + "\n"),
		"witness-1.vkey":     []byte(wkeys[0] + "\n"),
		"witness-2.vkey":     []byte(wkeys[1] + "\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join("testdata", "offline", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOfflineExampleImportsNoLedgerPackage: the offline verifier stands on public libraries.
func TestOfflineExampleImportsNoLedgerPackage(t *testing.T) {
	t.Parallel()
	file, err := parser.ParseFile(token.NewFileSet(), "example_test.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{"golang.org/x/mod/sumdb/note", "github.com/transparency-dev/merkle/", "github.com/transparency-dev/formats/"}
	for _, imp := range file.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		ok := !strings.Contains(path, ".") // the standard library
		for _, a := range allowed {
			ok = ok || strings.HasPrefix(path, a) || path == a
		}
		if !ok {
			t.Errorf("example_test.go imports %s", path)
		}
	}
}
