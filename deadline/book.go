package deadline

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/complianceledger/ledger/events"
)

// Book folds the stream into what the clocks need: per request, the facts that start, meet
// and stop its clocks; per registered channel, the windows it was compromised in; and which
// requests were verified through which channel. It is a projection (Handles, Apply) with a
// snapshot, so that `serve` keeps it warm beside the views.
type Book struct {
	mu sync.Mutex // guards changed and open, which Due reads and resets under a read lock of the caller's
	// changed are the requests an event touched since Due last looked (all, after a restore:
	// nil); live are those Due found with a clock that may still owe an alert, open those
	// with a clock still open (running, approaching or missed).
	changed, live, open map[string]bool
	reqs                map[string]*request
	// windows of channels marked compromised, by "authority/channel".
	windows map[string][]window
	// via lists, by "authority/channel", the requests verified through it.
	via map[string][]string
}

// request is what the clocks read of one request. A clock starts at the business time of the
// fact that starts it (the delivery, the effect given, the forgery confirmed): a caller can
// only make it start earlier, and due earlier. It ends when the fact that meets or stops it
// was both stated and recorded (known): a fact recorded after the due time never meets it
// in time, whatever time it states, as the e-Evidence report counts it ("recorded late").
type request struct {
	Received  events.RequestReceived `json:"received"`
	Entry     string                 `json:"entry"`
	Delivered time.Time              `json:"delivered"`
	Officer   string                 `json:"officer,omitempty"`
	// Answered: the first answer (disclosure, effect given, refusal, a decision that approves
	// nothing, closing). Ended: withdrawn, verification failed, or confirmed forged.
	Answered time.Time `json:"answered,omitzero"`
	Ended    time.Time `json:"ended,omitzero"`
	// Preservations: given effect (business), extended, renewed, and a production request.
	GivenEffect time.Time `json:"given_effect,omitzero"`
	Extended    bool      `json:"extended,omitempty"`
	Renewed     bool      `json:"renewed,omitempty"`
	Production  time.Time `json:"production,omitzero"`
	// Non-disclosure decisions, each superseding the one before.
	Nondisclosure []nondisclosure `json:"nondisclosure,omitempty"`
	// Fraud: confirmed (business time), whether data had gone, and the breach notified.
	Forged         time.Time `json:"forged,omitzero"`
	Breach         bool      `json:"breach,omitempty"`
	BreachNotified time.Time `json:"breach_notified,omitzero"`
	// Channel is "authority/channel" of the verification; Verified its recorded time.
	Channel  string    `json:"channel,omitempty"`
	Verified time.Time `json:"verified,omitzero"`
}

type nondisclosure struct {
	Start time.Time `json:"start"`
	Until time.Time `json:"until"`
	Ended time.Time `json:"ended,omitzero"` // superseded by a later decision
}

// window is a span in which a channel was compromised, and when it was marked so.
type window struct {
	From   time.Time  `json:"from"`
	Until  *time.Time `json:"until,omitempty"`
	Marked time.Time  `json:"marked"`
}

// NewBook returns an empty book.
func NewBook() *Book {
	return &Book{reqs: map[string]*request{}, windows: map[string][]window{}, via: map[string][]string{},
		changed: map[string]bool{}, live: map[string]bool{}, open: map[string]bool{}}
}

// touch notes that an event changed a request's clocks or flags.
func (b *Book) touch(id string) {
	b.mu.Lock()
	if b.changed != nil {
		b.changed[id] = true
	}
	b.mu.Unlock()
}

// handled are the events the book reads.
var handled = map[string]bool{
	"RequestReceived": true, "EntryCorrected": true, "RequesterVerified": true, "RequesterVerificationFailed": true,
	"DecisionRecorded": true, "DataDisclosed": true, "UserNotificationDecided": true, "RequestWithdrawn": true,
	"RequestClosed": true, "OrderGivenEffect": true, "OrderRefused": true, "PreservationExtended": true,
	"FraudConfirmed": true, "BreachNotified": true, "ChannelStatusChanged": true,
	// Read for the officer who last acted on a request.
	"ReceiptAcknowledged": true, "LegalReviewCompleted": true, "UserNotified": true, "FraudSuspected": true,
	"EnforcingAuthorityNotified": true,
}

// Handles reports whether the book reads events of this name.
func (*Book) Handles(name string) bool { return handled[name] }

// Apply folds one recorded event.
func (b *Book) Apply(rec events.Recorded, e events.Event) {
	if cs, ok := e.(*events.ChannelStatusChanged); ok {
		if cs.Status == events.StatusCompromised {
			key := rec.Subject + "/" + cs.Channel
			b.windows[key] = append(b.windows[key], window{From: cs.From, Until: cs.Until, Marked: known(rec)})
			for _, id := range b.via[key] {
				b.touch(id)
			}
		}
		return
	}
	if rec.AggregateType != events.AggregateRequest {
		return
	}
	if r, ok := e.(*events.RequestReceived); ok {
		// Only what the clocks read is kept (and corrected): instrument, emergency, due date.
		slim := events.RequestReceived{Instrument: r.Instrument, Emergency: r.Emergency, DueAt: r.DueAt}
		b.reqs[rec.Subject] = &request{Received: slim, Entry: rec.ID, Delivered: rec.Time, Officer: rec.Actor}
		b.touch(rec.Subject)
		return
	}
	r := b.reqs[rec.Subject]
	if r == nil {
		return
	}
	b.touch(rec.Subject)
	r.Officer = rec.Actor
	answer := func() {
		if r.Answered.IsZero() {
			r.Answered = known(rec)
		}
	}
	end := func() {
		if r.Ended.IsZero() {
			r.Ended = known(rec)
		}
	}
	switch e := e.(type) {
	case *events.EntryCorrected:
		if e.Entry == r.Entry {
			if c, err := r.Received.Corrected(e); err == nil {
				r.Received = c
			}
		}
	case *events.RequesterVerified:
		if e.Channel != "" {
			r.Channel, r.Verified = e.Authority+"/"+e.Channel, known(rec)
			b.via[r.Channel] = append(b.via[r.Channel], rec.Subject)
		}
	case *events.RequesterVerificationFailed, *events.RequestWithdrawn:
		end()
	case *events.DecisionRecorded:
		if !slices.ContainsFunc(e.Targets, func(t events.TargetDecision) bool { return t.Outcome.Approves() }) {
			answer()
		}
	case *events.DataDisclosed, *events.OrderRefused, *events.RequestClosed:
		answer()
	case *events.OrderGivenEffect:
		answer()
		r.GivenEffect = rec.Time
	case *events.PreservationExtended:
		switch e.Extension {
		case events.ExtendedBy30Days:
			r.Extended = true
		case events.ProductionRequested:
			r.Production = known(rec)
		case events.Renewed90Days:
			r.Renewed = true
		}
	case *events.UserNotificationDecided:
		if n := len(r.Nondisclosure); n > 0 && r.Nondisclosure[n-1].Ended.IsZero() {
			r.Nondisclosure[n-1].Ended = known(rec)
		}
		if e.Decision != events.NotifyUser && e.Until != nil {
			r.Nondisclosure = append(r.Nondisclosure, nondisclosure{Start: rec.Time, Until: *e.Until})
		}
	case *events.FraudConfirmed:
		end()
		r.Forged, r.Breach = rec.Time, e.Disclosed
	case *events.BreachNotified:
		r.BreachNotified = known(rec)
	}
}

// Clocks lists the clocks of one request (none for an unknown one), most urgent first.
func (b *Book) Clocks(id string, p Policy) []Clock {
	r := b.reqs[id]
	if r == nil {
		return nil
	}
	cs := r.clocks(id, p)
	sortClocks(cs)
	return cs
}

// All lists the clocks of every request, most urgent first.
func (b *Book) All(p Policy) []Clock {
	var cs []Clock
	for id, r := range b.reqs {
		cs = append(cs, r.clocks(id, p)...)
	}
	sortClocks(cs)
	return cs
}

// Due lists the alerts owed at now, as Alerts(b.All(p), b.Flags(), now, p) would, but looks
// only at the requests that can owe new ones: those an event touched since the last call and
// those with a clock still running; the first call after a restore looks at every request. A
// request whose clocks have all ended owes a fixed set of alerts, listed once when it ended.
// The caller holds no write lock: Due may run beside other readers of the book.
func (b *Book) Due(now time.Time, p Policy) []Alert {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := b.changed
	if ids == nil { // restored: every request once
		ids = make(map[string]bool, len(b.reqs))
		for id := range b.reqs {
			ids[id] = true
		}
	}
	for id := range b.live {
		ids[id] = true
	}
	var clocks []Clock
	for id := range ids {
		r := b.reqs[id]
		if r == nil {
			continue
		}
		cs := r.clocks(id, p)
		delete(b.live, id)
		delete(b.open, id)
		for _, c := range cs {
			if c.mayOweAfter(now, p) {
				b.live[id] = true
			}
			if c.Open(now, p) {
				b.open[id] = true
			}
		}
		clocks = append(clocks, cs...)
	}
	var flags []Flag
	for _, f := range b.Flags() {
		if ids[f.Request] {
			flags = append(flags, f)
		}
	}
	b.changed = map[string]bool{}
	return Alerts(clocks, flags, now, p)
}

// Open lists the clocks still running at now, most urgent first. It reads the requests Due
// last found open and those touched since, so call Due first (serve does, every tick).
func (b *Book) Open(now time.Time, p Policy) []Clock {
	b.mu.Lock()
	ids := make([]string, 0, len(b.open)+len(b.changed))
	for id := range b.open {
		ids = append(ids, id)
	}
	for id := range b.changed {
		if !b.open[id] {
			ids = append(ids, id)
		}
	}
	all := b.changed == nil
	b.mu.Unlock()
	if all {
		ids = slices.Collect(maps.Keys(b.reqs))
	}
	var cs []Clock
	for _, id := range ids {
		if r := b.reqs[id]; r != nil {
			for _, c := range r.clocks(id, p) {
				if c.Open(now, p) {
					cs = append(cs, c)
				}
			}
		}
	}
	sortClocks(cs)
	return cs
}

// clocks is the one place that says which clocks a request runs: by instrument and kind,
// from its recorded facts.
func (r *request) clocks(id string, p Policy) []Clock {
	var cs []Clock
	add := func(k Kind, start, due, met, stop time.Time) {
		c := Clock{Request: id, Kind: k, Start: start, Due: due, Officer: r.Officer}
		switch {
		case !met.IsZero() && (stop.IsZero() || !stop.Before(met)):
			c.Ended = met
		case !stop.IsZero():
			c.Ended, c.Stopped = stop, true
		}
		cs = append(cs, c)
	}
	in := r.Received.Instrument
	switch {
	case in == events.InstrumentEPOC && r.Received.Emergency:
		add(KindEPOCEmergency, r.Delivered, r.Delivered.Add(events.EPOCEmergencyDeadline), r.Answered, r.Ended)
	case in == events.InstrumentEPOC:
		add(KindEPOC, r.Delivered, r.Delivered.Add(events.EPOCDeadline), r.Answered, r.Ended)
	case in != events.InstrumentEPOCPR && isEmergency(r.Received) && p.EmergencyTarget > 0:
		add(KindEmergency, r.Delivered, r.Delivered.Add(p.EmergencyTarget), r.Answered, r.Ended)
	}
	if d := r.Received.DueAt; d != nil {
		add(KindAuthorityDue, r.Delivered, *d, r.Answered, r.Ended)
	}
	switch {
	case in == events.InstrumentEPOCPR && !r.GivenEffect.IsZero():
		until := r.Delivered.Add(events.PreservationPeriod)
		if r.Extended {
			until = until.Add(events.PreservationExtension30)
		}
		add(KindEPOCPR, r.GivenEffect, until, r.Production, r.Ended)
	case in == events.InstrumentPreservation:
		until := r.Delivered.Add(events.USPreservationPeriod)
		if r.Renewed {
			until = until.Add(events.USPreservationPeriod)
		}
		add(KindUSPreservation, r.Delivered, until, time.Time{}, r.Ended)
	}
	for _, n := range r.Nondisclosure {
		add(KindNondisclosure, n.Start, n.Until, time.Time{}, n.Ended)
	}
	if r.Breach {
		add(KindBreach, r.Forged, r.Forged.Add(BreachPeriod), r.BreachNotified, time.Time{})
	}
	return cs
}

// Flag is a request verified through a channel that was compromised when the request was
// delivered; At is when both were known (the later of the verification and the marking).
type Flag struct {
	Request string    `json:"request_id"`
	Channel string    `json:"channel"`
	At      time.Time `json:"at"`
}

// Flags lists every flagged request, in the order the ledger learnt of them.
func (b *Book) Flags() []Flag {
	var flags []Flag
	for _, key := range slices.Sorted(maps.Keys(b.windows)) {
		for _, id := range b.via[key] {
			r := b.reqs[id]
			for _, w := range b.windows[key] {
				if !r.Delivered.Before(w.From) && (w.Until == nil || r.Delivered.Before(*w.Until)) {
					flags = append(flags, Flag{Request: id, Channel: key, At: later(w.Marked, r.Verified)})
					break
				}
			}
		}
	}
	slices.SortFunc(flags, func(a, b Flag) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Request, b.Request)
	})
	return slices.CompactFunc(flags, func(a, b Flag) bool { return a.Request == b.Request })
}

// known is when a fact was both stated and recorded: the later of its business and recorded
// times.
func known(rec events.Recorded) time.Time { return later(rec.Time, rec.RecordedAt) }

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// SnapshotVersion names the code that builds the book.
func (*Book) SnapshotVersion() string { return "deadlines.v1" }

type bookSnapshot struct {
	Requests map[string]*request `json:"requests"`
	Windows  map[string][]window `json:"windows"`
	Via      map[string][]string `json:"via"`
}

// MarshalSnapshot encodes the book; encoding/json sorts map keys, so equal books give equal
// bytes.
func (b *Book) MarshalSnapshot() ([]byte, error) {
	return json.Marshal(bookSnapshot{b.reqs, b.windows, b.via})
}

// UnmarshalSnapshot replaces the book with a decoded one.
func (b *Book) UnmarshalSnapshot(data []byte) error {
	var s bookSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("deadline: snapshot: %w", err)
	}
	// changed nil: the first Due looks at every request.
	*b = Book{reqs: s.Requests, windows: s.Windows, via: s.Via, live: map[string]bool{}, open: map[string]bool{}}
	if b.reqs == nil {
		b.reqs = map[string]*request{}
	}
	if b.windows == nil {
		b.windows = map[string][]window{}
	}
	if b.via == nil {
		b.via = map[string][]string{}
	}
	return nil
}
