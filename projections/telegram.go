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
//     country whose requests were all rejected shows zeros.
type Telegram struct {
	intakes   intakes
	fulfilled map[string]time.Time // request id → first qualifying disclosure
	affected  []affectedAccount
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

// country is where a request came from, as corrected since.
func (v *Telegram) country(request string) events.Country {
	if i := v.intakes[request]; i != nil {
		return i.Authority.Country
	}
	return ""
}

func revealsIdentity(c events.DataCategory) bool {
	return c == events.DataIPAddress || c == events.DataPhoneNumber
}

// TelegramRow is one country's figures.
type TelegramRow struct {
	Country  events.Country
	Requests int
	Users    int
}

// Report returns the figures for a period, one row per country, ordered by country code.
func (v *Telegram) Report(period Range) []TelegramRow {
	rows := map[events.Country]*TelegramRow{}
	row := func(c events.Country) *TelegramRow {
		if rows[c] == nil {
			rows[c] = &TelegramRow{Country: c}
		}
		return rows[c]
	}
	for _, in := range v.intakes {
		if period.Contains(in.delivered) {
			row(in.Authority.Country)
		}
	}
	for id, at := range v.fulfilled {
		if period.Contains(at) {
			row(v.country(id)).Requests++
		}
	}
	type countryAccount struct {
		country events.Country
		account events.AccountRef
	}
	seen := map[countryAccount]bool{}
	for _, a := range v.affected {
		if !period.Contains(a.at) {
			continue
		}
		k := countryAccount{v.country(a.request), a.account}
		if !seen[k] {
			seen[k] = true
			row(k.country).Users++
		}
	}
	out := make([]TelegramRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b TelegramRow) int { return cmp.Compare(string(a.Country), string(b.Country)) })
	return out
}

// Table renders rows for output.
func (v *Telegram) Table(period Range) Table {
	t := Table{
		Title:   "Telegram-style transparency report, " + period.String(),
		Columns: []string{"country", "country_name", "fulfilled_requests", "affected_users"},
	}
	for _, r := range v.Report(period) {
		t.Rows = append(t.Rows, []any{string(r.Country), r.Country.Name(), r.Requests, r.Users})
	}
	return t
}
