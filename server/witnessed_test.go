package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/witness"
)

// newWitnessFor starts a real witness (package witness, HTTP in process) following the
// log of key and returns its client and verifier key.
func newWitnessFor(t testing.TB, name string, key proof.Key) (*witness.Client, string) {
	t.Helper()
	dir := t.TempDir()
	signer, vkey, _, err := witness.LoadOrCreateKey(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(dir, signer, []string{key.VerifierKey}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	c, err := witness.NewClient(vkey, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, vkey
}

// The server submits its checkpoints to its witnesses, counts the outcomes in /metrics,
// and GET /v1/verify and the proof routes take witness keys and a quorum.
func TestServerCheckpointsAreWitnessedAndVerifiedWithAQuorum(t *testing.T) {
	t.Parallel()
	var up, down *witness.Client
	var upKey, downKey string
	f := newFixtureWith(t, func(c *server.Config) {
		up, upKey = newWitnessFor(t, "up.test/witness", *c.Key)
		var err error
		_, downKey, _, err = witness.LoadOrCreateKey(t.TempDir(), "down.test/witness")
		if err != nil {
			t.Fatal(err)
		}
		if down, err = witness.NewClient(downKey, "http://127.0.0.1:1", nil); err != nil {
			t.Fatal(err)
		}
		c.Checkpointing.Witnesses = []proof.Witness{up, down}
	})
	_, steps := newRequest("FR")
	f.record(steps, 0, 3)
	r := f.do("POST", "/v1/checkpoints", "auditor", nil)
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `\n— up.test/witness `) {
		t.Fatalf("POST /v1/checkpoints: %d %s", r.status, r.body)
	}

	q := func(keys ...string) string {
		return url.Values{"witness": {strings.Join(keys, ",")}}.Encode()
	}
	var v struct {
		Status    proof.Status
		Findings  []string
		Witnessed struct {
			Checkpoint  int
			Size        uint64
			Unwitnessed uint64
		}
	}
	tests := []struct {
		name, query string
		status      proof.Status
		size        uint64
		finding     string
	}{
		{"the witness that cosigned", q(upKey), proof.Clean, 3, ""},
		{"both, quorum 1", q(upKey, downKey) + "&witnesses=1", proof.Clean, 3, ""},
		{"both, quorum 2: the one down never cosigned", q(upKey, downKey), proof.Mismatch, 0, "none of the 1 checkpoints is cosigned by 2"},
		{"a key with its + left unescaped", "witness=" + upKey, proof.Clean, 3, ""},
	}
	for _, tc := range tests {
		r := f.do("GET", "/v1/verify?"+tc.query, "auditor", nil)
		v.Findings = nil
		if err := json.Unmarshal(r.body, &v); r.status != 200 || err != nil {
			t.Fatalf("%s: %d %s", tc.name, r.status, r.body)
		}
		if v.Status != tc.status || v.Witnessed.Size != tc.size || (tc.finding != "" && (len(v.Findings) == 0 || !strings.Contains(v.Findings[0], tc.finding))) {
			t.Errorf("%s: %s", tc.name, r.body)
		}
	}

	if r := f.do("GET", "/v1/proofs/inclusion?sequence=2&"+q(upKey), "auditor", nil); r.status != 200 || !strings.Contains(string(r.body), `"tree_size": 3`) {
		t.Errorf("inclusion proof against the witnessed checkpoint: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/v1/proofs/inclusion?sequence=2&"+q(downKey), "auditor", nil); r.status != 404 || r.err(t).Error.Field != "size" {
		t.Errorf("inclusion proof with a witness that never cosigned: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/v1/proofs/consistency?old=3&"+q(upKey), "auditor", nil); r.status != 200 {
		t.Errorf("consistency proof to the witnessed checkpoint: %d %s", r.status, r.body)
	}

	for _, tc := range []struct{ query, field string }{
		{q(upKey) + "&witnesses=0", "witnesses"},
		{q(upKey) + "&witnesses=2", "witnesses"},
		{"witnesses=1", "witnesses"},
		{q("nobody+00000000+AAAA"), "witness"},
		{q(upKey, upKey), "witness"},
	} {
		if r := f.do("GET", "/v1/verify?"+tc.query, "auditor", nil); r.status != 400 || r.err(t).Error.Field != tc.field {
			t.Errorf("%s: %d %s, want 400 on %s", tc.query, r.status, r.body, tc.field)
		}
	}

	m := string(f.do("GET", "/metrics", "auditor", nil).body)
	for _, want := range []string{
		`ledger_witness_submissions_total{outcome="cosigned",witness="` + up.Name() + `"} 1`,
		`ledger_witness_submissions_total{outcome="failed",witness="` + down.Name() + `"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
