package aggregates_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

// commandOf is an empty command of the given name.
func commandOf(t testing.TB, name string) aggregates.Command {
	t.Helper()
	c, err := aggregates.DecodeCommand([]byte(`{"command":"` + name + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEveryStringFieldOfEveryCommandHasALimit: a field added to a command without a line in
// events.Limits fails here, and so does a line no command uses.
func TestEveryStringFieldOfEveryCommandHasALimit(t *testing.T) {
	t.Parallel()
	used := map[string]bool{"Idempotency-Key": true} // the header, not a body field
	for _, name := range aggregates.CommandNames() {
		paths, types := events.StringFields(reflect.TypeOf(commandOf(t, name)))
		for i, path := range paths {
			_, ok := events.LimitOf(path)
			switch {
			case ok:
				used[path] = true
			case types[i] == reflect.TypeFor[string]():
				t.Errorf("%s: %s is a string without a limit in events.Limits", name, path)
			}
		}
	}
	for _, l := range events.Limits {
		if !used[l.Field] {
			t.Errorf("events.Limits bounds %s, which no command has", l.Field)
		}
	}
}

// TestHostileFieldsAreRefusedBeforeAnyRule: decoded as `ledger submit` and the HTTP API
// decode them, commands with over-long or control-character values are refused by
// Resolve or Validate with the field's path and the limit.
func TestHostileFieldsAreRefusedBeforeAnyRule(t *testing.T) {
	t.Parallel()
	const head = `"command_id":"c-1","request_id":"0193f3b4-5d6e-7c1a-9b2f-6c65646765f1","at":"2025-03-03T09:00:00Z"`
	receive := func(name, account string) string {
		return `{"command":"receive_request",` + head + `,"authority":{"name":` + name + `,"kind":"police","country":"FR"},` +
			`"instrument":"court_order","targets":[{"account":"ok","identifier_type":"username"},{"account":` + account + `,"identifier_type":"username"}],"data_sought":["subscriber"]}`
	}
	long := func(n int) string { return `"` + strings.Repeat("x", n) + `"` }
	tests := []struct {
		name, line, field, rule string
	}{
		{"a 100,000-character account", receive(`"Police"`, long(100000)), "targets[1].account", "at most 256 characters"},
		{"an account with a newline", receive(`"Police"`, `"tg:1\n"`), "targets[1].account", "no control characters (U+000A"},
		{"an account with a space", receive(`"Police"`, `"tg: 1"`), "targets[1].account", "no whitespace (U+0020"},
		{"an authority name with a NUL", receive(`"Pol\u0000ice"`, `"b"`), "authority.name", "no control characters (U+0000"},
		{"an authority name over 200", receive(long(201), `"b"`), "authority.name", "at most 200 characters"},
		{"a reference on two lines", strings.Replace(receive(`"Police"`, `"b"`), `"instrument"`, `"reference":"PN-1\nPN-2","instrument"`, 1), "reference", "no control characters"},
		{"a command id with a space", `{"command":"close_request","command_id":"c 1","request_id":"0193f3b4-5d6e-7c1a-9b2f-6c65646765f1","at":"2025-03-03T09:00:00Z"}`, "command_id", "may hold only ASCII letters"},
		{"a correlation id over 128", `{"command":"close_request",` + head + `,"correlation_id":` + long(129) + `}`, "correlation_id", "at most 128 characters"},
		{"a verifier with a tab", `{"command":"verify_requester",` + head + `,"method":"in_person","verifier":"vera\tv"}`, "verifier", "no control characters (U+0009"},
		{"grounds with a CR", `{"command":"record_decision",` + head + `,"targets":[{"account_ref":"acct_00000000000000000000000000000001","outcome":"reject","grounds":"a\r\nb"}]}`, "targets[0].grounds", "no control characters (U+000D"},
		{"a reason with a bidi override", `{"command":"close_request",` + head + `,"reason":"done \u202Eenod"}`, "reason", "no control characters (U+202E"},
		{"a note over 2000", `{"command":"give_effect",` + head + `,"note":` + long(2001) + `}`, "note", "at most 2000 characters"},
		{"details with an escape", `{"command":"refuse_order",` + head + `,"ground":"ne_bis_in_idem","details":"\u001b[31m"}`, "details", "no control characters (U+001B"},
		{"a DSA description on two lines", strings.Replace(strings.Replace(receive(`"Police"`, `"b"`), `"court_order"`, `"dsa_art9"`, 1), `"data_sought"`,
			`"dsa":{"category":"STATEMENT_CATEGORY_SCAMS_AND_FRAUD","keyword":"KEYWORD_OTHER","other_description":"a\nb","items":1},"data_sought"`, 1), "dsa.other_description", "no control characters"},
		{"a corrected field name over 64", `{"command":"correct_entry",` + head + `,"entry":"0193f3b4-5d6e-7c1a-9b2f-6c65646765f2","field":` + long(65) + `,"value":"\"x\"","reason":"typo"}`, "field", "at most 64 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := aggregates.DecodeCommand([]byte(tc.line))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			c.Header().Actor = legalActor
			if err = aggregates.Resolve(c, testPseudo); err == nil {
				err = aggregates.Validate(c)
			}
			var fe *events.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%v, want a FieldError", err)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Rule, tc.rule) {
				t.Errorf("%s: %s, want %s: …%s…", fe.Field, fe.Rule, tc.field, tc.rule)
			}
			if len(err.Error()) > 300 {
				t.Errorf("the error echoes the value: %d bytes", len(err.Error()))
			}
		})
	}
}

// TestCorrectedValuesKeepTheFieldsLimits: a correction cannot bring in what the field itself
// refuses.
func TestCorrectedValuesKeepTheFieldsLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, field, value, errField, rule string
	}{
		{"a name over 200", "authority.name", `"` + strings.Repeat("n", 201) + `"`, "value", "at most 200 characters"},
		{"a name with a newline", "authority.name", `"Police\nnationale"`, "value", "no control characters"},
		{"a DSA description with a newline", "dsa", `{"category":"STATEMENT_CATEGORY_SCAMS_AND_FRAUD","keyword":"KEYWORD_OTHER","other_description":"a\u0007","items":1}`, "value.other_description", "no control characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHistory(t, receive())
			c := correct(firstEntry)
			c.Field, c.Value = tc.field, json.RawMessage(tc.value)
			_, err := h.decide(c)
			var fe *events.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.errField || !strings.Contains(fe.Rule, tc.rule) {
				t.Fatalf("%v, want %s: …%s…", err, tc.errField, tc.rule)
			}
			c = correct(firstEntry)
			c.Field, c.Value = "authority.name", json.RawMessage(`"Police nationale"`)
			if _, err := h.decide(c); err != nil {
				t.Fatalf("a good correction refused: %v", err)
			}
		})
	}
}

// printable is an independent statement of what an accepted command's strings may hold:
// no character unicode calls a control but a newline, no bidi control, at most the largest
// limit.
func printable(t *testing.T, c aggregates.Command) {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if utf8.RuneCountInString(v) > 2000 {
				t.Fatalf("accepted a string of %d characters", utf8.RuneCountInString(v))
			}
			for _, r := range v {
				if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029') {
					t.Fatalf("accepted %U in %q", r, v)
				}
			}
		case []any:
			slices.Values(v)(func(e any) bool { walk(e); return true })
		case map[string]any:
			for k, e := range v {
				if k != "value" { // correct_entry's value is checked against its field
					walk(e)
				}
			}
		}
	}
	walk(v)
}
