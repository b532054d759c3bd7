package aggregates_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

// commandLines holds one valid JSON line per command, as the CLI and HTTP layers receive
// them: raw account ids, no actor (the authenticated caller is never read from the body).
var commandLines = []struct {
	name string
	line string
	typ  aggregates.Command
}{
	{"receive_request", `{"command":"receive_request","command_id":"c-1","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-03-03T09:00:00Z",` +
		`"authority":{"name":"Police nationale","kind":"police","country":"FR"},"instrument":"court_order","reference":"PN-42",` +
		`"targets":[{"account":"platform-user-1001","identifier_type":"phone"},{"account":"platform-user-1002","identifier_type":"username"}],` +
		`"data_sought":["subscriber","ip_address"],"due_at":"2025-03-13T09:00:00Z"}`, &aggregates.ReceiveRequest{}},
	{"verify_requester", `{"command":"verify_requester","command_id":"c-2","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-03-03T09:10:00Z","method":"callback_known_number","verifier":"vera"}`, &aggregates.VerifyRequester{}},
	{"fail_verification", `{"command":"fail_verification","command_id":"c-2f","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-03-03T09:10:00Z","method":"signed_email","verifier":"vera","reason":"forged signature"}`, &aggregates.FailVerification{}},
	{"acknowledge_receipt", `{"command":"acknowledge_receipt","command_id":"c-3","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-03-03T09:11:00Z","automated":true}`, &aggregates.AcknowledgeReceipt{}},
	{"complete_legal_review", `{"command":"complete_legal_review","command_id":"c-4","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-03-04T10:00:00+01:00","outcome":"valid","grounds":"competent court"}`, &aggregates.CompleteLegalReview{}},
	{"record_decision", `{"command":"record_decision","command_id":"c-5","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-03-04T11:00:00Z",` +
		`"targets":[{"account":"platform-user-1001","outcome":"produce","approved":["subscriber"]},{"account":"platform-user-1002","outcome":"reject","grounds":"overbroad"}]}`, &aggregates.RecordDecision{}},
	{"disclose_data", `{"command":"disclose_data","command_id":"c-6","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-03-05T08:00:00Z",` +
		`"accounts":[{"account":"platform-user-1001","categories":["subscriber"]}],"channel":"law_enforcement_portal","package_sha256":"` + packageHash + `"}`, &aggregates.DiscloseData{}},
	{"decide_user_notification", `{"command":"decide_user_notification","command_id":"c-7","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-03-05T09:00:00Z","decision":"delay","until":"2025-06-05T09:00:00Z","grounds":"ongoing investigation"}`, &aggregates.DecideUserNotification{}},
	{"notify_user", `{"command":"notify_user","command_id":"c-8","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-06-05T09:00:00Z","accounts":[{"account":"platform-user-1001"}]}`, &aggregates.NotifyUser{}},
	{"withdraw_request", `{"command":"withdraw_request","command_id":"c-9w","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-06-05T09:30:00Z","reason":"case dropped"}`, &aggregates.WithdrawRequest{}},
	{"close_request", `{"command":"close_request","command_id":"c-9","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-06-05T10:00:00Z","reason":"done"}`, &aggregates.CloseRequest{}},
	{"correct_entry", `{"command":"correct_entry","command_id":"c-10","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-06-06T10:00:00Z",` +
		`"entry":"0193f6a4-7c1e-7000-8000-0000000000aa","field":"authority.country","value":"BE","reason":"typo at intake"}`, &aggregates.CorrectEntry{}},
	{"give_effect", `{"command":"give_effect","command_id":"c-11","request_id":"0193f6a4-7c1e-7000-8000-000000000002","at":"2025-03-04T10:00:00Z","note":"content removed"}`, &aggregates.GiveEffect{}},
	{"extend_preservation", `{"command":"extend_preservation","command_id":"c-14","request_id":"0193f6a4-7c1e-7000-8000-000000000002","at":"2025-03-04T10:00:00Z","extension":"extended_30_days"}`, &aggregates.ExtendPreservation{}},
	{"refuse_order", `{"command":"refuse_order","command_id":"c-12","request_id":"0193f6a4-7c1e-7000-8000-000000000002","at":"2025-03-04T10:00:00Z","ground":"ne_bis_in_idem","details":"tried in IE"}`, &aggregates.RefuseOrder{}},
	{"notify_enforcing_authority", `{"command":"notify_enforcing_authority","command_id":"c-13","request_id":"0193f6a4-7c1e-7000-8000-000000000002","at":"2025-03-04T10:00:00Z","state":"IE"}`, &aggregates.NotifyEnforcingAuthority{}},
	{"suspect_fraud", `{"command":"suspect_fraud","command_id":"c-15","request_id":"0193f6a4-7c1e-7000-8000-000000000002","at":"2025-03-04T10:00:00Z","reason":"look-alike domain"}`, &aggregates.SuspectFraud{}},
	{"confirm_fraud", `{"command":"confirm_fraud","command_id":"c-16","request_id":"0193f6a4-7c1e-7000-8000-000000000002","at":"2025-03-04T10:00:00Z","reason":"denied by the police"}`, &aggregates.ConfirmFraud{}},
	{"notify_breach", `{"command":"notify_breach","command_id":"c-17","request_id":"0193f6a4-7c1e-7000-8000-000000000002","at":"2025-03-04T10:00:00Z","supervisor":"CNIL","reference":"CNIL-17"}`, &aggregates.NotifyBreach{}},
	{"register_authority", `{"command":"register_authority","command_id":"c-18","authority_id":"0193f6a4-7c1e-7000-8000-0000000000a1","at":"2025-03-04T10:00:00Z","name":"Police nationale","kind":"police","country":"FR","jurisdiction":"Paris"}`, &aggregates.RegisterAuthority{}},
	{"register_channel", `{"command":"register_channel","command_id":"c-19","authority_id":"0193f6a4-7c1e-7000-8000-0000000000a1","at":"2025-03-04T10:00:00Z","channel":"switchboard","kind":"callback_number","address":"+33 1 00 00 00 00","sourced_via":"official directory","sourced_at":"2025-01-02T09:00:00Z"}`, &aggregates.RegisterChannel{}},
	{"set_authority_status", `{"command":"set_authority_status","command_id":"c-20","authority_id":"0193f6a4-7c1e-7000-8000-0000000000a1","at":"2025-03-04T10:00:00Z","status":"suspended","reason":"accounts taken over"}`, &aggregates.SetAuthorityStatus{}},
	{"set_channel_status", `{"command":"set_channel_status","command_id":"c-21","authority_id":"0193f6a4-7c1e-7000-8000-0000000000a1","at":"2025-03-04T10:00:00Z","channel":"switchboard","status":"compromised","from":"2025-02-01T00:00:00Z","until":"2025-03-01T00:00:00Z","reason":"number hijacked"}`, &aggregates.SetChannelStatus{}},
}

func TestDecodeCommandKnowsEveryCommand(t *testing.T) {
	t.Parallel()
	var names []string
	for _, tc := range commandLines {
		names = append(names, tc.name)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := aggregates.DecodeCommand([]byte(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			if reflect.TypeOf(c) != reflect.TypeOf(tc.typ) {
				t.Fatalf("decoded %T, want %T", c, tc.typ)
			}
			if got := aggregates.CommandName(c); got != tc.name {
				t.Errorf("CommandName = %q", got)
			}
			if m := c.Header(); m.Command != tc.name || m.CommandID == "" || m.At.IsZero() || m.Actor != "" {
				t.Errorf("header %+v", m)
			}
		})
	}
	slices.Sort(names)
	if got := aggregates.CommandNames(); !slices.Equal(got, names) {
		t.Errorf("CommandNames() = %v; this test covers %v", got, names)
	}
}

// TestDecodedCommandsDriveALifecycle runs the JSON lines through Resolve and the rules, as the
// boundary does: raw account ids become the same refs at intake, decision and disclosure.
func TestDecodedCommandsDriveALifecycle(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	for _, tc := range commandLines {
		if tc.name == "fail_verification" || tc.name == "withdraw_request" || tc.name == "give_effect" ||
			tc.name == "refuse_order" || tc.name == "notify_enforcing_authority" || tc.name == "extend_preservation" || // orders only
			tc.name == "suspect_fraud" || tc.name == "confirm_fraud" || tc.name == "notify_breach" || // fraud stops the lifecycle
			strings.HasPrefix(tc.name, "register_") || strings.HasPrefix(tc.name, "set_") { // the registry's
			continue
		}
		c, err := aggregates.DecodeCommand([]byte(tc.line))
		if err != nil {
			t.Fatal(err)
		}
		if err := aggregates.Resolve(c, testPseudo); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		c.Header().RequestID = h.id
		switch c := c.(type) {
		case *aggregates.ReceiveRequest:
			c.Actor = intakeActor
		case *aggregates.CorrectEntry:
			c.Entry = firstEntry
		case *aggregates.DiscloseData, *aggregates.NotifyUser:
			c.Header().Actor = disclosureActor
		}
		h.accept(c)
	}
	if got := h.state.Disclosed[alice]; !slices.Equal(got, []events.DataCategory{events.DataSubscriber}) {
		t.Errorf("disclosed to alice: %v", got)
	}
	if h.state.Status != aggregates.StatusClosed {
		t.Errorf("status %q", h.state.Status)
	}
}

func TestDecodeCommandRejectsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		line    string
		field   string
		mention string // a word the message must contain
		bug     string
	}{
		{name: "unknown command", line: `{"command":"delete_request"}`, field: "command", mention: "delete_request"},
		{name: "missing command", line: `{"command_id":"c-1"}`, field: "command"},
		{name: "command is a string", line: `{"command":7}`, field: "command"},
		{name: "unknown field", line: `{"command":"close_request","colour":"red"}`, field: "colour"},
		{name: "the actor is never read from the body", line: `{"command":"record_decision","actor":"ines.intake"}`, field: "actor"},
		{name: "wrong type", line: `{"command":"receive_request","authority":{"country":250}}`, field: "authority.country", mention: "string"},
		{name: "wrong type of a list", line: `{"command":"receive_request","data_sought":"subscriber"}`, field: "data_sought"},
		{name: "wrong type of a flag", line: `{"command":"receive_request","emergency":"yes"}`, field: "emergency"},
		{name: "malformed JSON", line: `{"command":"close_request",`, field: ""},
		{name: "not an object", line: `["close_request"]`, field: ""},
		{name: "empty input", line: ``, field: ""},
		{name: "trailing data", line: `{"command":"close_request"} {"command":"close_request"}`, field: ""},
		{name: "trailing garbage", line: `{"command":"close_request"}x`, field: ""},
		{name: "nesting past 10,000 levels", line: `{"command":"close_request","x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, field: "x[0][0][0][0][0][0][0]…", mention: "max depth"},
		{name: "a repeated key inside a list", line: `{"command":"notify_user","accounts":[{"account":"a","account":"b"}]}`, field: "accounts[0].account", mention: "more than once"},
		{name: "invalid UTF-8", line: "{\"command\":\"close_request\",\"reason\":\"\xff\"}", field: "reason", mention: "UTF-8"},
		{
			name: "wrong type of a header field", line: `{"command":"verify_requester","command_id":42}`, field: "command_id",
			bug: `jsonError names the embedded Go struct: field "Meta.command_id"`,
		},
		{
			name: "wrong type inside a list", line: `{"command":"receive_request","targets":[{"account":1001,"identifier_type":"phone"}]}`, field: "targets[0].account",
			bug: `jsonError reports "targets.Account.account": no index, and the embedded Go struct's name`,
		},
		{
			name: "unknown field inside a list", line: `{"command":"receive_request","targets":[{"account":"u","identifier_type":"phone","nick":"x"}]}`, field: "targets[0].nick",
			bug: `jsonError reports the bare name "nick", not its path`,
		},
		{
			name: "business time is RFC 3339", line: `{"command":"close_request","at":"yesterday"}`, field: "at",
			bug: `time.Time's parse error is not mapped to a FieldError, so nothing names "at"`,
		},
		{
			name: "field names are case-sensitive", line: `{"command":"close_request","Reason":"done"}`, field: "Reason",
			bug: `encoding/json matches field names case-insensitively, so "Reason" is taken for "reason"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := aggregates.DecodeCommand([]byte(tc.line))
			if err == nil {
				t.Fatalf("decoded %#v", c)
			}
			if c != nil {
				t.Errorf("returned a command with the error: %#v", c)
			}
			if !errors.Is(err, events.ErrInvalid) {
				t.Errorf("error %v is not events.ErrInvalid", err)
			}
			var fe *events.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *events.FieldError", err)
			}
			if fe.Field != tc.field {
				t.Errorf("field %q (%v), want %q", fe.Field, err, tc.field)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestResolvePseudonymisesRawAccountIDs(t *testing.T) {
	t.Parallel()
	other := mustPseudonymizer("another key, at least 32 bytes long")
	tests := []struct {
		name  string
		cmd   func() aggregates.Command
		pseu  *events.Pseudonymizer
		wants []events.AccountRef
	}{
		{"intake targets", func() aggregates.Command {
			c := receive()
			c.Targets[0].Account = aggregates.Account{ID: "platform-user-1001"}
			return c
		}, testPseudo, []events.AccountRef{alice, bob}},
		{"decision targets", func() aggregates.Command {
			return decision(aggregates.TargetDecisionInput{Account: aggregates.Account{ID: "platform-user-1002"}, Outcome: events.OutcomeNoData})
		}, testPseudo, []events.AccountRef{bob}},
		{"disclosed accounts", func() aggregates.Command {
			return disclose(aggregates.DisclosedAccountInput{Account: aggregates.Account{ID: "platform-user-1001"}, Categories: []events.DataCategory{events.DataSubscriber}})
		}, testPseudo, []events.AccountRef{alice}},
		{"notified accounts", func() aggregates.Command {
			return &aggregates.NotifyUser{Accounts: []aggregates.Account{{ID: "platform-user-1002"}, {Ref: alice}, {ID: "platform-user-6666"}}}
		}, testPseudo, []events.AccountRef{bob, alice, mallory}},
		{"another key gives other refs", func() aggregates.Command {
			return &aggregates.NotifyUser{Accounts: []aggregates.Account{{ID: "platform-user-1001"}, {ID: "platform-user-1002"}}}
		}, other, []events.AccountRef{other.Ref("platform-user-1001"), other.Ref("platform-user-1002")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.cmd()
			if err := aggregates.Resolve(c, tc.pseu); err != nil {
				t.Fatal(err)
			}
			var got []events.AccountRef
			for _, f := range c.AccountFields() {
				if f.Account.ID != "" {
					t.Errorf("%s: raw id %q left in the command", f.Path, f.Account.ID)
				}
				got = append(got, f.Account.Ref)
			}
			if !slices.Equal(got, tc.wants) {
				t.Errorf("refs %v, want %v", got, tc.wants)
			}
			b, _ := json.Marshal(c)
			if strings.Contains(string(b), "platform-user-") {
				t.Errorf("raw account id survives in %s", b)
			}
		})
	}
	if alice == other.Ref("platform-user-1001") {
		t.Error("two keys gave the same ref")
	}
	if alice == bob {
		t.Error("two accounts gave the same ref")
	}
}

func TestResolveNeedsExactlyOneOfAccountAndRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		account aggregates.Account
		field   string
	}{
		{"both id and ref", aggregates.Account{ID: "platform-user-1002", Ref: bob}, "targets[1]"},
		{"neither id nor ref", aggregates.Account{}, "targets[1]"},
		{"a ref that is not one", aggregates.Account{Ref: "acct_NOT-HEX"}, "targets[1].account_ref"},
		{"a raw id passed as a ref", aggregates.Account{Ref: "platform-user-1002"}, "targets[1].account_ref"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := receive()
			c.Targets[1].Account = tc.account
			err := aggregates.Resolve(c, testPseudo)
			var fe *events.FieldError
			if !errors.Is(err, events.ErrInvalid) || !errors.As(err, &fe) {
				t.Fatalf("error %v, want a FieldError", err)
			}
			if fe.Field != tc.field {
				t.Errorf("field %q, want %q", fe.Field, tc.field)
			}
		})
	}
	for _, c := range []aggregates.Command{verify(), acknowledge(), review(), closeRequest(), correct(firstEntry)} {
		if err := aggregates.Resolve(c, testPseudo); err != nil {
			t.Errorf("%T names no account but Resolve said %v", c, err)
		}
	}
}

// FuzzDecodeCommand: DecodeCommand never panics, and what it accepts survives a round trip
// through json.Marshal unchanged. Accepted commands go on through Resolve and Decide, which
// must not panic either.
func FuzzDecodeCommand(f *testing.F) {
	for _, tc := range commandLines {
		f.Add([]byte(tc.line))
	}
	for _, s := range []string{
		`{}`, `null`, `[]`, `{"command":"close_request","at":"2025-01-01T00:00:00.123456789+14:00"}`,
		`{"command":"correct_entry","value":[1, 2,{"a" : null}]}`,
		`{"command":"notify_user","accounts":[{"account":"x","account_ref":"acct_00000000000000000000000000000000"}]}`,
		`{"command":"decide_user_notification","decision":"prohibited","until":null}`,
		// Found by the fuzzer: names in any case, a one-digit hour, +00:00 (decoded as Local).
		"{\"CommAnd\":\"complete_legal_review\",\"CommAnd_id\":\"0\",\"request_id\":\"0000\x83\",\"At\":\"0000-01-01T0:00:00+00:00\",\"outCome\":\"\"}",
		`{"command":"correct_entry","command_id":"c","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-06-06T10:00:00Z","entry":"0193f6a4-7c1e-7000-8000-0000000000aa","field":"x","reason":"y"}`,
		// Hostile values: controls, bidi overrides, separators, near the limits.
		`{"command":"close_request","command_id":"c","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-06-06T10:00:00Z","reason":"a\nb\u0085\u202e\u2028\t"}`,
		`{"command":"fail_verification","command_id":"c","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-06-06T10:00:00Z","method":"other","verifier":"v\u200f","reason":"=cmd|' /C calc'!A0"}`,
		`{"command":"notify_user","command_id":"c","request_id":"0193f6a4-7c1e-7000-8000-000000000001","at":"2025-06-06T10:00:00Z","accounts":[{"account":"a\u3000b"}]}`,
	} {
		f.Add([]byte(s))
	}
	open := newHistory(f, receiveEmergency(), verify(), decision(), disclose(), notificationDecision(events.NotifyProhibited, nil))

	f.Fuzz(func(t *testing.T, data []byte) {
		c1, err := aggregates.DecodeCommand(data)
		if err != nil {
			if c1 != nil {
				t.Fatalf("command %#v returned with error %v", c1, err)
			}
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("error %v is not events.ErrInvalid", err)
			}
			return
		}
		b, err := json.Marshal(c1)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", c1, err)
		}
		c2, err := aggregates.DecodeCommand(b)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", b, err)
		}
		if !commandsEqual(c1, c2) {
			t.Fatalf("round trip changed the command:\n in   %s\n out  %#v\n back %#v", data, c1, c2)
		}

		c1.Header().Actor = legalActor
		if err := aggregates.Resolve(c1, testPseudo); err != nil {
			return
		}
		if aggregates.Validate(c1) == nil {
			printable(t, c1)
		}
		for _, r := range []*aggregates.Request{aggregates.NewRequest(c1.Header().RequestID), open.state} {
			e, err := aggregates.Decide(r, c1)
			if (e == nil) == (err == nil) {
				t.Fatalf("Decide returned event %v and error %v", e, err)
			}
		}
	})
}

// commandsEqual compares commands as their canonical JSON and as Go values, where a time is
// the same instant in any location and a JSON value the same text in any spacing.
func commandsEqual(a, b aggregates.Command) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	if errA != nil || errB != nil || string(ja) != string(jb) {
		return false
	}
	normalise(reflect.ValueOf(a))
	normalise(reflect.ValueOf(b))
	return reflect.DeepEqual(a, b)
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// normalise puts every time in v in UTC, compacts every non-nil JSON value and makes empty
// lists nil, in place.
func normalise(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		if v.CanSet() {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
		}
	case v.Type() == rawType:
		if raw := v.Interface().(json.RawMessage); raw != nil && v.CanSet() {
			if b, err := json.Marshal(raw); err == nil {
				v.Set(reflect.ValueOf(json.RawMessage(b)))
			}
		}
	case v.Kind() == reflect.Pointer && !v.IsNil():
		normalise(v.Elem())
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				normalise(v.Field(i))
			}
		}
	case v.Kind() == reflect.Slice && v.Len() == 0 && v.CanSet():
		v.Set(reflect.Zero(v.Type())) // an empty list and none encode alike (omitempty)
	case v.Kind() == reflect.Slice:
		for i := range v.Len() {
			normalise(v.Index(i))
		}
	}
}
