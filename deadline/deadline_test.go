package deadline_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/deadline"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/internal/clocktest"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/store/jetstream"
)

// t0 is the delivery of every request: the next full hour, so that the stream records each
// fact before the business time the fake clock gives it, and a clock ends at its stated time.
var t0 = time.Now().UTC().Truncate(time.Hour).Add(time.Hour)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openStore(t *testing.T, dir string) *jetstream.Store {
	t.Helper()
	s, err := jetstream.Open(testCtx(t), jetstream.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ledger is a real embedded JetStream, the real command handler on a fake clock, and the
// book replayed from the stream.
type ledger struct {
	t     *testing.T
	dir   string
	s     *jetstream.Store
	h     *command.Handler
	clock *clocktest.Clock
}

func newLedger(t *testing.T) *ledger {
	dir := t.TempDir()
	l := &ledger{t: t, dir: dir, s: openStore(t, dir), clock: clocktest.New(t0)}
	t.Cleanup(func() { l.s.Close() })
	l.handler()
	return l
}

func (l *ledger) handler() {
	p, err := events.NewPseudonymizer([]byte("deadline-test-pseudonymisation-key-32"))
	if err != nil {
		l.t.Fatal(err)
	}
	l.h = command.NewHandler(l.s, p, command.Options{Source: "urn:test", Now: l.clock.Now})
}

// restart closes the store and opens the same folder again, as a restarted `serve` would.
func (l *ledger) restart() {
	if err := l.s.Close(); err != nil {
		l.t.Fatal(err)
	}
	l.s = openStore(l.t, l.dir)
	l.handler()
}

// actors: one per role, so that four eyes and separation hold.
var actors = map[command.Role]string{command.Intake: "ines", command.Legal: "lena", command.Disclosure: "dora", command.TrustSafety: "tess"}

// do records c now, by the actor of its role, and returns the request id.
func (l *ledger) do(id string, c aggregates.Command) string {
	l.t.Helper()
	c.Header().RequestID = id
	role := command.RoleOf(aggregates.CommandName(c))
	res, err := l.h.Handle(testCtx(l.t), command.Caller{Name: actors[role], Role: role}, c)
	if err != nil {
		l.t.Fatalf("%s: %v", aggregates.CommandName(c), err)
	}
	return res.RequestID
}

func (l *ledger) receive(in events.Instrument, emergency bool, due *time.Time) string {
	c := &aggregates.ReceiveRequest{
		Authority:  events.Authority{Name: "Staatsanwaltschaft", Kind: events.AuthorityProsecutor, Country: "DE"},
		Instrument: in, Emergency: emergency, DueAt: due,
		Targets:    []aggregates.TargetInput{{Account: aggregates.Account{ID: "a1"}, IdentifierType: events.IdentifierUsername}},
		DataSought: []events.DataCategory{events.DataSubscriber},
	}
	if aggregates.IsEEvidence(in) {
		c.EEvidence = &events.EEvidenceOrder{DataCategory: events.EEvidenceSubscriber}
	}
	return l.do("", c)
}

// disclosed takes a request through verification, review, decision and disclosure.
func (l *ledger) disclosed(id string) {
	l.do(id, &aggregates.VerifyRequester{Method: "callback_known_number", Verifier: "vera"})
	l.do(id, &aggregates.CompleteLegalReview{Outcome: events.ReviewValid})
	l.do(id, &aggregates.RecordDecision{Targets: []aggregates.TargetDecisionInput{{Account: aggregates.Account{ID: "a1"}, Outcome: events.OutcomeProduce, Approved: []events.DataCategory{events.DataSubscriber}}}})
	l.do(id, &aggregates.DiscloseData{Accounts: []aggregates.DisclosedAccountInput{{Account: aggregates.Account{ID: "a1"}, Categories: []events.DataCategory{events.DataSubscriber}}},
		Channel: "law_enforcement_portal", PackageSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"})
}

// book replays the whole stream into a fresh book.
func (l *ledger) book() *deadline.Book {
	l.t.Helper()
	b := deadline.NewBook()
	if _, err := projections.Replay(testCtx(l.t), l.s, 1, b); err != nil {
		l.t.Fatal(err)
	}
	return b
}

func clockOf(t *testing.T, b *deadline.Book, id string, k deadline.Kind, p deadline.Policy) deadline.Clock {
	t.Helper()
	for _, c := range b.Clocks(id, p) {
		if c.Kind == k {
			return c
		}
	}
	t.Fatalf("request %s has no %s clock: %+v", id, k, b.Clocks(id, p))
	return deadline.Clock{}
}

// TestEveryClockAtItsBoundary records one request per clock through the handler on a fake
// clock, replays the stream, and checks each clock's due time (computed here from the law's
// periods) and its state and alerts one nanosecond before, at and after its warning time and
// its due time.
func TestEveryClockAtItsBoundary(t *testing.T) {
	l := newLedger(t)
	p := deadline.DefaultPolicy()
	day := 24 * time.Hour
	due5 := t0.Add(5 * day)

	epoc := l.receive(events.InstrumentEPOC, false, nil)
	epocUrgent := l.receive(events.InstrumentEPOC, true, nil)
	emergency := l.receive(events.InstrumentEmergency, true, nil)
	authorityDue := l.receive(events.InstrumentCourtOrder, false, &due5)
	preservation := l.receive(events.InstrumentPreservation, false, nil)
	renewed := l.receive(events.InstrumentPreservation, false, nil)
	pr := l.receive(events.InstrumentEPOCPR, false, nil)
	prExtended := l.receive(events.InstrumentEPOCPR, false, nil)
	gagged := l.receive(events.InstrumentCourtOrder, false, nil)
	forged := l.receive(events.InstrumentCourtOrder, false, nil)

	l.clock.Advance(time.Hour)
	for _, id := range []string{pr, prExtended} {
		l.do(id, &aggregates.VerifyRequester{Method: "callback_known_number", Verifier: "vera"})
		l.do(id, &aggregates.GiveEffect{})
	}
	l.do(prExtended, &aggregates.ExtendPreservation{Extension: events.ExtendedBy30Days})
	l.do(renewed, &aggregates.ExtendPreservation{Extension: events.Renewed90Days})
	until := t0.Add(30 * day)
	l.do(gagged, &aggregates.DecideUserNotification{Decision: events.NotifyDelay, Until: &until})
	l.disclosed(forged)
	l.clock.Advance(time.Hour)
	l.do(forged, &aggregates.ConfirmFraud{Reason: "the prosecutor never sent it"})

	b := l.book()
	tests := []struct {
		name string
		id   string
		kind deadline.Kind
		due  time.Time
		late deadline.State
	}{
		{"EPOC: 10 days", epoc, deadline.KindEPOC, t0.Add(10 * day), deadline.Missed},
		{"EPOC in an emergency: 8 hours", epocUrgent, deadline.KindEPOCEmergency, t0.Add(8 * time.Hour), deadline.Missed},
		{"emergency: the platform's target", emergency, deadline.KindEmergency, t0.Add(p.EmergencyTarget), deadline.Missed},
		{"the authority's due date", authorityDue, deadline.KindAuthorityDue, due5, deadline.Missed},
		{"US preservation: 90 days", preservation, deadline.KindUSPreservation, t0.Add(90 * day), deadline.Expired},
		{"US preservation renewed: 90 more", renewed, deadline.KindUSPreservation, t0.Add(180 * day), deadline.Expired},
		{"EPOC-PR: 60 days", pr, deadline.KindEPOCPR, t0.Add(60 * day), deadline.Expired},
		{"EPOC-PR extended: 30 more", prExtended, deadline.KindEPOCPR, t0.Add(90 * day), deadline.Expired},
		{"a delay of notification ends", gagged, deadline.KindNondisclosure, until, deadline.Expired},
		{"breach notification: 72 hours from the forgery", forged, deadline.KindBreach, t0.Add(2*time.Hour + 72*time.Hour), deadline.Missed},
	}
	ns := time.Nanosecond
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := clockOf(t, b, tc.id, tc.kind, p)
			if !c.Due.Equal(tc.due) {
				t.Fatalf("due %s, want %s", c.Due, tc.due)
			}
			warn := tc.due.Add(-p.Warn[tc.kind])
			approaching := deadline.DeadlineApproaching
			if tc.kind == deadline.KindNondisclosure {
				approaching = deadline.NondisclosureExpiring
			}
			for _, at := range []struct {
				now    time.Time
				state  deadline.State
				alerts []deadline.AlertType
			}{
				{warn.Add(-ns), deadline.Running, nil},
				{warn, deadline.Approaching, []deadline.AlertType{approaching}},
				{tc.due.Add(-ns), deadline.Approaching, []deadline.AlertType{approaching}},
				{tc.due, deadline.Approaching, []deadline.AlertType{approaching}},
				{tc.due.Add(ns), tc.late, lateAlerts(approaching, tc.late)},
			} {
				if got := c.StateAt(at.now, p); got != at.state {
					t.Errorf("at %s: %s, want %s", at.now.Format(time.RFC3339Nano), got, at.state)
				}
				var got []deadline.AlertType
				for _, a := range deadline.Alerts([]deadline.Clock{c}, nil, at.now, p) {
					got = append(got, a.Type)
				}
				if !equal(got, at.alerts) {
					t.Errorf("alerts at %s: %v, want %v", at.now.Format(time.RFC3339Nano), got, at.alerts)
				}
			}
		})
	}
}

func lateAlerts(approaching deadline.AlertType, late deadline.State) []deadline.AlertType {
	if late == deadline.Missed {
		return []deadline.AlertType{approaching, deadline.DeadlineMissed}
	}
	return []deadline.AlertType{approaching}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestClocksEndOnTheFactsThatMeetThem: an answer in time meets a clock, a late one is late,
// a withdrawal stops it, and a breach notice meets the breach's.
func TestClocksEndOnTheFactsThatMeetThem(t *testing.T) {
	l := newLedger(t)
	p := deadline.DefaultPolicy()
	inTime := l.receive(events.InstrumentEPOC, true, nil)
	late := l.receive(events.InstrumentEPOC, true, nil)
	withdrawn := l.receive(events.InstrumentEPOC, false, nil)
	forged := l.receive(events.InstrumentCourtOrder, false, nil)
	l.disclosed(forged)
	l.do(forged, &aggregates.ConfirmFraud{Reason: "forged"})

	l.clock.Advance(8 * time.Hour) // exactly at the 8-hour due time: in time
	l.do(inTime, &aggregates.VerifyRequester{Method: "callback_known_number", Verifier: "vera"})
	l.do(inTime, &aggregates.GiveEffect{})
	l.do(withdrawn, &aggregates.WithdrawRequest{})
	l.do(forged, &aggregates.NotifyBreach{Supervisor: "BfDI"})
	l.clock.Advance(time.Nanosecond)
	l.do(late, &aggregates.RefuseOrder{Ground: events.RefusalDeFactoImpossible})

	b := l.book()
	now := t0.Add(365 * 24 * time.Hour)
	for _, tc := range []struct {
		id   string
		kind deadline.Kind
		want deadline.State
	}{
		{inTime, deadline.KindEPOCEmergency, deadline.Met},
		{late, deadline.KindEPOCEmergency, deadline.MetLate},
		{withdrawn, deadline.KindEPOC, deadline.Stopped},
		{forged, deadline.KindBreach, deadline.Met},
	} {
		if got := clockOf(t, b, tc.id, tc.kind, p).StateAt(now, p); got != tc.want {
			t.Errorf("%s of %s: %s, want %s", tc.kind, tc.id, got, tc.want)
		}
	}
}

// published reads every alert in the stream: subject → how many times it is there.
func published(t *testing.T, s *jetstream.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	for a, err := range s.ReadAlerts(testCtx(t), 1, false) {
		if err != nil {
			t.Fatal(err)
		}
		out[a.Subject]++
	}
	return out
}

// TestAlertsSurviveARestartWithoutRepeatsOrGaps publishes alerts as the clock moves, restarts
// the store and the publisher (and a second publisher races the first), moves the clock on
// while nothing runs, and checks that the stream holds exactly the alerts the facts owe at
// the end, computed afresh from a replay, each once.
func TestAlertsSurviveARestartWithoutRepeatsOrGaps(t *testing.T) {
	l := newLedger(t)
	p := deadline.DefaultPolicy()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	urgent := l.receive(events.InstrumentEPOC, true, nil) // due in 8 hours
	l.receive(events.InstrumentEPOC, false, nil)          // due in 10 days
	forged := l.receive(events.InstrumentCourtOrder, false, nil)
	l.disclosed(forged)
	l.do(forged, &aggregates.ConfirmFraud{Reason: "forged"}) // breach due in 72 hours

	publish := func(pub *deadline.Publisher) int {
		b := l.book()
		n, err := pub.Publish(testCtx(t), deadline.Alerts(b.All(p), b.Flags(), l.clock.Now(), p))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	pub, err := deadline.NewPublisher(testCtx(t), l.s, "urn:test", log)
	if err != nil {
		t.Fatal(err)
	}
	if n := publish(pub); n != 0 {
		t.Fatalf("%d alerts at delivery", n)
	}
	l.clock.Advance(6 * time.Hour) // the 8-hour clock approaches
	if n := publish(pub); n != 1 {
		t.Fatalf("%d alerts when the 8-hour clock approaches, want 1", n)
	}
	if n := publish(pub); n != 0 {
		t.Fatalf("%d alerts published again", n)
	}

	// Restart; while nothing runs the 8-hour clock is missed and the breach approaches.
	l.restart()
	l.clock.Advance(2*time.Hour + 50*time.Hour)
	a, err := deadline.NewPublisher(testCtx(t), l.s, "urn:test", log)
	if err != nil {
		t.Fatal(err)
	}
	other, err := deadline.NewPublisher(testCtx(t), l.s, "urn:test", log)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() { done <- publish(other) }()
	n := publish(a) + <-done
	if n != 2 {
		t.Errorf("%d alerts after the restart (two publishers), want 2: the 8-hour clock missed, the breach approaching", n)
	}
	l.do(urgent, &aggregates.VerifyRequester{Method: "callback_known_number", Verifier: "vera"})
	l.do(urgent, &aggregates.GiveEffect{}) // late: no alert undone, none added
	l.clock.Advance(10 * 24 * time.Hour)
	if n := publish(a); n != 3 {
		t.Errorf("%d alerts ten days on, want 3: the 10-day clock approaching and missed, the breach missed", n)
	}

	b := l.book()
	want := map[string]int{}
	for _, a := range deadline.Alerts(b.All(p), b.Flags(), l.clock.Now(), p) {
		want[a.Subject()]++
	}
	got := published(t, l.s)
	if len(want) != 6 || len(got) != len(want) {
		t.Errorf("stream holds %d alerts, the facts owe %d (want 6): %v", len(got), len(want), got)
	}
	for subject, n := range got {
		if n != 1 || want[subject] != 1 {
			t.Errorf("%s: %d in the stream, owed %d", subject, n, want[subject])
		}
	}
}

// TestACompromisedChannelFlagsTheRequestsVerifiedThroughIt: marking a mail domain compromised
// for a window flags the requests verified through it and delivered inside the window, and
// no other.
func TestACompromisedChannelFlagsTheRequestsVerifiedThroughIt(t *testing.T) {
	l := newLedger(t)
	trust := command.Caller{Name: "tess", Role: command.TrustSafety}
	res, err := l.h.Handle(testCtx(t), trust, &aggregates.RegisterAuthority{Name: "Polizei", Kind: events.AuthorityPolice, Country: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	police := res.AuthorityID
	for _, c := range []*aggregates.RegisterChannel{
		{Channel: "mail", Kind: events.ChannelEmailDomain, Address: "polizei.de", SourcedVia: "directory"},
		{Channel: "switchboard", Kind: events.ChannelCallbackNumber, Address: "+49 30 0000", SourcedVia: "directory"},
	} {
		c.AuthorityID, c.SourcedAt = police, t0.Add(-time.Hour)
		if _, err := l.h.Handle(testCtx(t), trust, c); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(id, channel string, method events.VerificationMethod) {
		l.do(id, &aggregates.VerifyRequester{Method: method, Verifier: "vera", Authority: police, Channel: channel})
	}
	before := l.receive(events.InstrumentEmergency, true, nil)
	verify(before, "mail", "signed_email")
	l.clock.Advance(2 * time.Hour)
	inside := l.receive(events.InstrumentEmergency, true, nil)
	verify(inside, "mail", "signed_email")
	byPhone := l.receive(events.InstrumentEmergency, true, nil)
	verify(byPhone, "switchboard", "callback_known_number")
	l.clock.Advance(time.Hour)
	if _, err := l.h.Handle(testCtx(t), trust, &aggregates.SetChannelStatus{RegistryMeta: aggregates.RegistryMeta{AuthorityID: police},
		Channel: "mail", Status: events.StatusCompromised, From: t0.Add(time.Hour), Reason: "mailbox hijacked"}); err != nil {
		t.Fatal(err)
	}
	b := l.book()
	flags := b.Flags()
	if len(flags) != 1 || flags[0].Request != inside || flags[0].Channel != police+"/mail" || !flags[0].At.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("flags %+v, want only %s, at the marking", flags, inside)
	}
	alerts := deadline.Alerts(nil, flags, l.clock.Now(), deadline.DefaultPolicy())
	if len(alerts) != 1 || alerts[0].Type != deadline.FraudFlagged {
		t.Fatalf("alerts %+v", alerts)
	}
}

// TestAnAnswerRecordedAfterTheDueTimeIsLate: an emergency EPOC answered "in time" by its
// stated time but recorded after its 8 hours ran out did not meet the clock.
func TestAnAnswerRecordedAfterTheDueTimeIsLate(t *testing.T) {
	l := newLedger(t)
	now := time.Now().UTC()
	l.clock = clocktest.New(now)
	l.handler()
	p := deadline.DefaultPolicy()
	delivered := now.Add(-10 * time.Hour)
	id := l.do("", &aggregates.ReceiveRequest{Meta: aggregates.Meta{At: delivered},
		Authority: events.Authority{Name: "Staatsanwaltschaft", Kind: events.AuthorityProsecutor, Country: "DE"}, Instrument: events.InstrumentEPOC, Emergency: true,
		EEvidence: &events.EEvidenceOrder{DataCategory: events.EEvidenceSubscriber},
		Targets:   []aggregates.TargetInput{{Account: aggregates.Account{ID: "a1"}, IdentifierType: events.IdentifierUsername}}, DataSought: []events.DataCategory{events.DataSubscriber}})
	l.do(id, &aggregates.VerifyRequester{Meta: aggregates.Meta{At: delivered.Add(time.Hour)}, Method: "callback_known_number", Verifier: "vera"})
	l.do(id, &aggregates.GiveEffect{Meta: aggregates.Meta{At: delivered.Add(7 * time.Hour)}}) // stated in time
	c := clockOf(t, l.book(), id, deadline.KindEPOCEmergency, p)
	if got := c.StateAt(l.clock.Now().Add(time.Minute), p); got != deadline.MetLate {
		t.Fatalf("%s, want %s (recorded %s after the due time)", got, deadline.MetLate, c.Ended.Sub(c.Due))
	}
}

// TestDueListsWhatAlertsListsTickByTick: the incremental Due, called as serve calls it while
// events arrive and the clock moves (and once more after a snapshot round trip), lists every
// alert Alerts lists over the whole book, none missing.
func TestDueListsWhatAlertsListsTickByTick(t *testing.T) {
	l := newLedger(t)
	p := deadline.DefaultPolicy()
	b := deadline.NewBook()
	var applied uint64
	feed := func() {
		for rec, err := range l.s.Read(testCtx(t), applied+1) {
			if err != nil {
				t.Fatal(err)
			}
			if err := projections.Feed(rec, b); err != nil {
				t.Fatal(err)
			}
			applied = rec.Sequence
		}
	}
	seen := map[string]bool{}
	tick := func() {
		feed()
		for _, a := range b.Due(l.clock.Now(), p) {
			seen[a.Subject()] = true
		}
		for _, a := range deadline.Alerts(b.All(p), b.Flags(), l.clock.Now(), p) {
			if !seen[a.Subject()] {
				t.Errorf("at %s: Due never listed %s", l.clock.Now(), a.Subject())
			}
		}
	}
	urgent := l.receive(events.InstrumentEPOC, true, nil)
	l.receive(events.InstrumentEPOC, false, nil)
	tick()
	l.clock.Advance(7 * time.Hour)
	tick()
	forged := l.receive(events.InstrumentCourtOrder, false, nil)
	l.disclosed(forged)
	l.do(forged, &aggregates.ConfirmFraud{Reason: "forged"})
	l.do(urgent, &aggregates.WithdrawRequest{})
	tick()
	data, err := b.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	b = deadline.NewBook()
	if err := b.UnmarshalSnapshot(data); err != nil {
		t.Fatal(err)
	}
	seen = map[string]bool{}
	l.clock.Advance(12 * 24 * time.Hour)
	tick()
	if len(seen) < 4 {
		t.Errorf("after a restore Due listed %d alerts: %v", len(seen), seen)
	}
	if got := b.Open(l.clock.Now(), p); len(got) != 2 { // the 10-day EPOC and the breach, both missed
		t.Errorf("open clocks %+v", got)
	}
}
