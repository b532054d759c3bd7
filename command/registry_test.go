package command_test

import (
	"errors"
	"testing"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
)

const trust = "tess"

// registerPolice enters a police force with a callback number and a mail domain through the
// handler, as trust and safety would, and returns its id.
func registerPolice(t *testing.T, h *command.Handler) string {
	t.Helper()
	res, err := handleAs(h, testCtx(t), trust, &aggregates.RegisterAuthority{Meta: aggregates.Meta{At: delivered.AddDate(0, 0, -7)},
		Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.AuthorityID
	for _, c := range []*aggregates.RegisterChannel{
		{Channel: "switchboard", Kind: events.ChannelCallbackNumber, Address: "+33 1 00 00 00 00", SourcedVia: "official directory"},
		{Channel: "mail", Kind: events.ChannelEmailDomain, Address: "interieur.gouv.fr", SourcedVia: "liaison meeting"},
	} {
		c.At, c.SourcedAt, c.AuthorityID = delivered.AddDate(0, 0, -7), delivered.AddDate(0, -1, 0), id
		if _, err := handleAs(h, testCtx(t), trust, c); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func TestRegistryStopsVerificationThroughACompromisedChannel(t *testing.T) {
	s := openStore(t)
	h := newHandler(t, s)
	police := registerPolice(t, h)
	through := func(r req, channel string, method events.VerificationMethod) *aggregates.VerifyRequester {
		v := r.verify()
		v.Authority, v.Channel, v.Method = police, channel, method
		return v
	}

	sound := newReq()
	mustHandle(t, h, step{intake, sound.receive("platform-user-1")}, step{intake, through(sound, "mail", "signed_email")})

	// The mailbox was hijacked from the day before the next request on.
	forged := newReq()
	mustHandle(t, h, step{intake, forged.receive("platform-user-2")})
	if _, err := handleAs(h, testCtx(t), trust, &aggregates.SetChannelStatus{RegistryMeta: aggregates.RegistryMeta{AuthorityID: police},
		Channel: "mail", Status: events.StatusCompromised, From: forged.at(-24), Reason: "mailbox hijacked"}); err != nil {
		t.Fatal(err)
	}
	before := lastSeq(t, s)
	_, err := handleAs(h, testCtx(t), intake, through(forged, "mail", "signed_email"))
	if !errors.Is(err, aggregates.ErrChannelNotSound) {
		t.Fatalf("verification through the hijacked mailbox: %v, want ErrChannelNotSound", err)
	}
	if _, err := handleAs(h, testCtx(t), intake, through(forged, "fax", "callback_known_number")); !errors.Is(err, aggregates.ErrUnregisteredChannel) {
		t.Fatalf("verification through an unregistered channel: %v", err)
	}
	if after := lastSeq(t, s); after != before {
		t.Fatalf("refused verifications moved the stream from %d to %d", before, after)
	}
	// A call back to the registered number still verifies.
	mustHandle(t, h, step{intake, through(forged, "switchboard", "callback_known_number")})
	recs := mustLoad(t, s, forged.id)
	e, err := recs[len(recs)-1].Payload()
	if err != nil {
		t.Fatal(err)
	}
	if v := e.(*events.RequesterVerified); v.Authority != police || v.Channel != "switchboard" {
		t.Errorf("verified %+v: the event names the registry's authority and channel", v)
	}
}

func TestRegistryCommandsAreTrustAndSafetys(t *testing.T) {
	s := openStore(t)
	h := newHandler(t, s)
	c := &aggregates.RegisterAuthority{Meta: aggregates.Meta{At: delivered}, Name: "Police", Kind: events.AuthorityPolice, Country: "FR"}
	for _, role := range command.Roles {
		if role == command.TrustSafety {
			continue
		}
		if _, err := h.Handle(testCtx(t), command.Caller{Name: "mallory", Role: role}, c); !errors.Is(err, command.ErrForbidden) {
			t.Errorf("register_authority as %s: %v", role, err)
		}
	}
	res, err := h.Handle(testCtx(t), command.Caller{Name: trust, Role: command.TrustSafety}, c)
	if err != nil || res.AuthorityID == "" || res.Event != "AuthorityRegistered" {
		t.Fatalf("%+v, %v", res, err)
	}
	// A retried command is recorded once.
	again, err := h.Handle(testCtx(t), command.Caller{Name: trust, Role: command.TrustSafety}, c)
	if err != nil || !again.Duplicate || again.Sequence != res.Sequence {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	state, err := h.LoadAuthority(testCtx(t), res.AuthorityID)
	if err != nil || !state.Registered || state.Version != 1 {
		t.Fatalf("%+v, %v", state, err)
	}
}
