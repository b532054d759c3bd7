package server_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/complianceledger/ledger/events"
)

// with returns a JSON body with the value at a dotted path ("targets.0.account") set.
func with(t *testing.T, body []byte, path string, value any) string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	keys := strings.Split(path, ".")
	node := doc
	for i, k := range keys {
		last := i == len(keys)-1
		switch n := node.(type) {
		case map[string]any:
			if last {
				n[k] = value
			} else {
				node = n[k]
			}
		case []any:
			j, _ := strconv.Atoi(k)
			if last {
				n[j] = value
			} else {
				node = n[j]
			}
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHostileBodiesRecordNothing: whatever a body does to the decoder or the field limits,
// the answer is a 4xx whose error names the field and the rule where there is one, it echoes
// no megabyte back, and the stream's last sequence does not move.
func TestHostileBodiesRecordNothing(t *testing.T) {
	f := newFixture(t)
	id, steps := newRequest("FR")
	f.record(steps, 0, 1) // received: later commands reach their field checks
	var timeline []struct {
		EventID string `json:"event_id"`
	}
	if r := f.do("GET", "/v1/requests/"+id+"/timeline?format=json", "auditor", nil); json.Unmarshal(r.body, &timeline) != nil || len(timeline) != 1 {
		t.Fatalf("timeline: %d %s", r.status, r.body)
	}
	entry := timeline[0].EventID // what a correction names
	_, other := newRequest("FR")
	receive := other[0].Body // a new request's intake, not recorded
	on := func(command, fields string) string {
		return `{"command":"` + command + `","request_id":"` + id + `","at":"2025-02-03T12:00:00Z"` + fields + `}`
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	replace := func(old, new string) string { return strings.Replace(string(receive), old, new, 1) }
	tests := []struct {
		name, caller, body string
		header             []string
		status             int
		field, rule        string
	}{
		// Malformed JSON.
		{"cut short", "intake", `{"command":"receive_request",`, nil, 400, "", "malformed JSON"},
		{"cut inside a string", "intake", `{"command":"rec`, nil, 400, "command", "malformed JSON"},
		{"not JSON", "intake", `command=receive_request`, nil, 400, "", "malformed JSON"},
		{"a byte order mark", "intake", "\xef\xbb\xbf" + string(receive), nil, 400, "", "malformed JSON"},
		{"single quotes", "intake", `{'command':'receive_request'}`, nil, 400, "", "malformed JSON"},
		{"a trailing comma", "intake", replace(`"instrument"`, `"x":1,}`), nil, 400, "", "malformed JSON"},
		{"null", "intake", `null`, nil, 400, "command", "is not one of"},
		{"an array", "intake", `[` + string(receive) + `]`, nil, 400, "", "JSON object"},
		{"a string", "intake", `"receive_request"`, nil, 400, "", "JSON object"},
		// Wrong types.
		{"authority as a string", "intake", with(t, receive, "authority", "Police"), nil, 400, "authority", "must be a JSON object"},
		{"targets as an object", "intake", with(t, receive, "targets", map[string]any{"account": "a"}), nil, 400, "targets", "must be a JSON array"},
		{"a name as a number", "intake", with(t, receive, "authority.name", 42), nil, 400, "authority.name", "must be a JSON string"},
		{"a flag as a string", "intake", with(t, receive, "emergency", "yes"), nil, 400, "emergency", "true or false"},
		{"a huge number for a flag", "intake", on("acknowledge_receipt", `,"automated":1e400`), nil, 400, "automated", "true or false"},
		{"a null authority", "intake", with(t, receive, "authority", nil), nil, 400, "authority.name", "is required"},
		// Duplicate keys: encoding/json would keep the last, so a reviewer could read the first.
		{"the command twice", "intake", `{"command":"acknowledge_receipt","command":"receive_request"}`, nil, 400, "command", "appears more than once"},
		{"the instrument twice", "intake", replace(`"instrument":"court_order"`, `"instrument":"court_order","instrument":"nsl"`), nil, 400, "instrument", "appears more than once"},
		{"a nested key twice", "intake", replace(`"name":"Police"`, `"name":"Police","name":"Gendarmerie"`), nil, 400, "authority.name", "appears more than once"},
		{"a key twice in a list", "intake", strings.Replace(string(receive), `"account":"`, `"account":"x","account":"`, 1), nil, 400, "targets[0].account", "appears more than once"},
		{"a key twice inside a corrected value", "legal", on("correct_entry", `,"entry":"`+entry+`","field":"dsa","value":{"items":1,"items":2},"reason":"r"`), nil, 400, "value.items", "appears more than once"},
		// Deep nesting.
		{"deep nesting in an unknown field", "intake", on("acknowledge_receipt", `,"x":`+deep(3000)), nil, 400, "x", "is not a known field"},
		{"deep nesting in a list", "intake", with(t, receive, "data_sought", json.RawMessage(deep(3000))), nil, 400, "data_sought[0]", "must be a JSON string"},
		{"deep nesting as a corrected value", "legal", on("correct_entry", `,"entry":"`+entry+`","field":"authority.country","value":`+deep(3000)+`,"reason":"r"`), nil, 400, "value", "must be a JSON string"},
		// Invalid UTF-8 and surrogates.
		{"invalid UTF-8 in a value", "intake", replace(`"name":"Police"`, "\"name\":\"Pol\xffice\""), nil, 400, "authority.name", "invalid UTF-8"},
		{"invalid UTF-8 in a key", "intake", replace(`"instrument"`, "\"instr\xc3ument\":1,\"instrument\""), nil, 400, "", "invalid UTF-8"},
		{"an overlong encoding", "intake", replace(`"name":"Police"`, "\"name\":\"\xc0\xafPolice\""), nil, 400, "authority.name", "invalid UTF-8"},
		{"a lone surrogate", "intake", replace(`"name":"Police"`, `"name":"\ud800Police"`), nil, 400, "authority.name", "surrogate"},
		// Control characters.
		{"a raw newline in a string", "intake", replace(`"name":"Police"`, "\"name\":\"Pol\nice\""), nil, 400, "authority.name", "malformed JSON"},
		{"a NUL in a name", "intake", replace(`"name":"Police"`, `"name":"Pol\u0000ice"`), nil, 400, "authority.name", "no control characters (U+0000"},
		{"a newline in an account", "intake", with(t, receive, "targets.0.account", "tg:1\nadmin"), nil, 400, "targets[0].account", "no control characters (U+000A"},
		{"a space in an account", "intake", with(t, receive, "targets.0.account", "tg: 1"), nil, 400, "targets[0].account", "no whitespace (U+0020"},
		{"an escape sequence in a reference", "intake", with(t, receive, "reference", "PN-1\x1b[2J"), nil, 400, "reference", "no control characters (U+001B"},
		{"a tab in a verifier", "intake", on("verify_requester", `,"method":"in_person","verifier":"vera\tv"`), nil, 400, "verifier", "no control characters (U+0009"},
		{"a bidi override in a reason", "intake", on("withdraw_request", `,"reason":"done \u202eenod"`), nil, 400, "reason", "no control characters (U+202E"},
		{"a CR in grounds", "legal", on("complete_legal_review", `,"outcome":"valid","grounds":"a\r\nb"`), nil, 400, "grounds", "no control characters (U+000D"},
		{"a space in a command id", "intake", on("acknowledge_receipt", `,"command_id":"a b"`), nil, 400, "command_id", "may hold only ASCII letters"},
		{"a newline in the Idempotency-Key", "intake", on("acknowledge_receipt", ``), []string{"Idempotency-Key", "a\u2028b"}, 400, "Idempotency-Key", "may hold only ASCII letters"},
		// Over-long fields.
		{"an account of 257", "intake", with(t, receive, "targets.0.account", long(257)), nil, 400, "targets[0].account", "at most 256 characters, not 257"},
		{"an authority name of 201", "intake", with(t, receive, "authority.name", long(201)), nil, 400, "authority.name", "at most 200 characters"},
		{"a reference of 101", "intake", with(t, receive, "reference", long(101)), nil, 400, "reference", "at most 100 characters"},
		{"grounds of 2001", "legal", on("complete_legal_review", `,"outcome":"valid","grounds":"`+long(2001)+`"`), nil, 400, "grounds", "at most 2000 characters"},
		{"a command id of 129", "intake", on("acknowledge_receipt", `,"command_id":"`+long(129)+`"`), nil, 400, "command_id", "at most 128 characters"},
		{"an Idempotency-Key of 129", "intake", on("acknowledge_receipt", ``), []string{"Idempotency-Key", long(129)}, 400, "Idempotency-Key", "at most 128 characters"},
		{"a corrected name of 201", "legal", on("correct_entry", `,"entry":"`+entry+`","field":"authority.name","value":"`+long(201)+`","reason":"r"`), nil, 400, "value", "at most 200 characters"},
		{"an unknown instrument of 5000", "intake", with(t, receive, "instrument", long(5000)), nil, 400, "instrument", "is not one of"},
		// Oversize bodies (the fixture allows 8 KiB).
		{"an account of 100,000", "intake", with(t, receive, "targets.0.account", long(100000)), nil, 413, "", "exceeds 8192 bytes"},
		{"nesting past 10,000", "intake", on("acknowledge_receipt", `,"x":`+deep(10001)), nil, 413, "", "exceeds 8192 bytes"},
		// Unknown fields, in any case.
		{"an unknown field", "intake", with(t, receive, "priority", "high"), nil, 400, "priority", "is not a known field"},
		{"an unknown nested field", "intake", with(t, receive, "authority.colour", "red"), nil, 400, "authority.colour", "is not a known field"},
		{"a field in another case", "intake", replace(`"instrument"`, `"Instrument"`), nil, 400, "Instrument", "is not a known field"},
		{"an unknown field of 5000 characters", "intake", with(t, receive, long(5000), 1), nil, 400, events.Quote(long(5000)), "is not a known field"},
		{"the actor", "intake", with(t, receive, "actor", "someone.else"), nil, 400, "actor", "is not a known field"},
		// Data after the object.
		{"a second object", "intake", string(receive) + string(receive), nil, 400, "", "trailing data"},
		{"trailing garbage", "intake", string(receive) + "x", nil, 400, "", "trailing data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.last()
			r := f.do("POST", "/v1/commands", tc.caller, []byte(tc.body), tc.header...)
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			e := r.err(t)
			if e.Error.Field != tc.field || !strings.Contains(e.Error.Rule, tc.rule) {
				t.Errorf("error field %q rule %q, want field %q and a rule with %q", e.Error.Field, e.Error.Rule, tc.field, tc.rule)
			}
			if len(r.body) > 1024 {
				t.Errorf("the error is %d bytes: it echoes the input", len(r.body))
			}
			if after := f.last(); after != before {
				t.Fatalf("refused command wrote: last sequence %d -> %d", before, after)
			}
		})
	}
	// The same bodies within bounds are recorded: the refusals above are the limits, not
	// the shapes.
	for _, ok := range []struct{ caller, body string }{
		{"intake", with(t, receive, "targets.0.account", "@ünï.cødé+"+long(246))},
		{"legal", on("complete_legal_review", `,"outcome":"valid","grounds":"`+long(1998)+`\n\u00e9"`)},
	} {
		if r := f.do("POST", "/v1/commands", ok.caller, []byte(ok.body)); r.status != 201 {
			t.Errorf("%.60s…: %d %s, want 201", ok.body, r.status, r.body)
		}
	}
}
