// Package loadtest drives a running ledger's HTTP API with whole request lifecycles, each
// command sent by the role that records it, and measures what it acknowledged.
package loadtest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
)

// Step is one command of a lifecycle: who sends it and its JSON body.
type Step struct {
	Role    auth.Role
	Command string
	Key     string // Idempotency-Key
	Body    []byte
}

// Lifecycle is a request's whole life as the API sees it: received, acknowledged and
// verified by intake, reviewed and decided by legal, disclosed and its user notified by
// disclosure, closed by legal. Step n happens n hours after delivery at start.
func Lifecycle(requestID, country string, start time.Time) []Step {
	account := "acct:" + requestID[len(requestID)-12:]
	type obj = map[string]any
	steps := []obj{
		{"command": "receive_request", "authority": obj{"name": "Police", "kind": "police", "country": country},
			"instrument": "court_order", "targets": []obj{{"account": account, "identifier_type": "username"}},
			"data_sought": []string{"subscriber", "ip_address"}, "due_at": start.Add(240 * time.Hour)},
		{"command": "acknowledge_receipt", "automated": true},
		{"command": "verify_requester", "method": "law_enforcement_portal", "verifier": "vera"},
		{"command": "complete_legal_review", "outcome": "valid"},
		{"command": "record_decision", "targets": []obj{{"account": account, "outcome": "produce", "approved": []string{"ip_address"}}}},
		{"command": "disclose_data", "accounts": []obj{{"account": account, "categories": []string{"ip_address"}}},
			"channel": "law_enforcement_portal", "package_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		{"command": "decide_user_notification", "decision": "notify"},
		{"command": "notify_user", "accounts": []obj{{"account": account}}},
		{"command": "close_request", "reason": "done"},
	}
	out := make([]Step, len(steps))
	for i, fields := range steps {
		fields["request_id"] = requestID
		fields["at"] = start.Add(time.Duration(i) * time.Hour).UTC().Format(time.RFC3339)
		body, err := json.Marshal(fields)
		if err != nil {
			panic(err) // static shapes: cannot fail
		}
		command := fields["command"].(string)
		out[i] = Step{Role: server.CommandRole(command), Command: command, Key: fmt.Sprintf("%s-%d", requestID, i), Body: body}
	}
	return out
}
