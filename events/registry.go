package events

import "time"

// The authority registry: an aggregate of its own ("authority"), recorded by the trust and
// safety team, that says which authorities exist and through which independently sourced
// channels they can be reached. Requesters are verified against it (RequesterVerified names
// the authority and channel), and a channel marked compromised for a window flags every
// request verified through it and delivered inside the window.

// AggregateAuthority is the aggregate type of an authority in the registry.
const AggregateAuthority = "authority"

// ChannelKind is how an authority can be reached and checked.
type ChannelKind string

const (
	ChannelEmailDomain    ChannelKind = "email_domain"    // mail from this domain, checked by its authentication results
	ChannelCallbackNumber ChannelKind = "callback_number" // a call back to this number
	ChannelPortalAccount  ChannelKind = "portal_account"  // an account on the platform's law-enforcement portal
)

// ChannelKinds lists every ChannelKind.
var ChannelKinds = OneOf[ChannelKind]{ChannelEmailDomain, ChannelCallbackNumber, ChannelPortalAccount}

func (v ChannelKind) Validate(field string) error { return ChannelKinds.validate(field, v) }

// RegistryStatus is the standing of an authority or one of its channels.
type RegistryStatus string

const (
	StatusActive      RegistryStatus = "active"
	StatusSuspended   RegistryStatus = "suspended"
	StatusCompromised RegistryStatus = "compromised"
)

// RegistryStatuses lists every RegistryStatus.
var RegistryStatuses = OneOf[RegistryStatus]{StatusActive, StatusSuspended, StatusCompromised}

func (v RegistryStatus) Validate(field string) error { return RegistryStatuses.validate(field, v) }

// AuthorityRegistered: an authority entered the registry.
type AuthorityRegistered struct {
	Name    string        `json:"name"`
	Kind    AuthorityKind `json:"kind"`
	Country Country       `json:"country"`
	// Jurisdiction narrows the country where it matters ("Bavaria", "Southern District of NY").
	Jurisdiction string `json:"jurisdiction,omitempty"`
}

// ChannelRegistered: a contact channel of an authority, sourced independently of any request
// (SourcedVia says how: an official directory, a call to a switchboard, a liaison meeting;
// SourcedAt says when).
type ChannelRegistered struct {
	Channel    string      `json:"channel"`
	Kind       ChannelKind `json:"kind"`
	Address    string      `json:"address"`
	SourcedVia string      `json:"sourced_via"`
	SourcedAt  time.Time   `json:"sourced_at"`
}

// AuthorityStatusChanged: the authority as a whole became active, suspended or compromised
// from the event's business time on.
type AuthorityStatusChanged struct {
	Status RegistryStatus `json:"status"`
	Reason string         `json:"reason"`
}

// ChannelStatusChanged: a channel was suspended or compromised (or found sound again) for
// the window [From, Until); an open Until means until further notice.
type ChannelStatusChanged struct {
	Channel string         `json:"channel"`
	Status  RegistryStatus `json:"status"`
	From    time.Time      `json:"from"`
	Until   *time.Time     `json:"until,omitempty"`
	Reason  string         `json:"reason"`
}

func (AuthorityRegistered) EventName() string    { return "AuthorityRegistered" }
func (ChannelRegistered) EventName() string      { return "ChannelRegistered" }
func (AuthorityStatusChanged) EventName() string { return "AuthorityStatusChanged" }
func (ChannelStatusChanged) EventName() string   { return "ChannelStatusChanged" }

// Fraud on a request: suspected, confirmed, and when data had already gone to the impostor,
// the personal-data breach notified to the supervisory authority.

// FraudSuspected: the request may be forged; nothing is disclosed while the suspicion stands.
type FraudSuspected struct {
	Reason string `json:"reason"`
}

// FraudConfirmed: the request was forged. Disclosed says that data had already been sent,
// which opens a personal-data-breach incident with its own 72-hour notification deadline
// (GDPR Art. 33) from the event's recorded time.
type FraudConfirmed struct {
	Reason    string `json:"reason"`
	Disclosed bool   `json:"disclosed"`
}

// BreachNotified: the supervisory authority was notified of the breach a forgery caused.
type BreachNotified struct {
	Supervisor string `json:"supervisor"`
	Reference  string `json:"reference,omitempty"`
}

func (FraudSuspected) EventName() string { return "FraudSuspected" }
func (FraudConfirmed) EventName() string { return "FraudConfirmed" }
func (BreachNotified) EventName() string { return "BreachNotified" }
