package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/complianceledger/ledger/events"
)

// TestRulesHoldOverHTTP replays issue 10's bypasses with proper tokens: a command dated
// tomorrow, and a request corrected to emergency, decided without review and corrected back.
// Each refusal names the field or the rule and writes nothing.
func TestRulesHoldOverHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id, steps := newRequest("FR")

	tomorrow := fmt.Sprintf(`{"command":"acknowledge_receipt","request_id":%q,"at":%q}`, id, time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339))
	f.record(steps, 0, 1)
	before := f.last()
	r := f.do("POST", "/v1/commands", "intake", []byte(tomorrow))
	if e := r.err(t); r.status != http.StatusBadRequest || e.Error.Field != "at" {
		t.Fatalf("a command dated tomorrow: %d %s, want 400 on field at", r.status, r.body)
	}

	if f.last() != before {
		t.Fatal("a refused command was recorded")
	}
	f.record(steps, 2, 3) // verify
	entry := f.intakeID(id)
	correct := func(value string) []byte {
		return fmt.Appendf(nil, `{"command":"correct_entry","request_id":%q,"at":"2025-02-03T12:00:00Z","entry":%q,"field":"emergency","value":%s,"reason":"misfiled"}`, id, entry, value)
	}
	if r := f.do("POST", "/v1/commands", "legal", correct("true")); r.status != http.StatusCreated {
		t.Fatalf("correct to emergency: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/v1/commands", "legal", steps[4].Body); r.status != http.StatusCreated { // decision, unreviewed
		t.Fatalf("emergency decision: %d %s", r.status, r.body)
	}
	before = f.last()
	r = f.do("POST", "/v1/commands", "legal", correct("false"))
	if e := r.err(t); r.status != http.StatusConflict || e.Error.Code != "rule_violated" {
		t.Fatalf("correcting emergency back: %d %s, want 409 rule_violated", r.status, r.body)
	}
	if f.last() != before {
		t.Fatal("a refused command was recorded")
	}
}

// intakeID is the id of the request's RequestReceived, the entry a correction names.
func (f *fixture) intakeID(requestID string) string {
	f.t.Helper()
	recs, err := f.store.Load(context.Background(), events.AggregateRequest, requestID)
	if err != nil || len(recs) == 0 {
		f.t.Fatalf("load %s: %d events, %v", requestID, len(recs), err)
	}
	return recs[0].ID
}
