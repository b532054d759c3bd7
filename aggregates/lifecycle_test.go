package aggregates_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

func TestRequestLifecycle(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	until := delivered.Add(90 * 24 * time.Hour)
	steps := []struct {
		cmd   aggregates.Command
		event string
	}{
		{receive(), "RequestReceived"},
		{verify(), "RequesterVerified"},
		{acknowledge(), "ReceiptAcknowledged"},
		{review(), "LegalReviewCompleted"},
		{decision(), "DecisionRecorded"},
		{disclose(give(alice, events.DataSubscriber, events.DataIPAddress)), "DataDisclosed"},
		{notificationDecision(events.NotifyDelay, &until), "UserNotificationDecided"},
		{at(until, notify(alice)), "UserNotified"},
		{closeRequest(), "RequestClosed"},
	}
	for i, s := range steps {
		rec := h.accept(s.cmd)
		k, err := rec.Kind()
		if err != nil {
			t.Fatal(err)
		}
		if k.Name != s.event {
			t.Errorf("step %d: recorded %s, want %s", i, k.Name, s.event)
		}
		if rec.AggregateVersion != uint64(i+1) || rec.Subject != h.id || rec.CommandID != s.cmd.Header().CommandID {
			t.Errorf("step %d: envelope version %d subject %s command %s", i, rec.AggregateVersion, rec.Subject, rec.CommandID)
		}
	}

	r := h.state
	if r.Status != aggregates.StatusClosed {
		t.Errorf("status %q, want closed", r.Status)
	}
	if r.Version != uint64(len(steps)) || r.LastSequence != h.seq {
		t.Errorf("version %d, last sequence %d; want %d, %d", r.Version, r.LastSequence, len(steps), h.seq)
	}
	if !r.DeliveredAt.Equal(delivered) || r.IntakeActor != intakeActor || r.Country != "FR" || r.Instrument != events.InstrumentCourtOrder || r.Emergency {
		t.Errorf("intake not folded: %+v", r)
	}
	if r.Verification != aggregates.Verified || !r.Acknowledged || !r.Reviewed || !r.Decided || r.AwaitingLegalProcess {
		t.Errorf("flags: verification %q acknowledged %v reviewed %v decided %v awaiting %v",
			r.Verification, r.Acknowledged, r.Reviewed, r.Decided, r.AwaitingLegalProcess)
	}
	wantApproved := map[events.AccountRef][]events.DataCategory{alice: {events.DataSubscriber, events.DataIPAddress}}
	if !reflect.DeepEqual(r.Approved, wantApproved) {
		t.Errorf("approved %v, want %v", r.Approved, wantApproved)
	}
	if !reflect.DeepEqual(r.Disclosed, wantApproved) {
		t.Errorf("disclosed %v, want %v", r.Disclosed, wantApproved)
	}
	if r.Notification == nil || r.Notification.Decision != events.NotifyDelay || !r.Notification.Until.Equal(until) {
		t.Errorf("notification %+v", r.Notification)
	}
	for i, s := range steps {
		if seq, ok := r.CommandSequence(s.cmd.Header().CommandID); !ok || seq != uint64(i+1) {
			t.Errorf("command of step %d at sequence %d, %v; want %d", i, seq, ok, i+1)
		}
	}
}

func TestDisclosuresAccumulatePerAccount(t *testing.T) {
	t.Parallel()
	h := newHistory(t, receive(), verify(), review(),
		decision(produce(alice, events.DataSubscriber, events.DataIPAddress, events.DataContent), produce(bob, events.DataSubscriber)),
		disclose(give(alice, events.DataSubscriber)),
		disclose(give(alice, events.DataSubscriber, events.DataContent), give(bob, events.DataSubscriber)))
	want := map[events.AccountRef][]events.DataCategory{
		alice: {events.DataSubscriber, events.DataContent},
		bob:   {events.DataSubscriber},
	}
	if !reflect.DeepEqual(h.state.Disclosed, want) {
		t.Errorf("disclosed %v, want %v", h.state.Disclosed, want)
	}
}

func TestEmergencyDisclosureBeforeLegalReview(t *testing.T) {
	t.Parallel()
	for _, outcome := range []events.ReviewOutcome{events.ReviewValid, events.ReviewOverbroad, events.ReviewDefective, events.ReviewConflictOfLaw} {
		t.Run(string(outcome), func(t *testing.T) {
			t.Parallel()
			h := newHistory(t, receiveEmergency(), verify(), decision())
			if h.state.AwaitingLegalProcess {
				t.Fatal("flagged before anything was disclosed")
			}
			h.accept(disclose())
			if !h.state.AwaitingLegalProcess {
				t.Fatal("an emergency disclosure before review is not flagged")
			}
			h.record(acknowledge(), notificationDecision(events.NotifyProhibited, nil))
			if !h.state.AwaitingLegalProcess {
				t.Fatal("the flag dropped before the legal process was recorded")
			}
			h.refuse(closeRequest(), aggregates.ErrLegalProcessPending)

			h.accept(reviewWith(outcome))
			if h.state.AwaitingLegalProcess {
				t.Fatal("still flagged after the legal process was recorded")
			}
			h.accept(closeRequest())
		})
	}
}

func TestDisclosureAfterReviewIsNotFlagged(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		receive *aggregates.ReceiveRequest
	}{
		{"ordinary", receive()},
		{"emergency reviewed first", receiveEmergency()},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHistory(t, c.receive, verify(), review(), decision(), disclose())
			if h.state.AwaitingLegalProcess {
				t.Fatal("a disclosure after review awaits nothing")
			}
			h.accept(closeRequest())
		})
	}
}

// TestForgedEmergencyRequest is the 2021–22 case: a hijacked police mailbox sends an
// "emergency" request; the callback to the known number shows it is forged.
func TestForgedEmergencyRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given []aggregates.Command
	}{
		{"caught before any decision", seq(receiveEmergency(), failVerification())},
		{"caught after an approving decision", seq(receiveEmergency(), decision(), failVerification())},
		{"caught after review and decision", seq(receiveEmergency(), review(), decision(), failVerification())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHistory(t, tc.given...)
			h.refuse(disclose(), aggregates.ErrNotVerified)
			h.refuse(verify(), aggregates.ErrVerificationFailed)
			h.refuse(failVerification(), aggregates.ErrVerificationFailed)
			if !h.state.Decided {
				h.accept(decision(reject(alice), reject(bob)))
			}
			h.refuse(disclose(), aggregates.ErrNotVerified)
			if !h.state.Reviewed { // an emergency decided first still owes its review before closing
				h.refuse(closeRequest(), aggregates.ErrLegalProcessPending)
				h.accept(reviewWith(events.ReviewDefective))
			}
			h.accept(closeRequest())
			if len(h.state.Disclosed) != 0 || h.state.Verification != aggregates.VerificationFailed || h.state.Status != aggregates.StatusClosed {
				t.Errorf("forged request ended with %+v", h.state)
			}
		})
	}
}

func TestNotificationWindows(t *testing.T) {
	t.Parallel()
	decided := delivered.Add(time.Hour)
	until := delivered.Add(30 * 24 * time.Hour)
	tests := []struct {
		name     string
		decision events.NotificationDecision
		until    *time.Time
		notifyAt time.Time
		barred   bool
	}{
		{"notify at once", events.NotifyUser, nil, decided, false},
		{"delay: a second before the end", events.NotifyDelay, &until, until.Add(-time.Second), true},
		{"delay: at the end", events.NotifyDelay, &until, until, false},
		{"delay: after the end", events.NotifyDelay, &until, until.Add(24 * time.Hour), false},
		{"prohibited without end: years later", events.NotifyProhibited, nil, delivered.AddDate(10, 0, 0), true},
		{"prohibited until a date: before it", events.NotifyProhibited, &until, until.Add(-time.Nanosecond), true},
		{"prohibited until a date: at it", events.NotifyProhibited, &until, until, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHistory(t, receive(), at(decided, notificationDecision(tc.decision, tc.until)))
			c := at(tc.notifyAt, notify(alice, bob))
			if tc.barred {
				h.refuse(c, aggregates.ErrNotificationBarred)
				return
			}
			h.accept(c)
		})
	}
}

func TestLaterNotificationDecisionReplacesEarlierOne(t *testing.T) {
	t.Parallel()
	h := newHistory(t, receive(), notificationDecision(events.NotifyProhibited, nil))
	h.refuse(notify(), aggregates.ErrNotificationBarred)
	h.accept(notificationDecision(events.NotifyUser, nil))
	h.accept(notify())
}

func TestCorrectionsAfterWithdrawalOrClosing(t *testing.T) {
	t.Parallel()
	other := newHistory(t, receive(), verify())
	tests := []struct {
		name  string
		given []aggregates.Command
	}{
		{"open", seq(receive(), verify())},
		{"withdrawn", seq(receive(), verify(), withdraw())},
		{"closed", seq(receive(), verify(), review(), decision(), closeRequest())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHistory(t, tc.given...)
			h.refuse(correct(other.recs[0].ID), aggregates.ErrUnknownEntry)
			h.refuse(correct(uuid.NewString()), aggregates.ErrUnknownEntry)
			h.refuse(at(delivered.Add(-time.Hour), correct(h.recs[1].ID)), aggregates.ErrBeforeDelivery)

			status := h.state.Status
			h.accept(correct(h.recs[0].ID))
			if h.state.Country != "BE" {
				t.Errorf("country %s after the correction, want BE", h.state.Country)
			}
			// Only the intake's facts can be corrected, and only fields the reports read.
			h.refuse(correct(h.recs[1].ID), events.ErrInvalid)
			badField := correct(h.recs[0].ID)
			badField.Field = "reference"
			h.refuse(badField, events.ErrInvalid)
			badValue := correct(h.recs[0].ID)
			badValue.Value = []byte(`"XX"`)
			h.refuse(badValue, events.ErrInvalid)
			again := correct(h.recs[0].ID) // a corrected field can be corrected again
			again.Value = []byte(`"NL"`)
			h.accept(again)
			if h.state.Country != "NL" || h.state.Status != status {
				t.Errorf("after two corrections: country %s, status %q; want NL, %q", h.state.Country, h.state.Status, status)
			}
		})
	}
}

func TestEveryCommandIsRefusedBeforeReceipt(t *testing.T) {
	t.Parallel()
	for _, c := range everyCommandButReceipt() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			newHistory(t).refuse(c.cmd(), aggregates.ErrNotReceived)
		})
	}
}

func TestEveryCommandButCorrectionIsRefusedAfterWithdrawalOrClosing(t *testing.T) {
	t.Parallel()
	ends := []struct {
		name  string
		given func() []aggregates.Command
	}{
		{"withdrawn", func() []aggregates.Command { return seq(receive(), verify(), withdraw()) }},
		{"closed", func() []aggregates.Command {
			return seq(receive(), verify(), review(), decision(), disclose(), notificationDecision(events.NotifyUser, nil), closeRequest())
		}},
	}
	for _, end := range ends {
		for _, c := range everyCommandButReceipt() {
			t.Run(end.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				h := newHistory(t, end.given()...)
				cmd := c.cmd()
				if ce, ok := cmd.(*aggregates.CorrectEntry); ok {
					ce.Entry = h.recs[0].ID
					h.accept(cmd)
					return
				}
				h.refuse(cmd, aggregates.ErrEnded)
			})
		}
	}
}

func TestBusinessTimeBeforeDeliveryIsRefused(t *testing.T) {
	t.Parallel()
	for _, c := range everyCommandButReceipt() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHistory(t, receive(), verify(), review(), decision(), notificationDecision(events.NotifyUser, nil))
			cmd := at(delivered.Add(-time.Millisecond), c.cmd())
			if ce, ok := cmd.(*aggregates.CorrectEntry); ok {
				ce.Entry = h.recs[0].ID
			}
			h.refuse(cmd, aggregates.ErrBeforeDelivery)
		})
	}
}

func TestDuplicateCommandIsRefusedAndPointsAtItsEvent(t *testing.T) {
	t.Parallel()
	h := newHistory(t, receive())
	v := withID("verify-once", verify())
	rec := h.accept(v)
	h.accept(acknowledge())

	retried := withID("verify-once", verify())
	h.refuse(retried, aggregates.ErrDuplicateCommand)
	if seq, ok := h.state.CommandSequence("verify-once"); !ok || seq != rec.Sequence {
		t.Errorf("CommandSequence = %d, %v; want %d", seq, ok, rec.Sequence)
	}
	if _, ok := h.state.CommandSequence("never-sent"); ok {
		t.Error("CommandSequence knows a command never recorded")
	}

	// A refused command is not recorded, so its id stays free.
	refused := withID("close-early", closeRequest())
	h.refuse(refused, aggregates.ErrNoDecision)
	if _, ok := h.state.CommandSequence("close-early"); ok {
		t.Error("a refused command was remembered")
	}
	h.record(review(), decision())
	h.accept(withID("close-early", closeRequest()))
}

// everyCommandButReceipt lists one valid command of each kind a received request can take.
func everyCommandButReceipt() []struct {
	name string
	cmd  func() aggregates.Command
} {
	later := delivered.Add(48 * time.Hour)
	return []struct {
		name string
		cmd  func() aggregates.Command
	}{
		{"verify_requester", cmd(verify)},
		{"fail_verification", cmd(failVerification)},
		{"acknowledge_receipt", cmd(acknowledge)},
		{"complete_legal_review", cmd(review)},
		{"record_decision", func() aggregates.Command { return decision() }},
		{"disclose_data", func() aggregates.Command { return disclose() }},
		{"decide_user_notification", func() aggregates.Command { return notificationDecision(events.NotifyDelay, &later) }},
		{"notify_user", func() aggregates.Command { return notify() }},
		{"withdraw_request", cmd(withdraw)},
		{"close_request", cmd(closeRequest)},
		{"correct_entry", func() aggregates.Command { return correct(uuid.NewString()) }},
	}
}
