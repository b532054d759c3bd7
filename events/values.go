package events

import (
	"slices"
	"strings"
)

// Country is an ISO 3166-1 alpha-2 code ("FR").
type Country string

type countryInfo struct{ alpha3, name string }

// CountryFromAlpha3 maps an ISO 3166-1 alpha-3 code ("FRA") to alpha-2.
func CountryFromAlpha3(code string) (Country, bool) {
	for c, info := range countries {
		if info.alpha3 == code {
			return c, true
		}
	}
	return "", false
}

// Name is the country's English short name, or "" for an unknown code.
func (c Country) Name() string { return countries[c].name }

// Alpha3 is the country's ISO 3166-1 alpha-3 code, or "" for an unknown code.
func (c Country) Alpha3() string { return countries[c].alpha3 }

func (c Country) Validate(field string) error {
	if _, ok := countries[c]; !ok {
		return Invalid(field, "%q is not an ISO 3166-1 alpha-2 country code", string(c))
	}
	return nil
}

// enum is implemented by the closed string sets of the catalogue.
type enum interface {
	~string
	values() []string
}

func validateEnum[E enum](field string, v E) error {
	if !slices.Contains(v.values(), string(v)) {
		return Invalid(field, "%q is not one of %s", string(v), strings.Join(v.values(), ", "))
	}
	return nil
}

// AuthorityKind says what sort of body sent a request.
type AuthorityKind string

const (
	AuthorityPolice       AuthorityKind = "police"
	AuthorityProsecutor   AuthorityKind = "prosecutor"
	AuthorityCourt        AuthorityKind = "court"
	AuthorityRegulator    AuthorityKind = "regulator"
	AuthorityIntelligence AuthorityKind = "intelligence"
	AuthorityOther        AuthorityKind = "other"
)

func (v AuthorityKind) Validate(field string) error { return validateEnum(field, v) }

func (AuthorityKind) values() []string {
	return []string{"police", "prosecutor", "court", "regulator", "intelligence", "other"}
}

// Instrument is the legal instrument a request was made under.
type Instrument string

const (
	InstrumentSubpoena      Instrument = "subpoena"
	InstrumentCourtOrder    Instrument = "court_order"
	InstrumentSearchWarrant Instrument = "search_warrant"
	InstrumentPenRegister   Instrument = "pen_register"
	InstrumentWiretap       Instrument = "wiretap"
	Instrument2703d         Instrument = "2703d"
	InstrumentMLAT          Instrument = "mlat"
	InstrumentCloudAct      Instrument = "cloud_act"
	InstrumentNSL           Instrument = "nsl"
	InstrumentFISA          Instrument = "fisa"
	InstrumentEmergency     Instrument = "emergency"
	InstrumentPreservation  Instrument = "preservation"
	InstrumentDSAArt9       Instrument = "dsa_art9"
	InstrumentDSAArt10      Instrument = "dsa_art10"
	InstrumentEPOC          Instrument = "epoc"
	InstrumentEPOCPR        Instrument = "epoc_pr"
	InstrumentNationalOrder Instrument = "national_order"
	InstrumentOther         Instrument = "other"
)

func (v Instrument) Validate(field string) error { return validateEnum(field, v) }

func (Instrument) values() []string {
	return []string{"subpoena", "court_order", "search_warrant", "pen_register", "wiretap", "2703d",
		"mlat", "cloud_act", "nsl", "fisa", "emergency", "preservation", "dsa_art9", "dsa_art10",
		"epoc", "epoc_pr", "national_order", "other"}
}

// IdentifierType is the kind of identifier the authority used to name an account.
type IdentifierType string

const (
	IdentifierPhone    IdentifierType = "phone"
	IdentifierUsername IdentifierType = "username"
	IdentifierUserID   IdentifierType = "user_id"
	IdentifierIP       IdentifierType = "ip"
	IdentifierEmail    IdentifierType = "email"
)

func (v IdentifierType) Validate(field string) error { return validateEnum(field, v) }

func (IdentifierType) values() []string {
	return []string{"phone", "username", "user_id", "ip", "email"}
}

// DataCategory is a category of user data an authority seeks and a platform may disclose.
type DataCategory string

const (
	DataSubscriber  DataCategory = "subscriber"
	DataIPAddress   DataCategory = "ip_address"
	DataPhoneNumber DataCategory = "phone_number"
	DataTraffic     DataCategory = "traffic"
	DataContent     DataCategory = "content"
)

func (v DataCategory) Validate(field string) error { return validateEnum(field, v) }

func (DataCategory) values() []string {
	return []string{"subscriber", "ip_address", "phone_number", "traffic", "content"}
}

// VerificationMethod is how the requester's identity was checked.
type VerificationMethod string

func (v VerificationMethod) Validate(field string) error { return validateEnum(field, v) }

func (VerificationMethod) values() []string {
	return []string{"law_enforcement_portal", "callback_known_number", "digital_signature", "signed_email", "in_person", "other"}
}

// ReviewOutcome is the legal team's finding on a request.
type ReviewOutcome string

const (
	ReviewValid         ReviewOutcome = "valid"
	ReviewOverbroad     ReviewOutcome = "overbroad"
	ReviewDefective     ReviewOutcome = "defective"
	ReviewConflictOfLaw ReviewOutcome = "conflict_of_law"
)

func (v ReviewOutcome) Validate(field string) error { return validateEnum(field, v) }

func (ReviewOutcome) values() []string {
	return []string{"valid", "overbroad", "defective", "conflict_of_law"}
}

// Outcome is the decision for one target account.
type Outcome string

const (
	OutcomeProduce        Outcome = "produce"
	OutcomeProducePartial Outcome = "produce_partial"
	OutcomeReject         Outcome = "reject"
	OutcomeNoData         Outcome = "no_data"
)

func (v Outcome) Validate(field string) error { return validateEnum(field, v) }

func (Outcome) values() []string { return []string{"produce", "produce_partial", "reject", "no_data"} }

// Approves reports whether the outcome lets data be disclosed.
func (o Outcome) Approves() bool { return o == OutcomeProduce || o == OutcomeProducePartial }

// DeliveryChannel is how disclosed data reached the authority.
type DeliveryChannel string

func (v DeliveryChannel) Validate(field string) error { return validateEnum(field, v) }

func (DeliveryChannel) values() []string {
	return []string{"law_enforcement_portal", "secure_email", "sftp", "physical_media", "other"}
}

// NotificationDecision says whether the user may be told about a request.
type NotificationDecision string

const (
	NotifyUser       NotificationDecision = "notify"
	NotifyDelay      NotificationDecision = "delay"
	NotifyProhibited NotificationDecision = "prohibited"
)

func (v NotificationDecision) Validate(field string) error { return validateEnum(field, v) }

func (NotificationDecision) values() []string { return []string{"notify", "delay", "prohibited"} }
