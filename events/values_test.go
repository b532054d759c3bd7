package events_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/complianceledger/ledger/events"
)

func TestCountryIsISOAlpha2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   events.Country
		valid  bool
		alpha3 string
		name   string
	}{
		{"FR", true, "FRA", "France"},
		{"US", true, "USA", "United States"},
		{"DE", true, "DEU", "Germany"},
		{"GB", true, "GBR", "United Kingdom"},
		{"BQ", true, "BES", "Bonaire, Sint Eustatius and Saba"},
		{"fr", false, "", ""},
		{"FRA", false, "", ""},
		{"UK", false, "", ""}, // the UK's code is GB
		{"EU", false, "", ""}, // not a country
		{"XX", false, "", ""},
		{"", false, "", ""},
	}
	for _, tc := range tests {
		t.Run(string(tc.code), func(t *testing.T) {
			t.Parallel()
			err := tc.code.Validate("authority.country")
			if tc.valid != (err == nil) {
				t.Fatalf("Validate(%q) = %v, want valid %v", tc.code, err, tc.valid)
			}
			if err != nil {
				var fe *events.FieldError
				if !errors.Is(err, events.ErrInvalid) || !errors.As(err, &fe) || fe.Field != "authority.country" {
					t.Errorf("error %v, want a FieldError for authority.country", err)
				}
			}
			if tc.code.Alpha3() != tc.alpha3 || tc.code.Name() != tc.name {
				t.Errorf("Alpha3 %q Name %q, want %q %q", tc.code.Alpha3(), tc.code.Name(), tc.alpha3, tc.name)
			}
		})
	}
}

func TestCountryFromAlpha3(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alpha3 string
		want   events.Country
		ok     bool
	}{
		{"FRA", "FR", true},
		{"USA", "US", true},
		{"DEU", "DE", true},
		{"GBR", "GB", true},
		{"CIV", "CI", true},
		{"fra", "", false},
		{"FR", "", false},
		{"UKR ", "", false},
		{"XXX", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.alpha3, func(t *testing.T) {
			t.Parallel()
			got, ok := events.CountryFromAlpha3(tc.alpha3)
			if got != tc.want || ok != tc.ok {
				t.Errorf("CountryFromAlpha3(%q) = %q, %v; want %q, %v", tc.alpha3, got, ok, tc.want, tc.ok)
			}
			if ok && got.Alpha3() != tc.alpha3 {
				t.Errorf("%q.Alpha3() = %q, want %q back", got, got.Alpha3(), tc.alpha3)
			}
		})
	}
}

type validator interface{ Validate(field string) error }

// TestEnumsAcceptExactlyTheirValues: every closed set accepts its values and refuses the
// rest, with a FieldError naming the field.
func TestEnumsAcceptExactlyTheirValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		valid []validator
		bad   []validator
	}{
		{"AuthorityKind", vs(events.AuthorityPolice, events.AuthorityProsecutor, events.AuthorityCourt, events.AuthorityRegulator, events.AuthorityIntelligence, events.AuthorityOther),
			vs[events.AuthorityKind]("", "Police", "sheriff")},
		{"Instrument", vs(events.InstrumentSubpoena, events.InstrumentCourtOrder, events.InstrumentSearchWarrant, events.InstrumentPenRegister,
			events.InstrumentWiretap, events.Instrument2703d, events.InstrumentMLAT, events.InstrumentCloudAct, events.InstrumentNSL, events.InstrumentFISA,
			events.InstrumentEmergency, events.InstrumentPreservation, events.InstrumentDSAArt9, events.InstrumentDSAArt10, events.InstrumentEPOC,
			events.InstrumentEPOCPR, events.InstrumentNationalOrder, events.InstrumentOther),
			vs[events.Instrument]("", "court order", "EPOC", "letter")},
		{"IdentifierType", vs(events.IdentifierPhone, events.IdentifierUsername, events.IdentifierUserID, events.IdentifierIP, events.IdentifierEmail),
			vs[events.IdentifierType]("", "ssn", "Phone")},
		{"DataCategory", vs(events.DataSubscriber, events.DataIPAddress, events.DataPhoneNumber, events.DataTraffic, events.DataContent),
			vs[events.DataCategory]("", "dna", "content ")},
		{"VerificationMethod", vs[events.VerificationMethod]("law_enforcement_portal", "callback_known_number", "digital_signature", "signed_email", "in_person", "other"),
			vs[events.VerificationMethod]("", "gut_feeling", "email")},
		{"ReviewOutcome", vs(events.ReviewValid, events.ReviewOverbroad, events.ReviewDefective, events.ReviewConflictOfLaw),
			vs[events.ReviewOutcome]("", "invalid", "VALID")},
		{"Outcome", vs(events.OutcomeProduce, events.OutcomeProducePartial, events.OutcomeReject, events.OutcomeNoData),
			vs[events.Outcome]("", "comply", "challenge")},
		{"DeliveryChannel", vs[events.DeliveryChannel]("law_enforcement_portal", "secure_email", "sftp", "physical_media", "other"),
			vs[events.DeliveryChannel]("", "fax", "email")},
		{"NotificationDecision", vs(events.NotifyUser, events.NotifyDelay, events.NotifyProhibited),
			vs[events.NotificationDecision]("", "never", "Delay")},
		{"EEvidenceData", vs(events.EEvidenceSubscriber, events.EEvidenceIdentification, events.EEvidenceTraffic, events.EEvidenceContent),
			vs[events.EEvidenceData]("", "ip_address", "Content")},
		{"RefusalGround", vs(events.RefusalImmunity, events.RefusalFundamentalRights, events.RefusalNeBisInIdem, events.RefusalNoDualCriminality,
			events.RefusalIncomplete, events.RefusalDeFactoImpossible, events.RefusalThirdCountryLaw),
			vs[events.RefusalGround]("", "inconvenient", "ne bis in idem")},
		{"PreservationExtension", vs(events.ExtendedBy30Days, events.ProductionRequested), vs[events.PreservationExtension]("", "forever")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, v := range tc.valid {
				if err := v.Validate("f"); err != nil {
					t.Errorf("%q refused: %v", v, err)
				}
			}
			for _, v := range tc.bad {
				err := v.Validate("targets[3].f")
				var fe *events.FieldError
				if !errors.Is(err, events.ErrInvalid) || !errors.As(err, &fe) || fe.Field != "targets[3].f" {
					t.Errorf("%q: error %v, want a FieldError for targets[3].f", v, err)
				}
			}
		})
	}
}

func vs[E validator](values ...E) []validator {
	out := make([]validator, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}

func TestOnlyProductionOutcomesApproveData(t *testing.T) {
	t.Parallel()
	for o, want := range map[events.Outcome]bool{
		events.OutcomeProduce: true, events.OutcomeProducePartial: true, events.OutcomeReject: false, events.OutcomeNoData: false, "": false,
	} {
		if o.Approves() != want {
			t.Errorf("%q.Approves() = %v", o, !want)
		}
	}
}

func TestPseudonymizerRefusesShortKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  []byte
		err  error
	}{
		{"no key", nil, events.ErrShortKey},
		{"31 bytes", []byte(strings.Repeat("k", 31)), events.ErrShortKey},
		{"32 bytes", []byte(strings.Repeat("k", 32)), nil},
		{"64 bytes", []byte(strings.Repeat("k", 64)), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := events.NewPseudonymizer(tc.key)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if (p == nil) != (err != nil) {
				t.Errorf("pseudonymizer %v with error %v", p, err)
			}
		})
	}
}

func TestPseudonymizerRefs(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	p, err := events.NewPseudonymizer(key)
	if err != nil {
		t.Fatal(err)
	}
	q, err := events.NewPseudonymizer([]byte("0123456789abcdef0123456789abcdeF"))
	if err != nil {
		t.Fatal(err)
	}
	a := p.Ref("platform-user-1001")
	if err := a.Validate("account"); err != nil {
		t.Errorf("ref %q is not valid: %v", a, err)
	}
	if p.Ref("platform-user-1001") != a {
		t.Error("the same id and key gave two refs")
	}
	if p.Ref("platform-user-1002") == a || p.Ref("") == a {
		t.Error("two ids gave the same ref")
	}
	if q.Ref("platform-user-1001") == a {
		t.Error("two keys gave the same ref")
	}
	if strings.Contains(string(a), "1001") {
		t.Errorf("ref %q shows the id", a)
	}

	// The pseudonymizer keeps its own copy of the key.
	copy(key, "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX")
	if p.Ref("platform-user-1001") != a {
		t.Error("changing the caller's key slice changed the refs")
	}

	// Safe for concurrent use, as the command handler shares one.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if p.Ref("platform-user-1001") != a {
					t.Error("concurrent Ref gave another ref")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestAccountRefFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref   events.AccountRef
		valid bool
	}{
		{"acct_0123456789abcdef0123456789abcdef", true},
		{"acct_0123456789ABCDEF0123456789abcdef", false},
		{"acct_0123456789abcdef0123456789abcde", false},
		{"acct_0123456789abcdef0123456789abcdef0", false},
		{"acct_0123456789abcdeg0123456789abcdef", false},
		{"ACCT_0123456789abcdef0123456789abcdef", false},
		{"0123456789abcdef0123456789abcdef", false},
		{"+33612345678", false},
		{"", false},
	}
	for _, tc := range tests {
		err := tc.ref.Validate("targets[0].account")
		if tc.valid != (err == nil) {
			t.Errorf("Validate(%q) = %v, want valid %v", tc.ref, err, tc.valid)
		}
		var fe *events.FieldError
		if err != nil && (!errors.As(err, &fe) || fe.Field != "targets[0].account") {
			t.Errorf("Validate(%q): %v, want a FieldError for targets[0].account", tc.ref, err)
		}
	}
}

func TestFieldErrors(t *testing.T) {
	t.Parallel()
	err := events.Invalid("account", "%q is not a ref", "x")
	if !errors.Is(err, events.ErrInvalid) || err.Error() != `account: "x" is not a ref` {
		t.Errorf("Invalid: %v", err)
	}
	var fe *events.FieldError
	if !errors.As(err, &fe) || fe.Field != "account" || fe.Rule != `"x" is not a ref` {
		t.Errorf("FieldError: %+v", fe)
	}
	if whole := events.Invalid("", "trailing data"); whole.Error() != "trailing data" {
		t.Errorf("a FieldError without a field reads %q", whole)
	}
}
