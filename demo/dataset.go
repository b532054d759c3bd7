// Package demo builds a deterministic, realistic history of requests from authorities that
// reproduces Telegram's published transparency figures, and records it through the ledger's
// own command handler.
package demo

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/complianceledger/ledger/events"
	"github.com/complianceledger/ledger/projections"
)

//go:embed data/telegram-transparency.json
var datasetJSON []byte

// ErrDataset is returned when the published figures cannot be reconciled into quarters.
var ErrDataset = errors.New("demo: dataset")

// Row is one published figure: fulfilled requests and affected users of a country in a period.
type Row struct {
	Country  events.Country
	Period   projections.Range
	Requests int
	Users    int
}

// Dataset returns the published rows, of the given countries or of all, ordered by country
// and period.
func Dataset(countries ...events.Country) ([]Row, error) {
	var raw map[string][]struct {
		From, To        string
		Requests, Users int
	}
	if err := json.Unmarshal(datasetJSON, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDataset, err)
	}
	var rows []Row
	for _, alpha3 := range slices.Sorted(maps.Keys(raw)) {
		country, ok := events.CountryFromAlpha3(alpha3)
		if !ok {
			return nil, fmt.Errorf("%w: unknown country %q", ErrDataset, alpha3)
		}
		if len(countries) > 0 && !slices.Contains(countries, country) {
			continue
		}
		for _, r := range raw[alpha3] {
			from, err1 := time.Parse("20060102", r.From)
			to, err2 := time.Parse("20060102", r.To)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrDataset, alpha3, err)
			}
			rows = append(rows, Row{country, projections.Range{From: from, To: to.AddDate(0, 0, 1)}, r.Requests, r.Users})
		}
	}
	return rows, nil
}

// quarterFigures is what one country must show in one calendar quarter, and the raw ids of
// the accounts whose data its fulfilled requests disclose.
type quarterFigures struct {
	country  events.Country
	quarter  projections.Range
	requests int
	accounts []string
}

// quarters splits the published rows into per-quarter figures that add up to every row.
// Single-quarter rows fix their quarter; a longer row spreads what its fixed quarters do not
// explain evenly over its other quarters, users along with requests so that a quarter with
// requests has users and one without has none. Where a longer row has fewer users than its
// quarters together (GB in 2024: 293, against 7 + 292), the difference is accounts affected in
// more than one of them, and the later quarter reuses that many of the earlier ones' accounts.
func quarters(rows []Row) ([]quarterFigures, error) {
	byCountry := map[events.Country][]Row{}
	for _, r := range rows {
		byCountry[r.Country] = append(byCountry[r.Country], r)
	}
	var out []quarterFigures
	for _, country := range slices.Sorted(maps.Keys(byCountry)) {
		crows := slices.Clone(byCountry[country])
		slices.SortStableFunc(crows, func(a, b Row) int { return len(quartersIn(a.Period)) - len(quartersIn(b.Period)) })
		fixed := map[time.Time]*quarterFigures{}
		type overlap struct {
			quarters []projections.Range
			accounts int
		}
		var overlaps []overlap
		for _, r := range crows {
			var free []projections.Range
			requests, users := r.Requests, r.Users
			for _, q := range quartersIn(r.Period) {
				if f := fixed[q.From]; f != nil {
					requests -= f.requests
					users -= len(f.accounts)
				} else {
					free = append(free, q)
				}
			}
			switch {
			case len(free) == 0 && requests == 0 && users < 0:
				overlaps = append(overlaps, overlap{quartersIn(r.Period), -users})
				continue
			case requests < 0 || users < 0 || (len(free) == 0 && (requests != 0 || users != 0)) || (requests == 0) != (users == 0):
				return nil, fmt.Errorf("%w: %s %s: %d requests / %d users do not reconcile with its quarters", ErrDataset, country, r.Period, r.Requests, r.Users)
			}
			used := min(len(free), requests, users)
			for i, q := range free {
				f := &quarterFigures{country: country, quarter: q}
				if i < used {
					f.requests = requests/used + boolInt(i < requests%used)
					for j := range users/used + boolInt(i < users%used) {
						f.accounts = append(f.accounts, fmt.Sprintf("tg:%s:%s:%d", country, q.From.Format("2006-01"), j))
					}
				}
				fixed[q.From] = f
			}
		}
		for _, o := range overlaps {
			last := fixed[o.quarters[len(o.quarters)-1].From]
			var earlier []string
			for _, q := range o.quarters[:len(o.quarters)-1] {
				earlier = append(earlier, fixed[q.From].accounts...)
			}
			if len(earlier) < o.accounts || len(last.accounts) < o.accounts {
				return nil, fmt.Errorf("%w: %s: %d accounts must recur across %s, more than its quarters hold", ErrDataset, country, o.accounts, o.quarters)
			}
			copy(last.accounts, earlier[:o.accounts])
		}
		for _, from := range slices.SortedFunc(maps.Keys(fixed), time.Time.Compare) {
			out = append(out, *fixed[from])
		}
	}
	return out, nil
}

// quartersIn lists the calendar quarters a range covers; published periods start and end on
// quarter boundaries.
func quartersIn(r projections.Range) []projections.Range {
	var qs []projections.Range
	for from := r.From; from.Before(r.To); from = from.AddDate(0, 3, 0) {
		qs = append(qs, projections.Range{From: from, To: from.AddDate(0, 3, 0)})
	}
	return qs
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
