package aggregates

import "strings"

// Each rule a command can break has its own error; the text says the rule.
var (
	ErrNotReceived          = rule("request: nothing can happen to a request before it is received")
	ErrAlreadyReceived      = rule("request: a request is received once")
	ErrEnded                = rule("request: after withdrawal or closing only corrections may be recorded")
	ErrDuplicateCommand     = rule("request: command already recorded")
	ErrBeforeDelivery       = rule("request: a fact cannot happen before the request was delivered")
	ErrBeforeDependency     = rule("request: a fact cannot be dated before a fact it depends on (review before decision, verification and decision before disclosure, notification decision before notice)")
	ErrAlreadyVerified      = rule("request: requester already verified")
	ErrVerificationFailed   = rule("request: requester verification failed; a failed request cannot be verified later")
	ErrAlreadyAcknowledged  = rule("request: receipt already acknowledged")
	ErrAlreadyReviewed      = rule("request: legal review already completed")
	ErrReviewRequired       = rule("request: legal review must precede the decision (only emergency requests may be decided first)")
	ErrAlreadyDecided       = rule("request: decision already recorded; a decision is recorded once and is not corrected (corrections apply to the intake only)")
	ErrFourEyes             = rule("request: four eyes: whoever recorded the intake records neither the legal review nor the decision")
	ErrSeparation           = rule("request: separation of duties: whoever took the request in or decided it does not disclose the data, and whoever disclosed does not review")
	ErrUnknownTarget        = rule("request: account is not a target of this request")
	ErrCategoryNotSought    = rule("request: data category was not sought by the authority")
	ErrNotVerified          = rule("request: no disclosure before the requester is verified")
	ErrNotApproved          = rule("request: no disclosure without a decision that approves it")
	ErrAccountNotApproved   = rule("request: account not approved for disclosure")
	ErrCategoryNotApproved  = rule("request: data category not approved for this account")
	ErrNoNotificationChoice = rule("request: users cannot be notified before a notification decision")
	ErrNotificationBarred   = rule("request: user notification is prohibited or delayed")
	ErrNoDecision           = rule("request: a request cannot be closed without a decision")
	ErrLegalProcessPending  = rule("request: an emergency decided or disclosed before legal review awaits its formal legal process (legal review)")
	ErrUnknownEntry         = rule("request: the corrected entry is not an event of this request")
	ErrReliedOn             = rule("request: a correction cannot change an intake field that a recorded fact relied on")
	ErrNotAnOrder           = rule("request: only an order (DSA Art. 9 or 10, EPOC, EPOC-PR) is given effect")
	ErrNotEEvidence         = rule("request: only an e-Evidence order (EPOC, EPOC-PR) is refused on a ground or notified to an enforcing authority")
	ErrAlreadyGivenEffect   = rule("request: order already given effect")
	ErrOrderRefused         = rule("request: order already refused; a refused order is not given effect or refused again")
	ErrAlreadyNotified      = rule("request: enforcing authority already notified")
	ErrEnforcingIsIssuing   = rule("request: the enforcing state is another Member State than the issuing one")
	ErrNotPreservation      = rule("request: only a preservation (EPOC-PR, or a US preservation) is extended")
	ErrNotPreserved         = rule("request: a preservation is extended only once the data are preserved (given effect)")
	ErrPreservationEnded    = rule("request: the preservation has ended (its period ran out, or a production request took over)")
	ErrAlreadyExtended      = rule("request: a preservation is extended by 30 days (EPOC-PR) or renewed (US) once")
	// Fraud and the registry.
	ErrFraud               = rule("request: a request suspected or confirmed forged is neither verified nor given data or effect")
	ErrAlreadySuspected    = rule("request: fraud already suspected")
	ErrFraudConfirmed      = rule("request: fraud already confirmed")
	ErrNoBreach            = rule("request: a breach is notified only for a confirmed forgery to which data were disclosed")
	ErrBreachNotified      = rule("request: breach already notified")
	ErrUnregisteredChannel = rule("request: a requester is verified only through a channel of the authority registered in the registry")
	ErrChannelKind         = rule("request: the verification method does not go through that kind of channel (callback: number, mail: domain, portal: account)")
	ErrChannelNotSound     = rule("request: a requester is not verified through a channel, or of an authority, that is suspended or compromised at the time")
)

// RuleError is a rule of the request that a command broke; every Err above is one, so the
// layers above can tell a refusal by the rules from a failure of the store.
type RuleError struct{ text string }

func rule(text string) error { return &RuleError{text} }

func (e *RuleError) Error() string { return e.text }

// Rule is the rule's text without the aggregate's prefix.
func (e *RuleError) Rule() string {
	_, text, _ := strings.Cut(e.text, ": ")
	return text
}
