package aggregates_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

// Rules found missing by review and fuzzing; each test shows the case that slipped through.

// TestRulesSeeOnlyAccountRefs: Decide is the last line before an event is stored, so an
// account the boundary forgot to Resolve must not become an event with an empty account.
func TestRulesSeeOnlyAccountRefs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given []aggregates.Command
		cmd   aggregates.Command
		field string
	}{
		{"intake", nil, func() aggregates.Command {
			c := receive()
			c.Targets[0].Account = aggregates.Account{ID: "platform-user-1001"}
			return c
		}(), "targets[0].account"},
		{"decision", seq(receive(), review()), decision(aggregates.TargetDecisionInput{
			Account: aggregates.Account{ID: "platform-user-1001"}, Outcome: events.OutcomeNoData}), "targets[0].account"},
		{"disclosure", seq(receive(), verify(), review(), decision()), disclose(aggregates.DisclosedAccountInput{
			Account: aggregates.Account{ID: "platform-user-1001"}, Categories: []events.DataCategory{events.DataSubscriber}}), "accounts[0].account"},
		{"notification", seq(receive(), notificationDecision(events.NotifyUser, nil)),
			&aggregates.NotifyUser{Accounts: []aggregates.Account{{ID: "platform-user-1001"}}}, "accounts[0].account"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHistory(t, tc.given...)
			err := h.refuse(tc.cmd, events.ErrInvalid)
			var fe *events.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("error %v, want a FieldError for %s", err, tc.field)
			}
		})
	}
}

// TestCommandBelongsToTheRequestItIsDecidedOn: a command addressed to one request must not
// be recorded on another.
func TestCommandBelongsToTheRequestItIsDecidedOn(t *testing.T) {
	t.Parallel()
	h := newHistory(t, receive())
	c := verify()
	c.RequestID = uuid.NewString()
	err := h.refuse(c, events.ErrInvalid)
	var fe *events.FieldError
	if !errors.As(err, &fe) || fe.Field != "request_id" {
		t.Errorf("error %v, want a FieldError for request_id", err)
	}
}

// TestStoredDelayWithoutEndDoesNotPanic: Apply takes recorded facts as they are, so Decide
// must cope with a delay that has no end (written by an older version or another writer).
func TestStoredDelayWithoutEndDoesNotPanic(t *testing.T) {
	t.Parallel()
	h := newHistory(t, receive())
	env, err := events.NewEnvelope(&events.UserNotificationDecided{Decision: events.NotifyDelay}, events.Meta{
		ID: uuid.New(), Source: "urn:ledger:older", AggregateID: h.id, AggregateVersion: 2,
		Time: delivered.Add(1), Actor: legalActor, CommandID: uuid.NewString(),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.state.Apply(events.Recorded{Envelope: env, Sequence: 2}, &events.UserNotificationDecided{Decision: events.NotifyDelay})
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("Decide panicked: %v", p)
		}
	}()
	c := notify()
	h.prepare(c)
	if _, err := aggregates.Decide(h.state, c); !errors.Is(err, aggregates.ErrNotificationBarred) {
		t.Errorf("got %v, want ErrNotificationBarred: a delay of unknown end still bars notification", err)
	}
}

// TestWithdrawnEmergencyDisclosureStillGetsItsLegalProcess: an emergency disclosure stays
// flagged until its legal process is recorded. When the authority withdraws the request
// after the data left, that process must still be recordable, or the flag can never clear.
func TestWithdrawnEmergencyDisclosureStillGetsItsLegalProcess(t *testing.T) {
	t.Parallel()
	h := newHistory(t, receiveEmergency(), verify(), decision(), disclose(), withdraw())
	if !h.state.AwaitingLegalProcess {
		t.Fatal("withdrawal cleared the flag without a legal process")
	}
	h.accept(review())
	if h.state.AwaitingLegalProcess {
		t.Error("still flagged after the legal process was recorded")
	}
}
