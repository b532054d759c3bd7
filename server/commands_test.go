package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/server"
)

// TestBadInputIsRefusedWithFieldAndRule: each bad command gets a 4xx whose error names the
// field and the rule, and nothing is appended.
func TestBadInputIsRefusedWithFieldAndRule(t *testing.T) {
	f := newFixture(t)
	id, steps := newRequest("FR")
	f.record(steps, 0, 1)
	receive := string(steps[0].Body)
	_, other := newRequest("FR")
	tests := []struct {
		name   string
		caller string
		body   string
		header []string
		status int
		code   string
		field  string
	}{
		{"malformed JSON", "intake", `{"command":"acknowledge_receipt",`, nil, 400, "invalid_field", ""},
		{"not an object", "intake", `[1,2]`, nil, 400, "invalid_field", ""},
		{"empty body", "intake", ``, nil, 400, "invalid_field", ""},
		{"unknown command", "intake", `{"command":"delete_everything"}`, nil, 400, "invalid_field", "command"},
		{"unknown field", "intake", `{"command":"acknowledge_receipt","request_id":"` + id + `","colour":"red"}`, nil, 400, "invalid_field", "colour"},
		{"actor in the body", "intake", `{"command":"acknowledge_receipt","request_id":"` + id + `","actor":"someone.else"}`, nil, 400, "invalid_field", "actor"},
		{"wrong type", "intake", `{"command":"acknowledge_receipt","request_id":"` + id + `","automated":"yes"}`, nil, 400, "invalid_field", "automated"},
		{"bad time", "intake", `{"command":"acknowledge_receipt","request_id":"` + id + `","at":"yesterday"}`, nil, 400, "invalid_field", "at"},
		{"duplicate key", "intake", `{"command":"acknowledge_receipt","command":"acknowledge_receipt"}`, nil, 400, "invalid_field", "command"},
		{"trailing data", "intake", `{"command":"acknowledge_receipt","request_id":"` + id + `"} {}`, nil, 400, "invalid_field", ""},
		{"unknown country", "intake", strings.Replace(string(other[0].Body), `"FR"`, `"XX"`, 1), nil, 400, "invalid_field", "authority.country"},
		{"lower-case country", "intake", strings.Replace(string(other[0].Body), `"FR"`, `"fr"`, 1), nil, 400, "invalid_field", "authority.country"},
		{"unknown instrument", "intake", strings.Replace(string(other[0].Body), `"court_order"`, `"letter"`, 1), nil, 400, "invalid_field", "instrument"},
		{"bad request id", "intake", `{"command":"acknowledge_receipt","request_id":"42"}`, nil, 400, "invalid_field", "request_id"},
		{"oversize body", "intake", `{"command":"acknowledge_receipt","reference":"` + strings.Repeat("x", 9000) + `"}`, nil, 413, "too_large", ""},
		{"key differs from command_id", "intake", `{"command":"acknowledge_receipt","request_id":"` + id + `","command_id":"a"}`, []string{"Idempotency-Key", "b"}, 400, "invalid_field", "command_id"},
		{"bad idempotency key", "intake", `{"command":"acknowledge_receipt","request_id":"` + id + `"}`, []string{"Idempotency-Key", "a b/c"}, 400, "invalid_field", "Idempotency-Key"},
		{"invalid transition", "disclosure", string(steps[5].Body), nil, 409, "rule_violated", "command"},
		{"decision before review", "legal", string(steps[4].Body), nil, 409, "rule_violated", "command"},
		{"received twice", "intake", receive, []string{"Idempotency-Key", "another-key"}, 409, "rule_violated", "command"},
		{"no such request", "intake", string(other[1].Body), nil, 404, "not_found", "request_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.last()
			r := f.do("POST", "/v1/commands", tc.caller, []byte(tc.body), tc.header...)
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			e := r.err(t)
			if e.Error.Code != tc.code || e.Error.Field != tc.field || e.Error.Rule == "" {
				t.Errorf("error %+v, want code %s field %q and a rule", e.Error, tc.code, tc.field)
			}
			if after := f.last(); after != before {
				t.Fatalf("refused command wrote: last sequence %d -> %d", before, after)
			}
		})
	}
}

// TestIdempotencyKeyRecordsOnce: a command retried with its key is recorded once, even a
// receive_request that named no request id.
func TestIdempotencyKeyRecordsOnce(t *testing.T) {
	f := newFixture(t)
	_, steps := newRequest("FR")
	var m map[string]any
	json.Unmarshal(steps[0].Body, &m)
	delete(m, "request_id")
	body, _ := json.Marshal(m)
	var first, again struct {
		RequestID string `json:"request_id"`
		Sequence  uint64
		Duplicate bool
		Actor     string
	}
	r := f.do("POST", "/v1/commands", "intake", body, "Idempotency-Key", "intake-2025-0001")
	if r.status != http.StatusCreated {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	json.Unmarshal(r.body, &first)
	r = f.do("POST", "/v1/commands", "intake", body, "Idempotency-Key", "intake-2025-0001")
	if r.status != http.StatusOK {
		t.Fatalf("retry: %d %s, want 200", r.status, r.body)
	}
	json.Unmarshal(r.body, &again)
	if !again.Duplicate || again.RequestID != first.RequestID || again.Sequence != first.Sequence {
		t.Errorf("retry %+v, first %+v: want the same request and sequence, marked duplicate", again, first)
	}
	if first.Actor != "intake" {
		t.Errorf("actor %q, want the token's name", first.Actor)
	}
	if got := f.last(); got != 1 {
		t.Errorf("stream holds %d events, want 1", got)
	}
}

// TestLifecycleOverHTTP records a whole request, each step by its role, and reads its
// timeline: the actor of each event is the caller that sent it.
func TestLifecycleOverHTTP(t *testing.T) {
	f := newFixture(t)
	id, steps := newRequest("FR")
	f.record(steps, 0, len(steps))
	r := f.do("GET", "/v1/requests/"+id+"/timeline?format=json", "auditor", nil)
	if r.status != 200 {
		t.Fatalf("timeline: %d %s", r.status, r.body)
	}
	var rows []struct {
		Event, Actor string
	}
	if err := json.Unmarshal(r.body, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(steps) {
		t.Fatalf("timeline has %d events, want %d", len(rows), len(steps))
	}
	for i, row := range rows {
		if want := string(steps[i].Role); row.Actor != want {
			t.Errorf("event %d %s: actor %q, want %q", i, row.Event, row.Actor, want)
		}
	}
	r = f.do("GET", "/v1/requests/"+id+"/timeline?format=csv&as_of=2", "legal", nil)
	if lines := bytes.Count(r.body, []byte("\n")); r.status != 200 || lines != 3 {
		t.Errorf("timeline as of 2: %d, %d lines\n%s", r.status, lines, r.body)
	}
	r = f.do("GET", "/v1/workload?format=json", "intake", nil)
	if r.status != 200 || string(bytes.TrimSpace(r.body)) != "[]" {
		t.Errorf("workload after closing: %d %s, want none open", r.status, r.body)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	id, steps := newRequest("FR")
	for _, s := range commandSamples(id) {
		f.Add(s.body, "")
	}
	f.Add(steps[0].Body, steps[0].Key)
	f.Add([]byte(`{"command":"acknowledge_receipt","command_id":"a"}`), "b")
	f.Add([]byte(`{"command":"x"`), "")
	// Hostile bodies: repeated keys, deep nesting, invalid UTF-8, controls, long values.
	f.Add([]byte(`{"command":"close_request","command":"withdraw_request"}`), "")
	f.Add([]byte(`{"command":"close_request","reason":`+strings.Repeat("[", 300)+`}`), "")
	f.Add([]byte("{\"command\":\"close_request\",\"reason\":\"\xff\\u0000\\u202e\"}"), "k\n")
	f.Add([]byte(`{"command":"close_request","reason":"`+strings.Repeat("é", 3000)+`"}`), strings.Repeat("k", 200))
	f.Add([]byte(`{"command":"close_request","`+strings.Repeat("n", 3000)+`\n":1}`), "")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		c, err := server.DecodeCommand(body, key)
		if err != nil {
			if c != nil {
				t.Fatalf("a command and an error: %v", err)
			}
			if msg := err.Error(); msg == "" || len(msg) > 1024 {
				t.Fatalf("error of %d bytes: %.200s", len(msg), msg)
			}
			return
		}
		if key != "" && (len(key) > 128 || strings.Trim(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != "") {
			t.Fatalf("key %q taken", key)
		}
		if c.Header().Command == "" && len(bytes.TrimSpace(body)) == 0 {
			t.Fatal("empty body decoded")
		}
		if key != "" && c.Header().CommandID != key {
			t.Fatalf("command id %q, key %q", c.Header().CommandID, key)
		}
		if c.Header().Actor != "" {
			t.Fatalf("actor %q set from the body", c.Header().Actor)
		}
	})
}
