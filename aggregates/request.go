// Package aggregates holds the rules. A Request is changed only by applying recorded events
// (Apply), and a command becomes an event only if Decide finds no rule broken. Both are pure:
// no clock, no I/O; times and ids come in with the command, the server's clock included
// (Meta.Now, set by the command handler).
package aggregates

import (
	"slices"
	"time"

	"github.com/complianceledger/ledger/events"
)

// Status is where a request stands.
type Status string

const (
	StatusNew       Status = ""
	StatusOpen      Status = "open"
	StatusWithdrawn Status = "withdrawn"
	StatusClosed    Status = "closed"
)

// Verification is the state of the requester check.
type Verification string

const (
	Unverified         Verification = ""
	Verified           Verification = "verified"
	VerificationFailed Verification = "failed"
)

// Request is the state of one request from an authority, folded from its events.
type Request struct {
	ID           string
	Version      uint64 // events applied
	LastSequence uint64 // stream position of the last event: the optimistic-concurrency token

	Status       Status
	DeliveredAt  time.Time
	IntakeActor  string
	Country      events.Country
	Instrument   events.Instrument
	Emergency    bool
	Targets      []events.Target
	Sought       []events.DataCategory
	Verification Verification
	Acknowledged bool
	Reviewed     bool
	Decided      bool
	// Approved holds, per account, the categories the decision lets the platform disclose.
	Approved  map[events.AccountRef][]events.DataCategory
	Disclosed map[events.AccountRef][]events.DataCategory
	// AwaitingLegalProcess: an emergency disclosure was made before legal review; the request
	// stays flagged until the review is recorded.
	AwaitingLegalProcess bool
	Notification         *events.UserNotificationDecided
	// Orders of Member States: given effect, refused (e-Evidence), and the enforcing state
	// notified (e-Evidence).
	GivenEffect    bool
	Refused        bool
	EnforcingState events.Country
	// EPOC-PR: the data are preserved until PreservedUntil (delivery + 60 days, + 30 if
	// extended), or, once a production request is confirmed, for it (HeldForProduction).
	PreservedUntil    time.Time
	Extended          bool
	HeldForProduction bool
	// A US preservation is renewed once for another 90 days.
	Renewed bool
	// Fraud: suspected, confirmed, and the breach notified when data had gone to the impostor.
	FraudSuspected bool
	FraudConfirmed bool
	Breach         bool // confirmed after data were disclosed: a breach incident is open
	BreachNotified bool

	entries  map[string]string // ids of this request's events → event names, for corrections
	facts    map[string]*fact  // event name → when and by whom such facts were recorded
	received events.RequestReceived
	commands map[string]uint64 // command id → stream sequence of its event
}

// fact is what the rules keep of the events of one name: the latest business time, for the
// order of dependent facts, and every actor, for the separation of duties.
type fact struct {
	at     time.Time
	actors []string
}

// NewRequest returns the state of a request nothing has happened to yet.
func NewRequest(id string) *Request {
	return &Request{
		ID:        id,
		Approved:  map[events.AccountRef][]events.DataCategory{},
		Disclosed: map[events.AccountRef][]events.DataCategory{},
		entries:   map[string]string{},
		facts:     map[string]*fact{},
		commands:  map[string]uint64{},
	}
}

// Apply folds one recorded event into the state. Recorded events are facts: Apply never
// refuses one, it only records what it says.
func (r *Request) Apply(rec events.Recorded, e events.Event) {
	r.Version++
	r.LastSequence = rec.Sequence
	r.entries[rec.ID] = e.EventName()
	r.commands[rec.CommandID] = rec.Sequence
	f := r.facts[e.EventName()]
	if f == nil {
		f = &fact{}
		r.facts[e.EventName()] = f
	}
	if rec.Time.After(f.at) {
		f.at = rec.Time
	}
	if !slices.Contains(f.actors, rec.Actor) {
		f.actors = append(f.actors, rec.Actor)
	}

	switch e := e.(type) {
	case *events.RequestReceived:
		r.Status = StatusOpen
		r.DeliveredAt = rec.Time
		r.IntakeActor = rec.Actor
		r.Targets = e.Targets
		r.Sought = e.DataSought
		r.receive(*e)
	case *events.EntryCorrected:
		if r.entries[e.Entry] == "RequestReceived" {
			if corrected, err := r.received.Corrected(e); err == nil { // Decide checked it
				r.receive(corrected)
			}
		}
	case *events.RequesterVerified:
		r.Verification = Verified
	case *events.RequesterVerificationFailed:
		r.Verification = VerificationFailed
	case *events.ReceiptAcknowledged:
		r.Acknowledged = true
	case *events.LegalReviewCompleted:
		r.Reviewed = true
		r.AwaitingLegalProcess = false
	case *events.DecisionRecorded:
		r.Decided = true
		for _, t := range e.Targets {
			if t.Outcome.Approves() {
				r.Approved[t.Account] = t.Approved
			}
		}
	case *events.DataDisclosed:
		for _, a := range e.Accounts {
			for _, c := range a.Categories {
				if !slices.Contains(r.Disclosed[a.Account], c) {
					r.Disclosed[a.Account] = append(r.Disclosed[a.Account], c)
				}
			}
		}
		if !r.Reviewed {
			r.AwaitingLegalProcess = true
		}
	case *events.UserNotificationDecided:
		r.Notification = e
	case *events.RequestWithdrawn:
		r.Status = StatusWithdrawn
	case *events.RequestClosed:
		r.Status = StatusClosed
	case *events.OrderGivenEffect:
		r.GivenEffect = true
		if r.Instrument == events.InstrumentEPOCPR {
			r.PreservedUntil = r.DeliveredAt.Add(events.PreservationPeriod)
		}
	case *events.PreservationExtended:
		switch e.Extension {
		case events.ExtendedBy30Days:
			r.Extended = true
			r.PreservedUntil = r.PreservedUntil.Add(events.PreservationExtension30)
		case events.ProductionRequested:
			r.HeldForProduction = true
		case events.Renewed90Days:
			r.Renewed = true
		}
	case *events.OrderRefused:
		r.Refused = true
	case *events.EnforcingAuthorityNotified:
		r.EnforcingState = e.State
	case *events.FraudSuspected:
		r.FraudSuspected = true
	case *events.FraudConfirmed:
		r.FraudConfirmed, r.Breach = true, e.Disclosed
	case *events.BreachNotified:
		r.BreachNotified = true
	}
}

// receive takes the facts of the intake, as recorded or as corrected since.
func (r *Request) receive(e events.RequestReceived) {
	r.received = e
	r.Country = e.Authority.Country
	r.Instrument = e.Instrument
	r.Emergency = e.Emergency
}

// CommandSequence reports whether a command was already recorded, and where.
func (r *Request) CommandSequence(commandID string) (uint64, bool) {
	seq, ok := r.commands[commandID]
	return seq, ok
}

// recorded reports whether an event of that name was recorded, and when the latest happened.
func (r *Request) recorded(name string) (time.Time, bool) {
	f := r.facts[name]
	if f == nil {
		return time.Time{}, false
	}
	return f.at, true
}

// recordedBy reports whether actor recorded an event of that name.
func (r *Request) recordedBy(name, actor string) bool {
	f := r.facts[name]
	return f != nil && slices.Contains(f.actors, actor)
}

func (r *Request) isTarget(a events.AccountRef) bool {
	return slices.ContainsFunc(r.Targets, func(t events.Target) bool { return t.Account == a })
}
