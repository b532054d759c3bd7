package aggregates

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/events"
)

// Meta is carried by every command. Actor is the authenticated caller and Now the server's
// clock when the command is decided; neither is ever read from a command's body: the command
// handler sets both. At is the caller's word for when the fact happened (business time); the
// rules bound it by Now and by the facts it depends on, and judge every time-gated rule
// (prohibitions, preservation periods) by Now.
type Meta struct {
	Command       string    `json:"command"`
	CommandID     string    `json:"command_id,omitempty"`
	RequestID     string    `json:"request_id,omitempty"`
	At            time.Time `json:"at,omitzero"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	CausationID   string    `json:"causation_id,omitempty"`
	Actor         string    `json:"-"`
	Now           time.Time `json:"-"`
}

// Command is an intent to record one fact about a request.
type Command interface {
	Header() *Meta
	// Accounts lists every account the command names, with its JSON path, so that the
	// boundary can pseudonymise raw ids before the rules see them.
	AccountFields() []AccountField
	validate() error
}

func (m *Meta) Header() *Meta { return m }

// Account names a platform account either by its raw id, which the ledger pseudonymises on
// intake and never stores, or by its reference.
type Account struct {
	ID  string            `json:"account,omitempty"`
	Ref events.AccountRef `json:"account_ref,omitempty"`
}

// AccountField is an account of a command and where it sits in the command's JSON.
type AccountField struct {
	Path    string
	Account *Account
}

// Resolve pseudonymises every raw account id in c, so that only references remain.
func Resolve(c Command, p *events.Pseudonymizer) error {
	return ResolveWith(c, func(raw string) (events.AccountRef, error) { return p.Ref(raw), nil })
}

// ResolveWith replaces every raw account id in c by the reference ref gives it (a vault
// token, an HMAC pseudonym), so that only references remain.
func ResolveWith(c Command, ref func(raw string) (events.AccountRef, error)) error {
	for _, f := range c.AccountFields() {
		a := f.Account
		switch {
		case a.ID != "" && a.Ref != "":
			return events.Invalid(f.Path, "give account or account_ref, not both")
		case a.ID != "":
			// The raw id is checked here: it is gone once pseudonymised.
			if err := events.CheckField(f.Path+".account", a.ID); err != nil {
				return err
			}
			r, err := ref(a.ID)
			if err != nil {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
			a.Ref, a.ID = r, ""
		case a.Ref == "":
			return events.Invalid(f.Path, "account or account_ref is required")
		}
		if err := a.Ref.Validate(f.Path + ".account_ref"); err != nil {
			return err
		}
	}
	return nil
}

// ReceiveRequest records that a request was delivered; At is the delivery time.
type ReceiveRequest struct {
	Meta
	Authority  events.Authority      `json:"authority"`
	Instrument events.Instrument     `json:"instrument"`
	Emergency  bool                  `json:"emergency,omitempty"`
	Reference  string                `json:"reference,omitempty"`
	Targets    []TargetInput         `json:"targets"`
	DataSought []events.DataCategory `json:"data_sought"`
	DueAt      *time.Time            `json:"due_at,omitempty"`
	// DSA is required for orders under DSA Art. 9 and 10, EEvidence for EPOC and EPOC-PR.
	DSA       *events.DSAOrder       `json:"dsa,omitempty"`
	EEvidence *events.EEvidenceOrder `json:"eevidence,omitempty"`
}

// TargetInput is a target account as a command names it.
type TargetInput struct {
	Account
	IdentifierType events.IdentifierType `json:"identifier_type"`
}

// VerifyRequester records that the requester was confirmed genuine. Authority and Channel
// name the registry's authority and the registered channel the check went through; the
// handler hands the rules the registry's state of that authority (Registry).
type VerifyRequester struct {
	Meta
	Method    events.VerificationMethod `json:"method"`
	Verifier  string                    `json:"verifier"`
	Authority string                    `json:"authority,omitempty"`
	Channel   string                    `json:"channel,omitempty"`
	Auth      string                    `json:"auth,omitempty"`
	Registry  *Authority                `json:"-"`
}

type FailVerification struct {
	Meta
	Method   events.VerificationMethod `json:"method"`
	Verifier string                    `json:"verifier"`
	Reason   string                    `json:"reason"`
}

type AcknowledgeReceipt struct {
	Meta
	Automated bool `json:"automated,omitempty"`
}

type CompleteLegalReview struct {
	Meta
	Outcome events.ReviewOutcome `json:"outcome"`
	Grounds string               `json:"grounds,omitempty"`
}

type RecordDecision struct {
	Meta
	Targets []TargetDecisionInput `json:"targets"`
}

type TargetDecisionInput struct {
	Account
	Outcome  events.Outcome        `json:"outcome"`
	Grounds  string                `json:"grounds,omitempty"`
	Approved []events.DataCategory `json:"approved,omitempty"`
}

type DiscloseData struct {
	Meta
	Accounts      []DisclosedAccountInput `json:"accounts"`
	Channel       events.DeliveryChannel  `json:"channel"`
	PackageSHA256 string                  `json:"package_sha256"`
}

type DisclosedAccountInput struct {
	Account
	Categories []events.DataCategory `json:"categories"`
}

type DecideUserNotification struct {
	Meta
	Decision events.NotificationDecision `json:"decision"`
	Until    *time.Time                  `json:"until,omitempty"`
	Grounds  string                      `json:"grounds,omitempty"`
}

type NotifyUser struct {
	Meta
	Accounts []Account `json:"accounts"`
}

type WithdrawRequest struct {
	Meta
	Reason string `json:"reason,omitempty"`
}

type CloseRequest struct {
	Meta
	Reason string `json:"reason,omitempty"`
}

// GiveEffect records that the platform gave effect to an order; At is when it did.
type GiveEffect struct {
	Meta
	Note string `json:"note,omitempty"`
}

// RefuseOrder records that an e-Evidence order was not executed, and on which ground.
type RefuseOrder struct {
	Meta
	Ground  events.RefusalGround `json:"ground"`
	Details string               `json:"details,omitempty"`
}

// NotifyEnforcingAuthority records that the enforcing authority of a Member State was
// notified of an e-Evidence order.
type NotifyEnforcingAuthority struct {
	Meta
	State events.Country `json:"state"`
}

// ExtendPreservation records that an EPOC-PR's preservation goes on beyond its 60 days.
type ExtendPreservation struct {
	Meta
	Extension events.PreservationExtension `json:"extension"`
}

type CorrectEntry struct {
	Meta
	Entry  string          `json:"entry"`
	Field  string          `json:"field"`
	Value  json.RawMessage `json:"value,omitempty"`
	Reason string          `json:"reason"`
}

// Accounts implementations: each lists the accounts its command names.

func (c *ReceiveRequest) AccountFields() []AccountField {
	return accountFields(c.Targets, "targets", func(t *TargetInput) *Account { return &t.Account })
}
func (c *RecordDecision) AccountFields() []AccountField {
	return accountFields(c.Targets, "targets", func(t *TargetDecisionInput) *Account { return &t.Account })
}
func (c *DiscloseData) AccountFields() []AccountField {
	return accountFields(c.Accounts, "accounts", func(a *DisclosedAccountInput) *Account { return &a.Account })
}
func (c *NotifyUser) AccountFields() []AccountField {
	return accountFields(c.Accounts, "accounts", func(a *Account) *Account { return a })
}
func (*VerifyRequester) AccountFields() []AccountField        { return nil }
func (*FailVerification) AccountFields() []AccountField       { return nil }
func (*AcknowledgeReceipt) AccountFields() []AccountField     { return nil }
func (*CompleteLegalReview) AccountFields() []AccountField    { return nil }
func (*DecideUserNotification) AccountFields() []AccountField { return nil }
func (*WithdrawRequest) AccountFields() []AccountField        { return nil }
func (*CloseRequest) AccountFields() []AccountField           { return nil }
func (*CorrectEntry) AccountFields() []AccountField           { return nil }
func (*GiveEffect) AccountFields() []AccountField             { return nil }
func (*ExtendPreservation) AccountFields() []AccountField     { return nil }
func (*RefuseOrder) AccountFields() []AccountField            { return nil }
func (*NotifyEnforcingAuthority) AccountFields() []AccountField {
	return nil
}

func accountFields[T any](items []T, path string, account func(*T) *Account) []AccountField {
	fields := make([]AccountField, len(items))
	for i := range items {
		fields[i] = AccountField{Path: fmt.Sprintf("%s[%d]", path, i), Account: account(&items[i])}
	}
	return fields
}

// Validation of each command's own fields, before any rule that needs the request's state.

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// validateHeader checks what every command carries, whatever it is about.
func (m *Meta) validateHeader() error {
	switch {
	case m.CommandID == "":
		return events.Invalid("command_id", "is required")
	case m.Actor == "":
		return events.Invalid("actor", "is required (the authenticated caller)")
	case m.At.IsZero():
		return events.Invalid("at", "is required (RFC 3339 business time)")
	}
	return nil
}

func (m *Meta) validate() error {
	if err := m.validateHeader(); err != nil {
		return err
	}
	if id, err := uuid.Parse(m.RequestID); err != nil || id.String() != m.RequestID {
		return events.Invalid("request_id", "must be a UUID in lowercase hyphenated form")
	}
	return nil
}

func (c *ReceiveRequest) validate() error {
	if err := c.Meta.validate(); err != nil {
		return err
	}
	if c.Authority.Name == "" {
		return events.Invalid("authority.name", "is required")
	}
	if err := c.Authority.Kind.Validate("authority.kind"); err != nil {
		return err
	}
	if err := c.Authority.Country.Validate("authority.country"); err != nil {
		return err
	}
	if err := c.Instrument.Validate("instrument"); err != nil {
		return err
	}
	if len(c.Targets) == 0 {
		return events.Invalid("targets", "must name at least one account")
	}
	seen := map[events.AccountRef]bool{}
	for i, t := range c.Targets {
		field := fmt.Sprintf("targets[%d]", i)
		if err := validateAccount(field, t.Account); err != nil {
			return err
		}
		if err := t.IdentifierType.Validate(field + ".identifier_type"); err != nil {
			return err
		}
		if seen[t.Ref] {
			return events.Invalid(field, "names the same account twice")
		}
		seen[t.Ref] = true
	}
	if err := validateCategories("data_sought", c.DataSought); err != nil {
		return err
	}
	if c.DueAt != nil && c.DueAt.Before(c.At) {
		return events.Invalid("due_at", "must not be before at (the delivery time)")
	}
	return c.validateOrder()
}

// validateOrder: an order of a Member State says what the reports need (DSA: category and
// items; e-Evidence: data category), and only such orders carry those blocks.
func (c *ReceiveRequest) validateOrder() error {
	dsa := c.Instrument == events.InstrumentDSAArt9 || c.Instrument == events.InstrumentDSAArt10
	eev := IsEEvidence(c.Instrument)
	switch {
	case dsa && c.DSA == nil:
		return events.Invalid("dsa", "is required for an order under %s", c.Instrument)
	case !dsa && c.DSA != nil:
		return events.Invalid("dsa", "goes only with instruments %s and %s", events.InstrumentDSAArt9, events.InstrumentDSAArt10)
	case eev && c.EEvidence == nil:
		return events.Invalid("eevidence", "is required for an order under %s", c.Instrument)
	case !eev && c.EEvidence != nil:
		return events.Invalid("eevidence", "goes only with instruments %s and %s", events.InstrumentEPOC, events.InstrumentEPOCPR)
	case (dsa || eev) && !c.Authority.Country.IsEUMemberState():
		return events.Invalid("authority.country", "%s is not an EU Member State; a %s order comes from one", c.Authority.Country, c.Instrument)
	case dsa:
		return c.DSA.ValidateNew("dsa")
	case eev:
		return c.EEvidence.Validate("eevidence")
	}
	return nil
}

// IsOrder reports whether an instrument is an order of a Member State that the platform
// gives effect to: DSA Art. 9 and 10, EPOC and EPOC-PR.
func IsOrder(in events.Instrument) bool {
	return in == events.InstrumentDSAArt9 || in == events.InstrumentDSAArt10 || IsEEvidence(in)
}

// IsEEvidence reports whether an instrument is a European Production or Preservation Order.
func IsEEvidence(in events.Instrument) bool {
	return in == events.InstrumentEPOC || in == events.InstrumentEPOCPR
}

func (c *VerifyRequester) validate() error {
	return firstError(c.Meta.validate(), c.Method.Validate("method"), required("verifier", c.Verifier))
}

func (c *FailVerification) validate() error {
	return firstError(c.Meta.validate(), c.Method.Validate("method"), required("verifier", c.Verifier), required("reason", c.Reason))
}

func (c *AcknowledgeReceipt) validate() error { return c.Meta.validate() }

func (c *CompleteLegalReview) validate() error {
	return firstError(c.Meta.validate(), c.Outcome.Validate("outcome"))
}

func (c *RecordDecision) validate() error {
	if err := c.Meta.validate(); err != nil {
		return err
	}
	if len(c.Targets) == 0 {
		return events.Invalid("targets", "must decide at least one account")
	}
	seen := map[events.AccountRef]bool{}
	for i, t := range c.Targets {
		field := fmt.Sprintf("targets[%d]", i)
		if err := validateAccount(field, t.Account); err != nil {
			return err
		}
		if seen[t.Ref] {
			return events.Invalid(field, "decides the same account twice")
		}
		seen[t.Ref] = true
		if err := t.Outcome.Validate(field + ".outcome"); err != nil {
			return err
		}
		if t.Outcome.Approves() {
			if err := validateCategories(field+".approved", t.Approved); err != nil {
				return err
			}
		} else if len(t.Approved) > 0 {
			return events.Invalid(field+".approved", "must be empty when the outcome is %s", t.Outcome)
		}
	}
	return nil
}

func (c *DiscloseData) validate() error {
	if err := c.Meta.validate(); err != nil {
		return err
	}
	if len(c.Accounts) == 0 {
		return events.Invalid("accounts", "must name at least one account")
	}
	seen := map[events.AccountRef]bool{}
	for i, a := range c.Accounts {
		field := fmt.Sprintf("accounts[%d]", i)
		if err := validateAccount(field, a.Account); err != nil {
			return err
		}
		if seen[a.Ref] {
			return events.Invalid(field, "names the same account twice")
		}
		seen[a.Ref] = true
		if err := validateCategories(field+".categories", a.Categories); err != nil {
			return err
		}
	}
	if err := c.Channel.Validate("channel"); err != nil {
		return err
	}
	if !sha256Hex.MatchString(c.PackageSHA256) {
		return events.Invalid("package_sha256", "must be the package's SHA-256 as 64 lowercase hex digits")
	}
	return nil
}

func (c *DecideUserNotification) validate() error {
	if err := firstError(c.Meta.validate(), c.Decision.Validate("decision")); err != nil {
		return err
	}
	switch {
	case c.Decision == events.NotifyDelay && c.Until == nil:
		return events.Invalid("until", "is required when the decision is delay")
	case c.Decision == events.NotifyUser && c.Until != nil:
		return events.Invalid("until", "must be empty when the decision is notify")
	case c.Until != nil && !c.Until.After(c.At):
		return events.Invalid("until", "must be after at")
	}
	return nil
}

func (c *NotifyUser) validate() error {
	if err := c.Meta.validate(); err != nil {
		return err
	}
	if len(c.Accounts) == 0 {
		return events.Invalid("accounts", "must name at least one account")
	}
	for i, a := range c.Accounts {
		if err := validateAccount(fmt.Sprintf("accounts[%d]", i), a); err != nil {
			return err
		}
	}
	return nil
}

func (c *WithdrawRequest) validate() error { return c.Meta.validate() }

func (c *CloseRequest) validate() error { return c.Meta.validate() }

func (c *GiveEffect) validate() error { return c.Meta.validate() }

func (c *ExtendPreservation) validate() error {
	return firstError(c.Meta.validate(), c.Extension.Validate("extension"))
}

func (c *RefuseOrder) validate() error {
	return firstError(c.Meta.validate(), c.Ground.Validate("ground"))
}

func (c *NotifyEnforcingAuthority) validate() error {
	if err := firstError(c.Meta.validate(), c.State.Validate("state")); err != nil {
		return err
	}
	if !c.State.IsEUMemberState() {
		return events.Invalid("state", "%s is not an EU Member State", c.State)
	}
	return nil
}

func (c *CorrectEntry) validate() error {
	if err := firstError(c.Meta.validate(), required("field", c.Field), required("reason", c.Reason)); err != nil {
		return err
	}
	if _, err := uuid.Parse(c.Entry); err != nil {
		return events.Invalid("entry", "must be the id (UUID) of the event being corrected")
	}
	if len(c.Value) == 0 || !json.Valid(c.Value) {
		return events.Invalid("value", "must be the corrected value as JSON")
	}
	return nil
}

// validateAccount checks that the boundary resolved the account to a reference.
func validateAccount(field string, a Account) error {
	if a.ID != "" {
		return events.Invalid(field+".account", "raw account ids must be pseudonymised before the rules see them")
	}
	return a.Ref.Validate(field + ".account_ref")
}

func validateCategories(field string, cats []events.DataCategory) error {
	if len(cats) == 0 {
		return events.Invalid(field, "must name at least one data category")
	}
	seen := map[events.DataCategory]bool{}
	for i, c := range cats {
		if err := c.Validate(fmt.Sprintf("%s[%d]", field, i)); err != nil {
			return err
		}
		if seen[c] {
			return events.Invalid(fmt.Sprintf("%s[%d]", field, i), "repeats %s", c)
		}
		seen[c] = true
	}
	return nil
}

func required(field, v string) error {
	if v == "" {
		return events.Invalid(field, "is required")
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
