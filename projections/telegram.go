package projections

import (
	"cmp"
	"slices"
	"time"

	"github.com/complianceledger/ledger/events"
)

// Telegram is the view Telegram's transparency bot publishes: per country, fulfilled requests
// (requests whose user's IP address or phone number was disclosed) and affected users.
//
// Counting rules:
//   - a request counts in the period holding the business time of its first disclosure of an
//     IP address or phone number (when the data was sent), whatever its delivery date;
//   - affected users are the distinct accounts whose IP address or phone number was disclosed
//     in the period, each counted once however many requests or quarters it appears in. A
//     year's users are therefore at most the sum of its quarters' users. Telegram's published
//     figures show the same rule: its year-to-date users equal the sum of its quarters in every
//     row but one, GB in 2024 (293 users, against 7 + 292), where accounts recurred;
//   - a country appears when it delivered or had fulfilled any request in the period, so a
//     country whose requests were all rejected shows zeros;
//   - national-security requests (NSL, FISA) count in a row of their own per country,
//     published in bands (nsband.go), and not in the country's other row; an account named
//     by both kinds counts in both rows.
type Telegram struct {
	intakes   intakes
	fulfilled map[string]time.Time // request id → first qualifying disclosure
	affected  []affectedAccount
	nsBand    nsBand // the width of national-security bands (see nsband.go)
}

type requestAt struct {
	request string
	at      time.Time
}

type affectedAccount struct {
	requestAt
	account events.AccountRef
}

func NewTelegram() *Telegram {
	return &Telegram{intakes: intakes{}, fulfilled: map[string]time.Time{}}
}

func (*Telegram) Handles(name string) bool {
	return name == "RequestReceived" || name == "DataDisclosed" || name == "EntryCorrected"
}

func (v *Telegram) Apply(rec events.Recorded, e events.Event) {
	if v.intakes.fold(rec, e) {
		return
	}
	if e, ok := e.(*events.DataDisclosed); ok {
		for _, a := range e.Accounts {
			if !slices.ContainsFunc(a.Categories, revealsIdentity) {
				continue
			}
			// Business time decides, not the order of recording: a sending entered late
			// still counts in the period it happened.
			if first, ok := v.fulfilled[rec.Subject]; !ok || rec.Time.Before(first) {
				v.fulfilled[rec.Subject] = rec.Time
			}
			v.affected = append(v.affected, affectedAccount{requestAt{rec.Subject, rec.Time}, a.Account})
		}
	}
}

// row is where a request counts: its country, as corrected since, and whether it is
// national-security process, which has a row of its own.
func (v *Telegram) row(request string) telegramKey {
	if i := v.intakes[request]; i != nil {
		return telegramKey{i.Authority.Country, nationalSecurity(i.Instrument)}
	}
	return telegramKey{}
}

type telegramKey struct {
	country events.Country
	ns      bool
}

func revealsIdentity(c events.DataCategory) bool {
	return c == events.DataIPAddress || c == events.DataPhoneNumber
}

// TelegramRow is one country's figures. A country's national-security requests (NSL,
// FISA) form a row of their own (NationalSecurity), which the table publishes in bands; its
// other row counts the rest.
type TelegramRow struct {
	Country          events.Country
	NationalSecurity bool
	Requests         int
	Users            int
}

// Report returns the figures for a period, one row per country (and one more for a
// country's national-security requests), ordered by country code.
func (v *Telegram) Report(period Range) []TelegramRow {
	rows := map[telegramKey]*TelegramRow{}
	row := func(k telegramKey) *TelegramRow {
		if rows[k] == nil {
			rows[k] = &TelegramRow{Country: k.country, NationalSecurity: k.ns}
		}
		return rows[k]
	}
	for _, in := range v.intakes {
		if period.Contains(in.delivered) {
			row(telegramKey{in.Authority.Country, nationalSecurity(in.Instrument)})
		}
	}
	for id, at := range v.fulfilled {
		if period.Contains(at) {
			row(v.row(id)).Requests++
		}
	}
	type rowAccount struct {
		row     telegramKey
		account events.AccountRef
	}
	seen := map[rowAccount]bool{}
	for _, a := range v.affected {
		if !period.Contains(a.at) {
			continue
		}
		k := rowAccount{v.row(a.request), a.account}
		if !seen[k] {
			seen[k] = true
			row(k.row).Users++
		}
	}
	out := make([]TelegramRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b TelegramRow) int {
		return cmp.Or(cmp.Compare(string(a.Country), string(b.Country)), boolCompare(a.NationalSecurity, b.NationalSecurity))
	})
	return out
}

// boolCompare orders false before true.
func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func (v *Telegram) withNSBand(width int) ReportView {
	c := *v
	c.nsBand = nsBand(width)
	return &c
}

// Table renders rows for output; a national-security row is named so and gives bands.
func (v *Telegram) Table(period Range) Table {
	t := Table{
		Title:   "Telegram-style transparency report, " + period.String(),
		Columns: []string{"country", "country_name", "fulfilled_requests", "affected_users"},
	}
	for _, r := range v.Report(period) {
		if r.NationalSecurity {
			t.Rows = append(t.Rows, []any{string(r.Country), r.Country.Name() + " (national security)", v.nsBand.of(r.Requests), v.nsBand.of(r.Users)})
			continue
		}
		t.Rows = append(t.Rows, []any{string(r.Country), r.Country.Name(), r.Requests, r.Users})
	}
	return t
}
