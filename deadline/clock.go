// Package deadline computes every deadline clock of the ledger in one place, from recorded
// facts: per request, which clocks run (by instrument and kind), from when, until when, and
// whether they were met, stopped or missed; and which alerts those clocks owe at a moment.
// It is pure like the projections: values in, values out, no clock, no I/O.
package deadline

import (
	"cmp"
	"slices"
	"time"

	"github.com/complianceledger/ledger/events"
)

// Kind names a clock.
type Kind string

const (
	// EPOC: a European Production Order is answered within 10 days of receipt (Regulation
	// (EU) 2023/1543, Art. 10(2)), within 8 hours in an emergency (Art. 10(4)).
	KindEPOC          Kind = "epoc"
	KindEPOCEmergency Kind = "epoc_emergency"
	// EPOC-PR: the data are preserved for 60 days, +30 when extended (Art. 11(1)); the clock
	// ends when a production request takes over. Its end is an expiry, never "missed".
	KindEPOCPR Kind = "epoc_pr_preservation"
	// US preservation (18 U.S.C. § 2703(f)): 90 days, +90 on a renewed request; an expiry too.
	KindUSPreservation Kind = "us_preservation"
	// An emergency request (not an EPOC) is answered within the target the platform sets.
	KindEmergency Kind = "emergency_response"
	// The authority's own due date (due_at).
	KindAuthorityDue Kind = "authority_due"
	// A delay or prohibition of user notification that expires (its until).
	KindNondisclosure Kind = "nondisclosure"
	// A disclosure to an impostor is a personal-data breach, notified to the supervisory
	// authority within 72 hours of becoming aware of it (GDPR Art. 33(1)).
	KindBreach Kind = "breach_notification"
)

// Kinds lists every kind, in the order the README lists them.
var Kinds = []Kind{KindEPOC, KindEPOCEmergency, KindEPOCPR, KindUSPreservation, KindEmergency, KindAuthorityDue, KindNondisclosure, KindBreach}

// BreachPeriod: a personal-data breach is notified within 72 hours (GDPR Art. 33(1)). The
// instruments' periods are the catalogue's (events.EPOCDeadline, ...).
const BreachPeriod = 72 * time.Hour

// Expires reports whether a clock of this kind ends in an expiry (nothing is owed at its
// end) rather than a deadline that can be missed.
func (k Kind) Expires() bool {
	return k == KindEPOCPR || k == KindUSPreservation || k == KindNondisclosure
}

// Policy is what the platform sets: its emergency target and how long before a due time a
// clock counts as approaching.
type Policy struct {
	EmergencyTarget time.Duration
	Warn            map[Kind]time.Duration
}

// DefaultPolicy: answer emergencies within 24 hours; warn a day before most deadlines, two
// hours before an 8-hour one, a week before a preservation or non-disclosure order ends.
func DefaultPolicy() Policy {
	return Policy{
		EmergencyTarget: 24 * time.Hour,
		Warn: map[Kind]time.Duration{
			KindEPOC: 48 * time.Hour, KindEPOCEmergency: 2 * time.Hour, KindEPOCPR: 7 * 24 * time.Hour,
			KindUSPreservation: 7 * 24 * time.Hour, KindEmergency: 6 * time.Hour, KindAuthorityDue: 24 * time.Hour,
			KindNondisclosure: 7 * 24 * time.Hour, KindBreach: 24 * time.Hour,
		},
	}
}

// State is where a clock stands at a moment.
type State string

const (
	Running     State = "running"     // due later than its warning time
	Approaching State = "approaching" // within its warning time of the due time
	Missed      State = "missed"      // past due and not met (for an expiry: expired)
	Expired     State = "expired"     // an expiry's end has passed
	Met         State = "met"         // met in time
	MetLate     State = "met_late"    // met after its due time
	Stopped     State = "stopped"     // ended without being owed any more (withdrawn, forged, superseded)
)

// Clock is one deadline of one request: it runs from the business time of the fact that starts
// it and is met or stopped when the fact that ends it was stated and recorded.
type Clock struct {
	Request string    `json:"request_id"`
	Kind    Kind      `json:"kind"`
	Start   time.Time `json:"start"`
	Due     time.Time `json:"due"`
	// Ended is when a fact met or stopped the clock; zero while it runs.
	Ended   time.Time `json:"ended,omitzero"`
	Stopped bool      `json:"stopped,omitempty"`
	// Officer is who last recorded something on the request.
	Officer string `json:"officer,omitempty"`
}

// Key names the clock for alerts: a clock whose due time moves (an extension) is a new clock.
func (c Clock) Key() string {
	return c.Request + "." + string(c.Kind) + "." + c.Due.UTC().Format("20060102T150405.000000000Z")
}

// StateAt is the clock's state at now. A deadline is in time when met at or before its due
// time; it is missed from one nanosecond after. It approaches from Due - warn on.
func (c Clock) StateAt(now time.Time, p Policy) State {
	ended := !c.Ended.IsZero() && !c.Ended.After(now)
	switch {
	case ended && c.Stopped:
		return Stopped
	case ended && c.Kind.Expires():
		if c.Ended.After(c.Due) {
			return Expired
		}
		return Met
	case ended && c.Ended.After(c.Due):
		return MetLate
	case ended:
		return Met
	case now.After(c.Due) && c.Kind.Expires():
		return Expired
	case now.After(c.Due):
		return Missed
	case !now.Before(c.Due.Add(-p.Warn[c.Kind])):
		return Approaching
	}
	return Running
}

// Open reports whether the clock still runs at now (running, approaching or missed).
func (c Clock) Open(now time.Time, p Policy) bool {
	switch c.StateAt(now, p) {
	case Running, Approaching, Missed:
		return true
	}
	return false
}

// sortClocks orders clocks most urgent first: by due time, then request and kind.
func sortClocks(cs []Clock) {
	slices.SortFunc(cs, func(a, b Clock) int {
		return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.Request, b.Request), cmp.Compare(a.Kind, b.Kind))
	})
}

// isEmergency reads the request's intake as corrected.
func isEmergency(r events.RequestReceived) bool {
	return r.Emergency || r.Instrument == events.InstrumentEmergency
}
