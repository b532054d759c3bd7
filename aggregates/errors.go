package aggregates

import "errors"

// Each rule a command can break has its own error; the text says the rule.
var (
	ErrNotReceived          = errors.New("request: nothing can happen to a request before it is received")
	ErrAlreadyReceived      = errors.New("request: a request is received once")
	ErrEnded                = errors.New("request: after withdrawal or closing only corrections may be recorded")
	ErrDuplicateCommand     = errors.New("request: command already recorded")
	ErrBeforeDelivery       = errors.New("request: a fact cannot happen before the request was delivered")
	ErrAlreadyVerified      = errors.New("request: requester already verified")
	ErrVerificationFailed   = errors.New("request: requester verification failed; a failed request cannot be verified later")
	ErrAlreadyAcknowledged  = errors.New("request: receipt already acknowledged")
	ErrAlreadyReviewed      = errors.New("request: legal review already completed")
	ErrReviewRequired       = errors.New("request: legal review must precede the decision (only emergency requests may be decided first)")
	ErrAlreadyDecided       = errors.New("request: decision already recorded; record a correction instead")
	ErrFourEyes             = errors.New("request: four eyes: whoever recorded the intake cannot record the decision")
	ErrUnknownTarget        = errors.New("request: account is not a target of this request")
	ErrCategoryNotSought    = errors.New("request: data category was not sought by the authority")
	ErrNotVerified          = errors.New("request: no disclosure before the requester is verified")
	ErrNotApproved          = errors.New("request: no disclosure without a decision that approves it")
	ErrAccountNotApproved   = errors.New("request: account not approved for disclosure")
	ErrCategoryNotApproved  = errors.New("request: data category not approved for this account")
	ErrNoNotificationChoice = errors.New("request: users cannot be notified before a notification decision")
	ErrNotificationBarred   = errors.New("request: user notification is prohibited or delayed")
	ErrNoDecision           = errors.New("request: a request cannot be closed without a decision")
	ErrLegalProcessPending  = errors.New("request: emergency disclosure awaits its formal legal process (legal review)")
	ErrUnknownEntry         = errors.New("request: the corrected entry is not an event of this request")
)
