package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
)

// TestPublishOverHTTPIsReproducedByteForByte: POST /v1/reports/{view}/publish answers the
// exact bytes it records, GET /v1/published/{id} gives them back after the ledger moved on,
// and the ReportPublished event names the caller and carries a checkpoint of the events the
// figures were computed from.
func TestPublishOverHTTPIsReproducedByteForByte(t *testing.T) {
	f := newFixture(t)
	_, steps := newRequest("FR")
	f.record(steps, 0, len(steps))
	before := f.last()

	r := f.do("POST", "/v1/reports/requests/publish?period=2025&format=csv", "legal", nil)
	if r.status != http.StatusCreated {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	id := r.header.Get("Ledger-Report-Id")
	sum := sha256.Sum256(r.body)
	if got := r.header.Get("Ledger-Report-SHA256"); got != hex.EncodeToString(sum[:]) {
		t.Errorf("Ledger-Report-SHA256 %s, body's %x", got, sum)
	}
	if r.header.Get("Location") != "/v1/published/"+id || r.header.Get("Ledger-As-Of-Sequence") != strconv.FormatUint(before, 10) {
		t.Errorf("headers %v", r.header)
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(string(r.body), "FR") {
		t.Errorf("published %s:\n%s", r.header.Get("Content-Type"), r.body)
	}
	if seq := r.header.Get("Ledger-Sequence"); seq != strconv.FormatUint(before+1, 10) || f.last() != before+1 {
		t.Errorf("Ledger-Sequence %s, stream %d -> %d", seq, before, f.last())
	}
	published := r.body

	// The ledger moves on; the publication stays as it was.
	_, more := newRequest("FR")
	f.record(more, 0, len(more))
	for _, caller := range []string{"legal", "auditor", "intake"} {
		g := f.do("GET", "/v1/published/"+id, caller, nil)
		if g.status != 200 || !bytes.Equal(g.body, published) || g.header.Get("Ledger-Report-SHA256") != hex.EncodeToString(sum[:]) {
			t.Fatalf("GET published as %s: %d\n%s\nwant\n%s", caller, g.status, g.body, published)
		}
	}
	now := f.do("GET", "/v1/reports/requests?period=2025&format=csv", "legal", nil)
	if bytes.Equal(now.body, published) {
		t.Fatal("today's report equals the published one; the test needs a difference")
	}

	p, err := projections.LoadPublished(context.Background(), f.store, id)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := f.store.Load(context.Background(), events.AggregateReport, id)
	if err != nil || len(recs) != 1 {
		t.Fatalf("report events %v, %v", recs, err)
	}
	if recs[0].Actor != "legal" {
		t.Errorf("actor %q, want the caller legal", recs[0].Actor)
	}
	want := events.ReportParameters{View: "requests", Period: "2025", Format: "csv"}
	if p.Parameters != want || p.AsOf != before || p.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("ReportPublished %+v", p)
	}
	cp, err := proof.OpenCheckpoint([]byte(p.Checkpoint), f.key.Verifier)
	if err != nil || cp.Size != before {
		t.Errorf("checkpoint of size %d (%v), want %d: %q", cp.Size, err, before, p.Checkpoint)
	}

	// A DSA report records its service, default or named, as the CLI does.
	r = f.do("POST", "/v1/reports/dsa/publish?period=2025&format=csv", "legal", nil)
	if r.status != http.StatusCreated {
		t.Fatalf("publish dsa: %d %s", r.status, r.body)
	}
	if p, err := projections.LoadPublished(context.Background(), f.store, r.header.Get("Ledger-Report-Id")); err != nil || p.Parameters.Service != projections.DefaultDSAService {
		t.Errorf("dsa publication %+v, %v", p, err)
	}
}

// TestPublishRefusesBadParametersAndWritesNothing: every bad parameter is a 400 naming it,
// before anything is rendered, signed or appended.
func TestPublishRefusesBadParametersAndWritesNothing(t *testing.T) {
	f := newFixture(t)
	_, steps := newRequest("FR")
	f.record(steps, 0, 2)
	for _, c := range []struct {
		query, body, field string
		status             int
	}{
		{query: "", field: "period"},
		{query: "period=2025-Q5", field: "period"},
		{query: "period=2025&format=xml", field: "format"},
		{query: "period=2025&country=XX", field: "country"},
		{query: "from=2025-01-01", field: "from"},
		{query: "period=2025&as_of=1", field: "as_of"},
		{query: "period=2025&actor=someone", field: "actor"},
		{query: "period=2025&period=2024", field: "period"},
		{query: "period=2025", body: `{"period":"2025"}`, field: ""},
		{query: "period=2025", field: "view", status: http.StatusNotFound},
	} {
		t.Run(c.query+c.body, func(t *testing.T) {
			view := "requests"
			if c.field == "view" {
				view = "nope"
			}
			want := c.status
			if want == 0 {
				want = http.StatusBadRequest
			}
			before := f.last()
			r := f.do("POST", "/v1/reports/"+view+"/publish?"+c.query, "legal", []byte(c.body))
			if r.status != want {
				t.Fatalf("%d %s, want %d", r.status, r.body, want)
			}
			if e := r.err(t); e.Error.Field != c.field {
				t.Errorf("field %q, want %q: %s", e.Error.Field, c.field, r.body)
			}
			if after := f.last(); after != before {
				t.Fatalf("refused publication wrote: %d -> %d", before, after)
			}
		})
	}
	t.Run("regulator", func(t *testing.T) {
		before := f.last()
		if r := f.do("POST", "/v1/reports/requests/publish?period=2025", "regulator", nil); r.status != http.StatusForbidden || f.last() != before {
			t.Fatalf("regulator: %d %s", r.status, r.body)
		}
	})
}

// checkpointList is GET /v1/checkpoints.
type checkpointList struct {
	Key         string
	Checkpoints []struct {
		Number    int
		Size      uint64
		Signature string
		Note      string
	}
}

func (f *fixture) checkpoints(t *testing.T, caller string) checkpointList {
	t.Helper()
	r := f.do("GET", "/v1/checkpoints", caller, nil)
	var l checkpointList
	if err := json.Unmarshal(r.body, &l); r.status != 200 || err != nil {
		t.Fatalf("checkpoints as %s: %d %s", caller, r.status, r.body)
	}
	return l
}

// TestProofsOverHTTPVerifyOffline: checkpoints and proofs fetched over HTTP verify offline
// with only the verifier key, through the functions `ledger verify-proof` calls
// (proof.DecodeProof, then the proof's Verify); the documents are byte for byte what
// `ledger proof` writes (proof.EncodeProof).
func TestProofsOverHTTPVerifyOffline(t *testing.T) {
	f := newFixture(t)
	_, steps := newRequest("FR")
	f.record(steps, 0, len(steps))
	r := f.do("POST", "/v1/reports/requests/publish?period=2025", "legal", nil)
	if r.status != http.StatusCreated {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	pubSeq, _ := strconv.ParseUint(r.header.Get("Ledger-Sequence"), 10, 64)
	// The publication's checkpoint covers the events before it; the auditor signs one
	// that covers the publication too.
	c := f.do("POST", "/v1/checkpoints", "auditor", nil)
	if c.status != http.StatusCreated {
		t.Fatalf("POST /v1/checkpoints: %d %s", c.status, c.body)
	}
	if c := f.do("POST", "/v1/checkpoints", "auditor", nil); c.status != http.StatusOK {
		t.Errorf("nothing new to sign: %d %s, want 200 and the newest", c.status, c.body)
	}
	l := f.checkpoints(t, "regulator-fr")
	if len(l.Checkpoints) != 2 || l.Checkpoints[1].Size != pubSeq || l.Checkpoints[1].Signature != "ok" {
		t.Fatalf("checkpoints %+v", l)
	}
	if want := fmt.Sprintf("%s+%08x", f.key.Verifier.Name(), f.key.Verifier.KeyHash()); l.Key != want {
		t.Errorf("key %q, want %q", l.Key, want)
	}
	first, newest := []byte(l.Checkpoints[0].Note), []byte(l.Checkpoints[1].Note)

	inclusion := func(caller string, seq uint64, size uint64) (response, *proof.InclusionProof) {
		t.Helper()
		path := fmt.Sprintf("/v1/proofs/inclusion?sequence=%d", seq)
		if size > 0 {
			path += fmt.Sprintf("&size=%d", size)
		}
		r := f.do("GET", path, caller, nil)
		if r.status != 200 {
			return r, nil
		}
		p, err := proof.DecodeProof(r.body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return r, p.(*proof.InclusionProof)
	}
	// The auditor proves any event; against the newest checkpoint by default.
	r, p := inclusion("auditor", 3, 0)
	if p == nil {
		t.Fatalf("inclusion as auditor: %d %s", r.status, r.body)
	}
	if cp, err := p.Verify(newest, f.key.Verifier); err != nil || cp.Size != pubSeq {
		t.Fatalf("inclusion proof does not verify offline: %v", err)
	}
	if enc, _ := proof.EncodeProof(p); !bytes.Equal(enc, r.body) {
		t.Errorf("the document is not what ledger proof writes:\n%s", r.body)
	}
	if _, err := p.Verify(first, f.key.Verifier); err == nil {
		t.Error("a proof for the newest checkpoint verified against the first")
	}
	if _, p := inclusion("auditor", 3, pubSeq-1); p == nil {
		t.Error("no proof against the first checkpoint")
	} else if _, err := p.Verify(first, f.key.Verifier); err != nil {
		t.Errorf("proof against size %d: %v", pubSeq-1, err)
	}
	// A regulator proves the publication's event, never a request's.
	if r, _ := inclusion("regulator-fr", 3, 0); r.status != http.StatusForbidden || r.err(t).Error.Field != "sequence" {
		t.Errorf("regulator, a request's event: %d %s", r.status, r.body)
	}
	r, p = inclusion("regulator", pubSeq, 0)
	if p == nil {
		t.Fatalf("regulator, the publication: %d %s", r.status, r.body)
	}
	if _, err := p.Verify(newest, f.key.Verifier); err != nil {
		t.Fatalf("the publication's proof: %v", err)
	}
	if env, err := events.Decode(p.Event); err != nil || env.Type != "report.published.v2" {
		t.Errorf("proved event %s, %v", env.Type, err)
	}
	for path, field := range map[string]string{
		"/v1/proofs/inclusion":                       "sequence",
		"/v1/proofs/inclusion?sequence=0":            "sequence",
		"/v1/proofs/inclusion?sequence=99":           "sequence",
		"/v1/proofs/inclusion?sequence=1&size=x":     "size",
		"/v1/proofs/inclusion?sequence=1&size=4":     "size", // no checkpoint of that size: 404
		"/v1/proofs/consistency?old=99":              "old",
		"/v1/proofs/consistency?old=3&new=2":         "old",
		"/v1/proofs/consistency?old=1&new=2&extra=1": "extra",
	} {
		if r := f.do("GET", path, "auditor", nil); r.status/100 != 4 || r.err(t).Error.Field != field {
			t.Errorf("%s: %d %s, want a 4xx naming %s", path, r.status, r.body, field)
		}
	}

	// Consistency between the two checkpoints, as a regulator holding the first checks it.
	r = f.do("GET", fmt.Sprintf("/v1/proofs/consistency?old=%d", pubSeq-1), "regulator-fr", nil)
	if r.status != 200 {
		t.Fatalf("consistency: %d %s", r.status, r.body)
	}
	cp, err := proof.DecodeProof(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cp.(*proof.ConsistencyProof).Verify(first, newest, f.key.Verifier); err != nil {
		t.Fatalf("consistency proof does not verify offline: %v", err)
	}

	// A publication limited to Germany is not France's regulator's to prove.
	de := f.do("POST", "/v1/reports/requests/publish?period=2025&country=DE", "legal", nil)
	if de.status != http.StatusCreated {
		t.Fatalf("publish DE: %d %s", de.status, de.body)
	}
	deSeq, _ := strconv.ParseUint(de.header.Get("Ledger-Sequence"), 10, 64)
	if c := f.do("POST", "/v1/checkpoints", "auditor", nil); c.status != http.StatusCreated {
		t.Fatalf("POST /v1/checkpoints: %d %s", c.status, c.body)
	}
	if r, _ := inclusion("regulator-fr", deSeq, 0); r.status != http.StatusForbidden {
		t.Errorf("regulator-fr, Germany's publication: %d %s, want 403", r.status, r.body)
	}
	if _, p := inclusion("regulator", deSeq, 0); p == nil {
		t.Error("an unlimited regulator could not prove Germany's publication")
	}
}

// TestPublishWithoutCheckpoints mirrors the CLI: on a store that keeps no checkpoints
// (Proofs nil, as store/esdb) a report is published without one and the proof routes answer
// 501; a store that keeps them with no key on the server refuses to publish (501) and
// writes nothing.
func TestPublishWithoutCheckpoints(t *testing.T) {
	f := newFixture(t)
	_, steps := newRequest("FR")
	f.record(steps, 0, 2)
	tokens, err := auth.Open(filepath.Join(f.dir, auth.FileName))
	if err != nil {
		t.Fatal(err)
	}
	serve := func(cfg server.Config) *fixture {
		cfg.Store, cfg.Pseudonymizer, cfg.Tokens, cfg.Logger = f.store, pseudonymizer(t), tokens, quiet()
		ts := httptest.NewServer(server.New(cfg).Handler())
		t.Cleanup(ts.Close)
		g := *f
		g.url = ts.URL
		return &g
	}

	noProofs := serve(server.Config{})
	r := noProofs.do("POST", "/v1/reports/requests/publish?period=2025", "legal", nil)
	if r.status != http.StatusCreated {
		t.Fatalf("publish without proofs: %d %s", r.status, r.body)
	}
	p, err := projections.LoadPublished(context.Background(), f.store, r.header.Get("Ledger-Report-Id"))
	if err != nil || p.Checkpoint != "" {
		t.Errorf("published %+v, %v; want no checkpoint", p, err)
	}
	for _, path := range []string{"/v1/checkpoints", "/v1/proofs/inclusion?sequence=1", "/v1/proofs/consistency?old=1"} {
		if r := noProofs.do("GET", path, "auditor", nil); r.status != http.StatusNotImplemented {
			t.Errorf("%s without proofs: %d %s", path, r.status, r.body)
		}
	}

	noKey := serve(server.Config{Proofs: f.store, Verifier: f.key.Verifier})
	before := f.last()
	if r := noKey.do("POST", "/v1/reports/requests/publish?period=2025", "legal", nil); r.status != http.StatusNotImplemented || f.last() != before {
		t.Errorf("publish with proofs and no key: %d %s, stream %d -> %d", r.status, r.body, before, f.last())
	}
	if r := noKey.do("POST", "/v1/checkpoints", "auditor", nil); r.status != http.StatusNotImplemented {
		t.Errorf("checkpoint with no key: %d %s", r.status, r.body)
	}
}

// TestPublishAnEmptyLedgerIsRefused: nothing to publish or sign yet is 409, nothing written.
func TestPublishAnEmptyLedgerIsRefused(t *testing.T) {
	f := newFixture(t)
	if r := f.do("POST", "/v1/reports/telegram/publish?period=2025", "legal", nil); r.status != http.StatusConflict || r.err(t).Error.Code != "empty" {
		t.Errorf("publish: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/v1/checkpoints", "auditor", nil); r.status != http.StatusConflict {
		t.Errorf("checkpoint: %d %s", r.status, r.body)
	}
	if f.last() != 0 {
		t.Errorf("the stream holds %d events", f.last())
	}
}
