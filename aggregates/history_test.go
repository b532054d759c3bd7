package aggregates_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

// The cast of every history: who records what, and when the request was delivered.
const (
	intakeActor     = "ines.intake"
	legalActor      = "lars.legal"
	disclosureActor = "dora.disclosure" // sends what legal approved: never the one who decided
)

var (
	delivered = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

	testPseudo = mustPseudonymizer("0123456789abcdef0123456789abcdef")
	alice      = testPseudo.Ref("platform-user-1001") // a target
	bob        = testPseudo.Ref("platform-user-1002") // a target
	mallory    = testPseudo.Ref("platform-user-6666") // never a target

	packageHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

func mustPseudonymizer(key string) *events.Pseudonymizer {
	p, err := events.NewPseudonymizer([]byte(key))
	if err != nil {
		panic(err)
	}
	return p
}

// firstEntry stands for the id of the request's first event in a CorrectEntry built before
// that event exists; the history fills it in, as it fills the command and request ids.
const firstEntry = "first-entry-of-this-request"

// history is a fake store for one request: it runs commands through Decide, wraps each event
// in an envelope with a fresh UUID and the next stream sequence, keeps the canonical bytes a
// store would keep, and Applies the event, as command.Handler does.
type history struct {
	t     testing.TB
	id    string
	clock time.Time
	seq   uint64

	stored [][]byte // canonical envelope bytes, in order
	seqs   []uint64
	recs   []events.Recorded
	state  *aggregates.Request
}

func newHistory(t testing.TB, cmds ...aggregates.Command) *history {
	t.Helper()
	id := uuid.NewString()
	h := &history{t: t, id: id, clock: delivered, state: aggregates.NewRequest(id)}
	h.record(cmds...)
	return h
}

// prepare fills what the boundary fills: command and request ids, the authenticated actor
// (the legal officer unless the command names one), a business time a minute after the
// last one and, unless the command states one, a server clock at the latest time yet.
func (h *history) prepare(c aggregates.Command) {
	m := c.Header()
	if m.CommandID == "" {
		m.CommandID = uuid.NewString()
	}
	if m.RequestID == "" {
		m.RequestID = h.id
	}
	if m.Actor == "" {
		m.Actor = legalActor
	}
	if m.At.IsZero() {
		m.At = h.clock.Add(time.Minute)
	}
	if m.At.After(h.clock) {
		h.clock = m.At
	}
	if m.Now.IsZero() { // the server's clock: the latest time the history reached
		m.Now = h.clock
	}
	if ce, ok := c.(*aggregates.CorrectEntry); ok && ce.Entry == firstEntry && len(h.recs) > 0 {
		ce.Entry = h.recs[0].ID
	}
}

// decide runs one command through the rules and checks that deciding changed nothing.
func (h *history) decide(c aggregates.Command) (events.Event, error) {
	h.t.Helper()
	h.prepare(c)
	return h.decideAsIs(c)
}

// decideAsIs is decide for a command whose header is to be left as it is.
func (h *history) decideAsIs(c aggregates.Command) (events.Event, error) {
	h.t.Helper()
	before := h.replay()
	if !reflect.DeepEqual(h.state, before) {
		h.t.Fatalf("state folded from decided events differs from state folded from stored events:\n live   %+v\n stored %+v", h.state, before)
	}
	e, err := aggregates.Decide(h.state, c)
	if !reflect.DeepEqual(h.state, before) {
		h.t.Fatalf("Decide(%T) changed the state:\n before %+v\n after  %+v", c, before, h.state)
	}
	return e, err
}

// record runs commands that must be accepted and stores their events.
func (h *history) record(cmds ...aggregates.Command) {
	h.t.Helper()
	for _, c := range cmds {
		h.accept(c)
	}
}

// accept runs one command that must be accepted, stores its event and returns it.
func (h *history) accept(c aggregates.Command) events.Recorded {
	h.t.Helper()
	e, err := h.decide(c)
	if err != nil {
		h.t.Fatalf("%s refused: %v", describe(c), err)
	}
	if e == nil {
		h.t.Fatalf("%s accepted without an event", describe(c))
	}
	m := c.Header()
	env, err := events.NewEnvelope(e, events.Meta{
		ID:               uuid.Must(uuid.NewV7()),
		Source:           "urn:ledger:test",
		AggregateID:      m.RequestID,
		AggregateVersion: h.state.Version + 1,
		Time:             m.At,
		Actor:            m.Actor,
		CommandID:        m.CommandID,
		CorrelationID:    m.CorrelationID,
		CausationID:      m.CausationID,
	})
	if err != nil {
		h.t.Fatalf("%s: envelope: %v", describe(c), err)
	}
	b, err := env.Marshal()
	if err != nil {
		h.t.Fatalf("%s: marshal: %v", describe(c), err)
	}
	h.seq++
	rec := events.Recorded{Envelope: env, Sequence: h.seq}
	h.stored = append(h.stored, b)
	h.seqs = append(h.seqs, h.seq)
	h.recs = append(h.recs, rec)
	h.state.Apply(rec, e)
	return rec
}

// refuse runs one command that must break the rule want: no event, state unchanged.
func (h *history) refuse(c aggregates.Command, want error) error {
	h.t.Helper()
	h.prepare(c)
	return h.refuseAsIs(c, want)
}

// refuseAsIs is refuse for a command whose header is to be left as it is.
func (h *history) refuseAsIs(c aggregates.Command, want error) error {
	h.t.Helper()
	e, err := h.decideAsIs(c)
	if !errors.Is(err, want) {
		h.t.Fatalf("%s: got error %v, want %v", describe(c), err, want)
	}
	if e != nil {
		h.t.Fatalf("%s refused (%v) but returned event %#v", describe(c), err, e)
	}
	return err
}

// replay folds the stored bytes into a fresh state, as a reload from the store would.
func (h *history) replay() *aggregates.Request {
	h.t.Helper()
	r := aggregates.NewRequest(h.id)
	for i, b := range h.stored {
		env, err := events.Decode(b)
		if err != nil {
			h.t.Fatalf("stored event %d: %v", i, err)
		}
		p, err := env.Payload()
		if err != nil {
			h.t.Fatalf("stored event %d: %v", i, err)
		}
		r.Apply(events.Recorded{Envelope: env, Sequence: h.seqs[i]}, p)
	}
	return r
}

func describe(c aggregates.Command) string {
	m := c.Header()
	return reflect.TypeOf(c).Elem().Name() + " by " + m.Actor + " at " + m.At.Format(time.RFC3339Nano)
}

// Commands, each a fresh value with only what its rule needs; the history fills the rest.

func receive() *aggregates.ReceiveRequest {
	return receiveSeeking(events.DataSubscriber, events.DataIPAddress, events.DataContent)
}

func receiveSeeking(cats ...events.DataCategory) *aggregates.ReceiveRequest {
	return &aggregates.ReceiveRequest{
		Meta:       aggregates.Meta{Command: "receive_request", Actor: intakeActor, At: delivered},
		Authority:  events.Authority{Name: "Police nationale, OFAC", Kind: events.AuthorityPolice, Country: "FR"},
		Instrument: events.InstrumentCourtOrder,
		Reference:  "PN-2025-0042",
		Targets: []aggregates.TargetInput{
			{Account: aggregates.Account{Ref: alice}, IdentifierType: events.IdentifierPhone},
			{Account: aggregates.Account{Ref: bob}, IdentifierType: events.IdentifierUsername},
		},
		DataSought: cats,
	}
}

func receiveEmergency() *aggregates.ReceiveRequest {
	c := receive()
	c.Instrument, c.Emergency = events.InstrumentEmergency, true
	return c
}

func verify() *aggregates.VerifyRequester {
	return &aggregates.VerifyRequester{Meta: aggregates.Meta{Command: "verify_requester"}, Method: "callback_known_number", Verifier: "vera.trust"}
}

func failVerification() *aggregates.FailVerification {
	return &aggregates.FailVerification{Meta: aggregates.Meta{Command: "fail_verification"}, Method: "callback_known_number", Verifier: "vera.trust", Reason: "the police station never sent it; the mailbox was hijacked"}
}

func acknowledge() *aggregates.AcknowledgeReceipt {
	return &aggregates.AcknowledgeReceipt{Meta: aggregates.Meta{Command: "acknowledge_receipt"}, Automated: true}
}

func review() *aggregates.CompleteLegalReview {
	return reviewWith(events.ReviewValid)
}

func reviewWith(o events.ReviewOutcome) *aggregates.CompleteLegalReview {
	return &aggregates.CompleteLegalReview{Meta: aggregates.Meta{Command: "complete_legal_review"}, Outcome: o, Grounds: "order issued by a competent court"}
}

func produce(a events.AccountRef, cats ...events.DataCategory) aggregates.TargetDecisionInput {
	return aggregates.TargetDecisionInput{Account: aggregates.Account{Ref: a}, Outcome: events.OutcomeProduce, Approved: cats}
}

func reject(a events.AccountRef) aggregates.TargetDecisionInput {
	return aggregates.TargetDecisionInput{Account: aggregates.Account{Ref: a}, Outcome: events.OutcomeReject, Grounds: "overbroad"}
}

// decision approves subscriber and IP data of alice and rejects bob, unless told otherwise.
func decision(targets ...aggregates.TargetDecisionInput) *aggregates.RecordDecision {
	if len(targets) == 0 {
		targets = []aggregates.TargetDecisionInput{produce(alice, events.DataSubscriber, events.DataIPAddress), reject(bob)}
	}
	return &aggregates.RecordDecision{Meta: aggregates.Meta{Command: "record_decision", Actor: legalActor}, Targets: targets}
}

func decisionBy(actor string) *aggregates.RecordDecision {
	c := decision()
	c.Actor = actor
	return c
}

func give(a events.AccountRef, cats ...events.DataCategory) aggregates.DisclosedAccountInput {
	return aggregates.DisclosedAccountInput{Account: aggregates.Account{Ref: a}, Categories: cats}
}

// disclose sends alice's subscriber data, unless told otherwise.
func disclose(accounts ...aggregates.DisclosedAccountInput) *aggregates.DiscloseData {
	if len(accounts) == 0 {
		accounts = []aggregates.DisclosedAccountInput{give(alice, events.DataSubscriber)}
	}
	return &aggregates.DiscloseData{Meta: aggregates.Meta{Command: "disclose_data", Actor: disclosureActor}, Accounts: accounts, Channel: "law_enforcement_portal", PackageSHA256: packageHash}
}

func notificationDecision(d events.NotificationDecision, until *time.Time) *aggregates.DecideUserNotification {
	return &aggregates.DecideUserNotification{Meta: aggregates.Meta{Command: "decide_user_notification"}, Decision: d, Until: until, Grounds: "court order"}
}

func notify(accounts ...events.AccountRef) *aggregates.NotifyUser {
	if len(accounts) == 0 {
		accounts = []events.AccountRef{alice}
	}
	c := &aggregates.NotifyUser{Meta: aggregates.Meta{Command: "notify_user"}}
	for _, a := range accounts {
		c.Accounts = append(c.Accounts, aggregates.Account{Ref: a})
	}
	return c
}

func withdraw() *aggregates.WithdrawRequest {
	return &aggregates.WithdrawRequest{Meta: aggregates.Meta{Command: "withdraw_request"}, Reason: "the authority withdrew it"}
}

func closeRequest() *aggregates.CloseRequest {
	return &aggregates.CloseRequest{Meta: aggregates.Meta{Command: "close_request"}, Reason: "handled"}
}

func correct(entry string) *aggregates.CorrectEntry {
	return &aggregates.CorrectEntry{Meta: aggregates.Meta{Command: "correct_entry"}, Entry: entry, Field: "authority.country", Value: []byte(`"BE"`), Reason: "the order came from Belgium"}
}

// at sets a command's business time.
func at[C aggregates.Command](when time.Time, c C) C {
	c.Header().At = when
	return c
}

// onClock sets a command's business time and the server's clock to the same instant.
func onClock[C aggregates.Command](when time.Time, c C) C {
	m := c.Header()
	m.At, m.Now = when, when
	return c
}

// by sets a command's actor.
func by[C aggregates.Command](actor string, c C) C {
	c.Header().Actor = actor
	return c
}

// withID sets a command's id.
func withID[C aggregates.Command](id string, c C) C {
	c.Header().CommandID = id
	return c
}

func timePtr(t time.Time) *time.Time { return &t }
