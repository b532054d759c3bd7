package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
)

// TestEveryRouteAdmitsExactlyItsRoles calls every route as every role, with no token and
// with a forged one: allowed callers get past authorisation, the others get 401 or 403 with
// an error body, and a refused call writes nothing.
func TestEveryRouteAdmitsExactlyItsRoles(t *testing.T) {
	f := newFixture(t)
	id, steps := newRequest("FR")
	f.record(steps, 0, 1)
	// Sequence 2 is a published report and a checkpoint covers both events, so that the
	// proof routes answer as they would in use (a regulator's inclusion proof is of a
	// published report's event).
	if r := f.do("POST", "/v1/reports/requests/publish?period=2025", "legal", nil); r.status != http.StatusCreated {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/v1/checkpoints", "auditor", nil); r.status != http.StatusCreated {
		t.Fatalf("checkpoint: %d %s", r.status, r.body)
	}
	paths := map[string]string{
		"/v1/reports/{view}":             "/v1/reports/requests?period=2025",
		"/v1/reports/{view}/publish":     "/v1/reports/requests/publish?period=2025",
		"/v1/requests/{id}/timeline":     "/v1/requests/" + id + "/timeline",
		"/v1/published/{id}":             "/v1/published/" + id, // no such report: 404 when allowed
		"/v1/published/{id}/restatement": "/v1/published/" + id + "/restatement",
		"/v1/published/{id}/bundle":      "/v1/published/" + id + "/bundle",
		"/v1/proofs/inclusion":           "/v1/proofs/inclusion?sequence=2&size=2",
		"/v1/proofs/consistency":         "/v1/proofs/consistency?old=2",
		"/tlog/tile/{path...}":           "/tlog/tile/0/000.p/2",
	}
	forged := "ldg_0000000000000000_" + strings.Repeat("A", 43)
	for _, rt := range server.Routes() {
		path := rt.Path
		if p, ok := paths[path]; ok {
			path = p
		}
		callers := []string{"", forged}
		for _, r := range auth.Roles {
			callers = append(callers, string(r))
		}
		for _, caller := range callers {
			t.Run(fmt.Sprintf("%s %s as %q", rt.Method, rt.Path, caller), func(t *testing.T) {
				var body []byte
				if rt.Path == "/v1/commands" { // a command of the caller's role, or of intake
					i, ok := map[string]int{"legal": 3, "disclosure": 7}[caller]
					if !ok {
						i = 1
					}
					body = steps[i].Body
					if caller == string(auth.TrustSafety) {
						body = fmt.Appendf(nil, `{"command":"suspect_fraud","request_id":"%s","at":"2025-02-03T10:00:00Z","reason":"look-alike domain"}`, id)
					}
				}
				if rt.Path == "/v1/erasures" {
					body = fmt.Appendf(nil, `{"scope":"request","request_id":"%s"}`, id)
				}
				before := f.last()
				r := f.do(rt.Method, path, caller, body)
				allowed := len(rt.Roles) == 0 || slices.Contains(rt.Roles, auth.Role(caller))
				switch {
				case allowed && (r.status == 401 || r.status == 403):
					t.Fatalf("allowed caller refused: %d %s", r.status, r.body)
				case allowed && r.status >= 500:
					t.Fatalf("allowed caller: %d %s", r.status, r.body)
				case !allowed && (caller == "" || caller == forged) && r.status != http.StatusUnauthorized:
					t.Fatalf("no valid token: %d %s, want 401", r.status, r.body)
				case !allowed && caller != "" && caller != forged && r.status != http.StatusForbidden:
					t.Fatalf("role %s: %d %s, want 403", caller, r.status, r.body)
				}
				if !allowed {
					r.err(t)
					if after := f.last(); after != before {
						t.Fatalf("refused call wrote: last sequence %d -> %d", before, after)
					}
				}
			})
		}
	}
}

// TestEveryCommandIsRecordedByOneRole sends every command as every officer role: only the
// role that owns it gets past authorisation; the others get 403 and write nothing.
func TestEveryCommandIsRecordedByOneRole(t *testing.T) {
	f := newFixture(t)
	id, _ := newRequest("FR")
	bodies := map[string][]byte{}
	for _, s := range commandSamples(id) {
		bodies[s.name] = s.body
	}
	for _, name := range aggregates.CommandNames() {
		owner := server.CommandRole(name)
		if owner == "" {
			t.Errorf("command %s has no role", name)
			continue
		}
		body, ok := bodies[name]
		if !ok {
			t.Errorf("no sample body for %s", name)
			continue
		}
		for _, role := range auth.Roles {
			t.Run(name+" as "+string(role), func(t *testing.T) {
				before := f.last()
				r := f.do("POST", "/v1/commands", string(role), body)
				if role == owner {
					if r.status == 401 || r.status == 403 || r.status >= 500 {
						t.Fatalf("owner refused: %d %s", r.status, r.body)
					}
					return
				}
				if r.status != http.StatusForbidden {
					t.Fatalf("%d %s, want 403", r.status, r.body)
				}
				if after := f.last(); after != before {
					t.Fatalf("refused command wrote: last sequence %d -> %d", before, after)
				}
			})
		}
	}
}

type sample struct {
	name string
	body []byte
}

// commandSamples are valid bodies of every command for request id.
func commandSamples(id string) []sample {
	_, steps := newRequest("FR")
	var out []sample
	for _, s := range steps {
		var m map[string]any
		json.Unmarshal(s.Body, &m)
		m["request_id"] = id
		b, _ := json.Marshal(m)
		out = append(out, sample{s.Command, b})
	}
	extra := map[string]string{
		"fail_verification": `{"command":"fail_verification","request_id":"%s","at":"2025-02-03T10:00:00Z","method":"law_enforcement_portal","verifier":"vera","reason":"forged"}`,
		"withdraw_request":  `{"command":"withdraw_request","request_id":"%s","at":"2025-02-03T10:00:00Z"}`,
		"correct_entry":     `{"command":"correct_entry","request_id":"%s","at":"2025-02-03T10:00:00Z","entry":"0193f3b4-5d6e-7c1a-9b2f-6c65646765f1","field":"reference","value":"\"X\"","reason":"typo"}`,
		// The sample request is no order: the owner gets past authorisation to a 409.
		"give_effect":                `{"command":"give_effect","request_id":"%s","at":"2025-02-03T10:00:00Z","note":"content removed"}`,
		"extend_preservation":        `{"command":"extend_preservation","request_id":"%s","at":"2025-02-03T10:00:00Z","extension":"extended_30_days"}`,
		"refuse_order":               `{"command":"refuse_order","request_id":"%s","at":"2025-02-03T10:00:00Z","ground":"ne_bis_in_idem","details":"tried in IE"}`,
		"notify_enforcing_authority": `{"command":"notify_enforcing_authority","request_id":"%s","at":"2025-02-03T10:00:00Z","state":"IE"}`,
	}
	for name, body := range extra {
		out = append(out, sample{name, fmt.Appendf(nil, body, id)})
	}
	// The registry's commands name an authority, registered or not: the owner gets past
	// authorisation to a 409 (or records a new authority).
	const authority = `"authority_id":"0193f3b4-5d6e-7c1a-9b2f-6c65646765a1","at":"2025-02-03T10:00:00Z"`
	for name, body := range map[string]string{
		"register_authority":   `{"command":"register_authority",` + authority + `,"name":"Police nationale","kind":"police","country":"FR"}`,
		"register_channel":     `{"command":"register_channel",` + authority + `,"channel":"mail","kind":"email_domain","address":"interieur.gouv.fr","sourced_via":"directory","sourced_at":"2025-01-01T00:00:00Z"}`,
		"set_authority_status": `{"command":"set_authority_status",` + authority + `,"status":"suspended","reason":"accounts taken over"}`,
		"set_channel_status":   `{"command":"set_channel_status",` + authority + `,"channel":"mail","status":"compromised","from":"2025-01-15T00:00:00Z","reason":"hijacked"}`,
		"suspect_fraud":        fmt.Sprintf(`{"command":"suspect_fraud","request_id":"%s","at":"2025-02-03T10:00:00Z","reason":"look-alike domain"}`, id),
		"confirm_fraud":        fmt.Sprintf(`{"command":"confirm_fraud","request_id":"%s","at":"2025-02-03T10:00:00Z","reason":"denied"}`, id),
		"notify_breach":        fmt.Sprintf(`{"command":"notify_breach","request_id":"%s","at":"2025-02-03T10:00:00Z","supervisor":"CNIL"}`, id),
	} {
		out = append(out, sample{name, []byte(body)})
	}
	return out
}

// TestRevokedTokenIsRefusedWithinASecond: `ledger token revoke` in another process reaches a
// running server through the token file (it checks the file every second; the test allows
// a loaded machine more).
func TestRevokedTokenIsRefusedWithinASecond(t *testing.T) {
	f := newFixture(t)
	other, err := auth.Open(filepath.Join(f.dir, auth.FileName))
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := other.Create("late", auth.Auditor, nil)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for f.do("GET", "/v1/whoami", token, nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("a token created while the server runs is not accepted")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := other.Revoke("late"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		r := f.do("GET", "/v1/whoami", token, nil)
		if r.status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked token still accepted: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
