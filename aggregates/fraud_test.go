package aggregates_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/events"
)

// registry builds an authority's registry state by running registry commands through the
// rules: a registered police force with a callback number and a mail domain, and whatever
// further commands say.
func registry(t testing.TB, cmds ...aggregates.RegistryCommand) *aggregates.Authority {
	t.Helper()
	a := aggregates.NewAuthority(authorityID)
	base := []aggregates.RegistryCommand{
		&aggregates.RegisterAuthority{Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR"},
		&aggregates.RegisterChannel{Channel: "switchboard", Kind: events.ChannelCallbackNumber, Address: "+33 1 00 00 00 00",
			SourcedVia: "official directory", SourcedAt: delivered.AddDate(0, -1, 0)},
		&aggregates.RegisterChannel{Channel: "mail", Kind: events.ChannelEmailDomain, Address: "interieur.gouv.fr",
			SourcedVia: "liaison meeting", SourcedAt: delivered.AddDate(0, -1, 0)},
	}
	for i, c := range append(base, cmds...) {
		if _, err := registryDecide(a, c, uint64(i+1)); err != nil {
			t.Fatalf("%T: %v", c, err)
		}
	}
	return a
}

const authorityID = "0193f6a4-7c1e-7000-8000-0000000000a1"

// registryDecide decides one registry command and, when accepted, applies its event.
func registryDecide(a *aggregates.Authority, c aggregates.RegistryCommand, seq uint64) (events.Event, error) {
	m := c.Header()
	if m.CommandID == "" {
		m.CommandID = uuid.NewString()
	}
	if m.Actor == "" {
		m.Actor = "tess.trust"
	}
	if m.At.IsZero() {
		m.At = delivered.AddDate(0, 0, -7)
	}
	if m.Now.IsZero() {
		m.Now = m.At
	}
	if c.Authority() == "" {
		aggregates.SetAuthorityID(c, a.ID)
	}
	e, err := aggregates.DecideAuthority(a, c)
	if err != nil {
		return nil, err
	}
	env, err := events.NewEnvelope(e, events.Meta{ID: uuid.Must(uuid.NewV7()), Source: "urn:test", AggregateID: a.ID,
		AggregateVersion: a.Version + 1, Time: m.At, Actor: m.Actor, CommandID: m.CommandID})
	if err != nil {
		return nil, err
	}
	a.Apply(events.Recorded{Envelope: env, Sequence: seq}, e)
	return e, nil
}

// verifyThrough is a verification by callback (or mail) through a channel of the registry.
func verifyThrough(reg *aggregates.Authority, channel string) *aggregates.VerifyRequester {
	v := verify()
	v.Authority, v.Channel, v.Registry = authorityID, channel, reg
	if channel == "mail" {
		v.Method, v.Auth = "signed_email", "dkim=pass spf=pass dmarc=pass"
	}
	return v
}

// compromised marks a channel compromised from from on (until, if given).
func compromised(channel string, from time.Time, until *time.Time) *aggregates.SetChannelStatus {
	return &aggregates.SetChannelStatus{Channel: channel, Status: events.StatusCompromised, From: from, Until: until, Reason: "mailbox hijacked"}
}

func suspect() *aggregates.SuspectFraud {
	return &aggregates.SuspectFraud{Meta: aggregates.Meta{Command: "suspect_fraud", Actor: "tess.trust"}, Reason: "look-alike domain"}
}

func confirmFraud() *aggregates.ConfirmFraud {
	return &aggregates.ConfirmFraud{Meta: aggregates.Meta{Command: "confirm_fraud", Actor: "tess.trust"}, Reason: "the police deny sending it"}
}

func notifyBreach() *aggregates.NotifyBreach {
	return &aggregates.NotifyBreach{Meta: aggregates.Meta{Command: "notify_breach"}, Supervisor: "CNIL"}
}

func channelRules() []ruleCase {
	sound := registry(&testing.T{})
	hijacked := registry(&testing.T{}, compromised("mail", delivered.Add(-time.Hour), nil))
	ended := registry(&testing.T{}, compromised("mail", delivered.Add(-48*time.Hour), timePtr(delivered.Add(-24*time.Hour))))
	suspended := registry(&testing.T{}, &aggregates.SetAuthorityStatus{Status: events.StatusSuspended, Reason: "accounts taken over"})
	return []ruleCase{
		{
			name:      "a channel the registry does not hold does not verify",
			given:     seq(receive()),
			cmd:       cmd(func() *aggregates.VerifyRequester { return verifyThrough(sound, "fax") }),
			want:      aggregates.ErrUnregisteredChannel,
			satisfied: seq(receive()),
			fix:       cmd(func() *aggregates.VerifyRequester { return verifyThrough(sound, "switchboard") }),
		},
		{
			name:  "an authority the registry does not hold does not verify",
			given: seq(receive()),
			cmd: cmd(func() *aggregates.VerifyRequester {
				return verifyThrough(aggregates.NewAuthority(authorityID), "switchboard")
			}),
			want: aggregates.ErrUnregisteredChannel,
			fix:  cmd(func() *aggregates.VerifyRequester { return verifyThrough(sound, "switchboard") }),
		},
		{
			name:  "a callback does not go through a mail domain",
			given: seq(receive()),
			cmd: cmd(func() *aggregates.VerifyRequester {
				v := verifyThrough(sound, "mail")
				v.Method = "callback_known_number"
				return v
			}),
			want: aggregates.ErrChannelKind,
			fix:  cmd(func() *aggregates.VerifyRequester { return verifyThrough(sound, "mail") }),
		},
		{
			name:  "a channel compromised at the time does not verify",
			given: seq(receive()),
			cmd:   cmd(func() *aggregates.VerifyRequester { return verifyThrough(hijacked, "mail") }),
			want:  aggregates.ErrChannelNotSound,
			fix:   cmd(func() *aggregates.VerifyRequester { return verifyThrough(hijacked, "switchboard") }),
		},
		{
			name:  "a compromise window that has ended no longer stops the channel",
			given: seq(receive()),
			cmd:   cmd(func() *aggregates.VerifyRequester { return verifyThrough(hijacked, "mail") }),
			want:  aggregates.ErrChannelNotSound,
			fix:   cmd(func() *aggregates.VerifyRequester { return verifyThrough(ended, "mail") }),
		},
		{
			name:  "a suspended authority does not verify through any channel",
			given: seq(receive()),
			cmd:   cmd(func() *aggregates.VerifyRequester { return verifyThrough(suspended, "switchboard") }),
			want:  aggregates.ErrChannelNotSound,
			fix:   cmd(func() *aggregates.VerifyRequester { return verifyThrough(sound, "switchboard") }),
		},
	}
}

func TestVerificationGoesThroughASoundRegisteredChannel(t *testing.T) {
	t.Parallel()
	runRules(t, channelRules())
}

func TestVerificationNamesAuthorityAndChannelTogether(t *testing.T) {
	t.Parallel()
	reg := registry(t)
	tests := []struct {
		name, field string
		edit        func(*aggregates.VerifyRequester)
	}{
		{"channel without authority", "authority", func(v *aggregates.VerifyRequester) { v.Authority = "" }},
		{"authority without channel", "channel", func(v *aggregates.VerifyRequester) { v.Channel = "" }},
		{"a method through no channel", "method", func(v *aggregates.VerifyRequester) { v.Method = "in_person" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := verifyThrough(reg, "switchboard")
			tc.edit(v)
			err := newHistory(t, receive()).refuse(v, events.ErrInvalid)
			var fe *events.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("error %v names no field %s", err, tc.field)
			}
		})
	}
}

func fraudRules() []ruleCase {
	return []ruleCase{
		{
			name:      "a request suspected forged is not verified",
			given:     seq(receive(), suspect()),
			cmd:       cmd(verify),
			want:      aggregates.ErrFraud,
			satisfied: seq(receive()),
		},
		{
			name:      "no disclosure while fraud is suspected",
			given:     seq(receive(), verify(), review(), decision(produce(alice, events.DataSubscriber)), suspect()),
			cmd:       cmd(func() *aggregates.DiscloseData { return disclose(give(alice, events.DataSubscriber)) }),
			want:      aggregates.ErrFraud,
			satisfied: seq(receive(), verify(), review(), decision(produce(alice, events.DataSubscriber))),
		},
		{
			name:      "fraud is suspected once",
			given:     seq(receive(), suspect()),
			cmd:       cmd(suspect),
			want:      aggregates.ErrAlreadySuspected,
			satisfied: seq(receive()),
		},
		{
			name:      "fraud is confirmed once, and not suspected after",
			given:     seq(receive(), confirmFraud()),
			cmd:       cmd(suspect),
			want:      aggregates.ErrFraudConfirmed,
			satisfied: seq(receive()),
		},
		{
			name:      "a breach needs a forgery to which data went",
			given:     seq(receive(), confirmFraud()),
			cmd:       cmd(notifyBreach),
			want:      aggregates.ErrNoBreach,
			satisfied: seq(receive(), verify(), review(), decision(produce(alice, events.DataSubscriber)), by(disclosureActor, disclose(give(alice, events.DataSubscriber))), closeRequest(), confirmFraud()),
		},
		{
			name:      "a breach is notified once",
			given:     seq(receive(), verify(), review(), decision(produce(alice, events.DataSubscriber)), by(disclosureActor, disclose(give(alice, events.DataSubscriber))), confirmFraud(), notifyBreach()),
			cmd:       cmd(notifyBreach),
			want:      aggregates.ErrBreachNotified,
			satisfied: seq(receive(), verify(), review(), decision(produce(alice, events.DataSubscriber)), by(disclosureActor, disclose(give(alice, events.DataSubscriber))), confirmFraud()),
		},
	}
}

func TestForgedRequestsAreStoppedAndTheirBreachNotified(t *testing.T) {
	t.Parallel()
	runRules(t, fraudRules())
}

func TestFraudIsRecordedAfterTheRequestEnded(t *testing.T) {
	t.Parallel()
	h := newHistory(t, receive(), verify(), review(), decision(produce(alice, events.DataSubscriber)),
		by(disclosureActor, disclose(give(alice, events.DataSubscriber))), closeRequest())
	h.accept(confirmFraud())
	if !h.state.FraudConfirmed || !h.state.Breach {
		t.Fatalf("confirmed %v, breach %v: a forgery found after closing, with data sent, is a breach", h.state.FraudConfirmed, h.state.Breach)
	}
	h.accept(notifyBreach())
}

func TestRegistryRules(t *testing.T) {
	t.Parallel()
	until := delivered.Add(time.Hour)
	tests := []struct {
		name  string
		given []aggregates.RegistryCommand
		cmd   aggregates.RegistryCommand
		want  error
	}{
		{"registered once", nil, &aggregates.RegisterAuthority{Name: "Police", Kind: events.AuthorityPolice, Country: "FR"}, aggregates.ErrAuthorityRegistered},
		{"a channel id once", nil, &aggregates.RegisterChannel{Channel: "mail", Kind: events.ChannelEmailDomain, Address: "police.fr", SourcedVia: "directory", SourcedAt: delivered.AddDate(0, -1, 0)}, aggregates.ErrChannelRegistered},
		{"an address once", nil, &aggregates.RegisterChannel{Channel: "mail2", Kind: events.ChannelEmailDomain, Address: "interieur.gouv.fr", SourcedVia: "directory", SourcedAt: delivered.AddDate(0, -1, 0)}, aggregates.ErrChannelRegistered},
		{"a status on a channel it has", nil, compromised("fax", delivered, nil), aggregates.ErrUnknownChannel},
		{"a status it has not", []aggregates.RegistryCommand{&aggregates.SetAuthorityStatus{Status: events.StatusSuspended, Reason: "x"}},
			&aggregates.SetAuthorityStatus{Status: events.StatusSuspended, Reason: "again"}, aggregates.ErrStatusUnchanged},
		{"a window that ends after it starts", nil, compromised("mail", until, timePtr(delivered)), events.ErrInvalid},
		{"a channel sourced before it is registered", nil, &aggregates.RegisterChannel{Channel: "portal", Kind: events.ChannelPortalAccount, Address: "fr-pn-1", SourcedVia: "portal sign-up", SourcedAt: delivered}, events.ErrInvalid},
		{"the channel's source is said", nil, &aggregates.RegisterChannel{Channel: "portal", Kind: events.ChannelPortalAccount, Address: "fr-pn-1", SourcedAt: delivered.AddDate(0, -1, 0)}, events.ErrInvalid},
		{"no request id on a registry command", nil, &aggregates.SetAuthorityStatus{Meta: aggregates.Meta{RequestID: uuid.NewString()}, Status: events.StatusSuspended, Reason: "x"}, events.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := registry(t, tc.given...)
			version := a.Version
			if _, err := registryDecide(a, tc.cmd, 99); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if a.Version != version {
				t.Error("a refused command changed the state")
			}
		})
	}
	if _, err := registryDecide(aggregates.NewAuthority(authorityID), compromised("mail", delivered, nil), 1); !errors.Is(err, aggregates.ErrAuthorityNotRegistered) {
		t.Errorf("a status before registration: %v", err)
	}
}

func TestChannelStandingFollowsItsWindows(t *testing.T) {
	t.Parallel()
	from, until := delivered, delivered.Add(24*time.Hour)
	a := registry(t, compromised("mail", from, &until))
	ch := a.Channels["mail"]
	for _, tc := range []struct {
		at   time.Time
		want events.RegistryStatus
	}{
		{from.Add(-time.Nanosecond), events.StatusActive},
		{from, events.StatusCompromised},
		{until.Add(-time.Nanosecond), events.StatusCompromised},
		{until, events.StatusActive},
	} {
		if got := ch.StatusAt(tc.at); got != tc.want {
			t.Errorf("at %s: %s, want %s", tc.at, got, tc.want)
		}
	}
}
