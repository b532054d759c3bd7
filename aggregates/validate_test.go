package aggregates_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

// filled completes a command's header as the boundary would, so a case breaks one field only.
func filled[C aggregates.Command](c C) C {
	m := c.Header()
	m.CommandID, m.RequestID, m.At = uuid.NewString(), uuid.NewString(), delivered.Add(time.Hour)
	if m.Actor == "" {
		m.Actor = legalActor
	}
	return c
}

// TestCommandsAreValidatedField by field: a broken field is refused as events.ErrInvalid
// with a FieldError naming it, before any rule that needs the request's state.
func TestCommandsAreValidatedFieldByField(t *testing.T) {
	t.Parallel()
	type C = aggregates.Command
	tests := []struct {
		name  string
		cmd   func() C
		field string
	}{
		{"command id is required", func() C { c := filled(verify()); c.CommandID = ""; return c }, "command_id"},
		{"actor is required", func() C { c := filled(verify()); c.Actor = ""; return c }, "actor"},
		{"business time is required", func() C { c := filled(verify()); c.At = time.Time{}; return c }, "at"},
		{"request id is a UUID", func() C { c := filled(verify()); c.RequestID = "REQ-1"; return c }, "request_id"},
		{"request id is required", func() C { c := filled(acknowledge()); c.RequestID = ""; return c }, "request_id"},

		{"authority has a name", func() C { c := filled(receive()); c.Authority.Name = ""; return c }, "authority.name"},
		{"authority kind is known", func() C { c := filled(receive()); c.Authority.Kind = "sheriff"; return c }, "authority.kind"},
		{"authority country is ISO alpha-2", func() C { c := filled(receive()); c.Authority.Country = "XX"; return c }, "authority.country"},
		{"authority country is not alpha-3", func() C { c := filled(receive()); c.Authority.Country = "FRA"; return c }, "authority.country"},
		{"authority country is upper case", func() C { c := filled(receive()); c.Authority.Country = "fr"; return c }, "authority.country"},
		{"instrument is known", func() C { c := filled(receive()); c.Instrument = "letter"; return c }, "instrument"},
		{"a request names a target", func() C { c := filled(receive()); c.Targets = nil; return c }, "targets"},
		{"identifier type is known", func() C { c := filled(receive()); c.Targets[0].IdentifierType = "ssn"; return c }, "targets[0].identifier_type"},
		{"a target is named once", func() C { c := filled(receive()); c.Targets[1].Ref = alice; return c }, "targets[1]"},
		{"data sought is given", func() C { c := filled(receive()); c.DataSought = nil; return c }, "data_sought"},
		{"data sought is known", func() C { c := filled(receive()); c.DataSought[0] = "dna"; return c }, "data_sought[0]"},
		{"data sought is not repeated", func() C {
			c := filled(receive())
			c.DataSought = []events.DataCategory{events.DataSubscriber, events.DataSubscriber}
			return c
		}, "data_sought[1]"},
		{"due date is not before delivery", func() C { c := filled(receive()); c.DueAt = timePtr(c.At.Add(-time.Second)); return c }, "due_at"},

		{"verification method is known", func() C { c := filled(verify()); c.Method = "gut_feeling"; return c }, "method"},
		{"verifier is named", func() C { c := filled(verify()); c.Verifier = ""; return c }, "verifier"},
		{"failed verification method is known", func() C { c := filled(failVerification()); c.Method = ""; return c }, "method"},
		{"failed verification names its verifier", func() C { c := filled(failVerification()); c.Verifier = ""; return c }, "verifier"},
		{"failed verification gives a reason", func() C { c := filled(failVerification()); c.Reason = ""; return c }, "reason"},

		{"review outcome is known", func() C { c := filled(review()); c.Outcome = "fine"; return c }, "outcome"},

		{"a decision decides a target", func() C { c := filled(decision()); c.Targets = nil; return c }, "targets"},
		{"a target is decided once", func() C {
			return filled(decision(produce(alice, events.DataSubscriber), reject(alice)))
		}, "targets[1]"},
		{"decision outcome is known", func() C { c := filled(decision()); c.Targets[0].Outcome = "maybe"; return c }, "targets[0].outcome"},
		{"a rejection approves nothing", func() C {
			c := filled(decision())
			c.Targets[1].Approved = []events.DataCategory{events.DataSubscriber}
			return c
		}, "targets[1].approved"},
		{"a production approves something", func() C { return filled(decision(reject(alice), produce(bob))) }, "targets[1].approved"},
		{"approved categories are known", func() C {
			return filled(decision(produce(alice, events.DataSubscriber, "browsing_history")))
		}, "targets[0].approved[1]"},

		{"a disclosure names an account", func() C { c := filled(disclose()); c.Accounts = nil; return c }, "accounts"},
		{"an account is disclosed once", func() C {
			return filled(disclose(give(alice, events.DataSubscriber), give(alice, events.DataContent)))
		}, "accounts[1]"},
		{"disclosed categories are given", func() C { return filled(disclose(give(alice))) }, "accounts[0].categories"},
		{"delivery channel is known", func() C { c := filled(disclose()); c.Channel = "fax"; return c }, "channel"},
		{"package hash is required", func() C { c := filled(disclose()); c.PackageSHA256 = ""; return c }, "package_sha256"},
		{"package hash is lowercase hex", func() C {
			c := filled(disclose())
			c.PackageSHA256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
			return c
		}, "package_sha256"},
		{"package hash is a SHA-256", func() C { c := filled(disclose()); c.PackageSHA256 = packageHash[:40]; return c }, "package_sha256"},

		{"notification decision is known", func() C { return filled(notificationDecision("later", nil)) }, "decision"},
		{"a delay has an end", func() C { return filled(notificationDecision(events.NotifyDelay, nil)) }, "until"},
		{"notify now has no end", func() C {
			return filled(notificationDecision(events.NotifyUser, timePtr(delivered.AddDate(0, 1, 0))))
		}, "until"},
		{"a delay ends after it is decided", func() C {
			c := filled(notificationDecision(events.NotifyDelay, nil))
			c.Until = timePtr(c.At)
			return c
		}, "until"},
		{"a prohibition ends after it is decided", func() C {
			c := filled(notificationDecision(events.NotifyProhibited, nil))
			c.Until = timePtr(c.At.Add(-time.Hour))
			return c
		}, "until"},

		{"a notification names an account", func() C { c := filled(notify()); c.Accounts = nil; return c }, "accounts"},

		{"a correction names its entry by UUID", func() C { return filled(correct("the first one")) }, "entry"},
		{"a correction names a field", func() C { c := filled(correct(uuid.NewString())); c.Field = ""; return c }, "field"},
		{"a correction gives a reason", func() C { c := filled(correct(uuid.NewString())); c.Reason = ""; return c }, "reason"},
		{"a correction gives a value", func() C { c := filled(correct(uuid.NewString())); c.Value = nil; return c }, "value"},
		{"a correction's value is JSON", func() C { c := filled(correct(uuid.NewString())); c.Value = []byte(`BE`); return c }, "value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A received, verified, reviewed request: validation must refuse before the rules.
			h := newHistory(t, receive(), verify(), review())
			err := h.refuseAsIs(tc.cmd(), events.ErrInvalid)
			var fe *events.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *events.FieldError", err)
			}
			if fe.Field != tc.field {
				t.Errorf("field %q (%v), want %q", fe.Field, err, tc.field)
			}
		})
	}
}

// TestValidCommandsPassValidation guards the table above: its commands, unbroken, are valid.
func TestValidCommandsPassValidation(t *testing.T) {
	t.Parallel()
	for _, c := range []aggregates.Command{
		receive(), verify(), failVerification(), acknowledge(), review(), decision(), disclose(),
		notificationDecision(events.NotifyDelay, timePtr(delivered.AddDate(0, 3, 0))), notify(), withdraw(), closeRequest(),
		correct(uuid.NewString()),
	} {
		c := filled(c)
		_, err := aggregates.Decide(aggregates.NewRequest(c.Header().RequestID), c)
		if errors.Is(err, events.ErrInvalid) {
			t.Errorf("%T: %v", c, err)
		}
	}
}
