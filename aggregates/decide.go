package aggregates

import (
	"fmt"
	"slices"

	"github.com/complianceledger/ledger/events"
)

// Validate checks a command's own fields, before any rule that needs the request's state.
func Validate(c Command) error { return validate(c) }

// Decide checks a command against the request's state and returns the one event it records.
// It changes nothing: the caller appends the event and then Applies it.
func Decide(r *Request, c Command) (events.Event, error) {
	if err := validate(c); err != nil {
		return nil, err
	}
	m := c.Header()
	if m.RequestID != r.ID {
		return nil, events.Invalid("request_id", "%s is not this request (%s)", m.RequestID, r.ID)
	}
	if _, ok := r.commands[m.CommandID]; ok {
		return nil, fmt.Errorf("command_id %s: %w", m.CommandID, ErrDuplicateCommand)
	}
	if rc, ok := c.(*ReceiveRequest); ok {
		if r.Status != StatusNew {
			return nil, ErrAlreadyReceived
		}
		return receive(rc), nil
	}
	switch {
	case r.Status == StatusNew:
		return nil, ErrNotReceived
	case m.At.Before(r.DeliveredAt):
		return nil, fmt.Errorf("at %s is before delivery at %s: %w", m.At.Format("2006-01-02T15:04:05Z07:00"), r.DeliveredAt.Format("2006-01-02T15:04:05Z07:00"), ErrBeforeDelivery)
	}
	if cc, ok := c.(*CorrectEntry); ok {
		return r.correct(cc)
	}
	_, review := c.(*CompleteLegalReview)
	// An emergency disclosure still owes its legal process after the authority withdraws.
	owedReview := review && r.Status == StatusWithdrawn && r.AwaitingLegalProcess
	if r.Status != StatusOpen && !owedReview {
		return nil, fmt.Errorf("request is %s: %w", r.Status, ErrEnded)
	}
	switch c := c.(type) {
	case *VerifyRequester:
		return r.verify(c)
	case *FailVerification:
		switch r.Verification {
		case Verified:
			return nil, ErrAlreadyVerified
		case VerificationFailed:
			return nil, ErrVerificationFailed
		}
		return &events.RequesterVerificationFailed{Method: c.Method, Verifier: c.Verifier, Reason: c.Reason}, nil
	case *AcknowledgeReceipt:
		if r.Acknowledged {
			return nil, ErrAlreadyAcknowledged
		}
		return &events.ReceiptAcknowledged{Automated: c.Automated}, nil
	case *CompleteLegalReview:
		if r.Reviewed {
			return nil, ErrAlreadyReviewed
		}
		return &events.LegalReviewCompleted{Outcome: c.Outcome, Grounds: c.Grounds}, nil
	case *RecordDecision:
		return r.decide(c)
	case *DiscloseData:
		return r.disclose(c)
	case *DecideUserNotification:
		return &events.UserNotificationDecided{Decision: c.Decision, Until: c.Until, Grounds: c.Grounds}, nil
	case *NotifyUser:
		return r.notify(c)
	case *WithdrawRequest:
		return &events.RequestWithdrawn{Reason: c.Reason}, nil
	case *CloseRequest:
		return r.close(c)
	case *GiveEffect:
		return r.giveEffect(c)
	case *RefuseOrder:
		return r.refuse(c)
	case *NotifyEnforcingAuthority:
		return r.notifyEnforcing(c)
	case *ExtendPreservation:
		return r.extendPreservation(c)
	}
	return nil, fmt.Errorf("request: no rule handles %T", c)
}

func receive(c *ReceiveRequest) *events.RequestReceived {
	targets := make([]events.Target, len(c.Targets))
	for i, t := range c.Targets {
		targets[i] = events.Target{Account: t.Ref, IdentifierType: t.IdentifierType}
	}
	return &events.RequestReceived{
		Authority:  c.Authority,
		Instrument: c.Instrument,
		Emergency:  c.Emergency,
		Reference:  c.Reference,
		Targets:    targets,
		DataSought: c.DataSought,
		DueAt:      c.DueAt,
		DSA:        c.DSA,
		EEvidence:  c.EEvidence,
	}
}

// giveEffect: acting on a forged order would be the 2021–22 fraud again, so the requester
// must be verified first.
func (r *Request) giveEffect(c *GiveEffect) (events.Event, error) {
	switch {
	case !IsOrder(r.Instrument):
		return nil, fmt.Errorf("instrument %s: %w", r.Instrument, ErrNotAnOrder)
	case r.GivenEffect:
		return nil, ErrAlreadyGivenEffect
	case r.Refused:
		return nil, ErrOrderRefused
	case r.Verification != Verified:
		return nil, ErrNotVerified
	}
	return &events.OrderGivenEffect{Note: c.Note}, nil
}

func (r *Request) refuse(c *RefuseOrder) (events.Event, error) {
	switch {
	case !IsEEvidence(r.Instrument):
		return nil, fmt.Errorf("instrument %s: %w", r.Instrument, ErrNotEEvidence)
	case r.Refused:
		return nil, ErrOrderRefused
	case r.GivenEffect:
		return nil, ErrAlreadyGivenEffect
	}
	return &events.OrderRefused{Ground: c.Ground, Details: c.Details}, nil
}

func (r *Request) notifyEnforcing(c *NotifyEnforcingAuthority) (events.Event, error) {
	switch {
	case !IsEEvidence(r.Instrument):
		return nil, fmt.Errorf("instrument %s: %w", r.Instrument, ErrNotEEvidence)
	case r.EnforcingState != "":
		return nil, fmt.Errorf("%s: %w", r.EnforcingState, ErrAlreadyNotified)
	case c.State == r.Country:
		return nil, fmt.Errorf("state %s: %w", c.State, ErrEnforcingIsIssuing)
	}
	return &events.EnforcingAuthorityNotified{State: c.State}, nil
}

func (r *Request) verify(c *VerifyRequester) (events.Event, error) {
	switch r.Verification {
	case Verified:
		return nil, ErrAlreadyVerified
	case VerificationFailed:
		return nil, ErrVerificationFailed
	}
	return &events.RequesterVerified{Method: c.Method, Verifier: c.Verifier}, nil
}

func (r *Request) decide(c *RecordDecision) (events.Event, error) {
	switch {
	case r.Decided:
		return nil, ErrAlreadyDecided
	case c.Actor == r.IntakeActor:
		return nil, fmt.Errorf("actor %s recorded the intake: %w", c.Actor, ErrFourEyes)
	case !r.Reviewed && !r.Emergency:
		return nil, ErrReviewRequired
	}
	decided := make([]events.TargetDecision, len(c.Targets))
	for i, t := range c.Targets {
		field := fmt.Sprintf("targets[%d]", i)
		if !r.isTarget(t.Ref) {
			return nil, fmt.Errorf("%s: %w", field, ErrUnknownTarget)
		}
		for j, cat := range t.Approved {
			if !slices.Contains(r.Sought, cat) {
				return nil, fmt.Errorf("%s.approved[%d] %s: %w", field, j, cat, ErrCategoryNotSought)
			}
		}
		decided[i] = events.TargetDecision{Account: t.Ref, Outcome: t.Outcome, Grounds: t.Grounds, Approved: t.Approved}
	}
	return &events.DecisionRecorded{Targets: decided}, nil
}

// disclose guards against the forged emergency requests of 2021–22: nothing leaves the
// platform unless the requester was verified and a decision approved exactly this data.
func (r *Request) disclose(c *DiscloseData) (events.Event, error) {
	switch {
	case r.Verification != Verified:
		return nil, ErrNotVerified
	case len(r.Approved) == 0:
		return nil, ErrNotApproved
	}
	accounts := make([]events.DisclosedAccount, len(c.Accounts))
	for i, a := range c.Accounts {
		field := fmt.Sprintf("accounts[%d]", i)
		approved, ok := r.Approved[a.Ref]
		if !ok {
			return nil, fmt.Errorf("%s: %w", field, ErrAccountNotApproved)
		}
		for j, cat := range a.Categories {
			if !slices.Contains(approved, cat) {
				return nil, fmt.Errorf("%s.categories[%d] %s: %w", field, j, cat, ErrCategoryNotApproved)
			}
		}
		accounts[i] = events.DisclosedAccount{Account: a.Ref, Categories: a.Categories}
	}
	return &events.DataDisclosed{Accounts: accounts, Channel: c.Channel, PackageSHA256: c.PackageSHA256}, nil
}

func (r *Request) notify(c *NotifyUser) (events.Event, error) {
	n := r.Notification
	switch {
	case n == nil:
		return nil, ErrNoNotificationChoice
	case n.Decision == events.NotifyProhibited && (n.Until == nil || c.At.Before(*n.Until)),
		n.Decision == events.NotifyDelay && (n.Until == nil || c.At.Before(*n.Until)):
		return nil, fmt.Errorf("decision %s: %w", n.Decision, ErrNotificationBarred)
	}
	accounts := make([]events.AccountRef, len(c.Accounts))
	for i, a := range c.Accounts {
		if !r.isTarget(a.Ref) {
			return nil, fmt.Errorf("accounts[%d]: %w", i, ErrUnknownTarget)
		}
		accounts[i] = a.Ref
	}
	return &events.UserNotified{Accounts: accounts}, nil
}

func (r *Request) close(c *CloseRequest) (events.Event, error) {
	switch {
	case !r.Decided:
		return nil, ErrNoDecision
	case r.AwaitingLegalProcess:
		return nil, ErrLegalProcessPending
	}
	return &events.RequestClosed{Reason: c.Reason}, nil
}

func (r *Request) correct(c *CorrectEntry) (events.Event, error) {
	name, ok := r.entries[c.Entry]
	if !ok {
		return nil, fmt.Errorf("entry %s: %w", c.Entry, ErrUnknownEntry)
	}
	correction := &events.EntryCorrected{Entry: c.Entry, Field: c.Field, Value: c.Value, Reason: c.Reason}
	if err := events.ValidateCorrection(name, correction); err != nil {
		return nil, err
	}
	return correction, nil
}

func (r *Request) extendPreservation(c *ExtendPreservation) (events.Event, error) {
	switch {
	case r.Instrument != events.InstrumentEPOCPR:
		return nil, fmt.Errorf("instrument %s: %w", r.Instrument, ErrNotPreservation)
	case !r.GivenEffect:
		return nil, ErrNotPreserved
	case r.HeldForProduction || c.At.After(r.PreservedUntil):
		return nil, ErrPreservationEnded
	case c.Extension == events.ExtendedBy30Days && r.Extended:
		return nil, ErrAlreadyExtended
	}
	return &events.PreservationExtended{Extension: c.Extension}, nil
}
