package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
)

var versionSuffix = regexp.MustCompile(`\.v[1-9][0-9]*$`)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var (
	alice = events.AccountRef("acct_0123456789abcdef0123456789abcdef")
	bob   = events.AccountRef("acct_fedcba9876543210fedcba9876543210")
	due   = time.Date(2025, 3, 13, 9, 0, 0, 0, time.UTC)
	until = time.Date(2025, 6, 5, 9, 0, 0, 0, time.UTC)
)

// samples holds one payload per event of the catalogue, every field set.
var samples = map[string]events.Event{
	"RequestReceived": &events.RequestReceived{
		Authority:  events.Authority{Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR"},
		Instrument: events.InstrumentCourtOrder,
		Emergency:  true,
		Reference:  "PN-2025-0042",
		Targets:    []events.Target{{Account: alice, IdentifierType: events.IdentifierPhone}, {Account: bob, IdentifierType: events.IdentifierEmail}},
		DataSought: []events.DataCategory{events.DataSubscriber, events.DataContent},
		DueAt:      &due,
		DSA:        &events.DSAOrder{Category: "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", Keyword: events.DSAKeywordOther, OtherDescription: "fake \"charity\", raising funds", Items: 3},
		EEvidence:  &events.EEvidenceOrder{DataCategory: events.EEvidenceTraffic},
	},
	"RequesterVerified": &events.RequesterVerified{Method: "callback_known_number", Verifier: "vera",
		Authority: "0193f6a4-7c1e-7000-8000-0000000000a1", Channel: "switchboard", Auth: "called back the registered number"},
	"RequesterVerificationFailed": &events.RequesterVerificationFailed{Method: "signed_email", Verifier: "vera", Reason: "forged"},
	"ReceiptAcknowledged":         &events.ReceiptAcknowledged{Automated: true},
	"LegalReviewCompleted":        &events.LegalReviewCompleted{Outcome: events.ReviewOverbroad, Grounds: "asks for too much"},
	"DecisionRecorded": &events.DecisionRecorded{Targets: []events.TargetDecision{
		{Account: alice, Outcome: events.OutcomeProducePartial, Grounds: "subscriber only", Approved: []events.DataCategory{events.DataSubscriber}},
		{Account: bob, Outcome: events.OutcomeReject, Grounds: "not our user"},
	}},
	"DataDisclosed": &events.DataDisclosed{
		Accounts:      []events.DisclosedAccount{{Account: alice, Categories: []events.DataCategory{events.DataSubscriber}}},
		Channel:       "sftp",
		PackageSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	},
	"UserNotificationDecided":    &events.UserNotificationDecided{Decision: events.NotifyDelay, Until: &until, Grounds: "investigation"},
	"UserNotified":               &events.UserNotified{Accounts: []events.AccountRef{alice}},
	"RequestWithdrawn":           &events.RequestWithdrawn{Reason: "case dropped"},
	"RequestClosed":              &events.RequestClosed{Reason: "done"},
	"OrderGivenEffect":           &events.OrderGivenEffect{Note: "content removed"},
	"OrderRefused":               &events.OrderRefused{Ground: events.RefusalDeFactoImpossible, Details: "account deleted before receipt"},
	"EnforcingAuthorityNotified": &events.EnforcingAuthorityNotified{State: "IE"},
	"PreservationExtended":       &events.PreservationExtended{Extension: events.ExtendedBy30Days},
	"EntryCorrected": &events.EntryCorrected{
		Entry: "0193f6a4-7c1e-7000-8000-0000000000aa", Field: "authority.country", Value: json.RawMessage(`"BE"`), Reason: "typo",
	},
	"FraudSuspected":      &events.FraudSuspected{Reason: "mail from a look-alike domain"},
	"FraudConfirmed":      &events.FraudConfirmed{Reason: "the police force denies sending it", Disclosed: true},
	"BreachNotified":      &events.BreachNotified{Supervisor: "CNIL", Reference: "CNIL-2025-17"},
	"AuthorityRegistered": &events.AuthorityRegistered{Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR", Jurisdiction: "Paris"},
	"ChannelRegistered": &events.ChannelRegistered{Channel: "switchboard", Kind: events.ChannelCallbackNumber, Address: "+33 1 00 00 00 00",
		SourcedVia: "official directory", SourcedAt: time.Date(2025, 1, 2, 9, 0, 0, 0, time.UTC)},
	"AuthorityStatusChanged": &events.AuthorityStatusChanged{Status: events.StatusSuspended, Reason: "account takeover reported"},
	"ChannelStatusChanged": &events.ChannelStatusChanged{Channel: "mail", Status: events.StatusCompromised,
		From: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), Until: &until, Reason: "mailbox hijacked"},
	"PersonalDataErased": &events.PersonalDataErased{Scope: events.ErasedRequest, Request: "0190a5b0-0000-7000-8000-000000000001", Fields: []string{"grounds"}},
	"ReportPublished": &events.ReportPublished{
		Parameters: events.ReportParameters{View: "dsa", Period: "2024-Q4", Format: "csv", Service: "Example"},
		AsOf:       1500,
		SHA256:     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Checkpoint: "ledger.example/LEDGER\n1500\nAAAA\n\n— ledger.example/LEDGER sig\n",
	},
}

// fixedMeta is the metadata of the golden envelope: fixed ids and times.
func fixedMeta() events.Meta {
	return events.Meta{
		ID:               uuid.MustParse("0193f6a4-7c1e-7abc-8def-0123456789ab"),
		Source:           "urn:ledger:test",
		AggregateID:      "0193f6a4-7c1e-7000-8000-000000000001",
		AggregateVersion: 1,
		Time:             time.Date(2025, 3, 3, 10, 0, 0, 0, time.FixedZone("CET", 3600)),
		Actor:            "ines.intake",
		CommandID:        "c-1",
		CorrelationID:    "corr-1",
		CausationID:      "cause-1",
	}
}

func TestCatalogueIsConsistent(t *testing.T) {
	t.Parallel()
	kinds := events.Catalogue()
	if len(kinds) != len(samples) {
		t.Errorf("catalogue has %d kinds, samples %d", len(kinds), len(samples))
	}
	types := map[string]bool{}
	for _, k := range kinds {
		if types[k.Type] {
			t.Errorf("type %s twice", k.Type)
		}
		types[k.Type] = true
		// A type names its aggregate first and its version last: "request.received.v2".
		if (k.Aggregate != events.AggregateRequest && k.Aggregate != events.AggregateReport && k.Aggregate != events.AggregateAuthority && k.Aggregate != events.AggregateErasure) ||
			!strings.HasPrefix(k.Type, k.Aggregate+".") || !versionSuffix.MatchString(k.Type) || !k.Current() {
			t.Errorf("kind %+v", k)
		}
		byType, err := events.KindByType(k.Type)
		if err != nil || byType.Name != k.Name {
			t.Errorf("KindByType(%s) = %+v, %v", k.Type, byType, err)
		}
		e, ok := samples[k.Name]
		if !ok {
			t.Errorf("no sample payload for %s", k.Name)
			continue
		}
		if byPayload, err := events.KindOf(e); err != nil || byPayload.Type != k.Type {
			t.Errorf("KindOf(%T) = %+v, %v", e, byPayload, err)
		}
	}
	// Catalogue returns a copy: callers cannot change the catalogue.
	kinds[0].Type = "request.hijacked.v1"
	if events.Catalogue()[0].Type == "request.hijacked.v1" {
		t.Error("Catalogue exposes its backing array")
	}
}

func TestEnvelopeRoundTripForEveryKind(t *testing.T) {
	t.Parallel()
	for _, k := range events.Catalogue() {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			payload, ok := samples[k.Name]
			if !ok {
				t.Fatalf("no sample payload for %s", k.Name)
			}
			env, err := events.NewEnvelope(payload, fixedMeta())
			if err != nil {
				t.Fatal(err)
			}
			if env.Type != k.Type || env.AggregateType != k.Aggregate || env.SpecVersion != "1.0" || env.DataContentType != "application/json" {
				t.Errorf("envelope attributes %+v", env)
			}
			if env.Time.Location() != time.UTC || !env.Time.Equal(fixedMeta().Time) {
				t.Errorf("time %v: want the business time in UTC", env.Time)
			}
			b, err := env.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := events.Decode(b)
			if err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if !reflect.DeepEqual(got, env) {
				t.Errorf("envelope changed:\n sent %+v\n got  %+v", env, got)
			}
			p, err := got.Payload()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, payload) {
				t.Errorf("payload changed:\n sent %#v\n got  %#v", payload, p)
			}
			again, err := got.Marshal()
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("canonical bytes changed:\n %s\n %s (%v)", b, again, err)
			}
		})
	}
}

func TestNewEnvelopeRefusesIncompleteMeta(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		meta  func(*events.Meta)
		field string
	}{
		{"no source", func(m *events.Meta) { m.Source = "" }, "source"},
		{"aggregate id is not a UUID", func(m *events.Meta) { m.AggregateID = "request-1" }, "subject"},
		{"no time", func(m *events.Meta) { m.Time = time.Time{} }, "time"},
		{"version 0", func(m *events.Meta) { m.AggregateVersion = 0 }, "aggregateversion"},
		{"no actor", func(m *events.Meta) { m.Actor = "" }, "actor"},
		{"no command id", func(m *events.Meta) { m.CommandID = "" }, "commandid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := fixedMeta()
			tc.meta(&m)
			_, err := events.NewEnvelope(samples["RequestClosed"], m)
			var fe *events.FieldError
			if !errors.Is(err, events.ErrInvalid) || !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("error %v, want a FieldError for %s", err, tc.field)
			}
		})
	}
}

// canonical returns the canonical bytes of the sample envelope of kind name.
func canonical(t testing.TB, name string) []byte {
	t.Helper()
	env, err := events.NewEnvelope(samples[name], fixedMeta())
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit decodes canonical bytes into a map, lets f change it, and encodes it again.
func edit(t testing.TB, b []byte, f func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeRequiresEveryAttribute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attr string
		bug  string
	}{
		{attr: "specversion"},
		{attr: "id"},
		{attr: "source"},
		{attr: "type"},
		{attr: "subject"},
		{attr: "time"},
		{attr: "datacontenttype"},
		{attr: "aggregatetype"},
		{attr: "aggregateversion"},
		{attr: "actor"},
		{attr: "commandid"},
		{attr: "data", bug: "Envelope.Validate does not require data: an envelope without it decodes, and Payload then fails with a bare EOF"},
	}
	b := canonical(t, "RequestReceived")
	for _, tc := range tests {
		t.Run(tc.attr, func(t *testing.T) {
			t.Parallel()
			_, err := events.Decode(edit(t, b, func(m map[string]any) { delete(m, tc.attr) }))
			if err == nil {
				t.Fatalf("decoded an envelope without %s", tc.attr)
			}
			if !strings.Contains(err.Error(), tc.attr) {
				t.Errorf("error %q does not name %s", err, tc.attr)
			}
			var fe *events.FieldError
			if tc.attr != "type" && (!errors.As(err, &fe) || fe.Field != tc.attr) {
				t.Errorf("error %v, want a FieldError for %s", err, tc.attr)
			}
			if tc.attr == "type" && !errors.Is(err, events.ErrUnknownType) {
				t.Errorf("error %v, want ErrUnknownType", err)
			}
		})
	}
}

func TestDecodeRejectsBadAttributes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		attr    string
		value   any
		mention string
		is      error
		bug     string
	}{
		{name: "CloudEvents 0.3", attr: "specversion", value: "0.3", mention: "specversion", is: events.ErrInvalid},
		{name: "id is not a UUID", attr: "id", value: "event-1", mention: "id", is: events.ErrInvalid},
		{name: "subject is not a UUID", attr: "subject", value: "ledger.request.1", mention: "subject", is: events.ErrInvalid},
		{name: "unknown type", attr: "type", value: "request.teleported.v1", mention: "request.teleported.v1", is: events.ErrUnknownType},
		{name: "a future version", attr: "type", value: "request.received.v9", mention: "request.received.v9", is: events.ErrUnknownType},
		{name: "aggregate type of another aggregate", attr: "aggregatetype", value: "account", mention: "aggregatetype", is: events.ErrInvalid},
		{name: "content type", attr: "datacontenttype", value: "application/xml", mention: "datacontenttype", is: events.ErrInvalid},
		{name: "zero time", attr: "time", value: "0001-01-01T00:00:00Z", mention: "time", is: events.ErrInvalid},
		{name: "version 0", attr: "aggregateversion", value: 0, mention: "aggregateversion", is: events.ErrInvalid},
		{name: "unknown attribute", attr: "traceparent", value: "00-abc", mention: "traceparent"},
		{
			name: "unknown attribute is invalid input", attr: "partitionkey", value: "p", mention: "partitionkey", is: events.ErrInvalid,
			bug: "Decode wraps encoding/json's unknown-field error as is: not events.ErrInvalid, no FieldError",
		},
		{
			name: "wrong type is invalid input", attr: "aggregateversion", value: "1", mention: "aggregateversion", is: events.ErrInvalid,
			bug: "Decode wraps encoding/json's type error as is: not events.ErrInvalid, no FieldError",
		},
		{
			name: "attribute names are lower case", attr: "ID", value: "0193f6a4-7c1e-7abc-8def-0123456789ab", mention: "ID",
			bug: `encoding/json matches names case-insensitively: "ID" is taken for "id" (and overrides it)`,
		},
	}
	b := canonical(t, "RequestReceived")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := edit(t, b, func(m map[string]any) { m[tc.attr] = tc.value })
			_, err := events.Decode(in)
			if err == nil {
				t.Fatalf("decoded %s", in)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not name %s", err, tc.mention)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v, want %v", err, tc.is)
			}
		})
	}
}

func TestDecodeRejectsTrailingData(t *testing.T) {
	t.Parallel()
	b := canonical(t, "RequestClosed")
	for _, tail := range []string{" {}", "x", ` "more"`} {
		if _, err := events.Decode(append(bytes.Clone(b), tail...)); err == nil {
			t.Errorf("decoded with trailing %q", tail)
		}
	}
	if _, err := events.Decode(append(bytes.Clone(b), "\n"...)); err != nil {
		t.Errorf("a trailing newline is not data: %v", err)
	}
}

func TestPayloadIsDecodedStrictly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		kind    string
		data    string
		mention string
	}{
		{"unknown payload field", "RequestClosed", `{"reason":"done","closed_by":"mallory"}`, "closed_by"},
		{"unknown nested field", "RequestReceived", `{"authority":{"name":"x","kind":"police","country":"FR","badge":"7"}}`, "badge"},
		{"wrong type", "ReceiptAcknowledged", `{"automated":"yes"}`, "automated"},
		{"not an object", "RequestClosed", `["done"]`, "RequestClosed"},
		{"trailing data", "RequestClosed", `{"reason":"done"} {}`, "trailing"},
	}
	b := canonical(t, "RequestClosed")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var typ string
			for _, k := range events.Catalogue() {
				if k.Name == tc.kind {
					typ = k.Type
				}
			}
			env, err := events.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			env.Type, env.Data = typ, json.RawMessage(tc.data)
			p, err := env.Payload()
			if err == nil {
				t.Fatalf("decoded payload %#v", p)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not name %s", err, tc.mention)
			}
		})
	}
}

func TestPayloadOfUnknownTypeIsRefused(t *testing.T) {
	t.Parallel()
	env := events.Envelope{Type: "request.teleported.v1", Data: json.RawMessage(`{}`)}
	if _, err := env.Payload(); !errors.Is(err, events.ErrUnknownType) {
		t.Errorf("error %v, want ErrUnknownType", err)
	}
	if _, err := events.KindByType("request.teleported.v1"); !errors.Is(err, events.ErrUnknownType) {
		t.Errorf("KindByType: %v, want ErrUnknownType", err)
	}
}

// FuzzDecode: Decode and Payload never panic, and a decoded envelope re-marshals to bytes
// that decode to an equal envelope and payload, and marshal to the same bytes again.
func FuzzDecode(f *testing.F) {
	for _, k := range events.Catalogue() {
		f.Add(canonical(f, k.Name))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	// Found by the fuzzer: names in any case, a one-digit hour, and no data at all.
	f.Add([]byte(`{"speCversion":"1.0","id":"00000000-0000-0000-0000-000000000000","sourCe":"0000","tYpe":"request.requester_verified.v1",` +
		`"suBjeCt":"00000000-0000-0000-0000-000000000000","time":"0000-01-01T0:00:00Z","dAtAContenttYpe":"application/json",` +
		`"AggregAtetYpe":"request","AggregAteversion":1,"ACtor":"0","CommAndid":"0" }`))
	f.Add(edit(f, canonical(f, "RequestClosed"), func(m map[string]any) {
		m["time"] = "2025-03-03T10:00:00.5+05:30"
		m["data"] = map[string]any{"reason": "<b>&</b>"}
	}))

	f.Fuzz(func(t *testing.T, b []byte) {
		e1, err := events.Decode(b)
		if err != nil {
			return
		}
		p1, perr1 := e1.Payload()

		b2, err := e1.Marshal()
		if err != nil {
			t.Fatalf("re-marshal %+v: %v", e1, err)
		}
		e2, err := events.Decode(b2)
		if err != nil {
			t.Fatalf("re-marshalled %s does not decode: %v", b2, err)
		}
		if !envelopesEqual(e1, e2) {
			t.Fatalf("round trip changed the envelope:\n in   %s\n out  %+v\n back %+v", b, e1, e2)
		}
		b3, err := e2.Marshal()
		if err != nil || !bytes.Equal(b2, b3) {
			t.Fatalf("canonical bytes are not stable:\n %s\n %s (%v)", b2, b3, err)
		}

		p2, perr2 := e2.Payload()
		if (perr1 == nil) != (perr2 == nil) {
			t.Fatalf("payload decodes before or after the round trip only: %v / %v", perr1, perr2)
		}
		if perr1 == nil {
			j1, err1 := json.Marshal(p1)
			j2, err2 := json.Marshal(p2)
			if err1 != nil || err2 != nil || !bytes.Equal(j1, j2) {
				t.Fatalf("payload changed:\n %s\n %s (%v, %v)", j1, j2, err1, err2)
			}
		}
	})
}

func envelopesEqual(a, b events.Envelope) bool {
	if !a.Time.Equal(b.Time) || !jsonEqual(a.Data, b.Data) {
		return false
	}
	a.Time, b.Time, a.Data, b.Data = time.Time{}, time.Time{}, nil, nil
	return reflect.DeepEqual(a, b)
}

// jsonEqual compares JSON texts as json.Marshal writes a RawMessage: compact, HTML escaped.
func jsonEqual(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	var ea, eb bytes.Buffer
	json.HTMLEscape(&ea, ca.Bytes())
	json.HTMLEscape(&eb, cb.Bytes())
	return bytes.Equal(ea.Bytes(), eb.Bytes())
}
