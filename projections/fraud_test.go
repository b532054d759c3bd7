package projections_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/complianceledger/ledger/aggregates"
	"github.com/complianceledger/ledger/command"
	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/internal/clocktest"
	"github.com/complianceledger/ledger/projections"
	"github.com/complianceledger/ledger/store/jetstream"
)

// TestAForgeryLeavesTheFulfilledFiguresForItsOwn records, on a real JetStream, a genuine
// request, one caught as forged before disclosure and one confirmed forged a quarter after
// its data went out, and checks the README's rule: a forgery leaves every fulfilled figure
// and counts as forged (before or after disclosure) in the period where it counted before:
// its delivery's in the transparency report, its disclosure's in Telegram's. The figures
// below are counted by hand from the history.
func TestAForgeryLeavesTheFulfilledFiguresForItsOwn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := jetstream.Open(ctx, jetstream.Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := events.NewPseudonymizer([]byte("fraud-test-pseudonymisation-key-32+"))
	if err != nil {
		t.Fatal(err)
	}
	clock := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	h := command.NewHandler(s, p, command.Options{Source: "urn:test", Now: clock.Now})
	actors := map[command.Role]string{command.Intake: "ines", command.Legal: "lena", command.Disclosure: "dora", command.TrustSafety: "tess"}
	do := func(id string, at time.Time, c aggregates.Command) string {
		t.Helper()
		if at.After(clock.Now()) {
			clock.Advance(at.Sub(clock.Now()))
		}
		c.Header().RequestID, c.Header().At = id, at
		role := command.RoleOf(aggregates.CommandName(c))
		res, err := h.Handle(ctx, command.Caller{Name: actors[role], Role: role}, c)
		if err != nil {
			t.Fatalf("%s: %v", aggregates.CommandName(c), err)
		}
		return res.RequestID
	}
	receive := func(at time.Time, account string) string {
		return do("", at, &aggregates.ReceiveRequest{
			Authority:  events.Authority{Name: "Police nationale", Kind: events.AuthorityPolice, Country: "FR"},
			Instrument: events.InstrumentCourtOrder,
			Targets:    []aggregates.TargetInput{{Account: aggregates.Account{ID: account}, IdentifierType: events.IdentifierUsername}},
			DataSought: []events.DataCategory{events.DataIPAddress},
		})
	}
	disclose := func(id string, at time.Time, user string) {
		account := aggregates.Account{ID: user}
		do(id, at, &aggregates.VerifyRequester{Method: "callback_known_number", Verifier: "vera"})
		do(id, at, &aggregates.CompleteLegalReview{Outcome: events.ReviewValid})
		do(id, at, &aggregates.RecordDecision{Targets: []aggregates.TargetDecisionInput{{Account: account, Outcome: events.OutcomeProduce, Approved: []events.DataCategory{events.DataIPAddress}}}})
		do(id, at, &aggregates.DiscloseData{Accounts: []aggregates.DisclosedAccountInput{{Account: account, Categories: []events.DataCategory{events.DataIPAddress}}},
			Channel: "law_enforcement_portal", PackageSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"})
	}
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 9, 0, 0, 0, time.UTC) }

	genuine := receive(day(1, 10), "u-1")
	disclose(genuine, day(1, 12), "u-1")
	caught := receive(day(2, 1), "u-2") // forged, caught before anything went out
	do(caught, day(2, 1).Add(time.Hour), &aggregates.SuspectFraud{Reason: "look-alike domain"})
	do(caught, day(2, 2), &aggregates.ConfirmFraud{Reason: "the police deny sending it"})
	late := receive(day(3, 20), "u-3") // delivered in Q1, disclosed in Q2, found forged in Q3
	disclose(late, day(4, 2), "u-3")
	before, err := s.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	do(late, day(7, 1), &aggregates.ConfirmFraud{Reason: "the mailbox was hijacked"})

	requests := projections.NewRequests()
	report := func(asOf projections.AsOf) (*projections.Transparency, *projections.Telegram) {
		tr, tg := projections.NewTransparency(), projections.NewTelegram()
		views := []projections.Projection{tr, tg}
		if asOf == (projections.AsOf{}) {
			views = append(views, requests)
		}
		if _, err := projections.ReplayAsOf(ctx, s, 1, asOf, views...); err != nil {
			t.Fatal(err)
		}
		return tr, tg
	}
	quarter := func(q string) projections.Range {
		r, err := projections.ParsePeriod(q)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	then, thenTG := report(projections.AsOf{Sequence: before})
	now, nowTG := report(projections.AsOf{})

	fr := func(rows []projections.TransparencyRow) projections.TransparencyRow {
		i := slices.IndexFunc(rows, func(r projections.TransparencyRow) bool { return r.Country == "FR" })
		if i < 0 {
			t.Fatalf("no FR row in %+v", rows)
		}
		return rows[i]
	}
	// Q1 by delivery. Before the late confirmation: genuine and late produced; caught is forged.
	if got, want := fr(then.Report(quarter("2026-Q1"))), (projections.TransparencyRow{Country: "FR", Group: projections.GroupLegalProcess,
		Requests: 2, Accounts: 2, Produced: 2, NonContentOnly: 2, ForgedBeforeDisclosure: 1}); got != want {
		t.Errorf("Q1 before the late confirmation:\n got %+v\nwant %+v", got, want)
	}
	if got, want := fr(now.Report(quarter("2026-Q1"))), (projections.TransparencyRow{Country: "FR", Group: projections.GroupLegalProcess,
		Requests: 1, Accounts: 1, Produced: 1, NonContentOnly: 1, ForgedBeforeDisclosure: 1, ForgedAfterDisclosure: 1}); got != want {
		t.Errorf("Q1 after:\n got %+v\nwant %+v", got, want)
	}
	if rows := now.Report(quarter("2026-Q3")); len(rows) != 0 {
		t.Errorf("Q3, when the forgery was found, holds no figure of it: %+v", rows)
	}
	tbl := now.Table(quarter("2026-Q1"))
	if n := len(tbl.Columns); tbl.Columns[n-2] != "forged_before_disclosure" || tbl.Columns[n-1] != "forged_after_disclosure" {
		t.Errorf("columns %v", tbl.Columns)
	}
	if tbl := now.Table(quarter("2026-Q3")); slices.Contains(tbl.Columns, "forged_before_disclosure") {
		t.Errorf("a period without forgery has the forged columns: %v", tbl.Columns)
	}
	if got := requests.Report(quarter("2026-Q1")); len(got) != 1 || got[0] != (projections.RequestsRow{Country: "FR", Instrument: events.InstrumentCourtOrder,
		Requests: 1, Accounts: 1, WithData: 1, ForgedBeforeDisclosure: 1, ForgedAfterDisclosure: 1}) {
		t.Errorf("requests Q1: %+v", got)
	}
	// Telegram by disclosure: late counted in Q2 as fulfilled, then as forged.
	if got := thenTG.Report(quarter("2026-Q2")); len(got) != 1 || got[0].Requests != 1 || got[0].Users != 1 || got[0].Forged != 0 {
		t.Errorf("Telegram Q2 before: %+v", got)
	}
	if got := nowTG.Report(quarter("2026-Q2")); len(got) != 1 || got[0].Requests != 0 || got[0].Users != 0 || got[0].Forged != 1 {
		t.Errorf("Telegram Q2 after: %+v", got)
	}
	if got := nowTG.Report(quarter("2026-Q1")); len(got) != 1 || got[0].Requests != 1 || got[0].Users != 1 || got[0].Forged != 0 {
		t.Errorf("Telegram Q1: %+v", got)
	}
}
