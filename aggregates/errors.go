package aggregates

import "strings"

// Each rule a command can break has its own error; the text says the rule.
var (
	ErrNotReceived          = rule("request: nothing can happen to a request before it is received")
	ErrAlreadyReceived      = rule("request: a request is received once")
	ErrEnded                = rule("request: after withdrawal or closing only corrections may be recorded")
	ErrDuplicateCommand     = rule("request: command already recorded")
	ErrBeforeDelivery       = rule("request: a fact cannot happen before the request was delivered")
	ErrAlreadyVerified      = rule("request: requester already verified")
	ErrVerificationFailed   = rule("request: requester verification failed; a failed request cannot be verified later")
	ErrAlreadyAcknowledged  = rule("request: receipt already acknowledged")
	ErrAlreadyReviewed      = rule("request: legal review already completed")
	ErrReviewRequired       = rule("request: legal review must precede the decision (only emergency requests may be decided first)")
	ErrAlreadyDecided       = rule("request: decision already recorded; record a correction instead")
	ErrFourEyes             = rule("request: four eyes: whoever recorded the intake cannot record the decision")
	ErrUnknownTarget        = rule("request: account is not a target of this request")
	ErrCategoryNotSought    = rule("request: data category was not sought by the authority")
	ErrNotVerified          = rule("request: no disclosure before the requester is verified")
	ErrNotApproved          = rule("request: no disclosure without a decision that approves it")
	ErrAccountNotApproved   = rule("request: account not approved for disclosure")
	ErrCategoryNotApproved  = rule("request: data category not approved for this account")
	ErrNoNotificationChoice = rule("request: users cannot be notified before a notification decision")
	ErrNotificationBarred   = rule("request: user notification is prohibited or delayed")
	ErrNoDecision           = rule("request: a request cannot be closed without a decision")
	ErrLegalProcessPending  = rule("request: emergency disclosure awaits its formal legal process (legal review)")
	ErrUnknownEntry         = rule("request: the corrected entry is not an event of this request")
)

// RuleError is a rule of the request that a command broke; every Err above is one, so the
// layers above can tell a refusal by the rules from a failure of the store.
type RuleError struct{ text string }

func rule(text string) error { return &RuleError{text} }

func (e *RuleError) Error() string { return e.text }

// Rule is the rule's text without the package's prefix.
func (e *RuleError) Rule() string { return strings.TrimPrefix(e.text, "request: ") }
