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
		return Invalid(field, "%s is not an ISO 3166-1 alpha-2 country code", Quote(string(c)))
	}
	return nil
}

// OneOf is a closed set of values of one of the catalogue's string types.
type OneOf[E ~string] []E

func (set OneOf[E]) validate(field string, v E) error {
	if !slices.Contains(set, v) {
		names := make([]string, len(set))
		for i, e := range set {
			names[i] = string(e)
		}
		return Invalid(field, "%s is not one of %s", Quote(string(v)), strings.Join(names, ", "))
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

// AuthorityKinds lists every AuthorityKind.
var AuthorityKinds = OneOf[AuthorityKind]{AuthorityPolice, AuthorityProsecutor, AuthorityCourt, AuthorityRegulator, AuthorityIntelligence, AuthorityOther}

func (v AuthorityKind) Validate(field string) error { return AuthorityKinds.validate(field, v) }

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

// Instruments lists every Instrument.
var Instruments = OneOf[Instrument]{
	InstrumentSubpoena, InstrumentCourtOrder, InstrumentSearchWarrant, InstrumentPenRegister, InstrumentWiretap,
	Instrument2703d, InstrumentMLAT, InstrumentCloudAct, InstrumentNSL, InstrumentFISA, InstrumentEmergency,
	InstrumentPreservation, InstrumentDSAArt9, InstrumentDSAArt10, InstrumentEPOC, InstrumentEPOCPR,
	InstrumentNationalOrder, InstrumentOther,
}

func (v Instrument) Validate(field string) error { return Instruments.validate(field, v) }

// IdentifierType is the kind of identifier the authority used to name an account.
type IdentifierType string

const (
	IdentifierPhone    IdentifierType = "phone"
	IdentifierUsername IdentifierType = "username"
	IdentifierUserID   IdentifierType = "user_id"
	IdentifierIP       IdentifierType = "ip"
	IdentifierEmail    IdentifierType = "email"
)

// IdentifierTypes lists every IdentifierType.
var IdentifierTypes = OneOf[IdentifierType]{IdentifierPhone, IdentifierUsername, IdentifierUserID, IdentifierIP, IdentifierEmail}

func (v IdentifierType) Validate(field string) error { return IdentifierTypes.validate(field, v) }

// DataCategory is a category of user data an authority seeks and a platform may disclose.
type DataCategory string

const (
	DataSubscriber  DataCategory = "subscriber"
	DataIPAddress   DataCategory = "ip_address"
	DataPhoneNumber DataCategory = "phone_number"
	DataTraffic     DataCategory = "traffic"
	DataContent     DataCategory = "content"
)

// DataCategories lists every DataCategory.
var DataCategories = OneOf[DataCategory]{DataSubscriber, DataIPAddress, DataPhoneNumber, DataTraffic, DataContent}

func (v DataCategory) Validate(field string) error { return DataCategories.validate(field, v) }

// VerificationMethod is how the requester's identity was checked.
type VerificationMethod string

// VerificationMethods lists every VerificationMethod.
var VerificationMethods = OneOf[VerificationMethod]{"law_enforcement_portal", "callback_known_number", "digital_signature", "signed_email", "in_person", "other"}

// ChannelKindFor is the kind of registered channel a verification method goes through, if
// the method goes through one: a callback to a registered number, mail from a registered
// domain, a portal account.
func ChannelKindFor(m VerificationMethod) (ChannelKind, bool) {
	switch m {
	case "callback_known_number":
		return ChannelCallbackNumber, true
	case "signed_email":
		return ChannelEmailDomain, true
	case "law_enforcement_portal":
		return ChannelPortalAccount, true
	}
	return "", false
}

func (v VerificationMethod) Validate(field string) error {
	return VerificationMethods.validate(field, v)
}

// ReviewOutcome is the legal team's finding on a request.
type ReviewOutcome string

const (
	ReviewValid         ReviewOutcome = "valid"
	ReviewOverbroad     ReviewOutcome = "overbroad"
	ReviewDefective     ReviewOutcome = "defective"
	ReviewConflictOfLaw ReviewOutcome = "conflict_of_law"
)

// ReviewOutcomes lists every ReviewOutcome.
var ReviewOutcomes = OneOf[ReviewOutcome]{ReviewValid, ReviewOverbroad, ReviewDefective, ReviewConflictOfLaw}

func (v ReviewOutcome) Validate(field string) error { return ReviewOutcomes.validate(field, v) }

// Outcome is the decision for one target account.
type Outcome string

const (
	OutcomeProduce        Outcome = "produce"
	OutcomeProducePartial Outcome = "produce_partial"
	OutcomeReject         Outcome = "reject"
	OutcomeNoData         Outcome = "no_data"
)

// Outcomes lists every Outcome.
var Outcomes = OneOf[Outcome]{OutcomeProduce, OutcomeProducePartial, OutcomeReject, OutcomeNoData}

func (v Outcome) Validate(field string) error { return Outcomes.validate(field, v) }

// Approves reports whether the outcome lets data be disclosed.
func (o Outcome) Approves() bool { return o == OutcomeProduce || o == OutcomeProducePartial }

// DeliveryChannel is how disclosed data reached the authority.
type DeliveryChannel string

// DeliveryChannels lists every DeliveryChannel.
var DeliveryChannels = OneOf[DeliveryChannel]{"law_enforcement_portal", "secure_email", "sftp", "physical_media", "other"}

func (v DeliveryChannel) Validate(field string) error { return DeliveryChannels.validate(field, v) }

// NotificationDecision says whether the user may be told about a request.
type NotificationDecision string

const (
	NotifyUser       NotificationDecision = "notify"
	NotifyDelay      NotificationDecision = "delay"
	NotifyProhibited NotificationDecision = "prohibited"
)

// NotificationDecisions lists every NotificationDecision.
var NotificationDecisions = OneOf[NotificationDecision]{NotifyUser, NotifyDelay, NotifyProhibited}

func (v NotificationDecision) Validate(field string) error {
	return NotificationDecisions.validate(field, v)
}
