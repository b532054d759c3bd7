package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// The catalogue: one struct per fact in a request's life, at its current version. The
// business time of each fact (delivered, verified, sent, given effect, ...) is the envelope's
// Time, not a payload field. Older versions are read through upcasters (upcast.go).

// Authority is the body that sent a request.
type Authority struct {
	Name    string        `json:"name"`
	Kind    AuthorityKind `json:"kind"`
	Country Country       `json:"country"`
}

// Target is an account a request names, and how the authority identified it.
type Target struct {
	Account        AccountRef     `json:"account"`
	IdentifierType IdentifierType `json:"identifier_type"`
}

// RequestReceived: a request from an authority was delivered to the platform. Version 2
// adds what an order of a Member State says: DSA for orders under DSA Art. 9 and 10,
// EEvidence for EPOC and EPOC-PR. A v1 event reads with both nil.
type RequestReceived struct {
	Authority  Authority       `json:"authority"`
	Instrument Instrument      `json:"instrument"`
	Emergency  bool            `json:"emergency"`
	Reference  string          `json:"reference,omitempty"`
	Targets    []Target        `json:"targets"`
	DataSought []DataCategory  `json:"data_sought"`
	DueAt      *time.Time      `json:"due_at,omitempty"`
	DSA        *DSAOrder       `json:"dsa,omitempty"`
	EEvidence  *EEvidenceOrder `json:"eevidence,omitempty"`
}

// RequesterVerified: the requester was confirmed to be the authority it claims to be.
// Authority and Channel, when present, name the registry's authority and the registered
// channel the check went through (absent in verifications recorded before the registry).
type RequesterVerified struct {
	Method    VerificationMethod `json:"method"`
	Verifier  string             `json:"verifier"`
	Authority string             `json:"authority,omitempty"`
	Channel   string             `json:"channel,omitempty"`
	// Auth is what the check rests on, where the method has it: the mail's authentication
	// results (SPF, DKIM, DMARC), the portal's second factor.
	Auth string `json:"auth,omitempty"`
}

// RequesterVerificationFailed: the requester could not be confirmed (a forged request, for example).
type RequesterVerificationFailed struct {
	Method   VerificationMethod `json:"method"`
	Verifier string             `json:"verifier"`
	Reason   string             `json:"reason"`
}

// ReceiptAcknowledged: the platform confirmed receipt to the authority.
type ReceiptAcknowledged struct {
	Automated bool `json:"automated"`
}

// LegalReviewCompleted: the legal team reviewed the request.
type LegalReviewCompleted struct {
	Outcome ReviewOutcome `json:"outcome"`
	Grounds string        `json:"grounds,omitempty"`
}

// TargetDecision is the decision for one account named in a request.
type TargetDecision struct {
	Account  AccountRef     `json:"account"`
	Outcome  Outcome        `json:"outcome"`
	Grounds  string         `json:"grounds,omitempty"`
	Approved []DataCategory `json:"approved,omitempty"`
}

// DecisionRecorded: what the platform decided to do for each target.
type DecisionRecorded struct {
	Targets []TargetDecision `json:"targets"`
}

// DisclosedAccount is what was produced for one account.
type DisclosedAccount struct {
	Account    AccountRef     `json:"account"`
	Categories []DataCategory `json:"categories"`
}

// DataDisclosed: data was sent to the authority.
type DataDisclosed struct {
	Accounts      []DisclosedAccount `json:"accounts"`
	Channel       DeliveryChannel    `json:"channel"`
	PackageSHA256 string             `json:"package_sha256"`
}

// UserNotificationDecided: whether the affected users may be told, and until when not.
type UserNotificationDecided struct {
	Decision NotificationDecision `json:"decision"`
	Until    *time.Time           `json:"until,omitempty"`
	Grounds  string               `json:"grounds,omitempty"`
}

// UserNotified: affected users were told about the request.
type UserNotified struct {
	Accounts []AccountRef `json:"accounts"`
}

// RequestWithdrawn: the authority withdrew its request.
type RequestWithdrawn struct {
	Reason string `json:"reason,omitempty"`
}

// RequestClosed: the platform finished handling the request.
type RequestClosed struct {
	Reason string `json:"reason,omitempty"`
}

// OrderGivenEffect: the platform gave effect to an order (DSA Art. 9: acted against the
// content; Art. 10: provided the information; EPOC: produced the data; EPOC-PR: preserved
// them). Its business time is when it did, from which the reports measure the time taken.
type OrderGivenEffect struct {
	Note string `json:"note,omitempty"`
}

// OrderRefused: an e-Evidence order was not executed, on an enumerated ground.
type OrderRefused struct {
	Ground  RefusalGround `json:"ground"`
	Details string        `json:"details,omitempty"`
}

// EnforcingAuthorityNotified: the enforcing authority of a Member State was notified of an
// e-Evidence order (Regulation (EU) 2023/1543, Art. 8), as the order says or the platform did.
type EnforcingAuthorityNotified struct {
	State Country `json:"state"`
}

// PreservationExtended: the preservation of an EPOC-PR's data goes on beyond 60 days.
type PreservationExtended struct {
	Extension PreservationExtension `json:"extension"`
}

// EntryCorrected: a compensating fact that says an earlier event of the same aggregate was
// wrong, which field, the corrected value and why. The wrong event stays as it was.
type EntryCorrected struct {
	Entry  string          `json:"entry"`
	Field  string          `json:"field"`
	Value  json.RawMessage `json:"value"`
	Reason string          `json:"reason"`
}

// ReportParameters say which report was computed: the view and the flags that shape its bytes.
type ReportParameters struct {
	View    string `json:"view"`
	Period  string `json:"period,omitempty"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Country string `json:"country,omitempty"`
	Format  string `json:"format"`
	Service string `json:"service,omitempty"` // v2: the service a DSA report names
	// NSBand is the width of national-security bands the publisher chose (250); omitted for
	// the default, 500, so that earlier publications read unchanged.
	NSBand int `json:"ns_band,omitempty"`
}

// ReportPublished: a report was published. It records what it was computed from (the stream
// position of the last event it saw), the SHA-256 of its exact bytes, and, where the ledger
// keeps checkpoints, the signed checkpoint written just before, so that anyone can later
// reproduce the bytes and prove the events behind them.
type ReportPublished struct {
	Parameters ReportParameters `json:"parameters"`
	AsOf       uint64           `json:"as_of"`
	SHA256     string           `json:"sha256"`
	Checkpoint string           `json:"checkpoint,omitempty"`
}

// Event is implemented by every payload of the catalogue.
type Event interface{ EventName() string }

func (RequestReceived) EventName() string             { return "RequestReceived" }
func (RequesterVerified) EventName() string           { return "RequesterVerified" }
func (RequesterVerificationFailed) EventName() string { return "RequesterVerificationFailed" }
func (ReceiptAcknowledged) EventName() string         { return "ReceiptAcknowledged" }
func (LegalReviewCompleted) EventName() string        { return "LegalReviewCompleted" }
func (DecisionRecorded) EventName() string            { return "DecisionRecorded" }
func (DataDisclosed) EventName() string               { return "DataDisclosed" }
func (UserNotificationDecided) EventName() string     { return "UserNotificationDecided" }
func (UserNotified) EventName() string                { return "UserNotified" }
func (RequestWithdrawn) EventName() string            { return "RequestWithdrawn" }
func (RequestClosed) EventName() string               { return "RequestClosed" }
func (OrderGivenEffect) EventName() string            { return "OrderGivenEffect" }
func (OrderRefused) EventName() string                { return "OrderRefused" }
func (EnforcingAuthorityNotified) EventName() string  { return "EnforcingAuthorityNotified" }
func (PreservationExtended) EventName() string        { return "PreservationExtended" }
func (EntryCorrected) EventName() string              { return "EntryCorrected" }
func (ReportPublished) EventName() string             { return "ReportPublished" }

// Aggregate types: a request from an authority, and a published report (the registry's
// authority is AggregateAuthority).
const (
	AggregateRequest = "request"
	AggregateReport  = "report"
)

// Kind describes one event type: its name (the last subject token), its versioned
// CloudEvents type, the aggregate it belongs to, and how to make an empty payload. The kind
// of an older version also says how to read it as the current one (upcast).
type Kind struct {
	Name      string
	Type      string
	Aggregate string
	new       func() Event
	upcast    func(Event) Event
}

// Current reports whether the kind is the version new events are written in.
func (k Kind) Current() bool { return k.upcast == nil }

func kind[E any, P interface {
	*E
	Event
}](aggregate, typ string) Kind {
	return Kind{Name: P(new(E)).EventName(), Type: typ, Aggregate: aggregate, new: func() Event { return P(new(E)) }}
}

// catalogue lists the current version of every event type.
var catalogue = []Kind{
	kind[RequestReceived](AggregateRequest, "request.received.v2"),
	kind[RequesterVerified](AggregateRequest, "request.requester_verified.v1"),
	kind[RequesterVerificationFailed](AggregateRequest, "request.requester_verification_failed.v1"),
	kind[ReceiptAcknowledged](AggregateRequest, "request.receipt_acknowledged.v1"),
	kind[LegalReviewCompleted](AggregateRequest, "request.legal_review_completed.v1"),
	kind[DecisionRecorded](AggregateRequest, "request.decision_recorded.v1"),
	kind[DataDisclosed](AggregateRequest, "request.data_disclosed.v1"),
	kind[UserNotificationDecided](AggregateRequest, "request.user_notification_decided.v1"),
	kind[UserNotified](AggregateRequest, "request.user_notified.v1"),
	kind[RequestWithdrawn](AggregateRequest, "request.withdrawn.v1"),
	kind[RequestClosed](AggregateRequest, "request.closed.v1"),
	kind[OrderGivenEffect](AggregateRequest, "request.order_given_effect.v1"),
	kind[OrderRefused](AggregateRequest, "request.order_refused.v1"),
	kind[EnforcingAuthorityNotified](AggregateRequest, "request.enforcing_authority_notified.v1"),
	kind[PreservationExtended](AggregateRequest, "request.preservation_extended.v1"),
	kind[EntryCorrected](AggregateRequest, "request.entry_corrected.v1"),
	kind[ReportPublished](AggregateReport, "report.published.v2"),
	kind[FraudSuspected](AggregateRequest, "request.fraud_suspected.v1"),
	kind[FraudConfirmed](AggregateRequest, "request.fraud_confirmed.v1"),
	kind[BreachNotified](AggregateRequest, "request.breach_notified.v1"),
	kind[AuthorityRegistered](AggregateAuthority, "authority.registered.v1"),
	kind[ChannelRegistered](AggregateAuthority, "authority.channel_registered.v1"),
	kind[AuthorityStatusChanged](AggregateAuthority, "authority.status_changed.v1"),
	kind[ChannelStatusChanged](AggregateAuthority, "authority.channel_status_changed.v1"),
	kind[PersonalDataErased](AggregateErasure, "erasure.personal_data_erased.v1"),
}

var (
	kindsByType = map[string]Kind{}
	kindsByName = map[string]Kind{}
)

func init() {
	for _, k := range catalogue {
		kindsByType[k.Type] = k
		kindsByName[k.Name] = k
	}
	for _, k := range superseded {
		kindsByType[k.Type] = k
	}
}

// Catalogue returns every event kind at its current version, in lifecycle order.
func Catalogue() []Kind { return append([]Kind(nil), catalogue...) }

// KindOf returns the kind of a payload value (pointer or not).
func KindOf(e Event) (Kind, error) {
	k, ok := kindsByName[e.EventName()]
	if !ok {
		return Kind{}, fmt.Errorf("%w: %s", ErrUnknownType, e.EventName())
	}
	return k, nil
}

// KindByType returns the kind for a CloudEvents type such as "request.received.v1".
func KindByType(typ string) (Kind, error) {
	k, ok := kindsByType[typ]
	if !ok {
		return Kind{}, fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	return k, nil
}
