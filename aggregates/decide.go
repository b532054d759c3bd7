package aggregates

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/complianceledger/ledger/events"
)

// ErrNoClock: Decide was called without the server's clock, which every time-gated rule reads.
// It is a fault of the calling code, not a rule a caller broke.
var ErrNoClock = errors.New("aggregates: Decide needs the server's clock (Meta.Now), which the command handler sets")

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
	if m.Now.IsZero() {
		return nil, ErrNoClock
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
		return nil, fmt.Errorf("at %s is before delivery at %s: %w", stamp(m.At), stamp(r.DeliveredAt), ErrBeforeDelivery)
	}
	if cc, ok := c.(*CorrectEntry); ok {
		return r.correct(cc)
	}
	for _, name := range dependsOn(c) {
		if at, ok := r.recorded(name); ok && m.At.Before(at) {
			return nil, fmt.Errorf("at %s is before the %s at %s: %w", stamp(m.At), name, stamp(at), ErrBeforeDependency)
		}
	}
	// Fraud comes to light after the fact: it is recorded whatever the request's status.
	switch c := c.(type) {
	case *SuspectFraud:
		return r.suspectFraud(c)
	case *ConfirmFraud:
		return r.confirmFraud(c)
	case *NotifyBreach:
		return r.notifyBreach(c)
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
		switch {
		case r.Reviewed:
			return nil, ErrAlreadyReviewed
		case c.Actor == r.IntakeActor:
			return nil, fmt.Errorf("actor %s recorded the intake: %w", c.Actor, ErrFourEyes)
		case r.recordedBy("DataDisclosed", c.Actor):
			return nil, fmt.Errorf("actor %s disclosed the data: %w", c.Actor, ErrSeparation)
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

// dependsOn names the facts a command's business time may not precede: a fact is dated after
// what it follows from, so backdating cannot reorder a request's history.
func dependsOn(c Command) []string {
	switch c.(type) {
	case *RecordDecision:
		return []string{"LegalReviewCompleted"}
	case *DiscloseData:
		return []string{"RequesterVerified", "DecisionRecorded"}
	case *NotifyUser:
		return []string{"UserNotificationDecided"}
	case *CloseRequest:
		return []string{"DecisionRecorded", "LegalReviewCompleted"}
	case *GiveEffect:
		return []string{"RequesterVerified"}
	case *ExtendPreservation:
		return []string{"OrderGivenEffect"}
	case *ConfirmFraud:
		return []string{"FraudSuspected"}
	case *NotifyBreach:
		return []string{"FraudConfirmed"}
	}
	return nil
}

func stamp(t time.Time) string { return t.Format(time.RFC3339) }

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
	case r.FraudSuspected || r.FraudConfirmed:
		return nil, ErrFraud
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
	if r.FraudSuspected || r.FraudConfirmed {
		return nil, ErrFraud
	}
	if err := checkChannel(c.Registry, c); err != nil {
		return nil, err
	}
	return &events.RequesterVerified{Method: c.Method, Verifier: c.Verifier, Authority: c.Authority, Channel: c.Channel, Auth: c.Auth}, nil
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
	case r.FraudSuspected || r.FraudConfirmed:
		return nil, ErrFraud
	case len(r.Approved) == 0:
		return nil, ErrNotApproved
	case c.Actor == r.IntakeActor:
		return nil, fmt.Errorf("actor %s recorded the intake: %w", c.Actor, ErrSeparation)
	case r.recordedBy("DecisionRecorded", c.Actor):
		return nil, fmt.Errorf("actor %s recorded the decision: %w", c.Actor, ErrSeparation)
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

// notify: a delay or prohibition bars notice until its end by the server's clock, and a
// notice dated inside it is refused as well: the caller's at cannot move the clock.
func (r *Request) notify(c *NotifyUser) (events.Event, error) {
	n := r.Notification
	switch {
	case n == nil:
		return nil, ErrNoNotificationChoice
	case n.Decision == events.NotifyUser:
	case n.Until == nil:
		return nil, fmt.Errorf("decision %s without end: %w", n.Decision, ErrNotificationBarred)
	case c.Now.Before(*n.Until) || c.At.Before(*n.Until):
		return nil, fmt.Errorf("decision %s until %s; server clock %s, at %s: %w", n.Decision, stamp(*n.Until), stamp(c.Now), stamp(c.At), ErrNotificationBarred)
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
	case !r.Reviewed: // only an emergency is decided first, and it still owes its review
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
	for _, fact := range reliedOn[c.Field] {
		if _, ok := r.recorded(fact); ok {
			return nil, fmt.Errorf("field %s: the %s relied on it: %w", c.Field, fact, ErrReliedOn)
		}
	}
	return correction, nil
}

// reliedOn names, per correctable intake field, the facts whose rules read it. Once one is
// recorded the field stays as it was: a correction would otherwise remove an obligation the
// fact was held to (a request corrected to emergency, decided without review, corrected back)
// or legitimise it after the fact (an order's instrument or issuing state changed under the
// effect given to it). The fields only reports read stay correctable, and restatements name
// the correction: authority name and kind, and the DSA and e-Evidence blocks (category,
// keyword, items, data category), which no rule reads.
var reliedOn = map[string][]string{
	"emergency":         {"DecisionRecorded", "DataDisclosed", "OrderGivenEffect", "OrderRefused"},
	"instrument":        {"OrderGivenEffect", "OrderRefused", "EnforcingAuthorityNotified", "PreservationExtended"},
	"authority.country": {"OrderGivenEffect", "OrderRefused", "EnforcingAuthorityNotified"},
}

func (r *Request) extendPreservation(c *ExtendPreservation) (events.Event, error) {
	if r.Instrument == events.InstrumentPreservation {
		return r.renewPreservation(c)
	}
	switch {
	case r.Instrument != events.InstrumentEPOCPR:
		return nil, fmt.Errorf("instrument %s: %w", r.Instrument, ErrNotPreservation)
	case !r.GivenEffect:
		return nil, ErrNotPreserved
	case r.HeldForProduction:
		return nil, fmt.Errorf("a production request holds the data: %w", ErrPreservationEnded)
	case c.Now.After(r.PreservedUntil) || c.At.After(r.PreservedUntil):
		return nil, fmt.Errorf("preserved until %s; server clock %s, at %s: %w", stamp(r.PreservedUntil), stamp(c.Now), stamp(c.At), ErrPreservationEnded)
	case c.Extension == events.Renewed90Days:
		return nil, events.Invalid("extension", "%s renews a US preservation; an EPOC-PR is %s or %s", c.Extension, events.ExtendedBy30Days, events.ProductionRequested)
	case c.Extension == events.ExtendedBy30Days && r.Extended:
		return nil, ErrAlreadyExtended
	}
	return &events.PreservationExtended{Extension: c.Extension}, nil
}

// renewPreservation: a US preservation lasts 90 days from delivery and is renewed once, before
// it ends by the server's clock and by the stated time.
func (r *Request) renewPreservation(c *ExtendPreservation) (events.Event, error) {
	until := r.DeliveredAt.Add(events.USPreservationPeriod)
	switch {
	case c.Extension != events.Renewed90Days:
		return nil, events.Invalid("extension", "a US preservation is renewed (%s), not %s", events.Renewed90Days, c.Extension)
	case r.Renewed:
		return nil, ErrAlreadyExtended
	case c.Now.After(until) || c.At.After(until):
		return nil, fmt.Errorf("preserved until %s; server clock %s, at %s: %w", stamp(until), stamp(c.Now), stamp(c.At), ErrPreservationEnded)
	}
	return &events.PreservationExtended{Extension: c.Extension}, nil
}

func (r *Request) suspectFraud(c *SuspectFraud) (events.Event, error) {
	switch {
	case r.FraudConfirmed:
		return nil, ErrFraudConfirmed
	case r.FraudSuspected:
		return nil, ErrAlreadySuspected
	}
	return &events.FraudSuspected{Reason: c.Reason}, nil
}

// confirmFraud: data already sent to the impostor (disclosed, or an information or production
// order given effect) make the forgery a personal-data breach with its own deadline.
func (r *Request) confirmFraud(c *ConfirmFraud) (events.Event, error) {
	if r.FraudConfirmed {
		return nil, ErrFraudConfirmed
	}
	produced := r.GivenEffect && (r.Instrument == events.InstrumentEPOC || r.Instrument == events.InstrumentDSAArt10)
	return &events.FraudConfirmed{Reason: c.Reason, Disclosed: len(r.Disclosed) > 0 || produced}, nil
}

func (r *Request) notifyBreach(c *NotifyBreach) (events.Event, error) {
	switch {
	case !r.Breach:
		return nil, ErrNoBreach
	case r.BreachNotified:
		return nil, ErrBreachNotified
	}
	return &events.BreachNotified{Supervisor: c.Supervisor, Reference: c.Reference}, nil
}
