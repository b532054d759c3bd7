package projections_test

import (
	"slices"
	"testing"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

func telegramOf(h *history) *projections.Telegram {
	v := projections.NewTelegram()
	h.feed(v)
	return v
}

func checkTelegram(t *testing.T, v *projections.Telegram, p string, want []projections.TelegramRow) {
	t.Helper()
	got := v.Report(period(t, p))
	if want == nil {
		want = []projections.TelegramRow{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", p, got, want)
	}
}

func TestTelegramHandlesOnlyDeliveriesDisclosuresCorrectionsAndForgeries(t *testing.T) {
	t.Parallel()
	v := projections.NewTelegram()
	for _, k := range events.Catalogue() {
		want := k.Name == "RequestReceived" || k.Name == "DataDisclosed" || k.Name == "EntryCorrected" || k.Name == "FraudConfirmed"
		if got := v.Handles(k.Name); got != want {
			t.Errorf("Handles(%q) = %v, want %v", k.Name, got, want)
		}
	}
	if v.Handles("NoSuchEvent") {
		t.Error(`Handles("NoSuchEvent") = true`)
	}
}

func TestTelegramCountsRequestInPeriodOfFirstDisclosureNotDelivery(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	// Delivered on 20 September (Q3), the IP address sent on 5 October (Q4).
	h.add("r1", at(2024, 9, 20), received("FR", events.InstrumentCourtOrder, acct(1)))
	h.add("r1", at(2024, 9, 25), decided(events.OutcomeProduce, acct(1)))
	h.add("r1", at(2024, 10, 5), disclosed(produced(acct(1), events.DataIPAddress)))
	v := telegramOf(h)

	// Q3: FR delivered a request, so it appears, but nothing was fulfilled yet.
	checkTelegram(t, v, "2024-Q3", []projections.TelegramRow{{Country: "FR"}})
	// Q4: the request and its one account count here, in the quarter of the disclosure.
	checkTelegram(t, v, "2024-Q4", []projections.TelegramRow{{Country: "FR", Requests: 1, Users: 1}})
	// The year holds both dates: still one request, one user.
	checkTelegram(t, v, "2024", []projections.TelegramRow{{Country: "FR", Requests: 1, Users: 1}})
}

func TestTelegramCountsOnlyIPAddressOrPhoneNumberDisclosures(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	// r1: subscriber data only. r2: content and traffic only. Neither is fulfilled.
	h.add("r1", at(2024, 1, 10), received("DE", events.InstrumentCourtOrder, acct(1)))
	h.add("r1", at(2024, 1, 20), disclosed(produced(acct(1), events.DataSubscriber)))
	h.add("r2", at(2024, 1, 11), received("DE", events.InstrumentSearchWarrant, acct(2)))
	h.add("r2", at(2024, 1, 21), disclosed(produced(acct(2), events.DataContent, events.DataTraffic)))
	// r3: one sending, subscriber data for account 3 and the phone number of account 4.
	// The request is fulfilled; only account 4 is affected.
	h.add("r3", at(2024, 2, 1), received("DE", events.InstrumentCourtOrder, acct(3), acct(4)))
	h.add("r3", at(2024, 2, 10), disclosed(
		produced(acct(3), events.DataSubscriber),
		produced(acct(4), events.DataSubscriber, events.DataPhoneNumber),
	))
	// r4: the IP address of account 5 and the phone number of account 6: one request, two users.
	h.add("r4", at(2024, 3, 1), received("DE", events.InstrumentCourtOrder, acct(5), acct(6)))
	h.add("r4", at(2024, 3, 10), disclosed(
		produced(acct(5), events.DataIPAddress),
		produced(acct(6), events.DataPhoneNumber),
	))
	v := telegramOf(h)

	// Requests: r3 + r4 = 2. Users: account 4 (r3) + accounts 5 and 6 (r4) = 3.
	checkTelegram(t, v, "2024-Q1", []projections.TelegramRow{{Country: "DE", Requests: 2, Users: 3}})
}

func TestTelegramSubscriberDataFirstThenIPCountsAtTheIPDisclosure(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	// Subscriber data in Q1 does not fulfil the request; the IP address in Q2 does.
	h.add("r1", at(2024, 1, 10), received("FR", events.InstrumentCourtOrder, acct(1)))
	h.add("r1", at(2024, 2, 1), disclosed(produced(acct(1), events.DataSubscriber)))
	h.add("r1", at(2024, 5, 1), disclosed(produced(acct(1), events.DataIPAddress)))
	v := telegramOf(h)

	checkTelegram(t, v, "2024-Q1", []projections.TelegramRow{{Country: "FR"}})
	checkTelegram(t, v, "2024-Q2", []projections.TelegramRow{{Country: "FR", Requests: 1, Users: 1}})
}

func TestTelegramSecondDisclosureDoesNotCountRequestTwice(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	// The IP address sent in February (Q1), the phone number of the same account in May (Q2).
	h.add("r1", at(2024, 1, 10), received("FR", events.InstrumentCourtOrder, acct(1)))
	h.add("r1", at(2024, 2, 1), disclosed(produced(acct(1), events.DataIPAddress)))
	h.add("r1", at(2024, 5, 1), disclosed(produced(acct(1), events.DataPhoneNumber)))
	v := telegramOf(h)

	// Q1 holds the first disclosure: one request, one user.
	checkTelegram(t, v, "2024-Q1", []projections.TelegramRow{{Country: "FR", Requests: 1, Users: 1}})
	// Q2 holds a disclosure but not the first: no request. The account's phone number was
	// disclosed in Q2, so by the users rule it is affected in Q2.
	checkTelegram(t, v, "2024-Q2", []projections.TelegramRow{{Country: "FR", Requests: 0, Users: 1}})
	// The year: the request once, the account once.
	checkTelegram(t, v, "2024", []projections.TelegramRow{{Country: "FR", Requests: 1, Users: 1}})
}

// Backfilled facts: the ledger may learn of a sending after a later one was recorded. The
// rule counts the request at its first disclosure "(when the data was sent)", that is the
// earliest business time, not the first one the stream happens to hold.
func TestTelegramCountsEarliestDisclosureWhenRecordedOutOfOrder(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	h.add("r1", at(2024, 9, 1), received("FR", events.InstrumentCourtOrder, acct(1)))
	// Recorded first: a sending on 2 October (Q4).
	h.add("r1", at(2024, 10, 2), disclosed(produced(acct(1), events.DataPhoneNumber)))
	// Recorded later: an earlier sending on 25 September (Q3), entered late.
	h.addRecorded("r1", at(2024, 9, 25), at(2024, 10, 3), disclosed(produced(acct(1), events.DataIPAddress)))
	v := telegramOf(h)

	// The data was first sent in Q3, so the request is fulfilled in Q3, not Q4.
	checkTelegram(t, v, "2024-Q3", []projections.TelegramRow{{Country: "FR", Requests: 1, Users: 1}})
	checkTelegram(t, v, "2024-Q4", []projections.TelegramRow{{Country: "FR", Requests: 0, Users: 1}})
}

func TestTelegramAffectedUsersAreDistinctAccountsPerCountryOverThePeriod(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	// Q1, FR: r1 discloses account 1; r2 discloses accounts 1 and 2.
	h.add("r1", at(2024, 1, 10), received("FR", events.InstrumentCourtOrder, acct(1)))
	h.add("r1", at(2024, 1, 20), disclosed(produced(acct(1), events.DataIPAddress)))
	h.add("r2", at(2024, 2, 10), received("FR", events.InstrumentCourtOrder, acct(1), acct(2)))
	h.add("r2", at(2024, 2, 20), disclosed(
		produced(acct(1), events.DataIPAddress),
		produced(acct(2), events.DataPhoneNumber),
	))
	// Q2, FR: r3 discloses account 1 again.
	h.add("r3", at(2024, 4, 10), received("FR", events.InstrumentCourtOrder, acct(1)))
	h.add("r3", at(2024, 4, 20), disclosed(produced(acct(1), events.DataIPAddress)))
	// Q1, DE: r4 discloses account 1, the same reference, for another country.
	h.add("r4", at(2024, 3, 1), received("DE", events.InstrumentCourtOrder, acct(1)))
	h.add("r4", at(2024, 3, 2), disclosed(produced(acct(1), events.DataIPAddress)))
	v := telegramOf(h)

	// Q1: FR requests r1, r2 = 2; FR users {1, 2} = 2 (account 1 in two requests counts once).
	//     DE: r4 = 1 request, {1} = 1 user: the same account counts again for another country.
	checkTelegram(t, v, "2024-Q1", []projections.TelegramRow{
		{Country: "DE", Requests: 1, Users: 1},
		{Country: "FR", Requests: 2, Users: 2},
	})
	// Q2: FR r3 = 1 request, {1} = 1 user.
	checkTelegram(t, v, "2024-Q2", []projections.TelegramRow{{Country: "FR", Requests: 1, Users: 1}})
	// H1: FR requests 2 + 1 = 3; users {1, 2} = 2, fewer than Q1 + Q2 = 2 + 1 = 3, because
	// account 1 recurs. DE as in Q1.
	h1 := []projections.TelegramRow{
		{Country: "DE", Requests: 1, Users: 1},
		{Country: "FR", Requests: 3, Users: 2},
	}
	checkTelegram(t, v, "2024-H1", h1)
	// The year holds nothing more.
	checkTelegram(t, v, "2024", h1)
	// Nothing happened in H2.
	checkTelegram(t, v, "2024-H2", nil)
}

func TestTelegramShowsCountriesWithDeliveriesOnlyAndSortsByCode(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	// Recorded in an order that is not the country order: FR, IT, DE, ES.
	// FR: fulfilled in Q1.
	h.add("r1", at(2024, 1, 10), received("FR", events.InstrumentCourtOrder, acct(1)))
	h.add("r1", at(2024, 1, 20), disclosed(produced(acct(1), events.DataIPAddress)))
	// IT: delivered in Q1 and rejected: appears with zeros.
	h.add("r2", at(2024, 2, 1), received("IT", events.InstrumentSubpoena, acct(2)))
	h.add("r2", at(2024, 2, 5), decided(events.OutcomeReject, acct(2)))
	h.add("r2", at(2024, 2, 6), &events.RequestClosed{Reason: "rejected"})
	// DE: fulfilled in Q1.
	h.add("r3", at(2024, 3, 1), received("DE", events.InstrumentCourtOrder, acct(3)))
	h.add("r3", at(2024, 3, 2), disclosed(produced(acct(3), events.DataPhoneNumber)))
	// ES: delivered and fulfilled in December 2023, outside 2024: does not appear in 2024.
	h.add("r4", at(2023, 12, 1), received("ES", events.InstrumentCourtOrder, acct(4)))
	h.add("r4", at(2023, 12, 2), disclosed(produced(acct(4), events.DataIPAddress)))
	// GB: delivered in Q2, rejected: appears in Q2 only.
	h.add("r5", at(2024, 4, 1), received("GB", events.InstrumentCourtOrder, acct(5)))
	h.add("r5", at(2024, 4, 2), decided(events.OutcomeReject, acct(5)))
	v := telegramOf(h)

	checkTelegram(t, v, "2024-Q1", []projections.TelegramRow{
		{Country: "DE", Requests: 1, Users: 1},
		{Country: "FR", Requests: 1, Users: 1},
		{Country: "IT", Requests: 0, Users: 0},
	})
	checkTelegram(t, v, "2024-Q2", []projections.TelegramRow{{Country: "GB"}})
	checkTelegram(t, v, "2023", []projections.TelegramRow{{Country: "ES", Requests: 1, Users: 1}})
	checkTelegram(t, v, "2025", nil)
}

func TestTelegramTableHasOneRowPerCountryWithItsName(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	h.add("r1", at(2024, 1, 10), received("FR", events.InstrumentCourtOrder, acct(1)))
	h.add("r1", at(2024, 1, 20), disclosed(produced(acct(1), events.DataIPAddress)))
	h.add("r2", at(2024, 2, 1), received("IT", events.InstrumentSubpoena, acct(2)))
	tbl := telegramOf(h).Table(period(t, "2024-Q1"))

	wantCols := []string{"country", "country_name", "fulfilled_requests", "affected_users"}
	if !slices.Equal(tbl.Columns, wantCols) {
		t.Errorf("columns = %q, want %q", tbl.Columns, wantCols)
	}
	want := [][]any{{"FR", "France", 1, 1}, {"IT", "Italy", 0, 0}}
	if !slices.EqualFunc(tbl.Rows, want, slices.Equal) {
		t.Errorf("rows = %v, want %v", tbl.Rows, want)
	}
}
