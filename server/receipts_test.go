package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/proof"
	"github.com/complianceledger/ledger/server"
)

type answer struct {
	Sequence       uint64                `json:"sequence"`
	EventID        string                `json:"event_id"`
	Duplicate      bool                  `json:"duplicate"`
	Recorded       time.Time             `json:"recorded"`
	Receipt        *proof.SignedReceipt  `json:"receipt"`
	InclusionProof *proof.InclusionProof `json:"inclusion_proof"`
	Checkpoint     string                `json:"checkpoint"`
	ProofError     string                `json:"proof_error"`
}

func decodeAnswer(t *testing.T, r response) answer {
	t.Helper()
	var a answer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("%d %s: %v", r.status, r.body, err)
	}
	return a
}

// Every acknowledgment carries a receipt of exactly the event recorded, and a retry carries
// the same receipt, byte for byte; GET /v1/receipts gives it again.
func TestEveryAnswerCarriesItsReceiptAndARetryTheSameOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id, steps := newRequest("FR")
	s := steps[0]
	first := f.do("POST", "/v1/commands", string(s.Role), s.Body, "Idempotency-Key", s.Key)
	if first.status != http.StatusCreated {
		t.Fatalf("%d %s", first.status, first.body)
	}
	a := decodeAnswer(t, first)
	if a.Receipt == nil {
		t.Fatalf("no receipt: %s", first.body)
	}
	r, err := a.Receipt.Open(f.key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	recorded, data, err := f.store.ReadRecorded(t.Context(), a.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sequence != a.Sequence || r.EventID != a.EventID || !r.Recorded.Equal(recorded) || !a.Recorded.Equal(recorded) ||
		!bytes.Equal(r.LeafHash, proof.LeafHashV2(a.Sequence, recorded, data)) {
		t.Fatalf("receipt %+v does not name the stored event at %d (recorded %v)", r, a.Sequence, recorded)
	}
	retry := f.do("POST", "/v1/commands", string(s.Role), s.Body, "Idempotency-Key", s.Key)
	b := decodeAnswer(t, retry)
	if retry.status != http.StatusOK || !b.Duplicate || b.Receipt == nil || b.Receipt.Note != a.Receipt.Note {
		t.Fatalf("retry: %d %s; want the first receipt\n%s", retry.status, retry.body, a.Receipt.Note)
	}
	got := f.do("GET", "/v1/receipts/"+a.EventID+"?request="+id, "auditor", nil)
	var sr proof.SignedReceipt
	if err := json.Unmarshal(got.body, &sr); got.status != http.StatusOK || err != nil || sr.Note != a.Receipt.Note {
		t.Fatalf("GET receipt: %d %s", got.status, got.body)
	}
	if r := f.do("GET", "/v1/receipts/"+a.EventID+"?request="+id, "regulator", nil); r.status != http.StatusForbidden {
		t.Fatalf("a regulator got a request's receipt: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/v1/receipts/"+a.EventID, "auditor", nil); r.status != http.StatusBadRequest || r.err(t).Error.Field != "request" {
		t.Fatalf("without request: %d %s", r.status, r.body)
	}

	// Held against the log, the receipt is clean; with its time moved it is forged.
	line, _ := json.Marshal(a.Receipt)
	moved := strings.Replace(string(line), r.Recorded.Format(time.RFC3339Nano), r.Recorded.Add(time.Second).Format(time.RFC3339Nano), -1)
	f.do("POST", "/v1/checkpoints", "auditor", nil)
	v := f.do("POST", "/v1/verify/receipts", "regulator", []byte(string(line)+"\n"+moved+"\n"))
	var rep struct {
		Status string
		Clean  int
		Forged []proof.ForgedReceipt
	}
	if err := json.Unmarshal(v.body, &rep); v.status != http.StatusOK || err != nil || rep.Status != "forged" || rep.Clean != 1 || len(rep.Forged) != 1 || rep.Forged[0].Index != 1 {
		t.Fatalf("verify receipts: %d %s", v.status, v.body)
	}
}

// With wait=proof the answer comes once the one-second checkpoint covers the event, with
// the proof; with no checkpoint in time it is 202 and says the event is recorded.
func TestWaitForProof(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, func(c *server.Config) { c.CheckpointInterval = 100 * time.Millisecond })
	_, steps := newRequest("FR")
	s := steps[0]
	r := f.do("POST", "/v1/commands?wait=proof", string(s.Role), s.Body, "Idempotency-Key", s.Key)
	a := decodeAnswer(t, r)
	if r.status != http.StatusCreated || a.InclusionProof == nil || r.header.Get("Preference-Applied") != "wait=proof" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if _, err := a.InclusionProof.Verify([]byte(a.Checkpoint), f.key.Verifier); err != nil {
		t.Fatalf("the proof does not verify: %v", err)
	}
	if !bytes.Equal(a.InclusionProof.LeafHash(), a.Receipt.LeafHash) {
		t.Fatal("the proof's leaf is not the receipt's")
	}
	s = steps[1]
	r = f.do("POST", "/v1/commands", string(s.Role), s.Body, "Idempotency-Key", s.Key, "Prefer", "respond-async, wait=proof")
	if a := decodeAnswer(t, r); r.status != http.StatusCreated || a.InclusionProof == nil {
		t.Fatalf("Prefer: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/v1/commands?wait=soon", string(s.Role), s.Body); r.status != http.StatusBadRequest || r.err(t).Error.Field != "wait" {
		t.Fatalf("wait=soon: %d %s", r.status, r.body)
	}

	slow := newFixtureWith(t, func(c *server.Config) { c.ProofWait = 50 * time.Millisecond }) // no timed checkpoints
	_, steps = newRequest("FR")
	s = steps[0]
	before := slow.last()
	r = slow.do("POST", "/v1/commands?wait=proof", string(s.Role), s.Body, "Idempotency-Key", s.Key)
	a = decodeAnswer(t, r)
	if r.status != http.StatusAccepted || a.Receipt == nil || !strings.Contains(a.ProofError, "recorded at sequence") || slow.last() != before+1 {
		t.Fatalf("no checkpoint in time: %d %s", r.status, r.body)
	}
}
