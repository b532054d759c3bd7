package projections

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections/columnar"
	"github.com/complianceledger/ledger/projections/facts"
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
//     by both kinds counts in both rows;
//   - a request confirmed forged is neither fulfilled nor are its accounts affected users: it
//     counts as forged after disclosure in the period its fulfilment would have counted in
//     (its first disclosure), a column that appears only in a report that has one.
type Telegram struct {
	base
	fulfilled []int64 // by request: its first qualifying disclosure (Unix ns), or facts.NoTime
	forged    []bool  // by request: confirmed forged
	// Every account whose IP address or phone number was disclosed, in order of recording:
	// the request, the business time and the account's number in the index.
	affectedRequest []uint32
	affectedAt      []int64
	affectedAccount []uint32
	nsBand          nsBand // the width of national-security bands (see nsband.go)
}

func NewTelegram() *Telegram { return &Telegram{base: newBase()} }

func (*Telegram) Handles(name string) bool {
	return name == "RequestReceived" || name == "DataDisclosed" || name == "EntryCorrected" || name == "FraudConfirmed"
}

func (v *Telegram) Apply(rec events.Recorded, e events.Event) {
	if id, ok := v.received(rec, e); ok {
		if int(id) >= len(v.fulfilled) {
			v.fulfilled, v.forged = grow(v.fulfilled, id, facts.NoTime), grow(v.forged, id, false)
		}
		return
	}
	if _, ok := e.(*events.FraudConfirmed); ok {
		if id, ok := v.row(rec, len(v.forged)); ok {
			v.forged[id] = true
		}
		return
	}
	e2, ok := e.(*events.DataDisclosed)
	if !ok {
		return
	}
	id, ok := v.row(rec, len(v.fulfilled))
	if !ok {
		return
	}
	for _, a := range e2.Accounts {
		if !slices.ContainsFunc(a.Categories, revealsIdentity) {
			continue
		}
		// Business time decides, not the order of recording: a sending entered late
		// still counts in the period it happened.
		at := rec.Time.UnixNano()
		if first := v.fulfilled[id]; first == facts.NoTime || at < first {
			v.fulfilled[id] = at
		}
		account, _ := v.ix.Account(a.Account)
		v.affectedRequest = append(v.affectedRequest, uint32(id))
		v.affectedAt = append(v.affectedAt, at)
		v.affectedAccount = append(v.affectedAccount, account)
	}
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
	// Forged requests that had been fulfilled (not counted in Requests or Users).
	Forged int
}

// Report returns the figures for a period, one row per country (and one more for a
// country's national-security requests), ordered by country code.
func (v *Telegram) Report(period Range) []TelegramRow {
	in := nanosOf(period)
	rows := map[telegramKey]*TelegramRow{}
	row := func(k telegramKey) *TelegramRow {
		if rows[k] == nil {
			rows[k] = &TelegramRow{Country: k.country, NationalSecurity: k.ns}
		}
		return rows[k]
	}
	// Where each request counts: its country, as corrected since, and whether it is
	// national-security process, which has a row of its own.
	keys := make([]telegramKey, len(v.fulfilled))
	for i, first := range v.fulfilled {
		id := facts.ID(i)
		r := v.ix.Request(id)
		keys[i] = telegramKey{r.Country, nationalSecurity(r.Instrument)}
		if in.contains(v.ix.Delivered(id)) {
			row(keys[i])
		}
		switch {
		case in.contains(first) && v.forged[i]:
			row(keys[i]).Forged++
		case in.contains(first):
			row(keys[i]).Requests++
		}
	}
	type rowAccount struct {
		row     telegramKey
		account uint32
	}
	seen := map[rowAccount]bool{}
	for i, at := range v.affectedAt {
		if !in.contains(at) || v.forged[v.affectedRequest[i]] {
			continue
		}
		k := rowAccount{keys[v.affectedRequest[i]], v.affectedAccount[i]}
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

func (v *Telegram) rows() int { return len(v.fulfilled) }

func (*Telegram) SnapshotVersion() string { return telegramVersion }

func (v *Telegram) columns() []any {
	return []any{&v.fulfilled, &v.affectedRequest, &v.affectedAt, &v.affectedAccount, &v.forged}
}

func (v *Telegram) MarshalSnapshot() ([]byte, error) {
	return columnar.Marshal(nil, v.columns()...), nil
}

func (v *Telegram) UnmarshalSnapshot(data []byte) error {
	fresh := &Telegram{base: v.base, nsBand: v.nsBand}
	if err := unmarshalColumns(data, "telegram", fresh.columns(), func() []int {
		return []int{len(fresh.affectedRequest), len(fresh.affectedAt), len(fresh.affectedAccount)}
	}); err != nil {
		return err
	}
	if len(fresh.forged) != len(fresh.fulfilled) {
		return fmt.Errorf("%w: telegram: columns of unequal lengths", ErrSnapshotCorrupt)
	}
	*v = *fresh
	return nil
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
	rows := v.Report(period)
	forged := slices.ContainsFunc(rows, func(r TelegramRow) bool { return r.Forged > 0 })
	if forged {
		t.Columns = append(t.Columns, "forged_after_disclosure")
	}
	for _, r := range rows {
		row := []any{string(r.Country), r.Country.Name(), r.Requests, r.Users}
		if r.NationalSecurity {
			row = []any{string(r.Country), r.Country.Name() + " (national security)", v.nsBand.of(r.Requests), v.nsBand.of(r.Users)}
		}
		if forged && r.NationalSecurity {
			row = append(row, v.nsBand.of(r.Forged))
		} else if forged {
			row = append(row, r.Forged)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
