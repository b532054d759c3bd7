package aggregates_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

// correctField corrects one field of the request's intake.
func correctField(field, value string) *aggregates.CorrectEntry {
	return &aggregates.CorrectEntry{Meta: aggregates.Meta{Command: "correct_entry"}, Entry: firstEntry, Field: field,
		Value: json.RawMessage(value), Reason: "recorded wrongly at intake"}
}

// stated gives a command a business time and a server clock of its own.
func stated[C aggregates.Command](at, now time.Time, c C) C {
	m := c.Header()
	m.At, m.Now = at, now
	return c
}

// timeRules: the server's clock judges every time-gated rule, and no fact is dated before
// what it follows from.
func timeRules() []ruleCase {
	day := 24 * time.Hour
	until := delivered.Add(365 * day)
	prohibited := func() aggregates.Command {
		return notificationDecision(events.NotifyProhibited, timePtr(until))
	}
	return []ruleCase{
		{
			name:  "a decision is not dated before the review it follows",
			given: seq(receive(), at(delivered.Add(2*time.Hour), review())),
			cmd:   func() aggregates.Command { return at(delivered.Add(time.Hour), decision()) },
			want:  aggregates.ErrBeforeDependency,
			fix:   func() aggregates.Command { return at(delivered.Add(2*time.Hour), decision()) },
		},
		{
			name:  "a disclosure is not dated before the decision that approved it",
			given: seq(receive(), verify(), review(), at(delivered.Add(3*time.Hour), decision())),
			cmd:   func() aggregates.Command { return at(delivered.Add(2*time.Hour), disclose()) },
			want:  aggregates.ErrBeforeDependency,
			fix:   func() aggregates.Command { return at(delivered.Add(4*time.Hour), disclose()) },
		},
		{
			name:  "a disclosure is not dated before the requester was verified",
			given: seq(receiveEmergency(), decision(), at(delivered.Add(3*time.Hour), verify())),
			cmd:   func() aggregates.Command { return at(delivered.Add(2*time.Hour), disclose()) },
			want:  aggregates.ErrBeforeDependency,
			fix:   func() aggregates.Command { return at(delivered.Add(3*time.Hour), disclose()) },
		},
		{
			name:  "a notice dated after a prohibition is refused while the server's clock is inside it",
			given: seq(receive(), prohibited()),
			cmd: func() aggregates.Command {
				return stated(until.Add(5*365*day), delivered.Add(time.Hour), notify())
			},
			want: aggregates.ErrNotificationBarred,
			fix:  func() aggregates.Command { return onClock(until, notify()) },
		},
		{
			name:  "a notice is not dated back inside a prohibition that has ended",
			given: seq(receive(), prohibited()),
			cmd:   func() aggregates.Command { return stated(until.Add(-day), until.Add(day), notify()) },
			want:  aggregates.ErrNotificationBarred,
			fix:   func() aggregates.Command { return stated(until, until.Add(day), notify()) },
		},
		{
			name:  "a notice is not dated before its notification decision",
			given: seq(receive(), at(delivered.Add(day), notificationDecision(events.NotifyUser, nil))),
			cmd:   func() aggregates.Command { return at(delivered.Add(time.Hour), notify()) },
			want:  aggregates.ErrBeforeDependency,
			fix:   func() aggregates.Command { return at(delivered.Add(day), notify()) },
		},
		{
			name:  "a preservation is not extended once its period ran out by the server's clock, whatever at says",
			given: preservedPR(),
			cmd: func() aggregates.Command {
				return stated(delivered.Add(50*day), delivered.Add(60*day+time.Second), extend30())
			},
			want: aggregates.ErrPreservationEnded,
			fix:  func() aggregates.Command { return stated(delivered.Add(50*day), delivered.Add(60*day), extend30()) },
		},
	}
}

func TestTimeGatedRulesRunOnTheServersClock(t *testing.T) {
	t.Parallel()
	runRules(t, timeRules())
}

// separationRules: four eyes between intake and legal, and the separation a reviewer of
// disclosures expects: the one who approved does not send, the one who took the request in
// (and verified the requester) does not send, and the one who sent does not review the
// sending afterwards.
func separationRules() []ruleCase {
	decided := func() []aggregates.Command { return seq(receive(), verify(), review(), decision()) }
	return []ruleCase{
		{
			name:  "whoever recorded the decision does not disclose",
			given: decided(),
			cmd:   func() aggregates.Command { return by(legalActor, disclose()) },
			want:  aggregates.ErrSeparation,
			fix:   func() aggregates.Command { return disclose() },
		},
		{
			name:  "whoever took the request in does not disclose",
			given: decided(),
			cmd:   func() aggregates.Command { return by(intakeActor, disclose()) },
			want:  aggregates.ErrSeparation,
			fix:   func() aggregates.Command { return disclose() },
		},
		{
			name:  "whoever disclosed in an emergency does not review afterwards",
			given: seq(receiveEmergency(), verify(), decision(), disclose()),
			cmd:   func() aggregates.Command { return by(disclosureActor, review()) },
			want:  aggregates.ErrSeparation,
			fix:   cmd(review),
		},
	}
}

func TestSeparationOfDuties(t *testing.T) {
	t.Parallel()
	runRules(t, separationRules())
}

// reliedOnRules: a correction cannot change what a recorded fact relied on.
func reliedOnRules() []ruleCase {
	epoc := func() []aggregates.Command { return seq(receiveEPOC(events.InstrumentEPOC), verify()) }
	return []ruleCase{
		{
			name:  "emergency stays what it was when a decision relied on it",
			given: seq(receive(), verify(), correctField("emergency", "true"), decision()),
			cmd:   func() aggregates.Command { return correctField("emergency", "false") },
			want:  aggregates.ErrReliedOn,
			fix:   func() aggregates.Command { return correctField("authority.name", `"Police nationale, OCLCTIC"`) },
		},
		{
			name:      "an order's instrument stays once given effect",
			given:     append(epoc(), giveEffect()),
			cmd:       func() aggregates.Command { return correctField("instrument", `"court_order"`) },
			want:      aggregates.ErrReliedOn,
			satisfied: epoc(),
		},
		{
			name:  "an order's instrument stays once refused; its e-Evidence block, which only reports read, does not",
			given: append(epoc(), refuseOrder()),
			cmd:   func() aggregates.Command { return correctField("instrument", `"epoc_pr"`) },
			want:  aggregates.ErrReliedOn,
			fix:   func() aggregates.Command { return correctField("eevidence", `{"data_category":"content"}`) },
		},
		{
			name:      "the issuing state stays once the enforcing state was told",
			given:     append(epoc(), notifyEnforcing("FR")),
			cmd:       func() aggregates.Command { return correctField("authority.country", `"AT"`) },
			want:      aggregates.ErrReliedOn,
			satisfied: epoc(),
		},
	}
}

func TestCorrectionsLeaveWhatFactsReliedOn(t *testing.T) {
	t.Parallel()
	runRules(t, reliedOnRules())
}

// TestCorrectionCannotLaunderADecisionWithoutReview is the bypass of issue 10: legal corrects
// a request to emergency, decides without review, corrects it back and has the data sent. The
// correction back is refused, so the request stays an emergency decided before review, and it
// cannot close until a review, by someone who did not send the data, is recorded.
func TestCorrectionCannotLaunderADecisionWithoutReview(t *testing.T) {
	t.Parallel()
	h := newHistory(t, receive(), verify())
	h.refuse(decision(), aggregates.ErrReviewRequired)
	h.accept(correctField("emergency", "true"))
	h.accept(decision())
	h.refuse(correctField("emergency", "false"), aggregates.ErrReliedOn)
	h.accept(disclose())
	if !h.state.Emergency || !h.state.AwaitingLegalProcess {
		t.Fatalf("after the refused correction: emergency %v, awaiting legal process %v; want both", h.state.Emergency, h.state.AwaitingLegalProcess)
	}
	h.refuse(closeRequest(), aggregates.ErrLegalProcessPending)
	h.refuse(by(disclosureActor, review()), aggregates.ErrSeparation)
	h.accept(review())
	h.accept(closeRequest())
}

// TestADecisionIsNotCorrected keeps ErrAlreadyDecided's advice true: a second decision is
// refused, and a correction of the decision is refused too, naming what can be corrected.
func TestADecisionIsNotCorrected(t *testing.T) {
	t.Parallel()
	h := newHistory(t, receive(), verify(), review())
	decided := h.accept(decision())
	err := h.refuse(decision(), aggregates.ErrAlreadyDecided)
	if strings.Contains(err.Error(), "record a correction") {
		t.Errorf("ErrAlreadyDecided advises a correction the rules refuse: %v", err)
	}
	c := correctField("targets", `[]`)
	c.Entry = decided.ID
	err = h.refuse(c, events.ErrInvalid)
	var fe *events.FieldError
	if !errors.As(err, &fe) || fe.Field != "entry" || !strings.Contains(err.Error(), "only a RequestReceived") {
		t.Errorf("correcting the decision: %v; want an entry error saying only the intake is corrected", err)
	}
}

// TestDecideNeedsTheServersClock: a caller that forgets the clock gets an error, never a rule
// judged by the caller's own at.
func TestDecideNeedsTheServersClock(t *testing.T) {
	t.Parallel()
	c := receive()
	c.RequestID, c.CommandID = "0193f6a4-7c1e-7000-8000-000000000001", "c-1"
	if _, err := aggregates.Decide(aggregates.NewRequest(c.RequestID), c); !errors.Is(err, aggregates.ErrNoClock) {
		t.Fatalf("got %v, want ErrNoClock", err)
	}
}
